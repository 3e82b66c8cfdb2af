"""Density clustering: HDBSCAN (the ``hdbscan`` package) on a PCA projection."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from segdiscover.clusterers._base import ClusterAdapter


class HDBSCANAdapter(ClusterAdapter):
    """HDBSCAN on the first ``n_components`` principal components.

    Density estimates degrade and run time explodes in 20+ dimensions (every
    implementation passes 90 s near 100k rows there), so the data is first projected
    with PCA. The number of segments is HDBSCAN's own choice; ``n_clusters`` is
    ignored. Customers it calls noise keep label ``-1`` here; the pipeline assigns
    them to their nearest segment and flags them.

    Parameters
    ----------
    min_cluster_size : int or None
        None means 2% of the customers fitted, at least 15.
    min_samples : int or None
    n_components : int, default 5
    """

    native_assign = False

    def __init__(
        self,
        n_clusters: int | None = None,
        random_state: Any = None,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        n_components: int = 5,
    ) -> None:
        super().__init__(n_clusters, random_state)
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.n_components = n_components

    def _project(self, X: np.ndarray) -> np.ndarray:
        return self.pca_.transform(X)

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        import hdbscan  # imported here: it loads numba-compiled code on import

        nc = int(min(self.n_components, X.shape[1], max(X.shape[0] - 1, 1)))
        self.pca_ = PCA(n_components=nc, random_state=rng).fit(X)
        Z = self._project(X)
        mcs = self.min_cluster_size or max(15, int(0.02 * X.shape[0]))
        mcs = int(min(mcs, max(2, X.shape[0] // 2)))
        with warnings.catch_warnings():
            # hdbscan calls sklearn APIs that warn about renamed arguments.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            model = hdbscan.HDBSCAN(
                min_cluster_size=mcs, min_samples=self.min_samples, core_dist_n_jobs=1
            ).fit(Z)
        return model.labels_

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the k-NN reference arrays, plus the PCA projection for inspection.

        Assignment uses the reference customers in the full preprocessed space;
        ``pca_components`` and ``pca_mean`` record the projection HDBSCAN ran on.
        """
        out = super().to_arrays()
        out["pca_components"] = np.asarray(self.pca_.components_, dtype=np.float64)
        out["pca_mean"] = np.asarray(self.pca_.mean_, dtype=np.float64)
        return out
