"""Label alignment, resampling stability and the merge tree of segments.

* :func:`align_labels` matches the segments of two solutions on the same customers by
  maximum overlap (Hungarian assignment on the contingency table), so that segment
  ``i`` means the same thing across refits and runs.
* :func:`stability` refits the clusterer on random subsamples and reports the
  solution-level agreement (adjusted Rand index) and, per segment, the Jaccard recovery
  of Hennig's ``clusterboot``: for each refit, the best Jaccard similarity between the
  segment and any refit segment, over the customers in the subsample; averaged over
  refits. Hennig (2007) reads a mean Jaccard under 0.5 as "dissolved", 0.6 to 0.75 as
  a pattern, 0.75 or more as valid and over 0.85 as highly stable. A segment under
  0.8, the bound ``auto`` holds every candidate's segments to, is flagged: an
  artificial cut through one round group scores 0.6-0.78 (tests/test_stability.py),
  so 0.6 let most such cuts through.
* :func:`merge_tree` records which segments merge first as k decreases (Ward's
  criterion on the segment centroids, weighted by size), so users can read a coarser
  segmentation off a fitted model without refitting.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from sklearn.utils import check_random_state

from segdiscover._log import progress
from segdiscover.exceptions import InputError

#: Mean Jaccard recovery under which a segment is flagged unstable.
UNSTABLE_BELOW = 0.8


def contingency(
    a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count customers in each (label of ``a``, label of ``b``) pair, noise excluded.

    Returns the table and the label values along each axis.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    ok = (a >= 0) & (b >= 0)
    ua, ia = np.unique(a[ok], return_inverse=True)
    ub, ib = np.unique(b[ok], return_inverse=True)
    table = np.zeros((len(ua), len(ub)), dtype=np.int64)
    np.add.at(table, (ia, ib), 1)
    return table, ua, ub


def align_labels(reference: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """Map the labels of ``labels`` onto those of ``reference`` by maximum overlap.

    Both arrays label the same customers in the same order. Segments are matched one
    to one (Hungarian assignment maximising the customers they share); a segment of
    ``labels`` that has no partner (more segments than the reference) gets a new id
    after the largest reference id, in order of size. Noise (-1) maps to -1.

    Parameters
    ----------
    reference, labels : array of int, shape (n,)

    Returns
    -------
    dict of int to int
        Old label of ``labels`` -> aligned label.

    Examples
    --------
    >>> import numpy as np
    >>> align_labels(np.array([0, 0, 1, 1, 2]), np.array([2, 2, 0, 0, 1]))
    {0: 1, 1: 2, 2: 0}
    """
    reference = np.asarray(reference)
    labels = np.asarray(labels)
    if reference.shape != labels.shape:
        msg = (
            f"Cannot align {labels.shape[0]} labels to {reference.shape[0]} reference "
            "labels: they must describe the same customers."
        )
        raise InputError(msg)
    table, ur, ul = contingency(reference, labels)
    mapping: dict[int, int] = {-1: -1} if (labels < 0).any() else {}
    if table.size:
        rows, cols = linear_sum_assignment(-table)
        for r, c in zip(rows, cols, strict=True):
            mapping[int(ul[c])] = int(ur[r])
    left = [int(v) for v in np.unique(labels[labels >= 0]) if int(v) not in mapping]
    sizes = {v: int((labels == v).sum()) for v in left}
    nxt = int(max(reference.max(initial=-1), max(mapping.values(), default=-1))) + 1
    for v in sorted(left, key=lambda v: (-sizes[v], v)):
        mapping[v] = nxt
        nxt += 1
    return dict(sorted(mapping.items()))


def relabel(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Apply a mapping from :func:`align_labels` (labels not in it are unchanged)."""
    labels = np.asarray(labels)
    out = labels.copy()
    for old, new in mapping.items():
        out[labels == old] = new
    return out


