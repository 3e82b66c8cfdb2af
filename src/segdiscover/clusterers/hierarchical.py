"""Hierarchical clusterers: Ward agglomerative and BIRCH (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering, Birch

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

    def _raw_centroids(self) -> np.ndarray:
        # Centroids indexed by raw label, derived from the canonical ones.
        out = np.zeros((max(self.raw_to_label_) + 1, self.centroids_.shape[1]))
        for raw, lab in self.raw_to_label_.items():
            out[raw] = self.centroids_[lab]
        return out
