"""Model selection: a sweep over clusterers x number of segments, and a documented pick.

Each candidate is fitted on the same sample (at most ``max_rows`` customers) and scored
on internal indices: silhouette (on a ``score_rows`` sub-sample), Calinski-Harabasz,
Davies-Bouldin, and the smallest segment's share. The default rule:

1. drop candidates whose smallest segment holds under ``min_share`` of customers
   (a segment too small to act on), unless every candidate does;
2. drop candidates whose *stability* is under ``min_stability`` (0.8), unless every
   candidate is: stability is the mean adjusted Rand index between the candidate's
   labels and those of ``n_refits`` refits on random halves of the sample (assigned
   back to the whole sample). A segmentation that changes when half the customers are
   left out is not one to act on;
3. pick the highest silhouette; ties (within 0.005) go to fewer segments, then to the
   clusterer listed first in the registry.

Cost: each candidate is one fit on the sample plus ``n_refits`` fits on half of it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state

from segdiscover.clusterers import ClustererSpec


@dataclass
class Selection:
    """Result of :func:`sweep`: the candidate table and the pick."""

    candidates: pl.DataFrame
    clusterer: str
    n_segments: int
    reason: str


def _score(
    X: np.ndarray, labels: np.ndarray, score_idx: np.ndarray
) -> dict[str, float]:
    ok = labels >= 0
    k = len(np.unique(labels[ok]))
    if k < 2:
        return {
            "silhouette": float("nan"),
            "calinski_harabasz": float("nan"),
            "davies_bouldin": float("nan"),
        }
    s_idx = score_idx[ok[score_idx]]
    sil = (
        silhouette_score(X[s_idx], labels[s_idx])
        if len(np.unique(labels[s_idx])) > 1
        else float("nan")
    )
    return {
        "silhouette": float(sil),
        "calinski_harabasz": float(calinski_harabasz_score(X[ok], labels[ok])),
        "davies_bouldin": float(davies_bouldin_score(X[ok], labels[ok])),
    }


def sweep(
    X: np.ndarray,
    specs: Sequence[ClustererSpec],
    ks: Sequence[int],
    *,
    random_state: Any = None,
    max_rows: int = 20_000,
    score_rows: int = 3_000,
    min_share: float = 0.01,
    min_stability: float = 0.8,
    n_refits: int = 2,
) -> Selection:
    """Fit every (clusterer, k) candidate on one sample and pick one by the rule above.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from segdiscover.clusterers import CLUSTERERS
    >>> X, _ = make_blobs(600, centers=4, random_state=0)
    >>> sweep(X, [CLUSTERERS["kmeans"]], [2, 3, 4, 5], random_state=0).n_segments
    4
    """
    rng = check_random_state(random_state)
    n = X.shape[0]
    fit_idx = (
        np.sort(rng.choice(n, max_rows, replace=False))
        if n > max_rows
        else np.arange(n)
    )
    Xs = X[fit_idx]
    score_idx = np.sort(
        rng.choice(len(fit_idx), min(score_rows, len(fit_idx)), replace=False)
    )
    seed = int(rng.randint(2**31 - 1))
    rows = []
    for order, spec in enumerate(specs):
        for k in ks if spec.needs_k else [None]:
            if k is not None and k >= len(fit_idx):
                continue
            if spec.max_fit_rows is not None and len(fit_idx) > spec.max_fit_rows:
                sub = np.sort(
                    check_random_state(seed).choice(
                        len(fit_idx), spec.max_fit_rows, replace=False
                    )
                )
            else:
                sub = None
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter per candidate
                adapter = spec.factory(n_clusters=k, random_state=seed)
                if sub is None:
                    labels = adapter.fit(Xs).labels_
                else:
                    adapter.fit(Xs[sub])
                    labels, _ = adapter.assign(Xs)
            stability = _stability(spec, k, Xs, labels, seed, n_refits)
            secs = time.perf_counter() - t0
            ok = labels >= 0
            counts = np.bincount(labels[ok]) if ok.any() else np.array([0])
            rows.append(
                {
                    "clusterer": spec.name,
                    "order": order,
                    "n_segments": int(adapter.n_segments_),
                    "k_requested": k,
                    **_score(Xs, labels, score_idx),
                    "min_share": float(counts.min() / len(labels)),
                    "noise_share": float((~ok).mean()),
                    "stability": stability,
                    "fit_seconds": secs,
                }
            )
    table = pl.DataFrame(rows)
    return _pick(table, min_share, min_stability)


def _stability(
    spec: ClustererSpec,
    k: int | None,
    Xs: np.ndarray,
    labels: np.ndarray,
    seed: int,
    n_refits: int,
) -> float:
    """Mean ARI between ``labels`` and refits on random halves assigned back to all."""
    if n_refits < 1 or len(Xs) < 20:
        return float("nan")
    rng = check_random_state(seed + 1)
    scores = []
    limit = spec.max_fit_rows or len(Xs)
    for _ in range(n_refits):
        half = np.sort(rng.choice(len(Xs), min(len(Xs) // 2, limit), replace=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other = spec.factory(n_clusters=k, random_state=int(rng.randint(2**31 - 1)))
            other.fit(Xs[half])
            again, _ = other.assign(Xs)
        scores.append(adjusted_rand_score(labels, again))
    return float(np.mean(scores))


def _pick(table: pl.DataFrame, min_share: float, min_stability: float) -> Selection:
    usable = table.filter(
        pl.col("silhouette").is_not_nan() & (pl.col("n_segments") >= 2)
    )
    big = usable.filter(pl.col("min_share") >= min_share)
    note = ""
    if big.height:
        usable = big
    else:
        note = f" (every candidate has a segment under {min_share:.0%} of customers)"
    stable = usable.filter(
        pl.col("stability").is_nan() | (pl.col("stability") >= min_stability)
    )
    if stable.height:
        usable = stable
    else:
        note += f" (no candidate reaches stability {min_stability})"
    best = usable["silhouette"].max()
    near = usable.filter(pl.col("silhouette") >= best - 0.005).sort(
        ["n_segments", "order"]
    )
    row = near.row(0, named=True)
    reason = (
        f"highest silhouette ({row['silhouette']:.3f}) among {usable.height} "
        f"candidates with stability >= {min_stability} (this one "
        f"{row['stability']:.2f}) and every segment >= {min_share:.0%} of "
        f"customers{note}; ties within 0.005 go to fewer segments"
    )
    chosen = (pl.col("clusterer") == row["clusterer"]) & (
        pl.col("n_segments") == row["n_segments"]
    )
    table = table.with_columns(chosen.alias("chosen")).drop("order")
    return Selection(
        candidates=table,
        clusterer=row["clusterer"],
        n_segments=int(row["n_segments"]),
        reason=reason,
    )
