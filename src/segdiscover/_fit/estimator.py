"""The estimator side of :class:`segdiscover.Segmenter`, in small parts.

Read-only fitted attributes that are views of the fit's result object
(:class:`View`), the ``set_output`` switch between polars, numpy and pandas out
(:class:`OutputMixin`), and the parameter checks too long to read inline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

import numpy as np

from segdiscover._params import NONE, Check, InstanceOf, Interval, Options
from segdiscover.exceptions import InvalidParameterError
from segdiscover.features import FeatureSet
from segdiscover.outcomes import _valid_min_difference
from segdiscover.result import Segmentation, as_result

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")
#: ``set_output(transform=...)`` values: polars (the default) or pandas out.
OUTPUTS = ("default", "polars", "pandas")


class ClusterEstimator(Protocol):
    """A scikit-learn-style clusterer (``fit`` and ``labels_`` or ``fit_predict``)."""

    def get_params(self, deep: bool = ...) -> dict[str, Any]:  # noqa: FBT001
        """Return the estimator's parameters."""


class View(Generic[T]):
    """A read-only fitted attribute that reads the fit's :class:`Segmentation`.

    Examples
    --------
    >>> class Model:
    ...     n_segments_ = View(lambda r: r.n_segments)
    >>> Model().n_segments_
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.NotFittedError: This Model is not fitted yet; ...
    """

    def __init__(self, read: Callable[[Segmentation], T]) -> None:
        self.read = read
        self.name = "attribute"

    @overload
    def __get__(self, obj: None, owner: type) -> View[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object, owner: type) -> T | View[T]:
        return self if obj is None else self.read(as_result(obj))

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __set__(self, obj: object, value: object) -> None:
        msg = (
            f"{self.name} is a read-only view of result_; rename(), "
            "merge_segments() and renumber() give a new result."
        )
        raise AttributeError(msg)


class OutputMixin:
    """``set_output(transform="pandas")`` for the frames and ids an estimator returns.

    scikit-learn's ``clone`` copies ``_sklearn_output_config``, so a clone keeps it.
    """

    _sklearn_output_config: dict[str, str]

    def set_output(self, *, transform: str | None = None) -> Any:
        """Choose the type of ``labels_``, ``assign``, ``predict``, ``fit_predict``.

        Parameters
        ----------
        transform : {"default", "polars", "pandas"} or None
            ``"pandas"`` for pandas users; ``"default"``: polars frames and numpy
            arrays of segment ids (``predict``); ``"polars"``: polars frames and
            Series. None leaves the setting as it is.

        Returns
        -------
        self
        """
        if transform is not None:
            if transform not in OUTPUTS:
                msg = (
                    f"The 'transform' parameter of {type(self).__name__}.set_output "
                    f"must be one of {', '.join(map(repr, OUTPUTS))}. Got "
                    f"{transform!r} instead."
                )
                raise InvalidParameterError(msg)
            self._sklearn_output_config = {"transform": transform}
        return self

    def _output(self) -> str:
        config = getattr(self, "_sklearn_output_config", {})
        return str(config.get("transform", "default"))

    def _frame_out(self, frame: pl.DataFrame) -> Any:
        return frame.to_pandas() if self._output() == "pandas" else frame

    def _ids_out(self, ids: pl.Series) -> Any:
        out = self._output()
        if out == "pandas":
            return ids.to_pandas()
        return ids if out == "polars" else ids.to_numpy()


def _k_range_ok(r: Any) -> bool:
    return (
        len(r) == 2
        and 2 <= int(r[0]) <= int(r[1]) <= 50
        and all(isinstance(v, int) for v in r)
    )


def _weights_ok(d: Any) -> bool:
    return isinstance(d, Mapping) and all(
        isinstance(k, str)
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and 0 < v < float("inf")
        for k, v in d.items()
    )


ESTIMATOR = Check(
    lambda c: c is not None and not isinstance(c, str | int | float),
    "a scikit-learn-style estimator",
)
K_RANGE = Check(_k_range_ok, "a pair of ints (low, high) with 2 <= low <= high <= 50")
GUIDE_WEIGHTS = Check(_weights_ok, "a dict of outcome column -> positive weight")

#: The checks of :class:`segdiscover.Segmenter`'s parameters (``validate_params``);
#: a clusterer name is checked against the registry at fit time.
SEGMENTER_CONSTRAINTS: dict[str, list[Any]] = {
    "features": [InstanceOf((FeatureSet,), "a FeatureSet"), NONE],
    # Names are checked against the registry at fit time (see _constraints).
    "clusterer": [InstanceOf((str,), "a clusterer name"), ESTIMATOR],
    "n_segments": [Interval(int, 2, 50), NONE],
    "k_range": [K_RANGE],
    "id": [InstanceOf((str,), "a column name (str)")],
    "noise": [Options(("assign", "keep"))],
    "fidelity_threshold": [Interval(float, 0, 1)],
    "shap_max_rows": [Interval(int, 50, None)],
    "surrogate_max_rows": [Interval(int, 100, None)],
    "max_fit_rows": [Interval(int, 100, None), NONE],
    "n_jobs": [Interval(int, None, None), NONE],
    "stability_refits": [Interval(int, 0, 1000)],
    "stability_threshold": [Interval(float, 0, 1)],
    "min_difference": [
        Check(
            _valid_min_difference,
            "a dict of outcome column -> smallest difference that matters (a "
            "number in the outcome's units, '3pp' or '10%' of the mean)",
        ),
        NONE,
    ],
    "n_bootstrap": [Interval(int, 20, 100_000)],
    "guide": [Options(("auto", "none", "outcomes"))],
    "guide_weights": [GUIDE_WEIGHTS, NONE],
    "random_state": [
        Interval(int, 0, None),
        NONE,
        InstanceOf((np.random.RandomState,), "a RandomState"),
    ],
}
