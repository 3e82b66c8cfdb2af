"""Pluggable clusterers behind one adapter contract, and their registry."""

from segdiscover.clusterers._base import ClusterAdapter, ClustererSpec
from segdiscover.clusterers._registry import CLUSTERERS, describe
from segdiscover.clusterers.sklearn_any import SklearnAdapter, check_estimator_contract

__all__ = [
    "CLUSTERERS",
    "ClusterAdapter",
    "ClustererSpec",
    "SklearnAdapter",
    "check_estimator_contract",
    "describe",
]
