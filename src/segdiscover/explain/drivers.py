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

    ``feature_statistics`` gets the same number for every segment from one ranking
    of each feature (see ``_numeric_feature``).

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


def _average_ranks(sorted_vals: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of already sorted values.

    The same numbers as ``scipy.stats.rankdata(method="average")`` gives for the
    values, listed in sorted order.
    """
    n = sorted_vals.size
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_vals[1:], sorted_vals[:-1], out=new[1:])
    if new.all():  # no ties: the ranks are the positions
        return np.arange(1.0, n + 1.0)
    dense = np.cumsum(new)
    count = np.r_[np.flatnonzero(new), n]
    return 0.5 * (count[dense] + count[dense - 1] + 1)


def _numeric_feature(
    x: np.ndarray, labels: np.ndarray, perm: np.ndarray, segments: list[int]
) -> dict[int, dict[str, Any]]:
    """Statistics of one numeric feature for every segment, from sorted values.

    Cliff's delta of a segment against the rest is the Mann-Whitney U of the
    segment's ranks among all finite values, ``delta = 2U / (n1 n2) - 1``. The
    population is sorted once; a member's average rank is found by binary search
    in it, ``(#less + 1 + #less-or-equal) / 2``, and summed as integers, so the
    rank sums are exact. Medians, quantiles and means are computed on the same
    values (means in row order) as a per-segment computation, so the results are
    the same. ``perm`` is a stable argsort of ``labels``: each segment's rows, in
    row order, are one slice of it.
    """
    fin = np.isfinite(x)
    all_fin = bool(fin.all())
    sorted_pop = np.sort(x if all_fin else x[fin])
    n = sorted_pop.size
    pop_med = float(np.median(sorted_pop)) if n else float("nan")
    pop_mean = float((x if all_fin else x[fin]).mean()) if n else float("nan")
    by_seg = x[perm]
    seg_of = labels[perm]
    out = {}
    for seg in segments:
        a, b = np.searchsorted(seg_of, [seg, seg + 1])
        segf = by_seg[a:b]  # the segment's values in row order
        if not all_fin:
            segf = segf[np.isfinite(segf)]
        n1 = segf.size
        n2 = n - n1
        if n1:
            seg_mean = float(segf.mean())
            seg_sorted = np.sort(segf)  # median and quantiles are fast on sorted data
            seg_med = float(np.median(seg_sorted))
            q25, q75 = np.quantile(seg_sorted, [0.25, 0.75])
            # Average rank of each member among all finite values: ties share the
            # mean of the positions they occupy, (#less + 1 + #less-or-equal) / 2.
            below = np.searchsorted(sorted_pop, seg_sorted, side="left")
            upto = np.searchsorted(sorted_pop, seg_sorted, side="right")
            rank_sum = float((below.sum() + upto.sum() + n1) / 2)
        else:
            seg_med = seg_mean = float("nan")
            q25, q75 = np.nan, np.nan
            rank_sum = 0.0
        if n1 and n2:
            u = rank_sum - n1 * (n1 + 1) / 2
            delta = float(2 * u / (n1 * n2) - 1)
        else:
            delta = 0.0
        lift = (
            seg_mean / pop_mean
            if pop_mean not in (0.0,) and math.isfinite(pop_mean)
            else float("nan")
        )
        band = [
            float(np.searchsorted(sorted_pop, q, side="right") / max(n, 1))
            for q in (q25, q75)
        ]
        out[seg] = {
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
    return out


def _categorical_feature(
    s: pl.Series, labels: np.ndarray, segments: list[int]
) -> dict[int, dict[str, Any]]:
    """Statistics of one categorical feature for every segment, from one coding.

    The levels are the distinct values (nulls as ``MISSING``) in sorted order, so a
    tie in Cohen's h goes to the alphabetically first level.
    """
    v = s.cast(pl.String).fill_null(MISSING)
    levels = sorted(v.unique().to_list())
    codes = v.replace_strict(
        levels, list(range(len(levels))), return_dtype=pl.Int64
    ).to_numpy()
    pop_counts = np.bincount(codes, minlength=len(levels))
    pop_share = pop_counts / v.len()
    out = {}
    for seg in segments:
        member = labels == seg
        seg_share = np.bincount(codes[member], minlength=len(levels)) / member.sum()
        best, best_h, best_lift, best_j = None, -np.inf, float("nan"), -1
        for j, lv in enumerate(levels):
            ss, ps = float(seg_share[j]), float(pop_share[j])
            h = cohens_h(ss, ps)
            if lv != MISSING and h > best_h:
                best, best_h, best_lift = lv, h, (ss / ps if ps else float("nan"))
                best_j = j
        ss = float(seg_share[best_j]) if best is not None else 0.0
        ps = float(pop_share[best_j]) if best is not None else 0.0
        out[seg] = {
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
    return out


def feature_statistics(
    frame: pl.DataFrame,
    meta: list[FeatureMeta],
    labels: np.ndarray,
    segments: list[int],
) -> dict[int, dict[str, dict[str, Any]]]:
    """Per segment, per feature, the plain statistics (one sort per feature).

    For each segment: median and mean against the population's, lift, the
    segment's interquartile band as population percentiles and Cliff's delta
    against the other customers (numbers); the most over-represented level, its
    lift and Cohen's h (categories). Non-finite values are left out of numeric
    statistics. Every customer counts: no sampling.
    """
    labels = np.asarray(labels)
    perm = np.argsort(labels, kind="stable")
    out: dict[int, dict[str, dict[str, Any]]] = {s: {} for s in segments}
    for m in meta:
        s = frame.get_column(m.name)
        if m.kind == "numeric":
            x = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
            stats = _numeric_feature(x, labels, perm, segments)
        else:
            stats = _categorical_feature(s, labels, segments)
        for seg in segments:
            out[seg][m.name] = stats[seg]
    return out


#: |Spearman rho| at or above which two numeric features say the same thing.
RELATED_RHO = 0.9
#: |Spearman rho| at or above which a name does not use both features while other
#: passing drivers are left (lower than RELATED_RHO: both stay drivers).
NAME_RHO = 0.75


def rank_correlations(
    X: np.ndarray, names: list[str], numeric: list[bool]
) -> tuple[list[str], np.ndarray]:
    """Spearman correlations of the numeric columns: their names and the matrix.

    Nulls take the column median (they rank in the middle). Computed once per
    explanation; :func:`related_features` reads it at each threshold.

    Examples
    --------
    >>> x = np.arange(5.0)
    >>> cols, r = rank_correlations(np.c_[x, -x, x], ["a", "b", "c"], [1, 1, 0])
    >>> cols, r.round(2).tolist()
    (['a', 'b'], [[1.0, -1.0], [-1.0, 1.0]])
    """
    cols = [j for j, ok in enumerate(numeric) if ok]
    if len(cols) < 2 or X.shape[0] < 3:
        return [], np.empty((0, 0))
    Z = np.asarray(X[:, cols], dtype=np.float64).copy()
    for j in range(Z.shape[1]):
        bad = ~np.isfinite(Z[:, j])
        if bad.all():
            Z[:, j] = 0.0
        elif bad.any():
            Z[bad, j] = np.median(Z[~bad, j])
        Z[:, j] = _average_ranks_unsorted(Z[:, j])
    with np.errstate(invalid="ignore", divide="ignore"):
        # The stubs allow a scalar (one variable); two or more columns give a matrix.
        r = np.asarray(np.corrcoef(Z, rowvar=False))
    return [names[j] for j in cols], r


def related_features(
    correlations: tuple[list[str], np.ndarray], rho: float = RELATED_RHO
) -> dict[str, list[str]]:
    """Numeric features whose rank correlation with another is at least ``rho``.

    Used to fold a driver that restates a stronger one (revenue beside monthly
    spend) into it, and, at a lower ``rho``, to keep a name's words apart.

    Examples
    --------
    >>> x = np.arange(50.0)
    >>> X = np.c_[x, x**2, np.sin(x)]
    >>> related_features(rank_correlations(X, ["a", "b", "c"], [True, True, True]))
    {'a': ['b'], 'b': ['a']}
    """
    cols, r = correlations
    out: dict[str, list[str]] = {}
    for a in range(len(cols)):
        for b in range(len(cols)):
            if a != b and np.isfinite(r[a, b]) and abs(r[a, b]) >= rho:
                out.setdefault(cols[a], []).append(cols[b])
    return out


def _average_ranks_unsorted(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = _average_ranks(x[order])
    return ranks


def rank_drivers(
    shap_vals: np.ndarray,
    sample_labels: np.ndarray,
    names: list[str],
    stats: dict[int, dict[str, dict[str, Any]]],
    segments: list[int],
    top: int = 8,
    related: dict[str, list[str]] | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """Rank features per segment by mean SHAP toward it over its members.

    Drivers whose effect size passes the threshold (``passes``) come first, each
    tier in SHAP order. A feature in ``related`` with a higher-ranked driver is not
    a driver of its own: it is listed in that driver's ``related`` entry.

    Parameters
    ----------
    shap_vals : ndarray, shape (rows, features, segments)
        Indexed by the surrogate's class order, which is ``segments``.
    """
    related = related or {}
    out: dict[int, list[dict[str, Any]]] = {}
    total = np.abs(shap_vals).mean(axis=(0, 2)).sum() or 1.0
    for j, seg in enumerate(segments):
        member = sample_labels == seg
        if not member.any():
            out[seg] = []
            continue
        toward = shap_vals[member, :, j].mean(0)  # signed: evidence for membership
        order = np.lexsort((np.arange(len(names)), -toward))
        drivers: list[dict[str, Any]] = []
        for f in order:
            if toward[f] <= 0 or len(drivers) == top:
                break
            twin = next(
                (d for d in drivers if d["feature"] in related.get(names[f], ())),
                None,
            )
            if twin is not None:
                twin["related"].append(names[f])
                continue
            st = stats[seg][names[f]]
            drivers.append(
                {
                    "feature": names[f],
                    "direction": st["direction"],
                    "importance": float(toward[f]),
                    "importance_share": float(toward[f] / total),
                    **st,
                    "related": [],
                }
            )
        # Passing drivers first (stable: SHAP order within each tier). A feature with
        # SHAP evidence but no material difference from the rest tells the segment
        # apart from one other segment (self-serve customers order less than the
        # frequent buyers), not from the customers at large.
        drivers.sort(key=lambda d: not d["passes"])
        out[seg] = drivers
    return out
