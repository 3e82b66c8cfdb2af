"""Model selection: a sweep over clusterers x number of segments, and a documented pick.

Each candidate is fitted on the same sample (at most ``max_rows`` customers) and scored
on internal indices: silhouette (on a ``score_rows`` sub-sample), Calinski-Harabasz,
Davies-Bouldin, and the smallest segment's share. The default rule:

1. drop candidates whose smallest segment holds under ``min_share`` of customers
   (a segment too small to act on), unless every candidate does;
2. keep the candidates whose *every segment is stable*: ``stability_min``, the
   smallest mean Jaccard recovery of any of its segments over ``n_refits`` refits on
   random halves of (at most ``stability_rows`` of) the sample (Hennig's clusterboot
   measure, see :mod:`segdiscover.stability`), is at least ``min_stability`` (0.8);
   if none is, keep the most stable candidate (noted in the reason);
   and whose *every segment is separated* from its nearest neighbour:
   ``valley_max`` (:func:`valley_ratio`), the density at the emptiest point between
   a segment and its nearest segment relative to the lower of their two peaks
   (along the line joining their centres), is under ``max_valley`` (0.5). k-means
   cuts an elongated group in two the same way on every resample, so stability
   alone passes such a cut; the missing density valley gives it away. If no
   candidate passes both, the stable ones are kept; if none is stable, the most
   stable one (each noted in the reason);
3. pick the *largest* number of segments among them: the finest segmentation that
   resampling reproduces segment by segment and whose segments are separated. Too
   large a k fails step 2; too small a k merges real groups and passes, which is
   why the largest passing k is taken;
4. among clusterers at that k, the highest silhouette; ties (within 0.005) go to the
   higher *outcome separation* when outcomes are given (rounded to 0.01: the share
   of the outcomes' variance the segments explain on held-out customers, two-fold
   cross-fitted eta², averaged over the outcomes), then to the clusterer listed
   first in the registry. Outcomes only break ties: segments are found from
   behaviour.

Internal indices (silhouette, Calinski-Harabasz, Davies-Bouldin) are reported for
every candidate but do not choose k: on business data with groups of different
spread they favour the 2-4 coarsest groups (measured in ``benchmarks/RESULTS.md``).

Cost: each candidate is one fit on the sample plus ``n_refits`` fits on half of at
most ``stability_rows`` customers.
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
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state

from segdiscover.clusterers import ClustererSpec
from segdiscover.stability import stability as _resample


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
    n_refits: int = 5,
    stability_rows: int = 6_000,
    max_valley: float = 0.5,
    outcomes: np.ndarray | None = None,
) -> Selection:
    """Fit every (clusterer, k) candidate on one sample and pick one by the rule above.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from segdiscover.clusterers import CLUSTERERS
    >>> X, _ = make_blobs(600, centers=4, random_state=1)
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
    if outcomes is not None:
        Ys = np.asarray(outcomes, dtype=float).reshape(n, -1)[fit_idx]
        # Own generator: the sweep's other draws stay as they were without outcomes.
        fold = check_random_state(seed + 2).rand(len(fit_idx)) < 0.5
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
            ari, jmin = _stability(spec, k, Xs, labels, seed, n_refits, stability_rows)
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
                    "stability": ari,
                    "stability_min": jmin,
                    "valley_max": valley_ratio(Xs, labels),
                    **(
                        {"outcome_separation": outcome_separation(labels, Ys, fold)}
                        if outcomes is not None
                        else {}
                    ),
                    "fit_seconds": secs,
                }
            )
    table = pl.DataFrame(rows)
    # Features can differ in the last bit between runs (parallel float sums): round
    # the scores, as every user-facing float, so table and pick are identical.
    scores = [
        c for c, t in table.schema.items() if t == pl.Float64 and c != "fit_seconds"
    ]
    table = table.with_columns(pl.col(scores).round_sig_figs(10))
    return _pick(table, min_share, min_stability, max_valley)


def _stability(
    spec: ClustererSpec,
    k: int | None,
    Xs: np.ndarray,
    labels: np.ndarray,
    seed: int,
    n_refits: int,
    max_rows: int,
) -> tuple[float, float]:
    """Median ARI and the smallest per-segment mean Jaccard over half-sample refits."""
    if n_refits < 1 or len(Xs) < 20 or labels.max(initial=-1) < 0:
        return float("nan"), float("nan")
    st = _resample(
        lambda s: spec.factory(n_clusters=k, random_state=s),
        Xs,
        labels,
        n_refits=n_refits,
        fraction=0.5,
        max_rows=max_rows,
        random_state=seed + 1,
    )
    jac = st.jaccard.mean(0)
    return st.ari_median, float(jac.min()) if jac.size else float("nan")


