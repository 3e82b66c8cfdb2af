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

    def _native_arrays(self) -> dict[str, np.ndarray]:
        m = self.model_
        return {
            name: np.asarray(getattr(m, f"{name}_"), dtype=np.float64)
            for name in GMM_ARRAYS
        }

    def _restore_native(self, arrays: dict[str, np.ndarray]) -> None:
        # scikit-learn's own posterior code runs on the saved public attributes
        # (weights_, means_, covariances_, precisions_cholesky_), so a loaded model
        # gives bit-identical probabilities.
        m = GaussianMixture(
            n_components=int(arrays["weights"].shape[0]),
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
        )
        for name in GMM_ARRAYS:
            setattr(m, f"{name}_", np.asarray(arrays[name], dtype=np.float64))
        m.n_features_in_ = int(arrays["means"].shape[1])
        m.converged_ = True
        self.model_ = m


#: Fitted attributes of a Gaussian mixture saved with a model (without the "_").
GMM_ARRAYS = ("weights", "means", "covariances", "precisions", "precisions_cholesky")
