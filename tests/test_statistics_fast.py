"""feature_statistics (one ranking per feature) equals a per-segment reference.

The reference below is the straightforward implementation that
``feature_statistics`` replaced: for every segment and feature it recomputes
medians, quantiles and Cliff's delta (``scipy.stats.rankdata`` of segment + rest)
from scratch. Both must give the same numbers, bit for bit, on data with ties,
missing and infinite values, noise labels (-1) and categorical nulls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import rankdata

from segdiscover.explain.drivers import (
    CLIFF_THRESHOLD,
    COHEN_H_THRESHOLD,
    cohens_h,
    feature_statistics,
)
from segdiscover.features import FeatureMeta
from segdiscover.preprocess import MISSING


def ref_cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return 0.0
    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[: a.size].sum() - a.size * (a.size + 1) / 2
    return float(2 * u / (a.size * b.size) - 1)


def ref_numeric(x: np.ndarray, member: np.ndarray) -> dict[str, Any]:
    sorted_pop = np.sort(x[np.isfinite(x)])
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
    delta = ref_cliffs_delta(seg, rest)
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


def ref_categorical(v: np.ndarray, member: np.ndarray) -> dict[str, Any]:
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


def reference(frame, meta, labels, segments):
    out = {s: {} for s in segments}
    for m in meta:
        s = frame.get_column(m.name)
        if m.kind == "numeric":
            x = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
            for seg in segments:
                out[seg][m.name] = ref_numeric(x, labels == seg)
        else:
            v = s.cast(pl.String).fill_null(MISSING).to_numpy().astype(str)
            for seg in segments:
                out[seg][m.name] = ref_categorical(v, labels == seg)
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


def random_case(seed: int, n: int):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    labels = rng.integers(0, k, n)
    if seed % 2:
        labels[rng.random(n) < 0.1] = -1  # kept noise: in the population only
    cont = rng.lognormal(0, 1, n)
    ties = rng.integers(0, 5, n).astype(float)  # heavy ties
    holes = rng.normal(size=n)
    holes[rng.random(n) < 0.2] = np.nan
    holes[rng.random(n) < 0.01] = np.inf
    seg_shift = cont * (1 + (labels == 0))  # a real effect for segment 0
    ints = rng.integers(-3, 3, n)
    one = np.where(labels == 1, np.nan, 1.0)  # segment 1 has no finite value
    cats = rng.choice(["web", "phone", "mobile", "zeta"], n)
    cat_null = [None if rng.random() < 0.15 else str(c) for c in cats]
    frame = pl.DataFrame(
        {
            "cont": cont,
            "ties": ties,
            "holes": holes,
            "seg_shift": seg_shift,
            "ints": ints,
            "one": one,
            "cat": cats,
            "cat_null": pl.Series(cat_null, dtype=pl.String),
        }
    )
    meta = [
        FeatureMeta(c, "behavioural", c)
        for c in ("cont", "ties", "holes", "seg_shift", "ints", "one")
    ] + [FeatureMeta(c, "channel", c, kind="categorical") for c in ("cat", "cat_null")]
    segments = sorted(int(s) for s in np.unique(labels[labels >= 0]))
    return frame, meta, labels, segments


@pytest.mark.parametrize(
    ("seed", "n"), [(0, 50), (1, 300), (2, 2000), (3, 7), (4, 999)]
)
def test_fast_statistics_equal_reference(seed: int, n: int) -> None:
    frame, meta, labels, segments = random_case(seed, n)
    fast = feature_statistics(frame, meta, labels, segments)
    ref = reference(frame, meta, labels, segments)
    assert fast.keys() == ref.keys()
    for seg in segments:
        assert fast[seg].keys() == ref[seg].keys()
        for name, st in ref[seg].items():
            assert fast[seg][name].keys() == st.keys()
            for key, want in st.items():
                got = fast[seg][name][key]
                assert same(got, want), (seg, name, key, got, want)


def test_segment_absent_from_labels_gets_empty_numeric_statistics() -> None:
    frame, meta, labels, _ = random_case(5, 200)
    numeric = [m for m in meta if m.kind == "numeric"]
    fast = feature_statistics(frame, numeric, labels, [0, 99])
    ref = reference(frame, numeric, labels, [0, 99])
    for seg in (0, 99):
        for name, st in ref[seg].items():
            for key, want in st.items():
                assert same(fast[seg][name][key], want), (seg, name, key)
