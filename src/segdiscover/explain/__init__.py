"""Explanation: surrogate fidelity, SHAP drivers with statistics."""

from segdiscover.explain.drivers import (
    CLIFF_THRESHOLD,
    COHEN_H_THRESHOLD,
    cliffs_delta,
    cohens_h,
    feature_statistics,
    rank_drivers,
)
from segdiscover.explain.rules import Condition, Rule, fit_rules
from segdiscover.explain.surrogate import (
    SurrogateResult,
    fit_surrogate,
    shap_values,
    stratified_sample,
)

__all__ = [
    "CLIFF_THRESHOLD",
    "COHEN_H_THRESHOLD",
    "Condition",
    "Rule",
    "SurrogateResult",
    "cliffs_delta",
    "cohens_h",
    "feature_statistics",
    "fit_rules",
    "fit_surrogate",
    "rank_drivers",
    "shap_values",
    "stratified_sample",
]