def jaccard_recovery(reference: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Best Jaccard similarity of each reference segment with a segment of ``labels``.

    Noise in ``labels`` counts as belonging to no segment (so it lowers recovery).

    Examples
    --------
    >>> import numpy as np
    >>> jaccard_recovery(np.array([0, 0, 1, 1]), np.array([5, 5, 5, 7]))
    {0: 0.6666666666666666, 1: 0.5}
    """
    reference = np.asarray(reference)
    labels = np.asarray(labels)
    ref_ids, ref_sizes = np.unique(reference[reference >= 0], return_counts=True)
    if not ref_ids.size:
        return {}
    table, ua, ub = contingency(reference, labels)
    if not table.size:
        return {int(s): 0.0 for s in ref_ids}
    # |A u B| = |A| + |B| - |A n B|, with |A| counting A's customers that are noise
    # in ``labels`` (they belong to no segment there).
    size_a = dict(zip(ref_ids.tolist(), ref_sizes.tolist(), strict=True))
    a = np.array([size_a[int(v)] for v in ua])
    b = np.array([int((labels == v).sum()) for v in ub])
    best = (table / (a[:, None] + b[None, :] - table)).max(1)
    found = dict(zip(ua.tolist(), best.tolist(), strict=True))
    return {int(s): float(found.get(int(s), 0.0)) for s in ref_ids}


@dataclass
class Stability:
    """Result of :func:`stability`.

    Attributes
    ----------
    ari : ndarray, shape (n_refits,)
        Adjusted Rand index of each refit against the solution (on its subsample).
    jaccard : ndarray, shape (n_refits, k)
        Jaccard recovery of each segment in each refit.
    n_refits, fraction, rows : int, float, int
        Refits, subsample fraction, and the customers the refits were drawn from.
    partitions : list of (ndarray, ndarray) or None
        Each refit's row indices and labels (``stability(..., keep_partitions=True)``),
        so the refits can be scored against another solution without refitting
        (:func:`score_refits`).
    """

    ari: np.ndarray
    jaccard: np.ndarray
    n_refits: int
    fraction: float
    rows: int
    threshold: float = UNSTABLE_BELOW
    per_segment: dict[int, float] = field(init=False)
    #: Each refit's rows and labels, in refit order (only with ``keep_partitions``).
    partitions: list[tuple[np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False
    )

    def __post_init__(self) -> None:
        self.per_segment = (
            {s: float(v) for s, v in enumerate(self.jaccard.mean(0))}
            if self.jaccard.size
            else {}
        )

    @property
    def ari_median(self) -> float:
        """Median adjusted Rand index over the refits."""
        return float(np.median(self.ari)) if self.ari.size else float("nan")

    @property
    def ari_spread(self) -> tuple[float, float]:
        """The 10th and 90th percentiles of the refits' ARI."""
        if not self.ari.size:
            return (float("nan"), float("nan"))
        lo, hi = np.percentile(self.ari, [10, 90])
        return (float(lo), float(hi))

    def unstable(self) -> list[int]:
        """Segments whose mean Jaccard recovery is under the threshold."""
        return [s for s, v in self.per_segment.items() if v < self.threshold]

    @property
    def measured(self) -> bool:
        """False when the sample was too small to refit (all values nan)."""
        return bool(np.isfinite(self.jaccard).any())

    def frame(self) -> pl.DataFrame:
        """One row per segment with its Jaccard recovery.

        Columns: ``segment_id``, ``jaccard_mean``, ``jaccard_min``, ``dissolved``
        (refits where recovery < 0.5), ``stable``.
        """
        k = self.jaccard.shape[1] if self.jaccard.ndim == 2 else 0
        return pl.DataFrame(
            {
                "segment_id": list(range(k)),
                "jaccard_mean": [float(v) for v in self.jaccard.mean(0)],
                "jaccard_min": [float(v) for v in self.jaccard.min(0)],
                "dissolved": [int(v) for v in (self.jaccard < 0.5).sum(0)],
                "stable": [bool(v >= self.threshold) for v in self.jaccard.mean(0)],
            },
            schema={
                "segment_id": pl.Int64,
                "jaccard_mean": pl.Float64,
                "jaccard_min": pl.Float64,
                "dissolved": pl.Int64,
                "stable": pl.Boolean,
            },
        )


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit moves every output bit."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def row_keys(X: np.ndarray) -> np.ndarray:
    """Return a 64-bit key per row from its values (single precision), for draws.

    Two tables with the same rows in another order give the same keys row for row,
    and the last bits of a float (parallel sums differ there between runs) do not
    count, so draws keyed on them depend neither on row order nor on the seed.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0 + 1e-12]])
    >>> k = row_keys(X)
    >>> bool(k[0] == k[2]), bool(k[0] != k[1])
    (True, True)
    >>> bool((row_keys(X[[1, 0, 2]]) == k[[1, 0, 2]]).all())
    True
    """
    bits = np.ascontiguousarray(X, dtype=np.float32).view(np.uint32)
    h = np.full(X.shape[0], 0x243F6A8885A308D3, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(bits.shape[1]):
            h = _mix(h ^ (bits[:, j].astype(np.uint64) + _GOLDEN * np.uint64(j + 1)))
    return h


def keyed_draw(keys: np.ndarray, m: int, salt: int) -> np.ndarray:
    """Return the sorted indices of the ``m`` rows whose salted keys are smallest.

    Each ``salt`` gives an independent-looking subsample; the same keys and salt
    always give the same rows, wherever they sit in the table.

    Examples
    --------
    >>> keys = row_keys(np.arange(20.0)[:, None])
    >>> a, b = keyed_draw(keys, 5, 0), keyed_draw(keys, 5, 1)
    >>> len(a), bool((a == keyed_draw(keys, 5, 0)).all()), bool((a != b).any())
    (5, True, True)
    """
    with np.errstate(over="ignore"):
        salted = _mix(keys ^ (_GOLDEN * np.uint64(salt + 1)))
    # Ties (duplicate rows) broken by position: identical rows are interchangeable.
    return np.sort(np.lexsort((np.arange(len(keys)), salted))[:m])


def keyed_seed(refit: int) -> int:
    """Return the clusterer's seed of keyed refit number ``refit`` (fixed, < 2**31).

    With keyed draws (:func:`stability` with ``keys``), refit *i* holds the same
    customers and starts the clusterer from the same seed whatever the
    ``random_state``: a candidate's verdict is then a function of the data alone.
    With seeded starts a k-means refit that lands in a worse local optimum (one
    refit in six on bank marketing at k = 5) came and went with the seed, and a
    candidate near the threshold was stable for one seed and not for the next.

    Examples
    --------
    >>> keyed_seed(0) == keyed_seed(0) != keyed_seed(1)
    True
    >>> 0 <= keyed_seed(7) < 2**31 - 1
    True
    """
    with np.errstate(over="ignore"):
        h = _mix(np.array([_GOLDEN * np.uint64(refit + 1)], dtype=np.uint64))
    return int(h[0] % np.uint64(2**31 - 1))


def stability(
    factory: Callable[[int], Any],
    X: np.ndarray,
    labels: np.ndarray,
    *,
    n_refits: int = 10,
    fraction: float = 0.8,
    max_rows: int | None = 10_000,
    threshold: float = UNSTABLE_BELOW,
    random_state: Any = None,
    n_jobs: int = 1,
    keys: np.ndarray | None = None,
    first_refit: int = 0,
    progress_desc: str | None = None,
    keep_partitions: bool = False,
) -> Stability:
    """Refit on subsamples and measure how well each segment is recovered.

    Parameters
    ----------
    factory : callable
        ``factory(seed)`` returns an unfitted adapter (``fit`` then ``labels_``).
    X : ndarray, shape (n, p)
        Preprocessed features the solution was fitted on.
    labels : ndarray of int, shape (n,)
        The solution (segments ``0..k-1``; -1 noise is left out of the reference).
    n_refits : int, default 10
    fraction : float, default 0.8
        Share of customers in each subsample (drawn without replacement, so no
        customer is duplicated: duplicates distort density methods).
    max_rows : int or None, default 10000
        Draw the refits from at most this many customers (a random sample).
    threshold : float, default 0.8
    random_state : int, RandomState or None
    n_jobs : int, default 1
        Refits run on this many threads, side by side, with native (BLAS,
        OpenMP) threads held to one while they run.
    keys : ndarray of uint64, shape (n,), optional
        A key per row (:func:`row_keys`, or a customer-id hash). When given, the
        subsamples are drawn by the keys (:func:`keyed_draw`) and refit *i*'s
        clusterer starts from :func:`keyed_seed` of *i*, so refit *i* is the same
        fit whatever the row order and ``random_state`` (which is then unused);
        otherwise both are drawn from ``random_state``.
    first_refit : int, default 0
        Index of the first refit, so a later batch of keyed refits draws new
        subsamples rather than repeating the first batch's.
    progress_desc : str, optional
        Label of a progress bar over the refits (shown only where progress bars
        are on, see :func:`segdiscover._log.progress`); None shows none, as
        inside the sweep, which has its own bar.
    keep_partitions : bool, default False
        Keep each refit's rows and labels in ``partitions``.

    Returns
    -------
    Stability

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from segdiscover.clusterers import CLUSTERERS
    >>> X, _ = make_blobs(400, centers=3, random_state=0)
    >>> def make(seed):
    ...     return CLUSTERERS["kmeans"].factory(n_clusters=3, random_state=seed)
    >>> st = stability(make, X, make(0).fit(X).labels_, n_refits=3, random_state=0)
    >>> all(v > 0.95 for v in st.per_segment.values()), st.unstable()
    (True, [])
    """
    rng = check_random_state(random_state)
    labels = np.asarray(labels)
    n = X.shape[0]
    k = int(labels.max(initial=-1)) + 1
    if max_rows is None or n <= max_rows:
        base = np.arange(n)
    elif keys is None:
        base = np.sort(rng.choice(n, max_rows, replace=False))
    else:
        base = keyed_draw(keys, max_rows, -1)
    m = max(2, round(fraction * len(base)))
    if m < 2 * max(k, 1):
        # Too few customers per segment to refit: stability is not measured.
        nan = np.full((n_refits, k), np.nan)
        return Stability(
            ari=np.full(n_refits, np.nan),
            jaccard=nan,
            n_refits=n_refits,
            fraction=fraction,
            rows=len(base),
            threshold=threshold,
        )
    if keys is None:
        draws = [
            (np.sort(rng.choice(base, m, replace=False)), int(rng.randint(2**31 - 1)))
            for _ in range(n_refits)
        ]
    else:
        draws = [
            (
                base[keyed_draw(keys[base], m, first_refit + i)],
                keyed_seed(first_refit + i),
            )
            for i in range(n_refits)
        ]

    def one(draw: tuple[np.ndarray, int]) -> tuple[float, np.ndarray, np.ndarray]:
        idx, seed = draw
        new = np.asarray(factory(seed).fit(X[idx]).labels_)
        ari, row = _score_refit(labels, k, idx, new)
        return ari, row, new

    def bar(items: list[tuple[np.ndarray, int]]) -> Any:
        if progress_desc is None:
            return items
        return progress(items, desc=progress_desc, unit="refit")

    # Convergence chatter of the refits is silenced here, in the calling thread:
    # ``catch_warnings`` swaps process-wide state, so entering it inside worker
    # threads can leave "ignore" in force after they finish and swallow the
    # caller's own warnings (seen: the unstable-segment warning went missing).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if n_jobs > 1 and n_refits > 1:
            from joblib import Parallel, delayed
            from threadpoolctl import threadpool_limits

            # Side by side, one native thread each: a refit of a few thousand
            # customers gains little from OpenMP threads, and n_jobs of them
            # with all threads each oversubscribe the cores (decision 80).
            # BLAS limits are process-wide (set once, here); OpenMP's are per
            # thread, so each worker sets and restores its own.
            def capped(d: tuple[np.ndarray, int]) -> Any:
                with threadpool_limits(limits=1, user_api="openmp"):
                    return one(d)

            with threadpool_limits(limits=1, user_api="blas"):
                results = Parallel(n_jobs=min(n_jobs, n_refits), prefer="threads")(
                    delayed(capped)(d) for d in bar(draws)
                )
        else:
            results = [one(d) for d in bar(draws)]
    ari = np.array([r[0] for r in results])
    jac = np.vstack([r[1] for r in results]) if results else np.zeros((0, k))
    return Stability(
        ari=ari,
        jaccard=jac,
        n_refits=n_refits,
        fraction=fraction,
        rows=len(base),
        threshold=threshold,
        partitions=(
            [(d[0], r[2]) for d, r in zip(draws, results, strict=True)]
            if keep_partitions
            else None
        ),
    )


def _score_refit(
    labels: np.ndarray, k: int, idx: np.ndarray, new: np.ndarray
) -> tuple[float, np.ndarray]:
    """One refit's ARI against ``labels`` on its rows and each segment's recovery."""
    ref = labels[idx]
    rec = jaccard_recovery(ref, new)
    row = np.array([rec.get(s, 0.0) for s in range(k)])
    ok = ref >= 0
    return float(adjusted_rand_score(ref[ok], new[ok])), row


def score_refits(
    labels: np.ndarray, partitions: Sequence[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Score kept refits (``Stability.partitions``) against a solution ``labels``.

    Gives the ``ari`` and ``jaccard`` that :func:`stability` would give for
    ``labels`` with the same refits, without fitting them again: keyed refits do
    not depend on the solution they are compared with.

    Examples
    --------
    >>> labels = np.array([0, 0, 1, 1, 1])
    >>> parts = [(np.array([0, 1, 2, 3]), np.array([1, 1, 0, 0]))]
    >>> ari, jac = score_refits(labels, parts)
    >>> ari.tolist(), jac.tolist()
    ([1.0], [[1.0, 1.0]])
    """
    labels = np.asarray(labels)
    k = int(labels.max(initial=-1)) + 1
    scored = [_score_refit(labels, k, idx, new) for idx, new in partitions]
    ari = np.array([a for a, _ in scored])
    jac = np.vstack([r for _, r in scored]) if scored else np.zeros((0, k))
    return ari, jac


def refit_agreement(
    partitions: Sequence[tuple[np.ndarray, np.ndarray]], min_shared: int = 20
) -> float:
    """How well the refits reproduce each other, whatever the full-sample solution.

    Each refit in turn is taken as the reference: each of its segments gets its
    mean Jaccard recovery (:func:`jaccard_recovery`) in the other refits, on the
    customers the two refits share; the refit's score is its worst segment's mean.
    The agreement is the best refit's score. A solution whose every segment the
    refits recover (a stable one) makes the refits near that solution near each
    other too, so a low agreement says that no partition is reproduced by these
    refits: refitting the full sample from more seeds cannot find a stable one.
    NaN with fewer than two refits.

    Examples
    --------
    >>> a = (np.arange(6), np.array([0, 0, 0, 1, 1, 1]))
    >>> b = (np.arange(1, 7), np.array([3, 4, 4, 4, 4, 4]))
    >>> round(refit_agreement([a, a], min_shared=2), 3)
    1.0
    >>> # rows 1-5 shared: a's segment {1, 2} is found at best as b's {1}: 1/2
    >>> round(refit_agreement([a, b], min_shared=2), 3)
    0.5
    """
    if len(partitions) < 2:
        return float("nan")
    n = 1 + max(int(idx.max(initial=-1)) for idx, _ in partitions)
    full = []
    for idx, new in partitions:
        row = np.full(n, -2)
        row[idx] = new
        full.append(row)
    best = 0.0
    for c, ref in enumerate(full):
        segments = np.unique(ref[ref >= 0])
        recs = []
        for j, other in enumerate(full):
            shared = (ref >= 0) & (other > -2)
            if j == c or shared.sum() < min_shared:
                continue
            rec = jaccard_recovery(ref[shared], other[shared])
            recs.append([rec.get(int(s), 0.0) for s in segments])
        if recs and segments.size:
            best = max(best, float(np.asarray(recs).mean(0).min()))
    return best


def merge_tree(centroids: np.ndarray, sizes: np.ndarray) -> pl.DataFrame:
    """Which segments merge first as k decreases (Ward's criterion on centroids).

    Merging segments A and B raises the within-segment sum of squares by
    ``n_A n_B / (n_A + n_B) * ||c_A - c_B||^2``; the pair with the smallest increase
    merges first, and the merged segment takes the size-weighted centroid.

    Parameters
    ----------
    centroids : ndarray, shape (k, p)
    sizes : ndarray, shape (k,)

    Returns
    -------
    polars.DataFrame
        One row per merge, first merge first: ``step``, ``k_after`` (segments left),
        ``left``, ``right`` (the groups merged, each a sorted list of original segment
        ids), ``cost`` (increase in within-segment sum of squares).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    >>> merge_tree(c, np.array([10, 10, 10]))["right"].to_list()[0]
    [1]
    """
    groups: list[list[int]] = [[i] for i in range(len(centroids))]
    cents = [np.asarray(c, dtype=np.float64) for c in centroids]
    ns = [float(s) for s in sizes]
    rows = []
    step = 0
    while len(groups) > 1:
        best = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                d = (
                    ns[i]
                    * ns[j]
                    / (ns[i] + ns[j])
                    * float(((cents[i] - cents[j]) ** 2).sum())
                )
                if best is None or d < best[0] - 1e-12:
                    best = (d, i, j)
        assert best is not None
        d, i, j = best
        step += 1
        rows.append(
            {
                "step": step,
                "k_after": len(groups) - 1,
                "left": sorted(groups[i]),
                "right": sorted(groups[j]),
                "cost": d,
            }
        )
        total = ns[i] + ns[j]
        cents[i] = (ns[i] * cents[i] + ns[j] * cents[j]) / total
        ns[i] = total
        groups[i] = sorted(groups[i] + groups[j])
        del groups[j], cents[j], ns[j]
    return pl.DataFrame(
        rows,
        schema={
            "step": pl.Int64,
            "k_after": pl.Int64,
            "left": pl.List(pl.Int64),
            "right": pl.List(pl.Int64),
            "cost": pl.Float64,
        },
    )