def outcome_separation(labels: np.ndarray, Y: np.ndarray, fold: np.ndarray) -> float:
    """Held-out share of outcome variance the segments explain (mean over outcomes).

    Two-fold cross-fitting: segment means are estimated on one fold and scored on
    the other, so many small segments cannot score by memorising noise. Nulls (NaN)
    and noise labels (-1) are left out.

    Examples
    --------
    >>> labels = np.array([0, 0, 1, 1] * 5)
    >>> Y = (labels * 10.0 + np.tile([0.0, 1.0], 10))[:, None]
    >>> fold = np.arange(20) % 2 == 0  # by hand: 1 - (10 + 10) / (260 + 260)
    >>> round(outcome_separation(labels, Y, fold), 3)
    0.962
    """
    scores = []
    for j in range(Y.shape[1]):
        ok = np.isfinite(Y[:, j]) & (labels >= 0)
        sse = sst = 0.0
        for train in (fold, ~fold):
            tr, te = ok & train, ok & ~train
            if not tr.any() or not te.any():
                continue
            y, grand = Y[:, j], Y[tr, j].mean()
            k = int(labels[ok].max()) + 1
            sums = np.bincount(labels[tr], Y[tr, j], minlength=k)
            counts = np.bincount(labels[tr], minlength=k)
            means = np.where(counts > 0, sums / np.maximum(counts, 1), grand)
            sse += float(((y[te] - means[labels[te]]) ** 2).sum())
            sst += float(((y[te] - grand) ** 2).sum())
        if sst > 0:
            scores.append(1 - sse / sst)
    return float(np.mean(scores)) if scores else float("nan")


def valley_ratio(X: np.ndarray, labels: np.ndarray, bins: int = 30) -> float:
    """Largest density-valley ratio between a segment and its nearest segment.

    For each segment and the segment with the nearest centre, the customers of both
    are projected on the line joining the centres; a 30-bin histogram (smoothed over
    3 bins, between the 0.5th and 99.5th percentiles) gives the density. The ratio is
    the lowest density between the two segments' medians over the lower of the two
    peaks outside them: near 0 for a clear gap, near 1 for a cut through one group
    (1 when the medians fall within two bins). Returns the largest ratio over the
    segments (nan with fewer than two segments).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> two = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(8, 1, (300, 2))]
    >>> round(valley_ratio(two, np.repeat([0, 1], 300)), 2)
    0.0
    >>> one = rng.normal(0, 1, (600, 2))
    >>> valley_ratio(one, (one[:, 0] > 0).astype(int)) > 0.5
    True
    """
    ok = labels >= 0
    X, labels = X[ok], labels[ok]
    ids = np.unique(labels)
    if len(ids) < 2:
        return float("nan")
    cents = np.vstack([X[labels == i].mean(0) for i in ids])
    d2 = ((cents[:, None] - cents[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    worst = 0.0
    for ia, ib in enumerate(d2.argmin(1)):
        a, b = ids[ia], ids[ib]
        axis = cents[ib] - cents[ia]
        norm = float(np.linalg.norm(axis))
        if norm == 0:
            return 1.0
        both = (labels == a) | (labels == b)
        proj = X[both] @ (axis / norm)
        lab = labels[both]
        lo, hi = np.quantile(proj, [0.005, 0.995])
        if hi <= lo:
            return 1.0
        h, _ = np.histogram(proj, bins=bins, range=(lo, hi))
        h = np.convolve(h, np.ones(3) / 3, mode="same")

        def at(v: float, lo: float = lo, hi: float = hi) -> int:
            return int(np.clip((v - lo) / (hi - lo) * bins, 0, bins - 1))

        i0, i1 = sorted((at(np.median(proj[lab == a])), at(np.median(proj[lab == b]))))
        if i1 - i0 < 2:
            return 1.0
        peak = min(h[: i0 + 1].max(), h[i1:].max())
        worst = max(worst, float(h[i0 : i1 + 1].min() / max(peak, 1e-12)))
    return worst


def _pick(
    table: pl.DataFrame, min_share: float, min_stability: float, max_valley: float
) -> Selection:
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
        pl.col("stability_min").is_nan() | (pl.col("stability_min") >= min_stability)
    )
    separated = stable.filter(
        pl.col("valley_max").is_nan() | (pl.col("valley_max") < max_valley)
    )
    if separated.height:
        usable = separated.filter(pl.col("n_segments") == separated["n_segments"].max())
        why_k = (
            f"the largest number of segments ({usable['n_segments'][0]}) whose every "
            f"segment is stable (mean Jaccard recovery >= {min_stability} over "
            f"half-sample refits) and separated from its nearest segment by a "
            f"density valley (ratio < {max_valley})"
        )
    elif stable.height:
        usable = stable.filter(pl.col("n_segments") == stable["n_segments"].max())
        why_k = (
            f"no candidate has every segment separated by a density valley: the "
            f"largest number of segments ({usable['n_segments'][0]}) whose every "
            f"segment is stable (mean Jaccard recovery >= {min_stability})"
        )
    else:
        top = usable["stability_min"].max()
        usable = usable.filter(pl.col("stability_min") == top)
        why_k = (
            f"no candidate has every segment stable at {min_stability}: the most "
            f"stable one (smallest segment Jaccard {top:.2f})"
        )
    best = usable["silhouette"].max()
    near = usable.filter(pl.col("silhouette") >= best - 0.005)
    by_outcome = "outcome_separation" in near.columns
    if by_outcome:
        near = near.sort(
            pl.col("outcome_separation").fill_nan(-1.0).round(2),
            "order",
            descending=[True, False],
        )
    else:
        near = near.sort(["order"])
    row = near.row(0, named=True)
    reason = (
        f"{why_k}, each segment >= {min_share:.0%} of customers{note}; at that k "
        f"the highest silhouette ({row['silhouette']:.3f}; smallest segment "
        f"Jaccard {row['stability_min']:.2f})"
        + (
            f", ties to higher held-out outcome separation (this one "
            f"{row['outcome_separation']:.3f})"
            if by_outcome
            else ""
        )
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
