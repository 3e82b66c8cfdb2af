"""Datasets: synthetic customers with planted truth, and a small bundled real table."""

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
    "load_wholesale",
    "make_customers",
]
