"""Preprocessing a business table needs, fitted once and reused for new customers.

Heavy tails are log-transformed, numbers robustly scaled and clipped, nulls imputed
with a missing-indicator column, and constant columns dropped with a warning. Three
rules keep one fact from counting more than once or more than another fact:

* **Binary facts** (a Boolean, any two-valued number, two-level text such as yes/no)
  become one standardised column, whatever their encoding.
* **Categoricals** are one-hot encoded (rare levels pooled) with level weights set so
  that the whole block carries the variance of one numeric feature; one with more than
  :data:`HIGH_CARDINALITY` levels carries less (:data:`HIGH_CARDINALITY_WEIGHT`).
* **Redundant columns** (the same quantity twice: minutes and charge, an indicator
  repeated in several categoricals) fold into one representative before clustering.

All fitted state is plain numbers and strings (:meth:`Preprocessor.to_dict`), so a
saved model holds no pickle. The rules and the measurements behind them are in
``docs/guide/02-preprocessing.md`` (``benchmarks/bench_preprocess.py``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import rankdata
from sklearn.base import BaseEstimator

from segdiscover._checks import NUMERIC_KINDS
from segdiscover._params import NONE, Interval, validate_params
from segdiscover.exceptions import InputError, NotFittedError, SegdiscoverWarning

MISSING = "__missing__"
OTHER = "__other__"
#: A categorical with more distinct values than this at fit is high-cardinality.
HIGH_CARDINALITY = 20
#: Share of one numeric feature's variance a high-cardinality categorical may carry.
HIGH_CARDINALITY_WEIGHT = 0.5
#: Rows the redundancy fold reads at most (chosen by row hash, not row order).
FOLD_MAX_ROWS = 20_000
_SPECIAL = (MISSING, OTHER)


def _skewed(x: np.ndarray) -> bool:
    """Heavy right tail: the 99th percentile far beyond the typical spread."""
    q50, q75, q99 = np.quantile(x, [0.5, 0.75, 0.99])
    spread = max(q75 - q50, 1e-12)
    return bool((q99 - q50) / spread > 6.0)


def onehot_weights(shares: Sequence[float], n_distinct: int) -> list[float]:
    """Weight of each one-hot level column of a categorical.

    Every level gets the same weight ``w``, chosen so that the block's total variance
    ``w**2 * sum(p * (1 - p))`` is that of one standardised numeric feature (1), or
    :data:`HIGH_CARDINALITY_WEIGHT` when the column had more than
    :data:`HIGH_CARDINALITY` distinct values. For two levels this is exactly the
    standardised binary column, so the rule is one rule for every categorical.

    Parameters
    ----------
    shares : sequence of float
        Share of the fitted rows at each level (they sum to 1).
    n_distinct : int
        Distinct values of the column at fit, before rare levels were pooled.

    Returns
    -------
    list of float
        One weight per level.

    Examples
    --------
    >>> [round(w, 3) for w in onehot_weights([0.5, 0.25, 0.25], 3)]
    [1.265, 1.265, 1.265]
    """
    p = np.asarray(shares, dtype=float)
    gini = float((p * (1 - p)).sum())
    total = HIGH_CARDINALITY_WEIGHT if n_distinct > HIGH_CARDINALITY else 1.0
    w = math.sqrt(total / gini) if gini > 0 else 1.0
    return [w] * len(p)


def binary_scale(p: float) -> float:
    """Scale of a binary fact's indicator: the two-level case of :func:`onehot_weights`.

    One column ``(indicator - p) / scale`` puts the two values as far apart as the
    two one-hot columns of the same fact would be, ``sqrt(w0**2 + w1**2)``.

    Examples
    --------
    >>> round(binary_scale(0.5), 3)
    0.5
    """
    w = onehot_weights([1.0 - p, p], 2)
    return 1.0 / math.sqrt(w[0] ** 2 + w[1] ** 2)


class Preprocessor(BaseEstimator):
    """Turn a customer-level table into a numeric matrix for clustering.

    A scikit-learn estimator: ``__init__`` stores the parameters unchanged (so
    ``get_params``, ``set_params``, ``repr`` and :func:`sklearn.base.clone` work)
    and what ``fit`` learns ends in ``_``.

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
    fold_rho : float or None, default 0.98
        Output columns whose absolute Spearman rank correlation on the fitted rows
        reaches this fold into one representative; None keeps every column.

    Attributes
    ----------
    columns_ : list of dict
        Per input column used: name, kind (``"numeric"`` or ``"categorical"``, what
        the explanation reads), encoding and fitted parameters; ``drop`` lists its
        output columns folded away (all of them for a column that restates another:
        it is explained, not clustered).
    feature_names_out_ : list of str
        Names of the output matrix columns.
    source_ : list of str
        For each output column, the input column it comes from.
    dropped_ : list of str
        Constant columns dropped at fit.
    folded_ : list of dict
        One entry per representative: ``representative`` (output column kept),
        ``folded`` (output columns left out) and ``rho`` (their rank correlation with
        the representative, in the same order).
    derived_ : list of dict
        Columns left out of the clustering because they are a function of clustered
        ones (``fit(derived=...)``): ``column`` and ``from``.

    Examples
    --------
    >>> df = pl.DataFrame({"a": [1.0, 2.0, None, 4.0], "c": ["x", "y", "x", "z"]})
    >>> pre = Preprocessor().fit(df)
    >>> pre.feature_names_out_
    ['a', 'a__missing', 'c=x', 'c=y', 'c=z']
    >>> pre.transform(df).shape
    (4, 5)
    >>> twins = pl.DataFrame({"minutes": [1.0, 5.0, 3.0, 8.0]}).with_columns(
    ...     charge=pl.col("minutes") * 0.17, plan=pl.Series(["no", "yes", "no", "no"])
    ... )
    >>> pre = Preprocessor().fit(twins)
    >>> pre.feature_names_out_, pre.fold_report()
    (['minutes', 'plan=yes'], ['charge enters as minutes (rank correlation 1.000)'])
    """

    # segdiscover's own constraints (segdiscover._params), checked first in fit;
    # scikit-learn's BaseEstimator._validate_params, which would read this name
    # with its own types, is never called.
    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "clip": [Interval(float, 0, None, "neither")],
        "max_levels": [Interval(int, 1, 1000)],
        "min_level_share": [Interval(float, 0, 0.5)],
        "fold_rho": [Interval(float, 0, 1, "right"), NONE],
    }

    def __init__(
        self,
        clip: float = 5.0,
        max_levels: int = 12,
        min_level_share: float = 0.005,
        fold_rho: float | None = 0.98,
    ) -> None:
        self.clip = clip
        self.max_levels = max_levels
        self.min_level_share = min_level_share
        self.fold_rho = fold_rho

    def fit(
        self,
        frame: pl.DataFrame,
        kinds: dict[str, str] | None = None,
        derived: Mapping[str, Sequence[str]] | None = None,
    ) -> Preprocessor:
        """Learn transforms from ``frame`` (feature columns only).

        Parameters
        ----------
        frame : polars.DataFrame
            Feature columns; numeric and bool columns are numeric, others categorical.
        kinds : dict, optional
            Column -> ``"numeric"``/``"categorical"`` to override the dtype rule.
        derived : dict, optional
            Column -> the columns it is a function of
            (:attr:`segdiscover.FeatureMeta.derived_from`). Such a column is left
            out of the clustering (every output dropped, like a wholly folded column,
            and still explained) when each of those columns is clustered or
            constant; if one is missing from ``frame`` it carries information of its
            own and is kept.

        Returns
        -------
        Preprocessor
            ``self``, fitted.
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
        self.folded_: list[dict[str, Any]] = []
        self.derived_ = self._leave_out_derived(derived or {})
        if self.fold_rho is not None:
            self._fold(frame, self.fold_rho)
        self._set_names()
        return self

    def _fit_numeric(self, name: str, s: pl.Series) -> dict[str, Any] | None:
        x = s.cast(pl.Float64).to_numpy()
        ok = np.isfinite(x)
        if ok.sum() == 0 or np.nanmin(x[ok]) == np.nanmax(x[ok]):
            return None
        v = x[ok]
        lo, hi = float(v.min()), float(v.max())
        if np.all((v == lo) | (v == hi)):
            # Two values: a yes/no fact, scaled exactly as the two-level text and
            # Boolean forms of the same fact are (indicator of the larger value).
            p = float((v == hi).mean())
            return {
                "name": name,
                "kind": "numeric",
                "transform": "none",
                "impute": float(np.median(v)),
                "center": lo + p * (hi - lo),
                "scale": (hi - lo) * binary_scale(p),
                "missing": bool((~ok).any()),
                "binary": True,
                "values": [lo, hi],
                "share": p,
            }
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
        values, counts = vc[name].to_list(), vc["n"].to_list()
        regular = [v for v in values if v != MISSING]
        if len(regular) == 2:
            # Two values (nulls aside): one standardised column, like a Boolean.
            return self._fit_binary_text(name, values, counts, regular)
        keep = [
            v
            for v, c in zip(values, counts, strict=True)
            if c / n >= self.min_level_share
        ][: self.max_levels]
        if len(keep) < vc.height:
            keep.append(OTHER)
        if len(keep) <= 1:
            return None
        count = dict(zip(values, counts, strict=True))
        shares = [count.get(lv, 0) / n for lv in keep]
        if OTHER in keep:
            shares[-1] = 1.0 - sum(shares[:-1])
        if len(keep) == 2:  # one value and nulls, or one value and pooled rest
            pos = next((lv for lv in keep if lv not in _SPECIAL), keep[1])
            p = shares[keep.index(pos)]
            return {
                "name": name,
                "kind": "categorical",
                "levels": keep,
                "encoding": "binary",
                "positive": pos,
                "center": p,
                "scale": binary_scale(p),
                "impute": 0.0,  # no nulls reach it: they are a level here
                "missing": False,
            }
        return {
            "name": name,
            "kind": "categorical",
            "levels": keep,
            "encoding": "onehot",
            "shares": shares,
            "n_distinct": len(values),
            "weights": onehot_weights(shares, len(values)),
        }

    @staticmethod
    def _fit_binary_text(
        name: str, values: list[str], counts: list[int], regular: list[str]
    ) -> dict[str, Any]:
        count = dict(zip(values, counts, strict=True))
        pos = max(regular)  # "yes" > "no", "true" > "false", "Y" > "N", "1" > "0"
        p = count[pos] / (count[regular[0]] + count[regular[1]])
        return {
            "name": name,
            "kind": "categorical",
            "levels": values,
            "encoding": "binary",
            "positive": pos,
            "center": p,
            "scale": binary_scale(p),
            # The median of the indicator, as a Boolean's nulls get its median.
            "impute": 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5,
            "missing": MISSING in count,
        }

    @staticmethod
    def _out_names(c: dict[str, Any]) -> list[str]:
        """Output columns of one spec, before folding."""
        if c["kind"] == "numeric":
            return [c["name"]] + ([f"{c['name']}__missing"] if c["missing"] else [])
        if c.get("encoding") == "binary":
            return [f"{c['name']}={c['positive']}"] + (
                [f"{c['name']}__missing"] if c["missing"] else []
            )
        return [f"{c['name']}={lv}" for lv in c["levels"]]

    def _set_names(self) -> None:
        names: list[str] = []
        source: list[str] = []
        for c in self.columns_:
            drop = set(c.get("drop", ()))
            outs = [o for o in self._out_names(c) if o not in drop]
            names += outs
            source += [c["name"]] * len(outs)
        self.feature_names_out_ = names
        self.source_ = source

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            msg = "This Preprocessor is not fitted yet; call fit first."
            raise NotFittedError(msg)

    @property
    def input_columns(self) -> list[str]:
        """Input columns used (constant ones excluded; folded ones are explained)."""
        self._check_fitted()
        return [c["name"] for c in self.columns_]

    def fold_report(self) -> list[str]:
        """One plain sentence per folded output column.

        Returns
        -------
        list of str
            E.g. ``"charge enters as minutes (rank correlation 1.000)"``.

        Examples
        --------
        >>> df = pl.DataFrame({"a": [1.0, 2.0, 4.0], "b": [3.0, 2.0, 0.0]})
        >>> Preprocessor().fit(df).fold_report()
        ['b enters as a (rank correlation -1.000)']
        """
        self._check_fitted()
        derived = [
            f"{d['column']} is not clustered: it is derived from "
            f"{', '.join(d['from'])}, which are (it still explains segments)"
            for d in getattr(self, "derived_", [])
        ]
        return derived + [
            f"{f} enters as {g['representative']} (rank correlation {r:.3f})"
            for g in self.folded_
            for f, r in zip(g["folded"], g["rho"], strict=True)
        ]

    def _leave_out_derived(
        self, derived: Mapping[str, Sequence[str]]
    ) -> list[dict[str, Any]]:
        """Drop every output of a column that restates clustered columns."""
        bad = sorted(k for k, v in derived.items() if isinstance(v, str))
        if bad:  # a str would read as its letters, and match nothing silently
            msg = (
                f"derived maps {bad} to a string; give each derived column a list "
                "of the column names it is a function of."
            )
            raise InputError(msg)
        used = {c["name"] for c in self.columns_}
        known = used | set(self.dropped_)
        out: list[dict[str, Any]] = []
        for c in self.columns_:
            src = [x for x in derived.get(c["name"], ()) if x != c["name"]]
            if src and all(x in known for x in src) and any(x in used for x in src):
                c["drop"] = list(self._out_names(c))
                out.append({"column": c["name"], "from": src})
        return out

    def _fold(self, frame: pl.DataFrame, fold_rho: float) -> None:
        """Fold output columns that carry the same ranks into one representative."""
        used = [c["name"] for c in self.columns_]
        sub = frame.select(used)
        # Wide tables read fewer rows (about 5M cells): a rank correlation near 0.98
        # is still known to about 0.001 from 2,000 rows.
        cap = min(FOLD_MAX_ROWS, max(2_000, 5_000_000 // len(used)))
        if sub.height > cap:
            # The same rows whatever the row order: those with the smallest hashes.
            h = sub.hash_rows(seed=0).to_numpy()
            sub = sub[np.sort(np.argsort(h, kind="stable")[:cap])]
        X, names = self._matrix(sub, clip=math.inf, folded=False)
        if X.shape[1] < 2 or X.shape[0] < 3:
            return
        R = rankdata(X, axis=0)
        R -= R.mean(0)
        norm = np.sqrt((R**2).sum(0))
        R /= np.where(norm > 0, norm, 1.0)
        C = R.T @ R  # one product: all rank correlations at once
        np.fill_diagonal(C, 0.0)
        # Outputs already left out (derived columns) neither fold nor represent.
        out_already = {o for c in self.columns_ for o in c.get("drop", ())}
        off = [j for j, n in enumerate(names) if n in out_already]
        C[off, :] = 0.0
        C[:, off] = 0.0
        pairs = np.argwhere(np.triu(np.abs(C) >= fold_rho - 1e-12, 1))
        if pairs.size == 0:
            return
        nulls = {c: int(frame.get_column(c).null_count()) for c in used}
        owner = [c["name"] for c in self.columns_ for _ in self._out_names(c)]
        # Representative: fewest nulls in its input column, then column order.
        order = sorted(range(len(names)), key=lambda j: (nulls[owner[j]], j))
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(len(names))
        involved = np.unique(pairs)
        gone: set[int] = set()
        for j in sorted(involved, key=lambda j: rank[j]):
            if j in gone:
                continue
            mates = [
                int(i)
                for i in np.flatnonzero(np.abs(C[j]) >= fold_rho - 1e-12)
                if rank[i] > rank[j] and int(i) not in gone
            ]
            if not mates:
                continue
            mates.sort(key=lambda i: rank[i])
            gone.update(mates)
            self.folded_.append(
                {
                    "representative": names[j],
                    "folded": [names[i] for i in mates],
                    "rho": [round(float(C[j, i]), 4) for i in mates],
                }
            )
        drop = {names[i] for i in gone}
        # A wholly folded column stays a column (every output dropped): it is left
        # out of the clustering only, and the explanation still reads it.
        for c in self.columns_:
            before = set(c.get("drop", ()))
            gone_here = [o for o in self._out_names(c) if o in drop or o in before]
            if gone_here:
                c["drop"] = gone_here

    def _matrix(
        self, frame: pl.DataFrame, clip: float, *, folded: bool
    ) -> tuple[np.ndarray, list[str]]:
        (out,), names = self._matrices(frame, clip, folded=folded, pair=False)
        return out, names

    def _matrices(
        self, frame: pl.DataFrame, clip: float, *, folded: bool, pair: bool
    ) -> tuple[tuple[np.ndarray, ...], list[str]]:
        """Return the matrix clipped at ``clip`` and, with ``pair``, the unclipped one.

        Each input column is read and encoded once for both.
        """
        names: list[str] = []
        parts = []
        for c in self.columns_:
            outs = self._out_names(c)
            drop = set(c.get("drop", ())) if folded else set()
            keep = [i for i, o in enumerate(outs) if o not in drop]
            parts.append((c, keep, len(outs)))
            names += [outs[i] for i in keep]
        # One allocation each, filled block by block: no hstack copy of a wide
        # matrix.
        outs_ = tuple(np.empty((frame.height, len(names))) for _ in range(1 + pair))
        j = 0
        for c, keep, width in parts:
            if not keep:
                continue
            blocks = _encode_pair(frame.get_column(c["name"]), c, clip, pair=pair)
            for out, block in zip(outs_, blocks, strict=True):
                out[:, j : j + len(keep)] = (
                    block if len(keep) == width else block[:, keep]
                )
            j += len(keep)
        return outs_, names

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Return the float64 matrix for ``frame`` (``feature_names_out_`` order).

        Parameters
        ----------
        frame : polars.DataFrame
            Holds at least :attr:`input_columns`; other columns are ignored.

        Returns
        -------
        numpy.ndarray
            ``frame.height x len(feature_names_out_)``.
        """
        self._check_fitted()
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            msg = (
                f"The table lacks the column(s) {missing} the preprocessor was "
                "fitted on."
            )
            raise InputError(msg)
        return self._matrix(frame, self.clip, folded=True)[0]

    def transform_pair(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Return the matrix and its unclipped twin, encoding each column once.

        The second matrix is what a copy of this preprocessor with
        ``clip=inf`` gives (distances for novelty need it): the same values, not
        clipped to ``[-clip, clip]``. One pass instead of two transforms.

        Parameters
        ----------
        frame : polars.DataFrame
            Holds at least :attr:`input_columns`.

        Returns
        -------
        tuple of numpy.ndarray
            ``(clipped, unclipped)``, both as :meth:`transform` shapes them.

        Examples
        --------
        >>> pre = Preprocessor().fit(pl.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}))
        >>> X, U = pre.transform_pair(pl.DataFrame({"a": [1.0, 1e6]}))
        >>> bool((X == pre.transform(pl.DataFrame({"a": [1.0, 1e6]}))).all())
        True
        >>> float(X[1, 0]), float(U[1, 0]) > 5
        (5.0, True)
        """
        self._check_fitted()
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            msg = (
                f"The table lacks the column(s) {missing} the preprocessor was "
                "fitted on."
            )
            raise InputError(msg)
        (X, U), _ = self._matrices(frame, self.clip, folded=True, pair=True)
        return X, U

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
            "folded": self.folded_,
            "derived": self.derived_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output.

        State written before binary encoding, level weights and folds existed
        (no ``encoding``, ``weights`` or ``folded``) transforms as it did then.
        """
        pre = cls(**state["params"])
        pre.columns_ = [dict(c) for c in state["columns"]]
        pre.dropped_ = list(state["dropped"])
        pre.folded_ = list(state.get("folded", []))
        pre.derived_ = list(state.get("derived", []))
        pre._set_names()
        return pre


def _apply(x: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if transform == "signed_log1p":
        return np.sign(x) * np.log1p(np.abs(x))
    return x


def _encode(s: pl.Series, c: dict[str, Any], clip: float) -> np.ndarray:
    """Columns of one input column (all its outputs, before folding)."""
    return _encode_pair(s, c, clip, pair=False)[0]


def _encode_pair(
    s: pl.Series, c: dict[str, Any], clip: float, *, pair: bool
) -> tuple[np.ndarray, ...]:
    """One input column's block clipped at ``clip`` and, with ``pair``, unclipped."""

    def blocks(z: np.ndarray, miss: np.ndarray, fill: np.ndarray | None) -> Any:
        out = []
        for zz in (np.clip(z, -clip, clip), z)[: 1 + pair]:
            if fill is not None:
                zz = np.where(miss, fill, zz)
            out.append(
                np.column_stack([zz, miss.astype(float)])
                if c["missing"]
                else zz[:, None]
            )
        return tuple(out)

    if c["kind"] == "numeric":
        x = s.cast(pl.Float64).to_numpy().astype(float, copy=True)
        miss = ~np.isfinite(x)
        t = _apply(np.where(miss, 0.0, x), c["transform"])
        z = (t - c["center"]) / c["scale"]
        return blocks(z, miss, np.asarray((c["impute"] - c["center"]) / c["scale"]))
    v = s.cast(pl.String)
    if c.get("encoding") == "binary":
        miss = v.is_null().to_numpy()
        if c["missing"]:
            hit = (v == c["positive"]).fill_null(value=False).to_numpy()
            ind = np.where(miss, c["impute"], hit.astype(float))
        else:  # nulls are a level (or were never seen): compare as text
            hit = (v.fill_null(MISSING) == c["positive"]).to_numpy()
            ind = hit.astype(float)
        return blocks((ind - c["center"]) / c["scale"], miss, None)
    levels = c["levels"]
    v = v.fill_null(MISSING)
    known = v.is_in(levels[:-1] if levels[-1] == OTHER else levels)
    fallback = OTHER if OTHER in levels else MISSING
    v = pl.select(pl.when(known).then(v).otherwise(pl.lit(fallback))).to_series()
    codes = v.replace_strict(
        levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
    ).to_numpy()
    # State saved before level weights existed used 1/sqrt(2) for every level.
    w = np.asarray(c.get("weights") or [1 / np.sqrt(2)] * len(levels), dtype=float)
    onehot = np.zeros((len(codes), len(levels)))
    rows = np.flatnonzero(codes >= 0)
    onehot[rows, codes[rows]] = w[codes[rows]]
    return (onehot, onehot)[: 1 + pair]


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
