"""Centroid clusterers: k-means and mini-batch k-means (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics.pairwise import euclidean_distances

from segdiscover.clusterers._base import ClusterAdapter, margin_confidence


class KMeansAdapter(ClusterAdapter):
    """k-means (Lloyd, k-means++ init, ``n_init`` restarts)."""

    def __init__(
        self,
        n_clusters: int | None = 6,
        random_state: Any = None,
        n_init: int = 10,
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

    def _native_arrays(self) -> dict[str, np.ndarray]:
        return {"cluster_centers": np.asarray(self.model_.cluster_centers_, float)}

    def _restore_native(self, arrays: dict[str, np.ndarray]) -> None:
        self.model_ = SavedCenters(arrays["cluster_centers"])


class SavedCenters:
    """The prediction half of a fitted k-means, rebuilt from its centres alone.

    ``transform`` is the computation scikit-learn's ``KMeans.transform`` runs
    (``euclidean_distances`` on a C-ordered float array), so a loaded model gives
    bit-identical distances, labels and confidences.

    Parameters
    ----------
    cluster_centers : ndarray of shape (n_clusters, n_features)

    Examples
    --------
    >>> SavedCenters(np.array([[0.0, 0.0], [3.0, 4.0]])).transform(np.zeros((1, 2)))
    array([[0., 5.]])
    """

    def __init__(self, cluster_centers: np.ndarray) -> None:
        self.cluster_centers_ = np.asarray(cluster_centers, dtype=np.float64)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the distance of each row to each centre."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        return euclidean_distances(X, self.cluster_centers_)


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
