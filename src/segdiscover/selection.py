"""Model selection: a sweep over clusterers x number of segments, and a documented pick.

Each candidate is fitted on the same sample (at most ``max_rows`` customers), from up
to ``reference_fits`` (4) seeds until two fits agree (:func:`reference_fit`: the
partition kept is one the clusterer reproduces, not a start that landed in a worse
local optimum; the further fits are skipped where the stability refits of the first
fit do not reproduce one another, ``min_agreement``), and scored on internal
indices: silhouette (on a ``score_rows`` sub-sample), Calinski-Harabasz,
Davies-Bouldin, and the smallest segment's share. The default rule:

1. drop candidates whose smallest segment holds under ``min_share`` of customers
   (a segment too small to act on), unless every candidate does;
2. keep the candidates whose *every segment is stable*. Each candidate is refitted
   on subsamples of 75% (``stability_fraction``) of (at most ``stability_rows``
   of) the sample, drawn by a hash of each row's values so that refit *i* holds the
   same customers whatever the seed and the row order and starts its clusterer
   from a seed fixed by *i* (:func:`segdiscover.stability.keyed_seed`); each of
   its segments gets its Jaccard recovery in every refit (Hennig's clusterboot
   measure, see :mod:`segdiscover.stability`). ``stability_min`` is the smallest mean
   recovery of any segment; ``stability_lo`` and ``stability_hi`` bound it: the
   smallest over segments of the lower and of the upper end of a ``confidence``
   (90%) t-interval of the segment's mean over the refits. A candidate is
   *stable* (column ``stable``) when ``stability_lo >= min_stability`` (0.8): an
   interval that straddles the threshold is not called stable. ``n_refits`` (8)
   refits are run first; a candidate whose interval straddles the threshold gets
   more, 8 at a time, up to ``max_refits`` (24), and the column
   ``stability_refits`` says how many it got. Only undecided candidates pay for the
   extra refits, and their verdict no longer hangs on which 8 halves were drawn.
   Also kept: whose *every segment is separated* from its nearest neighbour:
   ``valley_max`` (:func:`valley_ratio`), the density at the emptiest point between
   a segment and its nearest segment relative to the lower of their two peaks
   (along the line joining their centres), is under ``max_valley`` (0.5). k-means
   cuts an elongated group in two the same way on every resample, so stability
   alone passes such a cut; the missing density valley gives it away. And
   ``attribute_cut`` (:func:`attribute_cut`), the share of the squared distance
   between a segment's centre and its nearest segment's carried by one yes/no
   column, is under ``max_cut`` (0.8): k-means splits a group on a standardised
   flag (app users and the rest) the same way on every resample, and the flag's
   built-in gap passes the valley test too, but a group cut by one attribute is
   that attribute, not two segments (measured on the independent generator: every
   overshoot of the planted k was such a cut). If no candidate passes these, the
   stable ones are kept (noted in the reason);
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

When no candidate is stable (or stability could not be measured: too few customers
or ``n_refits=0``), :class:`Selection` has ``stable=False``, its reason starts with
``"no stable segmentation: "`` and it still names the least unstable candidate (the
highest ``stability_lo``), which is the pick; callers should warn.

Internal indices (silhouette, Calinski-Harabasz, Davies-Bouldin) are reported for
every candidate but do not choose k: on business data with groups of different
spread they favour the 2-4 coarsest groups (measured in ``benchmarks/RESULTS.md``).

Cost: each candidate is two fits on the sample (up to ``reference_fits`` when they
disagree; one when its refits disagree among themselves) plus ``n_refits`` (up to
``max_refits`` when undecided) fits on 75% of at most ``stability_rows`` customers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state

from segdiscover._log import progress
from segdiscover.clusterers import ClustererSpec
from segdiscover.stability import refit_agreement, row_keys, score_refits
from segdiscover.stability import stability as _resample


@dataclass
class Selection:
    """Result of :func:`sweep`: the candidate table and the pick.

    Attributes
    ----------
    candidates : polars.DataFrame
        One row per candidate (scores, stability and its interval, ``chosen``).
    clusterer, n_segments : str, int
        The pick.
    reason : str
        Why it was picked; starts with ``"no stable segmentation: "`` when
        ``stable`` is False.
    stable : bool
        Whether the pick passed the stability rule (its ``stability_lo`` at least
        ``min_stability``). False when no candidate did or stability was not
        measured; the pick is then the least unstable candidate.
    seed : int
        The ``random_state`` the pick was fitted with (column ``fit_seed``; see
        :func:`reference_fit`): refitting the pick with it on the same rows
        reproduces the partition whose stability was measured (another seed can
        land k-means in another local optimum).
    """

    candidates: pl.DataFrame
    clusterer: str
    n_segments: int
    reason: str
    seed: int
    stable: bool = True


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
    n_refits: int = 8,
    stability_rows: int = 6_000,
    stability_fraction: float = 0.75,
    max_valley: float = 0.5,
    outcomes: np.ndarray | None = None,
    max_refits: int = 24,
    confidence: float = 0.9,
    max_cut: float = 0.8,
    reference_fits: int = 4,
    min_agreement: float = 0.7,
    n_jobs: int = 1,
    mass_cut: bool = False,
) -> Selection:
    """Fit every (clusterer, k) candidate on one sample and pick one by the rule above.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Preprocessed features.
    specs : sequence of ClustererSpec
    ks : sequence of int
        Numbers of segments tried by clusterers that need one.
    random_state : int, RandomState or None
    max_rows, score_rows : int
        Sample the candidates are fitted on, and the sub-sample of the silhouette.
    min_share : float, default 0.01
    min_stability : float, default 0.8
        Threshold on the lower bound of the smallest per-segment mean Jaccard.
    n_refits, max_refits : int, default 8 and 24
        Half-sample refits per candidate first, and at most when its interval
        straddles ``min_stability`` (more are added 8 at a time).
    stability_rows : int, default 6000
    stability_fraction : float, default 0.75
        Share of (at most ``stability_rows`` of) the sample each refit is fitted on.
    max_valley : float, default 0.5
        Largest density-valley ratio a separated candidate may have; above 1 the
        test is off (every ratio is at most 1), as in the outcome-guided space.
    outcomes : ndarray or None
        Outcome values aligned with ``X`` (ties only).
    confidence : float, default 0.9
        Coverage of the per-segment t-interval behind ``stability_lo``/``_hi``.
    max_cut : float, default 0.8
        Largest :func:`attribute_cut` a separated candidate may have: above it, two
        nearest segments differ (almost) only on one yes/no column. Above 1 the
        test is off.
    reference_fits : int, default 4
        Most fits of each candidate from different seeds (:func:`reference_fit`):
        the partition two of them agree on is the one whose stability is
        measured, so a start that landed in a worse local optimum does not make
        the candidate look unstable for one seed. 1: one fit, from the seed.
    min_agreement : float, default 0.7
        The further reference fits are made only for a candidate that is stable
        against its first fit, or whose first batch of refits reproduce one
        another (:func:`segdiscover.stability.refit_agreement`, column
        ``refit_agreement``) at least this well: a candidate whose refits
        disagree among themselves is unstable whatever fit it is compared with.
        0 makes the reference fits for every candidate.
    n_jobs : int, default 1
        Threads for each candidate's stability refits, run side by side, each on
        one native thread (fits of a few thousand customers gain little from more
        threads each). The refits and seeds are the same; as with any change of
        thread count, k-means' sums may differ in the last bits.
    mass_cut : bool, default False
        Count a pair cut at a column's point mass as an attribute cut
        (:func:`attribute_cut` with :func:`point_masses`). Off by default, with
        k-means' ``split_merge`` (decisions 86-87).

    Returns
    -------
    Selection

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
    flags = two_valued(Xs)
    masses = point_masses(Xs) if mass_cut else None
    # Refit i draws the same customers and starts from the same seed whatever the
    # seed and the row order: the verdict moves with the seed only through the
    # candidate's own fit, which reference_fit makes one the clusterer reproduces.
    keys = row_keys(Xs)
    if outcomes is not None:
        Ys = np.asarray(outcomes, dtype=float).reshape(n, -1)[fit_idx]
        # Own generator: the sweep's other draws stay as they were without outcomes.
        fold = check_random_state(seed + 2).rand(len(fit_idx)) < 0.5
    rows = []
    plan = [
        (order, spec, k)
        for order, spec in enumerate(specs)
        for k in (ks if spec.needs_k else [None])
        if k is None or k < len(fit_idx)
    ]
    for order, spec, k in progress(plan, desc="sweep", unit="candidate"):
        if spec.max_fit_rows is not None and len(fit_idx) > spec.max_fit_rows:
            sub = np.sort(
                check_random_state(seed).choice(
                    len(fit_idx), spec.max_fit_rows, replace=False
                )
            )
        else:
            sub = None
        t0 = time.perf_counter()

        def fit_one(
            s: int,
            spec: ClustererSpec = spec,
            k: int | None = k,
            sub: np.ndarray | None = sub,
        ) -> Any:
            adapter = spec.factory(n_clusters=k, random_state=s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter per candidate
                if sub is None:
                    return adapter, adapter.fit(Xs).labels_
                adapter.fit(Xs[sub])
                return adapter, adapter.assign(Xs)[0]

        refits = (n_refits, max(max_refits, n_refits))
        draw = (stability_rows, stability_fraction, keys)
        rule = (min_stability, confidence)
        # Stability first, against the first fit; the refits are kept. Refits are
        # keyed (the same customers and starts whatever the reference), so they
        # score any other reference without refitting.
        adapter, labels = fit_one(seed)
        st, parts = _stability(
            spec, k, Xs, labels, seed, refits, draw, rule, n_jobs=n_jobs
        )
        agreement = refit_agreement(parts[:n_refits])
        if st["stable"] is False and agreement < min_agreement:
            # The refits do not reproduce one another: no reference the extra fits
            # could find would be stable, so they are skipped (decision 79).
            fit_seed, n_ref = seed, 1
        else:
            fit_seed, adapter, kept, n_ref = reference_fit(
                fit_one, seed, reference_fits, first=(adapter, labels)
            )
            if fit_seed != seed:
                labels = kept
                st, _ = _stability(
                    spec, k, Xs, labels, seed, refits, draw, rule, parts, n_jobs
                )
        secs = time.perf_counter() - t0
        ok = labels >= 0
        counts = np.bincount(labels[ok]) if ok.any() else np.array([0])
        rows.append(
            {
                "clusterer": spec.name,
                "order": order,
                "n_segments": int(adapter.n_segments_),
                "k_requested": k,
                "reference_fits": n_ref,
                "fit_seed": fit_seed,
                **_score(Xs, labels, score_idx),
                "min_share": float(counts.min() / len(labels)),
                "noise_share": float((~ok).mean()),
                **st,
                "refit_agreement": agreement,
                "valley_max": valley_ratio(Xs, labels),
                "attribute_cut": attribute_cut(Xs, labels, flags, masses),
                **(
                    {"outcome_separation": outcome_separation(labels, Ys, fold)}
                    if outcomes is not None
                    else {}
                ),
                "fit_seconds": secs,
            }
        )
    table = pl.DataFrame(rows).with_columns(pl.col("stable").cast(pl.Boolean))
    # Features can differ in the last bit between runs (parallel float sums): round
    # the scores, as every user-facing float, so table and pick are identical.
    scores = [
        c for c, t in table.schema.items() if t == pl.Float64 and c != "fit_seconds"
    ]
    table = table.with_columns(pl.col(scores).round_sig_figs(10))
    return _pick(table, min_share, min_stability, (max_valley, max_cut), confidence)


def reference_fit(
    fit: Callable[[int], tuple[Any, np.ndarray]],
    seed: int,
    most: int = 4,
    same: float = 0.95,
    first: tuple[Any, np.ndarray] | None = None,
) -> tuple[int, Any, np.ndarray, int]:
    """Fit a candidate from up to ``most`` seeds; keep the partition they agree on.

    A clusterer with random starts (k-means' 10 starts, the Gaussian mixture's one)
    can land in a worse local optimum from one seed. Its subsample refits then find
    the better optimum and recover the reference poorly, so the candidate is called
    unstable for that seed only, and the chosen k moves with ``random_state`` (bank
    marketing: k-means at k = 5 landed in the worse of its optima from 2 of 12 seeds,
    smallest segment Jaccard 0.25 against 1.00). Fits from further seeds are added
    until two partitions agree (adjusted Rand index >= ``same``; the earlier of the
    two is kept) or ``most`` fits are made; then the partition closest to the others
    (highest mean ARI, the first on ties) is kept. The first seed is ``seed``; when
    the second fit agrees with it nothing changes but one extra fit.

    Parameters
    ----------
    fit : callable
        ``fit(seed)`` returns the fitted adapter and its labels.
    seed : int
    most : int, default 4
        Most fits (1: ``seed`` alone).
    same : float, default 0.95
    first : (adapter, labels), optional
        The fit from ``seed``, when the caller already made it (it is not refitted).

    Returns
    -------
    seed, adapter, labels, fits
        The kept fit's seed, adapter and labels, and how many fits were made.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(6, 1, (200, 2))]
    >>> def fit(s):  # a "clusterer" whose seed 1 lands in a bad split
    ...     lab = (X[:, 0] > 3).astype(int) if s != 1 else (X[:, 1] > 0).astype(int)
    ...     return None, lab
    >>> reference_fit(fit, 1, most=3)[0] != 1  # seeds 1, then two others agree
    True
    >>> reference_fit(fit, 0, most=3)[3]  # the second fit agrees with the first
    2
    """
    extra = check_random_state(seed + 3).randint(2**31 - 1, size=max(most - 1, 0))
    fits: list[tuple[int, Any, np.ndarray]] = []
    for i, s in enumerate([seed, *(int(v) for v in extra)]):
        adapter, labels = first if i == 0 and first is not None else fit(s)
        labels = np.asarray(labels)
        for s0, a0, l0 in fits:
            if adjusted_rand_score(l0, labels) >= same:
                return s0, a0, l0, len(fits) + 1
        fits.append((s, adapter, labels))
    if len(fits) == 1:
        return fits[0][0], fits[0][1], fits[0][2], 1
    ari = np.array(
        [
            [adjusted_rand_score(a[2], b[2]) if a is not b else 0.0 for b in fits]
            for a in fits
        ]
    )
    best = int(np.argmax(ari.sum(1)))
    return fits[best][0], fits[best][1], fits[best][2], len(fits)


def jaccard_interval(
    jaccard: np.ndarray, confidence: float = 0.9
) -> tuple[float, float, float]:
    """Smallest per-segment mean Jaccard and its bounds, from a refits x segments table.

    Each segment's mean over the refits gets a two-sided t-interval at
    ``confidence``; the bounds are the smallest lower end and the smallest upper
    end over the segments (the smallest mean lies between them). With one refit,
    or no spread, the bounds equal the mean.

    Examples
    --------
    >>> jac = np.array([[0.9, 0.7], [0.9, 0.9], [0.9, 0.8]])  # means 0.9 and 0.8
    >>> # lower: 0.8 - 2.92 * 0.1 / sqrt(3); upper: min(0.9, 0.8 + 0.169)
    >>> [round(v, 3) for v in jaccard_interval(jac)]
    [0.8, 0.631, 0.9]
    """
    r = jaccard.shape[0]
    mean = jaccard.mean(0)
    if r > 1:
        t = float(stats.t.ppf((1 + confidence) / 2, r - 1))
        half = t * jaccard.std(0, ddof=1) / np.sqrt(r)
    else:
        half = np.zeros_like(mean)
    return float(mean.min()), float((mean - half).min()), float((mean + half).min())


def _stability(
    spec: ClustererSpec,
    k: int | None,
    Xs: np.ndarray,
    labels: np.ndarray,
    seed: int,
    refits: tuple[int, int],
    rows: tuple[int, float, np.ndarray],
    rule: tuple[float, float],
    parts: list[tuple[np.ndarray, np.ndarray]] | None = None,
    n_jobs: int = 1,
) -> tuple[dict[str, Any], list[tuple[np.ndarray, np.ndarray]]]:
    """Subsample refits until the stability interval clears the threshold.

    Returns the median ARI, the smallest per-segment mean Jaccard with its interval,
    the number of refits and the verdict (None when not measured), and every refit's
    rows and labels in refit order. ``parts``: refits made earlier (for another
    reference of the same candidate) are scored, not fitted again; the values are
    those of fitting them anew, since keyed refit *i* does not depend on the
    reference.
    """
    first, most = refits
    threshold, confidence = rule
    nan = float("nan")
    out: dict[str, Any] = {
        "stability": nan,
        "stability_min": nan,
        "stability_lo": nan,
        "stability_hi": nan,
        "stability_refits": 0,
        "stable": None,
    }
    kept = list(parts or [])
    if first < 1 or len(Xs) < 20 or labels.max(initial=-1) < 0:
        return out, kept
    aris, jacs = [], []
    batch, done = first, 0
    while batch > 0:
        have = kept[done : done + batch]
        if have:
            ari, jac = score_refits(labels, have)
            aris.append(ari)
            jacs.append(jac)
        if len(have) < batch:
            # Side by side, one native thread each (n_jobs > 1; decision 80).
            st = _resample(
                lambda s: spec.factory(n_clusters=k, random_state=s),
                Xs,
                labels,
                n_refits=batch - len(have),
                fraction=rows[1],
                max_rows=rows[0],
                keys=rows[2],
                first_refit=done + len(have),
                # Unused with keys (always given by the sweep): draws are keyed.
                random_state=seed + 1 + 7919 * (done // first if done else 0),
                keep_partitions=True,
                n_jobs=n_jobs,
            )
            if not st.measured:
                return out, kept
            aris.append(st.ari)
            jacs.append(st.jaccard)
            kept += st.partitions or []
        done += batch
        jmin, lo, hi = jaccard_interval(np.vstack(jacs), confidence)
        undecided = lo < threshold <= hi
        batch = min(first, most - done) if undecided else 0
    ari = np.concatenate(aris)
    return {
        "stability": float(np.median(ari)),
        "stability_min": jmin,
        "stability_lo": lo,
        "stability_hi": hi,
        "stability_refits": done,
        "stable": bool(lo >= threshold),
    }, kept


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


def _nearest(
    X: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Rows without noise, their labels, segment ids, centres and nearest segment.

    None with fewer than two segments.
    """
    ok = labels >= 0
    X, labels = X[ok], labels[ok]
    ids = np.unique(labels)
    if len(ids) < 2:
        return None
    cents = np.vstack([X[labels == i].mean(0) for i in ids])
    d2 = ((cents[:, None] - cents[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    return X, labels, ids, cents, d2.argmin(1)


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
    near = _nearest(X, labels)
    if near is None:
        return float("nan")
    X, labels, ids, cents, nearest = near
    worst = 0.0
    for ia, ib in enumerate(nearest):
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


def two_valued(X: np.ndarray, coverage: float = 0.95) -> np.ndarray:
    """Which columns hold a yes/no fact: their two commonest values cover 95% of rows.

    Booleans, 0/1 flags and one-hot levels are two-valued after preprocessing; an
    imputed null adds a third value on a few rows, hence the coverage rather than
    "exactly two distinct values".

    Examples
    --------
    >>> X = np.c_[[0.0, 1, 1, 0] * 10, np.arange(40.0)]
    >>> two_valued(X).tolist()
    [True, False]
    """
    out = np.zeros(X.shape[1], dtype=bool)
    n = X.shape[0]
    for j in range(X.shape[1]):
        _, counts = np.unique(X[:, j], return_counts=True)
        out[j] = len(counts) >= 2 and np.sort(counts)[-2:].sum() >= coverage * n
    return out


def point_masses(
    X: np.ndarray, min_share: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Columns (not two-valued) with one value held by >= ``min_share`` of the rows.

    A zero-inflated amount (the share of a customer's tickets that were severe: 0 for
    most customers) carries a yes/no fact, "at that value or not", beside the amount.

    Returns
    -------
    columns : ndarray of int
    values : ndarray of float
        The value each column's mass sits at.

    Examples
    --------
    >>> X = np.c_[[0.0] * 30 + list(range(1, 11)), np.arange(40.0)]
    >>> point_masses(X)
    (array([0]), array([0.]))
    """
    cols, values = [], []
    n = X.shape[0]
    for j in range(X.shape[1]):
        v, counts = np.unique(X[:, j], return_counts=True)
        top = int(counts.argmax())
        if len(v) > 2 and counts[top] >= min_share * n:
            cols.append(j)
            values.append(v[top])
    return np.array(cols, dtype=int), np.array(values, dtype=float)


#: A pair is cut at a column's point mass when one segment has at least this share
#: of its customers at the mass and the other at most 1 minus it.
MASS_CUT = 0.95


def attribute_cut(
    X: np.ndarray,
    labels: np.ndarray,
    flags: np.ndarray | None = None,
    masses: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Largest share of a segment pair's separation carried by one yes/no column.

    For each segment and the segment with the nearest centre (as in
    :func:`valley_ratio`), the share of the squared distance between their centres
    that lies in the single two-valued column (:func:`two_valued`) contributing most.
    Near 1: the two "segments" are one group cut by a yes/no fact (app users and
    the rest of one group), which k-means finds reliably because a standardised
    flag has a built-in gap, so stability and the density valley both pass it; such
    a cut is an attribute a user can filter on, not a segment. With ``masses``
    (:func:`point_masses`; ``sweep(mass_cut=True)``) a column with a point mass
    counts too where the pair is cut at the mass: one
    segment has >= 95% of its customers at that value, the other <= 5% (the
    premium customers with and without any severe ticket: the same gap, the same
    reliable cut). Returns the largest share over the segments (0 without such
    columns, nan with fewer than two segments).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flag = np.tile([0.0, 2.0], 300)
    >>> X = np.c_[rng.normal(0, 1, (600, 3)), flag]
    >>> round(attribute_cut(X, (flag > 0).astype(int)), 2)  # cut by the flag alone
    1.0
    >>> X[:300, :3] += 6  # two groups that differ on behaviour as well
    >>> attribute_cut(X, np.repeat([0, 1], 300)) < 0.1
    True
    >>> amount = np.where(np.arange(600) % 2 == 0, 0.0, rng.uniform(2, 3, 600))
    >>> X = np.c_[rng.normal(0, 1, (600, 3)), amount]  # zero-inflated, cut at zero
    >>> attribute_cut(X, (amount > 0).astype(int), masses=point_masses(X)) > 0.8
    True
    """
    near = _nearest(X, labels)
    if near is None:
        return float("nan")
    X, lab, ids, cents, nearest = near
    flags = two_valued(X) if flags is None else flags
    cols, values = (np.zeros(0, int), np.zeros(0)) if masses is None else masses
    if not flags.any() and not len(cols):
        return 0.0
    # Share of each segment's customers at each column's mass (only when asked:
    # this runs once per candidate of the sweep).
    at = (
        np.vstack([(X[lab == i][:, cols] == values).mean(0) for i in ids])
        if len(cols)
        else np.zeros((len(ids), 0))
    )
    worst = 0.0
    for ia, ib in enumerate(nearest):
        gap = (cents[ia] - cents[ib]) ** 2
        total = float(gap.sum())
        if total <= 0:
            continue
        lo, hi = np.minimum(at[ia], at[ib]), np.maximum(at[ia], at[ib])
        cut = cols[(hi >= MASS_CUT) & (lo <= 1 - MASS_CUT)]
        facts = np.flatnonzero(flags).tolist() + cut.tolist()
        if facts:
            worst = max(worst, float(gap[facts].max() / total))
    return worst


def _pick(
    table: pl.DataFrame,
    min_share: float,
    min_stability: float,
    separation: tuple[float, float],
    confidence: float,
) -> Selection:
    max_valley, max_cut = separation
    usable = table.filter(
        pl.col("silhouette").is_not_nan() & (pl.col("n_segments") >= 2)
    )
    big = usable.filter(pl.col("min_share") >= min_share)
    note = ""
    if big.height:
        usable = big
    else:
        note = f" (every candidate has a segment under {min_share:.0%} of customers)"
    # Not measured (null) cannot be called stable; it is kept only as a fallback.
    stable = usable.filter(pl.col("stable").fill_null(value=False))
    separated = stable.filter(
        (pl.col("valley_max").is_nan() | (pl.col("valley_max") < max_valley))
        & (pl.col("attribute_cut").is_nan() | (pl.col("attribute_cut") < max_cut))
    )
    rule = (
        f"lower {confidence:.0%} bound of the smallest segment's mean Jaccard "
        f"recovery over subsample refits >= {min_stability}"
    )
    if separated.height:
        usable = separated.filter(pl.col("n_segments") == separated["n_segments"].max())
        tests = []
        if max_valley <= 1:  # the valley test is off in the outcome-guided space
            tests.append(f"a density valley (ratio < {max_valley})")
        if max_cut <= 1:
            tests.append(f"more than one yes/no column (share < {max_cut})")
        valley = (
            " and separated from its nearest segment by " + " and by ".join(tests)
            if tests
            else ""
        )
        k0 = usable["n_segments"][0]
        why_k = (
            # One k swept (the user fixed it): only the clusterer was chosen.
            f"{k0} segments as given, every segment stable ({rule}){valley}"
            if table["n_segments"].n_unique() == 1
            else f"the largest number of segments ({k0}) whose every "
            f"segment is stable ({rule}){valley}"
        )
    elif stable.height:
        usable = stable.filter(pl.col("n_segments") == stable["n_segments"].max())
        why_k = (
            f"no candidate has every segment separated from its nearest by a "
            f"density valley and by more than one yes/no column: the "
            f"largest number of segments ({usable['n_segments'][0]}) whose every "
            f"segment is stable ({rule})"
        )
    elif usable["stability_lo"].is_nan().all():
        why_k = (
            "no stable segmentation: stability could not be measured (too few "
            "customers to refit, or no refits asked for); the candidates are "
            "ranked by silhouette alone"
        )
    else:
        top = usable["stability_lo"].fill_nan(-1.0).max()
        usable = usable.filter(pl.col("stability_lo") == top)
        r0 = usable.row(0, named=True)
        why_k = (
            f"no stable segmentation: no candidate has every segment stable "
            f"({rule}); the least unstable one ({r0['n_segments']} segments, "
            f"smallest segment Jaccard {r0['stability_min']:.2f}, interval "
            f"{r0['stability_lo']:.2f} to {r0['stability_hi']:.2f} over "
            f"{r0['stability_refits']} refits)"
        )
    best = float(usable.select(pl.col("silhouette").max()).item())
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
        seed=int(row["fit_seed"]),
        stable=bool(row["stable"]),
    )
