"""Gaussian mixture (scikit-learn): soft segments with membership probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.mixture import GaussianMixture

from segdiscover.clusterers._base import ClusterAdapter


class GaussianMixtureAdapter(ClusterAdapter):
    """Gaussian mixture; confidence is the posterior probability of the segment."""

    def __init__(
        self,
        n_clusters: int | None = 6,
        random_state: Any = None,
        covariance_type: str = "diag",
        n_init: int = 2,
        reg_covar: float = 1e-3,
    ) -> None:
        super().__init__(n_clusters, random_state)
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.reg_covar = reg_covar

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        self.model_ = GaussianMixture(
            n_components=self.n_clusters,
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            reg_covar=self.reg_covar,
            init_params="k-means++",
            random_state=rng,
        ).fit(X)
        return self.model_.predict(X)

    def _predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.model_.predict_proba(X)
        return p.argmax(1), p.max(1)
