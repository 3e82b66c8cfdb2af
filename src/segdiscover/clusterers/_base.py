"""The clusterer adapter contract and the spec each registry entry carries.

Every adapter yields int64 labels ``0..k-1`` numbered by segment size (largest
first, so numbering never depends on an algorithm's internals), ``-1`` only where the
spec says ``noise``, and ``assign(X)`` returning labels and a confidence in [0, 1].
Adapters without native prediction assign through a distance-weighted k-nearest-
neighbour vote on their fitted customers, which reproduces training labels exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import check_random_state

from segdiscover.exceptions import NotFittedError

#: Fitted customers kept for the k-NN fallback (bounds memory and assign time).
FALLBACK_REFERENCE_ROWS = 20_000


@dataclass(frozen=True)
class ClustererSpec:
    """A registry entry: how to build a clusterer and what it can do.

    Attributes
    ----------
    name : str
    factory : callable
        ``factory(n_clusters=..., random_state=..., **params)`` -> adapter.
    needs_k : bool
        Takes a number of segments (False for density methods).
    noise : bool
        May label customers ``-1`` (noise).
    soft : bool
        Gives native membership probabilities.
    native_assign : bool
        Predicts new customers natively (else the k-NN fallback).
    max_fit_rows : int or None
        Above this many customers, fit on a sample and assign the rest.
    in_auto : bool
        Considered by ``clusterer="auto"``.
    test_params : dict
        Small parameters for the shared test-suite.
    description : str
    """

    name: str
    factory: Callable[..., ClusterAdapter]
    needs_k: bool = True
    noise: bool = False
    soft: bool = False
    native_assign: bool = True
    max_fit_rows: int | None = None
    in_auto: bool = True
    test_params: dict[str, Any] = field(default_factory=dict)
    description: str = ""


class ClusterAdapter(BaseEstimator):
    """Base of the adapters: subclasses implement ``_fit_raw`` (and ``_predict_raw``).

    An adapter is a scikit-learn estimator: ``__init__`` stores its parameters
    unchanged, so ``get_params``, ``set_params``, ``repr`` and
    :func:`sklearn.base.clone` work; what ``fit`` learns ends in ``_``.

    Parameters
    ----------
    n_clusters : int or None
        Number of segments (ignored by density methods).
    random_state : int, RandomState or None

    Attributes
    ----------
    native_assign : bool
        Whether the algorithm predicts new customers itself (a class attribute);
        False: the k-NN fallback on the fitted customers assigns them.
    labels_ : ndarray of int64
        Segment of each fitted row, ``0..k-1`` by size (``-1``: noise).
    n_segments_ : int
    centroids_ : ndarray of shape (k, n_features)
        Mean of each segment's rows (``inf`` rows: ids no longer in use).
    raw_to_label_ : dict of int to int
        The algorithm's raw label -> segment id.
    """

    native_assign: bool = True

    def __init__(self, n_clusters: int | None = 6, random_state: Any = None) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    # -- to implement
    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        raise NotImplementedError

    def _predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw labels and confidence for new rows (native prediction)."""
        raise NotImplementedError

    # -- shared
    def fit(self, X: np.ndarray) -> ClusterAdapter:
        """Fit on ``X`` and set ``labels_``, ``n_segments_``, ``centroids_``."""
        rng = check_random_state(self.random_state)
        raw = np.asarray(self._fit_raw(X, rng)).astype(np.int64)
        ids, counts = np.unique(raw[raw >= 0], return_counts=True)
        # Canonical numbering: largest segment first, ties by smallest raw id.
        order = ids[np.lexsort((ids, -counts))]
        self.raw_to_label_ = {int(r): i for i, r in enumerate(order)}
        self.labels_ = self._map(raw)
        k = len(order)
        self.n_segments_ = k
        self.centroids_ = (
            np.vstack([X[self.labels_ == i].mean(0) for i in range(k)])
            if k
            else np.zeros((0, X.shape[1]))
        )
        if not self.native_assign and k:
            self._fit_fallback(X, self.labels_, rng)
        return self

    def _map(self, raw: np.ndarray) -> np.ndarray:
        out = np.full(raw.shape, -1, dtype=np.int64)
        for r, lab in self.raw_to_label_.items():
            out[raw == r] = lab
        return out

    def _fit_fallback(
        self, X: np.ndarray, labels: np.ndarray, rng: np.random.RandomState
    ) -> None:
        keep = np.flatnonzero(labels >= 0)
        if keep.size > FALLBACK_REFERENCE_ROWS:
            keep = np.sort(rng.choice(keep, FALLBACK_REFERENCE_ROWS, replace=False))
        self.reference_X_ = X[keep]
        self.reference_labels_ = labels[keep]
        self._knn_ = None

    def _knn(self) -> KNeighborsClassifier:
        if getattr(self, "_knn_", None) is None:
            k = int(min(15, len(self.reference_labels_)))
            # Distance weights: a fitted customer (distance 0) gets its own label back.
            self._knn_ = KNeighborsClassifier(n_neighbors=k, weights="distance").fit(
                self.reference_X_, self.reference_labels_
            )
        return self._knn_

    def assign(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return labels (``0..k-1``, ``-1`` only for noise) and confidence."""
        if not hasattr(self, "labels_"):
            msg = f"{type(self).__name__} is not fitted yet; call fit first."
            raise NotFittedError(msg)
        if self.native_assign:
            raw, conf = self._predict_raw(X)
            labels = self._map(np.asarray(raw).astype(np.int64))
        else:
            knn = self._knn()
            with np.errstate(divide="ignore", invalid="ignore"):
                proba = knn.predict_proba(X)
            labels = knn.classes_[proba.argmax(1)].astype(np.int64)
            conf = proba.max(1)
        return labels, np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)

    def renumber(self, mapping: dict[int, int]) -> ClusterAdapter:
        """Give segments new ids (stable ids across runs); returns self.

        Labels, the raw-label map and the k-NN reference labels take the new ids, and
        ``centroids_`` is re-indexed by them: row ``i`` is segment ``i``'s centre.
        Ids left unused by the mapping (a segment that died in an earlier run) get a
        row of ``inf``, a centre infinitely far away that is never the nearest.

        Parameters
        ----------
        mapping : dict of int to int
            Current id -> new id, one entry per segment, new ids distinct and >= 0.

        Examples
        --------
        >>> import numpy as np
        >>> from segdiscover.clusterers.centroid import KMeansAdapter
        >>> X = np.r_[np.zeros((5, 2)), np.ones((4, 2))]
        >>> a = KMeansAdapter(n_clusters=2, random_state=0).fit(X)
        >>> a.renumber({0: 3, 1: 0}).assign(X)[0].tolist()
        [3, 3, 3, 3, 3, 0, 0, 0, 0]
        >>> np.isinf(a.centroids_[1:3]).all()
        np.True_
        """
        k = self.centroids_.shape[0]
        current = [i for i in range(k) if np.isfinite(self.centroids_[i]).all()]
        new = [int(mapping[i]) for i in current]
        if len(set(new)) != len(new) or min(new, default=0) < 0:
            msg = f"A renumbering needs distinct ids >= 0; got {sorted(new)}."
            raise ValueError(msg)
        lut = np.arange(max(k, max(new, default=-1) + 1), dtype=np.int64)
        lut[current] = new
        cents = np.full((max(new, default=-1) + 1, self.centroids_.shape[1]), np.inf)
        cents[new] = self.centroids_[current]
        self.centroids_ = cents
        self.raw_to_label_ = {r: int(lut[v]) for r, v in self.raw_to_label_.items()}
        self.labels_ = np.where(self.labels_ >= 0, lut[self.labels_], self.labels_)
        if not self.native_assign:
            self.reference_labels_ = lut[self.reference_labels_]
            self._knn_ = None
        return self

    def merge(self, ids: list[int], sizes: dict[int, int]) -> ClusterAdapter:
        """Merge segments ``ids`` into the smallest of them; returns self.

        The other segments keep their ids; the merged ids' centroid rows become
        ``inf`` (never nearest) and the kept row the size-weighted mean.

        Parameters
        ----------
        ids : list of int
            Two or more existing segment ids.
        sizes : dict of int to int
            Customers per segment (weights of the merged centroid).

        Examples
        --------
        >>> import numpy as np
        >>> from segdiscover.clusterers.centroid import KMeansAdapter
        >>> X = np.r_[np.zeros((5, 2)), np.ones((3, 2)), np.full((2, 2), 9.0)]
        >>> a = KMeansAdapter(n_clusters=3, random_state=0).fit(X)
        >>> a.merge([1, 2], {1: 3, 2: 2}).assign(X)[0].tolist()
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
        >>> a.centroids_[1].tolist()
        [4.2, 4.2]
        """
        into = min(ids)
        w = np.array([sizes[i] for i in ids], dtype=np.float64)
        merged = (self.centroids_[ids] * w[:, None]).sum(0) / w.sum()
        self.centroids_ = self.centroids_.copy()
        self.centroids_[ids] = np.inf
        self.centroids_[into] = merged
        gone = set(ids)
        self.raw_to_label_ = {
            r: (into if v in gone else v) for r, v in self.raw_to_label_.items()
        }
        self.labels_ = np.where(np.isin(self.labels_, ids), into, self.labels_)
        if not self.native_assign:
            self.reference_labels_ = np.where(
                np.isin(self.reference_labels_, ids), into, self.reference_labels_
            )
            self._knn_ = None
        return self

    # -- saved models (arrays and plain parameters only, never pickle)
    def saved_params(self) -> dict[str, Any]:
        """Return the constructor parameters as JSON-serialisable values.

        A random state object is saved as None: it only matters for fitting, and a
        saved adapter is never refitted.
        """
        out: dict[str, Any] = self.get_params(deep=False)
        if not isinstance(out.get("random_state"), int | type(None)):
            out["random_state"] = None
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the fitted state that assignment needs, as numeric arrays.

        Always ``centroids`` (segment means, ``k x d``) and ``raw_to_label`` (pairs of
        the algorithm's raw label and the segment id); the k-NN reference customers
        when the adapter has no native prediction; else the arrays of its native
        predictor (:meth:`_native_arrays`).

        Returns
        -------
        dict of str to ndarray

        Examples
        --------
        >>> import numpy as np
        >>> from segdiscover.clusterers.hierarchical import WardAdapter
        >>> X = np.r_[np.zeros((5, 2)), np.ones((4, 2))]
        >>> sorted(WardAdapter(n_clusters=2).fit(X).to_arrays())
        ['centroids', 'raw_to_label', 'reference_X', 'reference_labels']
        """
        self._check_saveable()
        pairs = sorted(self.raw_to_label_.items())
        out = {
            "centroids": np.asarray(self.centroids_, dtype=np.float64),
            "raw_to_label": np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        }
        if self.native_assign:
            out.update(self._native_arrays())
        else:
            out["reference_X"] = np.asarray(self.reference_X_, dtype=np.float64)
            out["reference_labels"] = np.asarray(self.reference_labels_, np.int64)
        return out

    @classmethod
    def from_arrays(
        cls,
        params: dict[str, Any],
        arrays: dict[str, np.ndarray],
        *,
        native_assign: bool | None = None,
    ) -> ClusterAdapter:
        """Rebuild an adapter for assignment from :meth:`saved_params` and arrays.

        The result assigns new customers exactly as the fitted adapter did; it cannot
        be refitted from this state, and its ``labels_`` is empty (the training
        labels are not part of the model).

        Parameters
        ----------
        params : dict
            Output of :meth:`saved_params`.
        arrays : dict of str to ndarray
            Output of :meth:`to_arrays`.
        native_assign : bool or None
            The flag the model was saved with, when it differs from the class's
            (None: the class's).

        Returns
        -------
        ClusterAdapter

        Examples
        --------
        >>> import numpy as np
        >>> from segdiscover.clusterers.hierarchical import WardAdapter
        >>> X = np.r_[np.zeros((5, 2)), np.ones((4, 2))]
        >>> a = WardAdapter(n_clusters=2).fit(X)
        >>> b = WardAdapter.from_arrays(a.saved_params(), a.to_arrays())
        >>> b.assign(X)[0].tolist() == a.labels_.tolist()
        True
        """
        obj = cls(**params)
        if native_assign is not None and bool(native_assign) != obj.native_assign:
            # Restored state, not a parameter: the model assigns as it was saved.
            obj.native_assign = bool(native_assign)
        pairs = np.asarray(arrays["raw_to_label"], dtype=np.int64).reshape(-1, 2)
        obj.raw_to_label_ = {int(r): int(lab) for r, lab in pairs}
        obj.centroids_ = np.asarray(arrays["centroids"], dtype=np.float64)
        # Rows of inf stand for ids no longer in use (see renumber).
        obj.n_segments_ = int(np.isfinite(obj.centroids_).all(1).sum())
        obj.labels_ = np.empty(0, dtype=np.int64)
        if obj.native_assign:
            obj._restore_native(arrays)
        else:
            obj.reference_X_ = np.asarray(arrays["reference_X"], dtype=np.float64)
            obj.reference_labels_ = np.asarray(
                arrays["reference_labels"], dtype=np.int64
            )
            obj._knn_ = None
        return obj

    def _check_saveable(self) -> None:
        """Raise when the adapter's state cannot be written as arrays."""
        if not hasattr(self, "labels_"):
            msg = f"{type(self).__name__} is not fitted yet; call fit first."
            raise NotFittedError(msg)

    def _native_arrays(self) -> dict[str, np.ndarray]:
        """Arrays of the native predictor (subclasses with native prediction)."""
        msg = f"{type(self).__name__} does not say how to save its predictor."
        raise NotImplementedError(msg)

    def _restore_native(self, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the native predictor from :meth:`_native_arrays` output."""
        msg = f"{type(self).__name__} does not say how to restore its predictor."
        raise NotImplementedError(msg)


def margin_confidence(d: np.ndarray) -> np.ndarray:
    """Confidence from distances to each centre: 1 - nearest / second nearest.

    0 when a customer sits halfway between two segments, 1 at a centre.
    """
    if d.shape[1] < 2:
        return np.ones(d.shape[0])
    part = np.partition(d, 1, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 1.0 - part[:, 0] / part[:, 1]
    return np.nan_to_num(c, nan=1.0)
