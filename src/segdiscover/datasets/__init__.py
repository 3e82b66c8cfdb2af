"""Datasets: synthetic customers with planted truth, and small bundled real tables."""

from segdiscover.datasets._synthetic import (
    ARCHETYPES,
    CustomerData,
    Drift,
    make_customers,
)

__all__ = ["ARCHETYPES", "CustomerData", "Drift", "make_customers"]
