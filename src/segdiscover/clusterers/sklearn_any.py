"""Any scikit-learn-style clustering estimator, through one generic adapter."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from segdiscover.clusterers._base import ClusterAdapter
from segdiscover.exceptions import InvalidParameterError, ModelFileError


def check_estimator_contract(estimator: Any) -> None:
    """Say once, clearly, what a user's estimator lacks.

    It needs ``fit`` and ``get_params`` (to be cloned), and after ``fit`` either a
    ``labels_`` attribute or a ``fit_predict`` method.
    """
    name = type(estimator).__name__
    missing = [
        m for m in ("fit", "get_params") if not callable(getattr(estimator, m, None))
    ]
    if missing:
        msg = (
            f"The clusterer {name} lacks {', '.join(missing)}; pass a scikit-learn-"
            "style estimator (with fit and get_params) or a registered name."
        )
        raise InvalidParameterError(msg)


class SklearnAdapter(ClusterAdapter):
    """Wrap a user's estimator: cloned, seeded, and given ``n_clusters`` if it takes it.

    Uses ``predict`` for new customers when the estimator has it, else the k-NN
    fallback. Negative labels are treated as noise.
    """

    def __init__(
        self,
        estimator: Any = None,
        n_clusters: int | None = None,
        random_state: Any = None,
    ) -> None:
        super().__init__(n_clusters, random_state)
        self.estimator = estimator

    def _fit_raw(self, X: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        check_estimator_contract(self.estimator)
        est = clone(self.estimator)
        params = est.get_params()
        updates: dict[str, Any] = {}
        if "random_state" in params:
            updates["random_state"] = rng.randint(np.iinfo(np.int32).max)
        for key in ("n_clusters", "n_components"):
            if key in params and self.n_clusters is not None:
                updates[key] = self.n_clusters
        est.set_params(**updates)
        est.fit(X)
        labels = getattr(est, "labels_", None)
        if labels is None:
            if callable(getattr(est, "predict", None)):
                labels = est.predict(X)
            else:
                name = type(est).__name__
                msg = (
                    f"The clusterer {name} has no labels_ after fit and no predict; "
                    "segdiscover cannot read its segments."
                )
                raise InvalidParameterError(msg)
        labels = np.asarray(labels)
        if labels.shape != (X.shape[0],):
            msg = (
                f"The clusterer {type(est).__name__} gave {labels.shape} labels "
                f"for {X.shape[0]} rows."
            )
            raise InvalidParameterError(msg)
        # Set before the base class reads native_assign (fallback or not).
        self.model_ = est
        return labels.astype(np.int64)

    @property
    def native_assign(self) -> bool:
        """Whether the estimator predicts new customers (else the k-NN fallback).

        Read from the fitted clone once fitted, else from ``estimator``: derived
        from the parameter, never stored under it. A model loaded from a file has
        neither and assigns through the k-NN reference it was saved with.
        """
        est = self.__dict__.get("model_", self.estimator)
        return callable(getattr(est, "predict", None))

    @native_assign.setter
    def native_assign(self, value: bool) -> None:
        # The base class declares a writable flag (from_arrays restores it); here it
        # follows the estimator, so it cannot be set (from_arrays refuses first).
        msg = (
            f"native_assign of {type(self).__name__} follows its estimator's predict "
            f"and cannot be set (got {value!r})."
        )
        raise AttributeError(msg)

    def _predict_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = np.asarray(self.model_.predict(X)).astype(np.int64)
        if callable(getattr(self.model_, "predict_proba", None)):
            conf = np.asarray(self.model_.predict_proba(X)).max(1)
        elif callable(getattr(self.model_, "transform", None)) and hasattr(
            self.model_, "cluster_centers_"
        ):
            from segdiscover.clusterers._base import margin_confidence

            conf = margin_confidence(self.model_.transform(X))
        else:
            conf = np.ones(len(labels))
        return labels, conf

    def saved_params(self) -> dict[str, Any]:
        """Return ``n_clusters`` and ``random_state``; the estimator is not saved.

        A saved generic adapter assigns through the k-NN reference arrays only, so
        it needs no estimator object (and none could be stored without pickle).
        """
        rs = self.random_state if isinstance(self.random_state, int) else None
        return {"estimator": None, "n_clusters": self.n_clusters, "random_state": rs}

    @classmethod
    def from_arrays(
        cls,
        params: dict[str, Any],
        arrays: dict[str, np.ndarray],
        *,
        native_assign: bool | None = None,
    ) -> ClusterAdapter:
        """Rebuild a saved generic adapter: it assigns through its k-NN reference.

        See :meth:`ClusterAdapter.from_arrays`. A saved generic adapter never holds
        a native predictor (:meth:`_check_saveable` refuses to save one).
        """
        if native_assign:
            msg = (
                "The model says its generic clusterer adapter predicts natively; "
                "segdiscover saves a user's estimator only with its k-NN reference, "
                "so the file was not written by segdiscover."
            )
            raise ModelFileError(msg)
        return super().from_arrays(params, arrays)

    def _check_saveable(self) -> None:
        super()._check_saveable()
        if self.native_assign:
            name = type(self.model_).__name__
            msg = (
                f"The clusterer {name} (your own estimator, with its own predict) "
                "cannot be saved safely: its fitted state is Python code and "
                "objects that only pickle could store, and a saved model must assign "
                "exactly as the fitted one. Use a registered clusterer name (e.g. "
                "clusterer='kmeans'), or an estimator without predict (assigned by "
                "the k-NN fallback, which saves as arrays)."
            )
            raise ModelFileError(msg)
