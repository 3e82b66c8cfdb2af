"""Drivers: what makes each segment itself, from SHAP and the plain statistics.

For each segment, features are ranked by their mean SHAP value toward that segment
over its members (one-vs-rest attribution from the multiclass surrogate). Each driver
carries the statistic a person can check: segment vs population median, lift, the
segment's interquartile band as population percentiles, and an effect size (Cliff's
delta for numbers; for categories the over-represented level, its lift and Cohen's h).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import rankdata

from segdiscover.features import FeatureMeta
from segdiscover.preprocess import MISSING

#: Effect sizes from which a driver may name a segment: Cliff's |delta| >= 0.33 and
#: Cohen's |h| >= 0.5 are the conventional "medium" effects.
CLIFF_THRESHOLD = 0.33
COHEN_H_THRESHOLD = 0.5


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """Cliff's delta P(a > b) - P(a < b), via ranks in O(n log n).

    Examples
    --------
    >>> cliffs_delta(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    1.0
    """
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return 0.0
    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[: a.size].sum() - a.size * (a.size + 1) / 2
    return float(2 * u / (a.size * b.size) - 1)


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h between two proportions."""
    return float(2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2)))


def _numeric_stats(
    x: np.ndarray, member: np.ndarray, sorted_pop: np.ndarray
) -> dict[str, Any]:
    seg, rest = x[member], x[~member]
    segf, popf = seg[np.isfinite(seg)], x[np.isfinite(x)]
    seg_med = float(np.median(segf)) if segf.size else float("nan")
    pop_med = float(np.median(popf)) if popf.size else float("nan")
    seg_mean = float(segf.mean()) if segf.size else float("nan")
    pop_mean = float(popf.mean()) if popf.size else float("nan")
    lift = (
        seg_mean / pop_mean
        if pop_mean not in (0.0,) and math.isfinite(pop_mean)
        else float("nan")
    )
    q25, q75 = np.quantile(segf, [0.25, 0.75]) if segf.size else (np.nan, np.nan)
    band = [
        float(np.searchsorted(sorted_pop, q, side="right") / max(sorted_pop.size, 1))
        for q in (q25, q75)
    ]
    delta = cliffs_delta(seg, rest)
    return {
        "segment_median": seg_med,
        "population_median": pop_med,
        "segment_mean": seg_mean,
        "population_mean": pop_mean,
        "lift": lift,
        "percentile_low": band[0],
        "percentile_high": band[1],
        "effect_size": delta,
        "effect_measure": "cliffs_delta",
        "category": None,
        "direction": "+"
        if delta > 0
        else "-"
        if delta < 0
        else ("+" if seg_med > pop_med else "-"),
        "passes": abs(delta) >= CLIFF_THRESHOLD,
    }


def _categorical_stats(v: np.ndarray, member: np.ndarray) -> dict[str, Any]:
    levels, pop_counts = np.unique(v, return_counts=True)
    pop_share = pop_counts / v.size
    seg_levels, seg_counts = np.unique(v[member], return_counts=True)
    seg_share = dict(
        zip(seg_levels.tolist(), (seg_counts / member.sum()).tolist(), strict=True)
    )
    best, best_h, best_lift = None, -np.inf, float("nan")
    for lv, ps in zip(levels.tolist(), pop_share.tolist(), strict=True):
        ss = seg_share.get(lv, 0.0)
        h = cohens_h(ss, ps)
        if lv != MISSING and h > best_h:
            best, best_h, best_lift = lv, h, (ss / ps if ps else float("nan"))
    ss = seg_share.get(best, 0.0)
    ps = float(pop_share[levels.tolist().index(best)]) if best is not None else 0.0
    return {
        "segment_median": float("nan"),
        "population_median": float("nan"),
        "segment_mean": ss,
        "population_mean": ps,
        "lift": best_lift,
        "percentile_low": float("nan"),
        "percentile_high": float("nan"),
        "effect_size": float(best_h) if best is not None else 0.0,
        "effect_measure": "cohens_h",
        "category": best,
        "direction": "+",
        "passes": best is not None and best_h >= COHEN_H_THRESHOLD,
    }


def feature_statistics(
    frame: pl.DataFrame,
    meta: list[FeatureMeta],
    labels: np.ndarray,
    segments: list[int],
) -> dict[int, dict[str, dict[str, Any]]]:
    """Per segment, per feature, the plain statistics (one pass per feature)."""
    out: dict[int, dict[str, dict[str, Any]]] = {s: {} for s in segments}
    for m in meta:
        s = frame.get_column(m.name)
        if m.kind == "numeric":
            x = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
            sorted_pop = np.sort(x[np.isfinite(x)])
            for seg in segments:
                out[seg][m.name] = _numeric_stats(x, labels == seg, sorted_pop)
        else:
            v = s.cast(pl.String).fill_null(MISSING).to_numpy().astype(str)
            for seg in segments:
                out[seg][m.name] = _categorical_stats(v, labels == seg)
    return out


def rank_drivers(
    shap_vals: np.ndarray,
    sample_labels: np.ndarray,
    names: list[str],
    stats: dict[int, dict[str, dict[str, Any]]],
    segments: list[int],
    top: int = 8,
) -> dict[int, list[dict[str, Any]]]:
    """Rank features per segment by mean SHAP toward it over its members.

    Parameters
    ----------
    shap_vals : ndarray, shape (rows, features, segments)
        Indexed by the surrogate's class order, which is ``segments``.
    """
    out: dict[int, list[dict[str, Any]]] = {}
    total = np.abs(shap_vals).mean(axis=(0, 2)).sum() or 1.0
    for j, seg in enumerate(segments):
        member = sample_labels == seg
        if not member.any():
            out[seg] = []
            continue
        toward = shap_vals[member, :, j].mean(0)  # signed: evidence for membership
        order = np.lexsort((np.arange(len(names)), -toward))
        drivers = []
        for f in order[:top]:
            if toward[f] <= 0:
                break
            st = stats[seg][names[f]]
            drivers.append(
                {
                    "feature": names[f],
                    "direction": st["direction"],
                    "importance": float(toward[f]),
                    "importance_share": float(toward[f] / total),
                    **st,
                }
            )
        out[seg] = drivers
    return out
