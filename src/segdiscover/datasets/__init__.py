"""Datasets: synthetic customers with planted truth, and a small bundled real table."""

from segdiscover.datasets._independent import PlantedTable, make_segments_table
from segdiscover.datasets._real import load_wholesale
from segdiscover.datasets._synthetic import (
    ARCHETYPES,
    Archetype,
    CustomerData,
    Drift,
    make_customers,
)

__all__ = [
    "ARCHETYPES",
    "Archetype",
    "CustomerData",
    "Drift",
    "PlantedTable",
    "load_wholesale",
    "make_customers",
    "make_segments_table",
]
