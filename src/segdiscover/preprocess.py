"""Preprocessing a business table needs, fitted once and reused for new customers.

Heavy tails are log-transformed, numbers robustly scaled and clipped, nulls imputed
with a missing-indicator column, categoricals one-hot encoded (rare levels pooled),
and constant columns dropped with a warning. All fitted state is plain numbers and
strings (:meth:`Preprocessor.to_dict`), so a saved model holds no pickle.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from segdiscover._checks import NUMERIC_KINDS
from segdiscover._params import Interval, validate_params
from segdiscover.exceptions import InputError, NotFittedError, SegdiscoverWarning

MISSING = "__missing__"
OTHER = "__other__"


def _skewed(x: np.ndarray) -> bool:
    """Heavy right tail: the 99th percentile far beyond the typical spread."""
    q50, q75, q99 = np.quantile(x, [0.5, 0.75, 0.99])
    spread = max(q75 - q50, 1e-12)
    return bool((q99 - q50) / spread > 6.0)


class Preprocessor:
    """Turn a customer-level table into a numeric matrix for clustering.

    Parameters
    ----------
    clip : float, default 5.0
        Scaled values are clipped to ``[-clip, clip]`` so one extreme customer cannot
        pull a centroid.
    max_levels : int, default 12
        Most frequent categories kept per categorical column; the rest pool into
        ``__other__`` (also used for categories first seen at assign time).
    min_level_share : float, default 0.005
        Categories rarer than this share pool into ``__other__``.

    Attributes
    ----------
    columns_ : list of dict
        Per input column: name, kind, transform and fitted parameters.
    feature_names_out_ : list of str
        Names of the output matrix columns.
    source_ : list of str
        For each output column, the input column it comes from.
    dropped_ : list of str
        Constant columns dropped at fit.

    Examples
    --------
    >>> df = pl.DataFrame({"a": [1.0, 2.0, None, 4.0], "c": ["x", "y", "x", "x"]})
    >>> pre = Preprocessor().fit(df)
    >>> pre.feature_names_out_
    ['a', 'a__missing', 'c=x', 'c=y']
    >>> pre.transform(df).shape
    (4, 4)
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "clip": [Interval(float, 0, None, "neither")],
        "max_levels": [Interval(int, 1, 1000)],
        "min_level_share": [Interval(float, 0, 0.5)],
    }

    def __init__(
        self, clip: float = 5.0, max_levels: int = 12, min_level_share: float = 0.005
    ) -> None:
        self.clip = clip
        self.max_levels = max_levels
        self.min_level_share = min_level_share

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: FBT001
        """Return the constructor parameters (scikit-learn convention)."""
        return {
            "clip": self.clip,
            "max_levels": self.max_levels,
            "min_level_share": self.min_level_share,
        }

    def fit(
        self, frame: pl.DataFrame, kinds: dict[str, str] | None = None
    ) -> Preprocessor:
        """Learn transforms from ``frame`` (feature columns only).

        Parameters
        ----------
        frame : polars.DataFrame
            Feature columns; numeric and bool columns are numeric, others categorical.
        kinds : dict, optional
            Column -> ``"numeric"``/``"categorical"`` to override the dtype rule.
        """
        validate_params("Preprocessor", self.get_params(), self._parameter_constraints)
        kinds = kinds or {}
        cols: list[dict[str, Any]] = []
        dropped: list[str] = []
        for name in frame.columns:
            s = frame.get_column(name)
            kind = kinds.get(name) or (
                "numeric"
                if s.dtype in NUMERIC_KINDS or s.dtype == pl.Boolean
                else "categorical"
            )
            if kind == "numeric":
                spec = self._fit_numeric(name, s)
            else:
                spec = self._fit_categorical(name, s)
            if spec is None:
                dropped.append(name)
            else:
                cols.append(spec)
        if dropped:
            warnings.warn(
                f"Dropped {len(dropped)} constant column(s): {', '.join(dropped)} "
                "(a column with one value cannot separate segments).",
                SegdiscoverWarning,
                stacklevel=2,
            )
        if not cols:
            msg = (
                f"All {frame.width} feature columns are constant or empty; "
                "there is nothing to segment on."
            )
            raise InputError(msg)
        self.columns_ = cols
        self.dropped_ = dropped
        names, source = [], []
        for c in cols:
            outs = self._out_names(c)
            names += outs
            source += [c["name"]] * len(outs)
        self.feature_names_out_ = names
        self.source_ = source
        return self

    def _fit_numeric(self, name: str, s: pl.Series) -> dict[str, Any] | None:
        x = s.cast(pl.Float64).to_numpy()
        ok = np.isfinite(x)
        if ok.sum() == 0 or np.nanmin(x[ok]) == np.nanmax(x[ok]):
            return None
        v = x[ok]
        transform = "none"
        if _skewed(v):
            transform = "log1p" if v.min() >= 0 else "signed_log1p"
        elif _skewed(-v):  # heavy left tail
            transform = "signed_log1p"
        t = _apply(v, transform)
        center = float(np.median(t))
        q01, q25, q75, q99 = np.quantile(t, [0.01, 0.25, 0.75, 0.99])
        # The larger of the IQR-based and the winsorised standard deviation: the IQR
        # alone blows up zero-inflated or mixed columns (a share near 0 for most
        # customers), whose few high values then pin every clustering; winsorising
        # keeps single extreme customers from shrinking the column to nothing.
        scale = max(float((q75 - q25) / 1.349), float(np.clip(t, q01, q99).std()))
        if scale <= 0:
            scale = float(t.std())
        return {
            "name": name,
            "kind": "numeric",
            "transform": transform,
            "impute": center,
            "center": center,
            "scale": scale or 1.0,
            "missing": bool((~ok).any()),
        }

    def _fit_categorical(self, name: str, s: pl.Series) -> dict[str, Any] | None:
        s = s.cast(pl.String).fill_null(MISSING)
        vc = s.value_counts(sort=True, name="n").sort(
            ["n", name], descending=[True, False]
        )
        n = s.len()
        keep = [
            v
            for v, c in zip(vc[name].to_list(), vc["n"].to_list(), strict=True)
            if c / n >= self.min_level_share
        ][: self.max_levels]
        if len(keep) < vc.height:
            keep.append(OTHER)
        if len(keep) <= 1:
            return None
        return {"name": name, "kind": "categorical", "levels": keep}

    @staticmethod
    def _out_names(c: dict[str, Any]) -> list[str]:
        if c["kind"] == "numeric":
            return [c["name"]] + ([f"{c['name']}__missing"] if c["missing"] else [])
        return [f"{c['name']}={lv}" for lv in c["levels"]]

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            msg = "This Preprocessor is not fitted yet; call fit first."
            raise NotFittedError(msg)

    @property
    def input_columns(self) -> list[str]:
        """Input columns used (constant ones excluded)."""
        self._check_fitted()
        return [c["name"] for c in self.columns_]

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Return the float64 matrix for ``frame`` (``feature_names_out_`` order)."""
        self._check_fitted()
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            msg = (
                f"The table lacks the column(s) {missing} the preprocessor was "
                "fitted on."
            )
            raise InputError(msg)
        blocks = []
        for c in self.columns_:
            s = frame.get_column(c["name"])
            if c["kind"] == "numeric":
                x = s.cast(pl.Float64).to_numpy().astype(float, copy=True)
                miss = ~np.isfinite(x)
                t = _apply(np.where(miss, 0.0, x), c["transform"])
                z = np.clip((t - c["center"]) / c["scale"], -self.clip, self.clip)
                z = np.where(miss, (c["impute"] - c["center"]) / c["scale"], z)
                blocks.append(z[:, None])
                if c["missing"]:
                    blocks.append(miss.astype(float)[:, None])
            else:
                levels = c["levels"]
                v = s.cast(pl.String).fill_null(MISSING)
                known = v.is_in(levels[:-1] if levels[-1] == OTHER else levels)
                fallback = OTHER if OTHER in levels else MISSING
                v = pl.select(
                    pl.when(known).then(v).otherwise(pl.lit(fallback))
                ).to_series()
                codes = v.replace_strict(
                    levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
                ).to_numpy()
                onehot = np.zeros((len(codes), len(levels)))
                rows = np.flatnonzero(codes >= 0)
                # 1/sqrt(2): switching category moves a customer by distance 1, the
                # same as one robust standard deviation of a numeric feature.
                onehot[rows, codes[rows]] = 1 / np.sqrt(2)
                blocks.append(onehot)
        return np.hstack(blocks)

    def fit_transform(
        self, frame: pl.DataFrame, kinds: dict[str, str] | None = None
    ) -> np.ndarray:
        """Fit, then transform ``frame``."""
        return self.fit(frame, kinds).transform(frame)

    def to_dict(self) -> dict[str, Any]:
        """Fitted state as JSON-serialisable data (for saved models)."""
        self._check_fitted()
        return {
            "params": self.get_params(),
            "columns": self.columns_,
            "dropped": self.dropped_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output."""
        pre = cls(**state["params"])
        pre.columns_ = list(state["columns"])
        pre.dropped_ = list(state["dropped"])
        names, source = [], []
        for c in pre.columns_:
            outs = cls._out_names(c)
            names += outs
            source += [c["name"]] * len(outs)
        pre.feature_names_out_ = names
        pre.source_ = source
        return pre


def _apply(x: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if transform == "signed_log1p":
        return np.sign(x) * np.log1p(np.abs(x))
    return x


def categorical_codes(
    frame: pl.DataFrame, columns: Sequence[dict[str, Any]]
) -> np.ndarray:
    """Build the surrogate's matrix: numbers as is (NaN for null), categories as codes.

    Trees are invariant to monotone transforms, so the surrogate sees original units
    and its rules read in them. Unknown categories get NaN (LightGBM: missing).
    """
    out = np.empty((frame.height, len(columns)))
    for j, c in enumerate(columns):
        s = frame.get_column(c["name"])
        if c["kind"] == "numeric":
            out[:, j] = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
        else:
            v = s.cast(pl.String).fill_null(MISSING)
            out[:, j] = (
                v.replace_strict(
                    c["levels"],
                    list(range(len(c["levels"]))),
                    default=None,
                    return_dtype=pl.Float64,
                )
                .fill_null(np.nan)
                .to_numpy()
            )
    return out
