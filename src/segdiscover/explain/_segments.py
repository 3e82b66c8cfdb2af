"""Explain a segmentation: surrogate, SHAP drivers, rules, names, cards, in one step.

``explain_segments`` is what ``Segmenter.fit`` calls after clustering; it returns an
:class:`Explanation` holding every number the outputs show, so the notebook view, the
JSON and the reports all render the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from segdiscover._json import sig
from segdiscover.explain.drivers import (
    NAME_RHO,
    feature_statistics,
    rank_correlations,
    rank_drivers,
    related_features,
)
from segdiscover.explain.rules import Rule, fit_rules
from segdiscover.explain.surrogate import fit_surrogate, shap_values, stratified_sample
from segdiscover.features import FeatureMeta
from segdiscover.preprocess import Preprocessor, categorical_codes
from segdiscover.profiles import SegmentProfile, make_names, narrative

#: Families shown as their own section of a profile card, with their heading.
CARD_FAMILIES = {
    "value": "Value",
    "service": "Cost-to-serve and service load",
    "channel": "Channel mix",
}
DRIVER_KEYS = (
    "feature",
    "direction",
    "importance",
    "importance_share",
    "segment_median",
    "population_median",
    "segment_mean",
    "population_mean",
    "lift",
    "effect_size",
    "effect_measure",
    "percentile_low",
    "percentile_high",
    "passes",
)


@dataclass
class Explanation:
    """Everything the explanation step computed."""

    fidelity: float
    macro_f1: float
    per_segment_f1: dict[int, float]
    shap_rows: int
    drivers: dict[int, list[dict[str, Any]]]
    shap: np.ndarray | None  # (rows, features, segments) on the SHAP sample
    shap_labels: np.ndarray | None
    feature_names: list[str]
    rules: dict[int, Rule]
    profiles: dict[int, SegmentProfile]
    warnings: list[str] = field(default_factory=list)
    surrogate: Any = None


def _family_rows(
    stats: dict[str, dict[str, Any]], meta: dict[str, FeatureMeta], family: str
) -> list[dict[str, Any]]:
    rows = []
    for name, m in meta.items():
        if m.family != family or m.kind != "numeric" or name not in stats:
            continue
        st = stats[name]
        rows.append(
            {
                "feature": name,
                "label": m.label,
                "unit": m.unit,
                "segment_median": sig(st["segment_median"]),
                "population_median": sig(st["population_median"]),
                "effect_size": sig(st["effect_size"]),
            }
        )
    return rows


# Long on purpose (~110 lines): surrogate, SHAP sample, rules and names share the
# encoded matrix, the sample and the random stream, in this order (the order fixes
# what every seed gives).
def explain_segments(
    features: pl.DataFrame,
    meta_list: list[FeatureMeta],
    pre: Preprocessor,
    labels: np.ndarray,
    *,
    shap_max_rows: int,
    surrogate_max_rows: int,
    n_threads: int,
    fidelity_threshold: float,
    rng: np.random.RandomState,
) -> Explanation:
    """Fit the surrogate, attribute with SHAP, learn rules, and name every segment.

    Parameters
    ----------
    features : polars.DataFrame
        Feature columns (original values), one row per customer.
    meta_list : list of FeatureMeta
    pre : Preprocessor
        The fitted preprocessor (its column specs encode the categories).
    labels : ndarray
        Segment per customer; -1 (kept noise) is left out of the surrogate.
    """
    n = labels.size
    segs = sorted(int(s) for s in np.unique(labels[labels >= 0]))
    meta = {m.name: m for m in meta_list}
    cols = pre.columns_
    raw = categorical_codes(features, cols)
    names = [c["name"] for c in cols]
    ok = np.flatnonzero(labels >= 0)
    stats = feature_statistics(features, meta_list, labels, segs)
    out = Explanation(1.0, 1.0, {}, 0, {s: [] for s in segs}, None, None, names, {}, {})
    similar: dict[str, list[str]] = {}
    if len(segs) >= 2:
        sur = fit_surrogate(
            raw if ok.size == n else raw[ok],  # no full copy when nothing is noise
            labels[ok],
            [j for j, c in enumerate(cols) if c["kind"] == "categorical"],
            max_rows=surrogate_max_rows,
            n_jobs=n_threads,
            random_state=rng,
        )
        idx = ok[stratified_sample(labels[ok], shap_max_rows, rng)]
        sv = shap_values(sur, raw[idx])
        rows = ok[sur.rows]
        out.rules = fit_rules(
            raw,
            labels,
            cols,
            rows[~sur.holdout],
            rows[sur.holdout],
            random_state=int(rng.randint(2**31 - 1)),
        )
        out.fidelity, out.macro_f1 = sur.fidelity, sur.macro_f1
        out.per_segment_f1, out.shap_rows, out.surrogate = (
            sur.per_segment_f1,
            int(idx.size),
            sur,
        )
        out.shap, out.shap_labels = sv, labels[idx]
        corr = rank_correlations(
            raw[idx], names, [c["kind"] != "categorical" for c in cols]
        )
        related = related_features(corr)
        out.drivers = rank_drivers(sv, labels[idx], names, stats, segs, related=related)
        similar = related_features(corr, rho=NAME_RHO)
    if out.fidelity < fidelity_threshold:
        weak = [s for s, f in out.per_segment_f1.items() if f < fidelity_threshold]
        out.warnings.append(
            f"Surrogate fidelity {out.fidelity:.2f} is below {fidelity_threshold:.2f}: "
            f"explanations are unreliable for segment(s) {weak}. The segments may not "
            "be separable on these features."
        )
    named = make_names(out.drivers, meta, similar)
    for s in segs:
        size = int((labels == s).sum())
        name, in_name = named[s]
        ds = [
            {
                **{k: sig(d[k]) for k in DRIVER_KEYS},
                "category": None if d["category"] is None else str(d["category"]),
                "label": meta[d["feature"]].label,
                "in_name": d["feature"] in in_name,
                "related": list(d.get("related", [])),
            }
            for d in out.drivers[s]
        ]
        f1 = out.per_segment_f1.get(s)
        rule = out.rules.get(s)
        out.profiles[s] = SegmentProfile(
            s,
            name,
            size,
            size / n,
            ds,
            narrative(name, size, size / n, n, out.drivers[s], meta, f1),
            f1,
            meta,
            families={
                title: _family_rows(stats[s], meta, fam)
                for fam, title in CARD_FAMILIES.items()
                if any(m.family == fam for m in meta_list)
            },
            rule=None if rule is None else rule.text,
            rule_precision=None if rule is None else sig(rule.precision),
            rule_coverage=None if rule is None else sig(rule.coverage),
        )
    return out


def segments_frame(
    profiles: dict[int, SegmentProfile], noise_assigned: dict[int, int]
) -> pl.DataFrame:
    """One row per segment, in the column contract of ``Segmenter.segments_``."""
    rows = []
    for s, p in sorted(profiles.items()):
        rows.append(
            {
                "segment_id": s,
                "name": p.name,
                "size": p.size,
                "share": p.share,
                "drivers": p.drivers,
                "top_drivers": ", ".join(
                    f"{d['feature']}={d['category']}"
                    if d["category"] is not None
                    else f"{d['feature']} {d['direction']}"
                    for d in p.drivers[:3]
                ),
                "rule": p.rule,
                "rule_precision": p.rule_precision,
                "rule_coverage": p.rule_coverage,
                "narrative": p.narrative,
                "fidelity_f1": p.fidelity_f1,
                "name_source": p.name_source,
                "noise_assigned": noise_assigned.get(s, 0),
                "stability": p.stability,
            }
        )
    # Stability is null until measured (or after a manual merge): keep it Float64.
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("stability").cast(pl.Float64)
    )
