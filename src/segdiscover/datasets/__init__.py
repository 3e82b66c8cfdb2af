"""Datasets: synthetic customers with planted truth, and small bundled real tables."""

from segdiscover.datasets._synthetic import (
    ARCHETYPES,
    Archetype,
    CustomerData,
    Drift,
    make_customers,
)

__all__ = ["ARCHETYPES", "Archetype", "CustomerData", "Drift", "make_customers"]
