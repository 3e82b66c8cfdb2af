"""Centroid clusterers: k-means and mini-batch k-means (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from segdiscover.clusterers._base import ClusterAdapter, margin_confidence


class KMeansAdapter(ClusterAdapter):
    """k-means (Lloyd, k-means++ init, ``n_init`` restarts)."""

    def __init__(
        self,
        n_clusters: int | None = 6,
        random_state: Any = None,
        n_init: int = 4,
        max_iter: int = 300,
    ) -> None:
        super().__init__(n_clusters, random_state)
        self.n_init = n_init
        self.max_iter = max_iter

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        self.model_ = KMeans(
            n_clusters=self.n_clusters,
            n_init=self.n_init,
            max_iter=self.max_iter,
            random_state=rng,
        ).fit(X)
        return self.model_.labels_

    def _predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.model_.transform(X)
        return d.argmin(1), margin_confidence(d)


class MiniBatchKMeansAdapter(KMeansAdapter):
    """Mini-batch k-means: k-means in bounded memory for very large tables."""

    def __init__(
        self,
        n_clusters: int | None = 6,
        random_state: Any = None,
        n_init: int = 3,
        batch_size: int = 4096,
    ) -> None:
        ClusterAdapter.__init__(self, n_clusters, random_state)
        self.n_init = n_init
        self.batch_size = batch_size

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        self.model_ = MiniBatchKMeans(
            n_clusters=self.n_clusters,
            n_init=self.n_init,
            batch_size=self.batch_size,
            random_state=rng,
        ).fit(X)
        return self.model_.labels_
