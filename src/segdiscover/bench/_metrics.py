"""Scores of one partition: against reference partitions, outcomes and planted drivers.

Every score against a reference follows the convention of Gagolewski's benchmark
suite, so our numbers sit beside the published ones: reference points labelled as
noise are left out, and when a dataset has several reference partitions the best
score over them counts (each score maximised on its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score


def normalized_clustering_accuracy(y_true: Any, y_pred: Any) -> float:
    """Normalised clustering accuracy (NCA) of ``y_pred`` against ``y_true``.

    Gagolewski's measure (*Normalised clustering accuracy: an asymmetric external
    cluster validity measure*, Journal of Classification 42, 2025). With ``K``
    reference clusters of sizes ``n_i`` and ``c_ij`` the points of reference
    cluster ``i`` in predicted cluster ``j``, it is the best, over one-to-one
    matchings ``s`` of reference to predicted clusters, of the mean over reference
    clusters of ``(c_i,s(i) / n_i - 1/K) / (1 - 1/K)``: each reference cluster's
    share of points found in its matched cluster, rescaled so that 1 is a perfect
    match and 0 the score of putting every point in one cluster. Every reference
    cluster weighs the same whatever its size, and the measure is not symmetric.
    Predicted clusters beyond ``K`` match nothing (their points count as
    misplaced); fewer than ``K`` are padded with empty ones.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Reference and predicted labels (any hashable values).

    Returns
    -------
    float
        In ``[-1/(K-1), 1]``; 1 only for the same partition.

    Examples
    --------
    >>> normalized_clustering_accuracy([0, 0, 1, 1], [5, 5, 3, 3])
    1.0
    >>> normalized_clustering_accuracy([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1])
    0.75
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        msg = f"Label vectors must be 1-D and of one length; got {t.shape}, {p.shape}."
        raise ValueError(msg)
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    k = int(ti.max()) + 1 if t.size else 0
    if k < 2:
        msg = f"The reference partition needs two or more clusters; it has {k}."
        raise ValueError(msg)
    c = np.zeros((k, max(k, int(pi.max()) + 1)))
    np.add.at(c, (ti, pi), 1.0)
    recall = c / c.sum(axis=1, keepdims=True)
    rows, cols = linear_sum_assignment(recall, maximize=True)
    accuracy = recall[rows, cols].sum() / k
    return float((accuracy - 1.0 / k) / (1.0 - 1.0 / k))


def score_partition(
    pred: np.ndarray,
    references: Sequence[np.ndarray],
    noise_label: Any = None,
) -> dict[str, Any]:
    """ARI, AMI and NCA of ``pred``, each the best over ``references``.

    Parameters
    ----------
    pred : ndarray of shape (n,)
        Predicted labels.
    references : sequence of ndarray of shape (n,)
        Reference partitions.
    noise_label : optional
        Reference label of noise points, left out of each score (0 in the
        clustering benchmark suite); None keeps every point.

    Returns
    -------
    dict
        ``ari``, ``ami``, ``nca`` and ``true_k`` (the number of clusters of the
        reference with the best ARI).

    Examples
    --------
    >>> import numpy as np
    >>> refs = [np.array([1, 1, 2, 2, 0]), np.array([1, 1, 1, 2, 2])]
    >>> s = score_partition(np.array([0, 0, 1, 1, 1]), refs, noise_label=0)
    >>> s["ari"], s["nca"], s["true_k"]
    (1.0, 1.0, 2)
    """
    best: dict[str, Any] = {"ari": None, "ami": None, "nca": None, "true_k": None}
    for ref in references:
        ref = np.asarray(ref)
        keep = np.ones(ref.shape, dtype=bool)
        if noise_label is not None:
            keep = ref != noise_label
        y, p = ref[keep], np.asarray(pred)[keep]
        if np.unique(y).size < 2:
            continue
        ari = float(adjusted_rand_score(y, p))
        scores = {
            "ari": ari,
            "ami": float(adjusted_mutual_info_score(y, p)),
            "nca": normalized_clustering_accuracy(y, p),
        }
        if best["ari"] is None or ari > best["ari"]:
            best["true_k"] = int(np.unique(y).size)
        for name, value in scores.items():
            if best[name] is None or value > best[name]:
                best[name] = value
    return best


def driver_precision(
    matched_drivers: Mapping[Any, Sequence[tuple[str, str]]],
    planted: Mapping[Any, Sequence[tuple[str, str]]],
    top: int = 3,
) -> float | None:
    """Share of each planted segment's top drivers that are planted, averaged.

    Parameters
    ----------
    matched_drivers : mapping
        Planted segment -> the ``(feature, direction)`` drivers of the discovered
        segment that holds most of its customers, strongest first.
    planted : mapping
        Planted segment -> its defining ``(feature, direction)`` pairs.
    top : int, default 3
        Drivers read per segment; the share is over ``top`` even when a segment
        has fewer drivers.

    Returns
    -------
    float or None
        None when no planted segment has defining features.

    Examples
    --------
    >>> planted = {"a": [("x", "+"), ("y", "-")], "b": [("z", "+")]}
    >>> found = {"a": [("x", "+"), ("y", "+"), ("w", "+")], "b": [("z", "+")]}
    >>> round(driver_precision(found, planted), 3)  # (1/3 + 1/3) / 2
    0.333
    """
    shares = []
    for segment, pairs in planted.items():
        if not pairs:
            continue
        wanted = {(str(f), str(d)) for f, d in pairs}
        found = list(matched_drivers.get(segment, []))[:top]
        got = [(str(f), str(d)) for f, d in found]
        shares.append(sum(g in wanted for g in got) / top)
    return float(np.mean(shares)) if shares else None


def majority_match(truth: np.ndarray, labels: np.ndarray) -> dict[Any, Any]:
    """Planted segment -> the discovered segment holding most of its customers.

    Ties go to the smaller discovered id.

    Examples
    --------
    >>> import numpy as np
    >>> majority_match(np.array(["a", "a", "b", "b"]), np.array([3, 3, 1, 3]))
    {'a': 3, 'b': 1}
    """
    out: dict[Any, Any] = {}
    for segment in np.unique(truth):
        found, counts = np.unique(labels[truth == segment], return_counts=True)
        out[segment.item() if hasattr(segment, "item") else segment] = int(
            found[np.argmax(counts)]
        )
    return out
