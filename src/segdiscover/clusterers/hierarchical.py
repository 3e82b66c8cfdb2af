"""Hierarchical clusterers: Ward agglomerative and BIRCH (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import config_context
from sklearn.cluster import AgglomerativeClustering, Birch
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.extmath import row_norms

from segdiscover.clusterers._base import ClusterAdapter, margin_confidence


class WardAdapter(ClusterAdapter):
    """Ward agglomerative clustering; O(n²) memory, so it fits on a sample.

    No native prediction: new customers are assigned by the k-NN fallback.
    """

    native_assign = False

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        model = AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward")
        return model.fit_predict(X)


class BirchAdapter(ClusterAdapter):
    """BIRCH: a CF-tree summary, then agglomeration of its subclusters.

    Deterministic for a given row order (it has no random state).
    """

    def __init__(
        self,
        n_clusters: int | None = 6,
        random_state: Any = None,
        threshold: float = 1.5,
        branching_factor: int = 50,
    ) -> None:
        super().__init__(n_clusters, random_state)
        self.threshold = threshold
        self.branching_factor = branching_factor

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        self.model_ = Birch(
            n_clusters=self.n_clusters,
            threshold=self.threshold,
            branching_factor=self.branching_factor,
        ).fit(X)
        return self.model_.labels_

    def _predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = self.model_.predict(X)
        # Confidence from the segment centroids (BIRCH's own subclusters are too many).
        d = np.sqrt(((X[:, None, :] - self._raw_centroids()[None]) ** 2).sum(-1))
        return labels, margin_confidence(d)

    def _native_arrays(self) -> dict[str, np.ndarray]:
        return {
            "subcluster_centers": np.asarray(self.model_.subcluster_centers_, float),
            "subcluster_labels": np.asarray(self.model_.subcluster_labels_, np.int64),
        }

    def _restore_native(self, arrays: dict[str, np.ndarray]) -> None:
        self.model_ = SavedSubclusters(
            arrays["subcluster_centers"], arrays["subcluster_labels"]
        )

    def _raw_centroids(self) -> np.ndarray:
        # Centroids indexed by raw label, derived from the canonical ones.
        out = np.zeros((max(self.raw_to_label_) + 1, self.centroids_.shape[1]))
        for raw, lab in self.raw_to_label_.items():
            out[raw] = self.centroids_[lab]
        return out


class SavedSubclusters:
    """The prediction half of a fitted BIRCH: nearest subcluster centre -> its label.

    ``predict`` is the computation of scikit-learn's ``Birch.predict``
    (``pairwise_distances_argmin`` with the centres' squared norms), so a loaded model
    gives bit-identical labels.

    Parameters
    ----------
    subcluster_centers : ndarray of shape (n_subclusters, n_features)
    subcluster_labels : ndarray of shape (n_subclusters,)
        Raw segment label of each subcluster (from BIRCH's global clustering).

    Examples
    --------
    >>> s = SavedSubclusters(np.array([[0.0], [1.0], [9.0]]), np.array([0, 0, 1]))
    >>> s.predict(np.array([[0.4], [7.0]])).tolist()
    [0, 1]
    """

    def __init__(
        self, subcluster_centers: np.ndarray, subcluster_labels: np.ndarray
    ) -> None:
        self.subcluster_centers_ = np.asarray(subcluster_centers, dtype=np.float64)
        self.subcluster_labels_ = np.asarray(subcluster_labels, dtype=np.int64)
        self._norms = row_norms(self.subcluster_centers_, squared=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return the raw label of each row's nearest subcluster."""
        with config_context(assume_finite=True):
            nearest = pairwise_distances_argmin(
                np.asarray(X, dtype=np.float64),
                self.subcluster_centers_,
                metric_kwargs={"Y_norm_squared": self._norms},
            )
        out: np.ndarray = self.subcluster_labels_[nearest]
        return out
