"""Outcome-guided segmentation: customers grouped by *why* their outcomes differ.

Unsupervised segments are found from behaviour alone and may not differ on what the
business cares about. With outcomes given, :class:`OutcomeGuide` fits one LightGBM
model per outcome and gives every customer its SHAP contributions to each outcome:
how much each feature pushes that customer's churn (or margin, or cost) above or
below the average customer. Clustering customers in that space (Cooper, "Supervised
clustering: how to use SHAP values for better cluster analysis", 2021) yields segments
that differ in the reasons behind their outcomes: a "calls support a lot" group at
high churn, a "month-to-month plan" group, a low-risk mass.

What this module adds to that recipe, and why:

* **Cross-fitting.** A customer's contributions come from a model that never saw that
  customer's outcome (``n_folds`` folds over the *build* customers), so an
  over-fitted tree cannot place a customer by its own outcome. Customers outside the
  build set (the hold-out, and every customer assigned later) get the mean of the
  fold models' contributions; SHAP values are additive, so that mean is exactly the
  SHAP explanation of the fold models' averaged prediction.
* **Outcome units.** Every model is an L2 regression, so contributions are in the
  outcome's own units (a rate's contributions are probabilities, not log-odds), and
  each outcome's block is divided by its smallest difference that matters
  (:mod:`segdiscover.outcomes`): one unit of distance is one material difference, on
  any outcome, times a user weight. A feature that moves no outcome contributes zeros
  and drops out of the geometry by itself.
* **A total column per outcome (optional, ``total=True``).** Each customer's
  contributions to an outcome add up to its predicted deviation from the average
  customer; in the block that deviation lies along the all-ones direction, spread
  thinly over the ``p`` features, so k-means sees *which* features push more than
  *how far in total*. One more column per outcome, the sum of its block (same units
  and scale), gives the total its own axis.
* **Honest validation** is the caller's part: :class:`segdiscover.Segmenter` builds
  the models and the segments on the build customers only and measures the outcome
  differences on the hold-out, whose outcomes built nothing.

SHAP values come from LightGBM's own TreeSHAP (``pred_contrib=True``), the same exact
algorithm as ``shap.TreeExplainer`` (checked equal in the tests) without converting
the model. Models are stored as LightGBM's text format (no pickle), each with its
SHA-256 in the saved manifest.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from sklearn.utils import check_random_state

from segdiscover._log import progress
from segdiscover._params import InstanceOf, Interval, validate_params
from segdiscover.exceptions import InputError, ModelFileError, NotFittedError

#: Share of customers held out from building guided segments, to validate them.
HOLDOUT_SHARE = 0.3


def lgb_params(n_rows: int, seed: int, n_jobs: int) -> dict[str, Any]:
    """LightGBM settings of the outcome models (shallow, regularised, deterministic).

    Leaves need at least 1% of the training customers (20 at least): contributions
    of an over-fitted tree are noise that the clustering would then separate.
    """
    return {
        "objective": "regression",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": max(20, n_rows // 100),
        "lambda_l2": 1.0,
        # No row or column sampling: given the data and the folds, the models (and
        # so the guided space) do not depend on the seed.
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": n_jobs,
        "verbose": -1,
    }


def _contributions(booster: Any, X: np.ndarray) -> np.ndarray:
    """TreeSHAP contributions without the expected-value column, ``(n, p)``."""
    return np.asarray(booster.predict(X, pred_contrib=True))[:, :-1]


def customer_hash(ids: Any) -> np.ndarray:
    """Return a fixed 64-bit hash per customer id, for folds and hold-out.

    The same customers are held out, and fall in the same folds, whatever the row
    order and the ``random_state``, so the guided space does not move with the seed.

    Examples
    --------
    >>> import polars as pl
    >>> a = customer_hash(pl.Series([3, 1, 2]))
    >>> b = customer_hash(pl.Series([1, 2, 3]))
    >>> bool((a[[1, 2, 0]] == b).all())
    True
    """
    import polars as pl

    return pl.Series(ids).hash(seed=20211).to_numpy().astype(np.uint64)


def hashed_holdout(h: np.ndarray, share: float) -> np.ndarray:
    """Hold out the customers whose hash falls in the first ``share`` of its range.

    Examples
    --------
    >>> h = np.arange(10_000, dtype=np.uint64) * np.uint64(1_844_674_407_370_955)
    >>> round(float(hashed_holdout(h, 0.3).mean()), 2)
    0.3
    """
    return (h % np.uint64(10_000)) < np.uint64(round(share * 10_000))


def holdout_mask(n: int, rng: np.random.RandomState, share: float) -> np.ndarray:
    """Boolean mask of ``round(share * n)`` customers drawn at random.

    Examples
    --------
    >>> m = holdout_mask(10, np.random.RandomState(0), 0.3)
    >>> int(m.sum())
    3
    """
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, round(share * n), replace=False)] = True
    return mask


class OutcomeGuide:
    """Cross-fitted outcome models whose SHAP contributions span a clustering space.

    Parameters
    ----------
    n_folds : int, default 5
        Folds of the cross-fitting over the build customers.
    n_estimators : int, default 300
        Most boosting rounds per model (early stopping on a fifth of each fold's
        training customers picks fewer).
    weights : dict or None, default None
        Outcome -> weight of its block (default 1 for every outcome).
    n_jobs : int, default 1
        LightGBM threads.
    random_state : int, RandomState or None, default None
    total : bool, default False
        Add per outcome one column, the sum of its contribution block (the
        customer's predicted deviation from the average, in the same scaled units),
        after all the blocks. A model saved before this option existed has none.
        :class:`segdiscover.Segmenter` turns it on for its guided space: it
        widens the held-out outcome spread on the six real tables (decision 81).

    Attributes
    ----------
    outcomes_ : list of str
        Outcome names, in block order.
    scales_ : list of float
        Per outcome: weight / smallest difference that matters (outcome units).
    features_ : list of str
        Input feature names (one column of each block per feature).
    feature_names_out_ : list of str
        ``<outcome>:<feature>`` for every contribution column of the space, outcome
        by outcome, then ``predicted <outcome> (total)`` for each total column
        (``total=True``).
    boosters_ : list of list of lightgbm.Booster
        ``boosters_[j][f]``: outcome ``j``, fold ``f``.
    space_ : ndarray of shape (n_rows, n_outcomes * (n_features + total))
        The fitted rows' coordinates: out-of-fold for build rows, the fold mean
        for the others. Outcome ``j``'s contributions are columns
        ``j * n_features`` to ``(j + 1) * n_features``; its total (``total=True``) is
        column ``n_outcomes * n_features + j``.
    r2_ : list of float
        Per outcome: out-of-fold R² on the build customers (how much of the outcome
        the features explain). An outcome at or below 0 is not predictable from the
        features: its block gets scale 0 and does not shape the space.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(600, 3))
    >>> Y = (X[:, :1] > 0.5).astype(float)  # the outcome follows feature 0 only
    >>> build = ~holdout_mask(600, rng, 0.3)
    >>> g = OutcomeGuide(n_folds=3, n_estimators=50, random_state=0, total=True).fit(
    ...     X, [], Y, ["churned"], [0.03], ["a", "b", "c"], build=build)
    >>> g.space_.shape, g.feature_names_out_[0], g.feature_names_out_[-1]
    ((600, 4), 'churned:a', 'predicted churned (total)')
    >>> bool(np.allclose(g.space_[:, 3], g.space_[:, :3].sum(1)))
    True
    >>> g.driver_shares()["churned"]["a"] > 0.9
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "n_folds": [Interval(int, 2, 20)],
        "n_estimators": [Interval(int, 1, 10_000)],
        "n_jobs": [Interval(int, 1, None)],
        "total": [InstanceOf((bool,), "a bool")],
    }

    def __init__(
        self,
        n_folds: int = 5,
        n_estimators: int = 300,
        weights: Mapping[str, float] | None = None,
        n_jobs: int = 1,
        random_state: Any = None,
        *,
        total: bool = False,
    ) -> None:
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.weights = weights
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.total = total

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: FBT001
        """Return the constructor parameters (scikit-learn convention)."""
        return {
            "n_folds": self.n_folds,
            "n_estimators": self.n_estimators,
            "weights": self.weights,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
            "total": self.total,
        }

    # Long on purpose (~105 lines): every outcome's folds share the fold and
    # early-stopping assignment, the random stream and the contribution blocks the
    # space is stacked from, in this order (the order fixes the seeds).
    def fit(
        self,
        X: np.ndarray,
        categorical: Sequence[int],
        Y: np.ndarray,
        outcomes: Sequence[str],
        thresholds: Sequence[float],
        features: Sequence[str],
        *,
        build: np.ndarray | None = None,
        hashes: np.ndarray | None = None,
    ) -> OutcomeGuide:
        """Fit the cross-fitted models on the ``build`` rows; set ``space_``.

        Parameters
        ----------
        X : ndarray of shape (n, p)
            Raw feature values, categoricals as integer codes, NaN for missing
            (:func:`segdiscover.preprocess.categorical_codes`).
        categorical : sequence of int
            Indices of the categorical columns of ``X``.
        Y : ndarray of shape (n, m)
            Outcomes (NaN where unknown: those rows do not train that outcome).
        outcomes : sequence of str
            Outcome names.
        thresholds : sequence of float
            Smallest difference that matters per outcome, in its units.
        features : sequence of str
            Names of the columns of ``X``.
        build : ndarray of bool, optional
            Rows whose outcomes may build the models (default: all).
        hashes : ndarray of uint64, optional
            A fixed hash per row (:func:`customer_hash`): folds and early-stopping
            rows then follow the customers, not ``random_state`` or the row order.
        """
        import lightgbm as lgb

        validate_params("OutcomeGuide", self.get_params(), self._parameter_constraints)
        rng = check_random_state(self.random_state)
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
        n, p = X.shape
        build = np.ones(n, dtype=bool) if build is None else np.asarray(build, bool)
        weights = dict(self.weights or {})
        unknown = sorted(set(weights) - set(outcomes))
        if unknown:
            msg = (
                f"guide_weights names {unknown}, which are not outcomes; the "
                f"outcomes are {list(outcomes)}."
            )
            raise InputError(msg)
        self.outcomes_ = list(outcomes)
        self.features_ = list(features)
        self.categorical_ = [int(c) for c in categorical]
        self.scales_ = [
            float(weights.get(o, 1.0)) / max(float(t), 1e-12)
            for o, t in zip(outcomes, thresholds, strict=True)
        ]
        self.feature_names_out_ = _names_out(
            self.outcomes_, self.features_, total=self.total
        )
        folds = np.full(n, -1)
        rows = np.flatnonzero(build)
        if hashes is None:
            folds[rows] = rng.permutation(len(rows)) % self.n_folds
            stop_all = rng.rand(n) < 0.2
        else:
            h = np.asarray(hashes, dtype=np.uint64) // np.uint64(10_000)
            folds[rows] = (h[rows] % np.uint64(self.n_folds)).astype(np.int64)
            stop_all = (h // np.uint64(self.n_folds)) % np.uint64(5) == 0
        space = np.zeros((n, p * len(outcomes) + len(outcomes) * bool(self.total)))
        self.boosters_: list[list[Any]] = []
        self.r2_: list[float] = []
        for j, name in enumerate(outcomes):
            y = Y[:, j]
            known = build & np.isfinite(y)
            if known.sum() < 2 * self.n_folds * 10:
                msg = (
                    f"Outcome {name!r} is known for {int(known.sum())} of the build "
                    f"customers; guiding segments by it needs at least "
                    f"{20 * self.n_folds}."
                )
                raise InputError(msg)
            block = np.zeros((n, p))
            oof = np.full(n, np.nan)
            models = []
            folds_bar = progress(
                range(self.n_folds), desc=f"outcome model {name}", unit="fold"
            )
            for f in folds_bar:
                train = np.flatnonzero(known & (folds != f))
                # Rounds chosen by early stopping on a fifth of the fold's training
                # customers: a weak outcome (churn at 10%) then gets a few shallow
                # trees instead of 200 that memorise noise.
                stop = stop_all[train]
                fit_rows, stop_rows = train[~stop], train[stop]
                params = lgb_params(
                    len(fit_rows), int(rng.randint(2**31 - 1)), self.n_jobs
                )
                cat: list[int] | Literal["auto"] = self.categorical_ or "auto"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    data = lgb.Dataset(
                        X[fit_rows], y[fit_rows], categorical_feature=cat
                    )
                    valid = lgb.Dataset(
                        X[stop_rows], y[stop_rows], categorical_feature=cat,
                        reference=data,
                    )  # fmt: skip
                    booster = lgb.train(
                        params,
                        data,
                        self.n_estimators,
                        valid_sets=[valid],
                        callbacks=[lgb.early_stopping(20, verbose=False)],
                    )
                    booster = lgb.Booster(
                        model_str=booster.model_to_string(
                            num_iteration=max(booster.best_iteration, 1)
                        )
                    )
                models.append(booster)
                mine = folds == f
                block[mine] = _contributions(booster, X[mine])
                oof[mine] = booster.predict(X[mine])
                outside = folds < 0
                if outside.any():
                    block[outside] += _contributions(booster, X[outside]) / self.n_folds
            ok = known & np.isfinite(oof)
            sst = float(((y[ok] - y[ok].mean()) ** 2).sum())
            sse = float(((y[ok] - oof[ok]) ** 2).sum())
            r2 = 1.0 - sse / sst if sst > 0 else 0.0
            self.r2_.append(r2)
            if r2 <= 0:  # the features do not predict it: its block would be noise
                self.scales_[j] = 0.0
            self.boosters_.append(models)
            space[:, j * p : (j + 1) * p] = block * self.scales_[j]
        if self.total:
            space[:, len(outcomes) * p :] = _totals(space, len(outcomes), p)
        if not any(self.scales_):
            msg = (
                f"No outcome ({', '.join(outcomes)}) is predictable from the features "
                "(out-of-fold R² <= 0 for each): there is nothing to guide segments "
                "by. Use guide='none'."
            )
            raise InputError(msg)
        self.space_ = space
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "boosters_"):
            msg = "This OutcomeGuide is not fitted yet; call fit first."
            raise NotFittedError(msg)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of new customers: fold-mean contributions, scaled per outcome.

        Parameters
        ----------
        X : ndarray of shape (n, p)
            Raw feature values as at fit.

        Returns
        -------
        ndarray of shape (n, len(feature_names_out_))
            The contribution blocks, then (``total=True``) one total per outcome.

        Examples
        --------
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(300, 2))
        >>> g = OutcomeGuide(n_folds=2, n_estimators=20, random_state=0, total=True)
        >>> g = g.fit(X, [], X[:, :1] * 2, ["margin"], [0.5], ["a", "b"])
        >>> E = g.transform(X[:4])
        >>> E.shape, bool(np.allclose(E[:, 2], E[:, :2].sum(1)))
        ((4, 3), True)
        """
        self._check_fitted()
        X = np.asarray(X, dtype=float)
        p = len(self.features_)
        if X.ndim != 2 or X.shape[1] != p:
            msg = f"The guide expects {p} feature columns; got shape {X.shape}."
            raise InputError(msg)
        m = len(self.outcomes_)
        out = np.zeros((X.shape[0], p * m + m * bool(self.total)))
        for j, models in enumerate(self.boosters_):
            block = sum(_contributions(b, X) for b in models) / len(models)
            out[:, j * p : (j + 1) * p] = block * self.scales_[j]
        if self.total:
            out[:, m * p :] = _totals(out, m, p)
        return out

    def driver_shares(self) -> dict[str, dict[str, float]]:
        """Per outcome, each feature's share of the mean |contribution| (sums to 1).

        Features only: the total column is the sum of the others, not a driver.
        """
        self._check_fitted()
        p = len(self.features_)
        out = {}
        for j, o in enumerate(self.outcomes_):
            a = np.abs(self.space_[:, j * p : (j + 1) * p]).mean(0)
            tot = float(a.sum()) or 1.0
            out[o] = {f: float(v / tot) for f, v in zip(self.features_, a, strict=True)}
        return out

    # ---------------------------------------------------------------- persist
    def to_state(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Return (JSON-ready state, model files as bytes) for a saved model."""
        self._check_fitted()
        files: dict[str, bytes] = {}
        models = []
        for j, boosters in enumerate(self.boosters_):
            names = []
            for f, b in enumerate(boosters):
                name = f"outcome{j}_fold{f}.txt"
                files[name] = b.model_to_string().encode()
                names.append(name)
            models.append(names)
        state = {
            "params": {
                "n_folds": self.n_folds,
                "n_estimators": self.n_estimators,
                "weights": dict(self.weights or {}),
                "total": bool(self.total),
            },
            "outcomes": self.outcomes_,
            "features": self.features_,
            "categorical": self.categorical_,
            "scales": self.scales_,
            "r2": self.r2_,
            "models": models,
            "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
        }
        return state, files

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], files: Mapping[str, bytes]
    ) -> OutcomeGuide:
        """Rebuild a fitted guide from :meth:`to_state` output (hashes checked)."""
        import lightgbm as lgb

        try:
            guide = cls(
                n_folds=int(state["params"]["n_folds"]),
                n_estimators=int(state["params"]["n_estimators"]),
                weights={
                    str(k): float(v) for k, v in state["params"]["weights"].items()
                },
                # Saved before the total column existed: no key, and none.
                total=state["params"].get("total", False),
            )
            if not isinstance(guide.total, bool):
                msg = "params.total must be true or false"
                raise TypeError(msg)
            guide.outcomes_ = [str(o) for o in state["outcomes"]]
            guide.features_ = [str(f) for f in state["features"]]
            guide.categorical_ = [int(c) for c in state["categorical"]]
            guide.scales_ = [float(s) for s in state["scales"]]
            guide.r2_ = [float(r) for r in state["r2"]]
            model_names = [[str(n) for n in names] for names in state["models"]]
            hashes = {str(k): str(v) for k, v in state["sha256"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            msg = f"The saved outcome guide is malformed ({exc!r})."
            raise ModelFileError(msg) from exc
        m, p = len(guide.outcomes_), len(guide.features_)
        if (
            len(guide.scales_) != m
            or len(model_names) != m
            or not all(np.isfinite(guide.scales_))
            or any(len(ns) != guide.n_folds for ns in model_names)
            or any(c < 0 or c >= p for c in guide.categorical_)
        ):
            msg = "The saved outcome guide's outcomes, folds and scales do not agree."
            raise ModelFileError(msg)
        guide.feature_names_out_ = _names_out(
            guide.outcomes_, guide.features_, total=guide.total
        )
        boosters = []
        for names in model_names:
            row = []
            for name in names:
                data = files.get(name)
                if data is None or hashlib.sha256(data).hexdigest() != hashes.get(name):
                    msg = f"The outcome model {name!r} is missing or was modified."
                    raise ModelFileError(msg)
                try:
                    check_lightgbm_text(data.decode(), name, p)
                    b = lgb.Booster(model_str=data.decode())
                except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
                    msg = f"The outcome model {name!r} cannot be read ({exc})."
                    raise ModelFileError(msg) from exc
                if b.num_feature() != p:
                    msg = (
                        f"The outcome model {name!r} takes {b.num_feature()} "
                        f"features; the guide has {p}."
                    )
                    raise ModelFileError(msg)
                row.append(b)
            boosters.append(row)
        guide.boosters_ = boosters
        return guide


def _names_out(outcomes: list[str], features: list[str], *, total: bool) -> list[str]:
    """Column names of the guided space: contributions, then the totals."""
    names = [f"{o}:{f}" for o in outcomes for f in features]
    return names + ([f"predicted {o} (total)" for o in outcomes] if total else [])


def _totals(space: np.ndarray, m: int, p: int) -> np.ndarray:
    """Per outcome, the sum of its (scaled) contribution block, ``(n, m)``."""
    return space[:, : m * p].reshape(len(space), m, p).sum(axis=2)


_INT_FIELDS = ("split_feature", "decision_type", "left_child", "right_child")
_FLOAT_FIELDS = ("split_gain", "threshold", "leaf_value", "internal_value")


def check_lightgbm_text(text: str, name: str, n_features: int) -> None:
    """Refuse a LightGBM text model that LightGBM itself would crash on.

    LightGBM parses a model with ``tree_sizes`` by jumping to each tree's offset
    and aborts the whole process (``[Fatal]``, SIGABRT) or reads past the text on a
    truncated or edited file. A re-hashed file passes the hash, so the structure is
    checked here first: the header, each tree block at the offset ``tree_sizes``
    gives, ``end of trees``, and every node field finite and in range.

    Raises
    ------
    ModelFileError
        Naming the model file and what is wrong.
    """

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"The outcome model {name!r} is damaged: {what}.")

    if not text.startswith("tree\n") or "\nend of trees\n" not in text:
        msg = "no LightGBM header or no 'end of trees'"
        raise bad(msg)
    head = text[: text.find("\nTree=") if "\nTree=" in text else len(text)]
    fields = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    try:
        sizes = [int(v) for v in fields.get("tree_sizes", "").split()]
        max_feature = int(fields["max_feature_idx"])
    except (KeyError, ValueError):
        msg = "the header's tree_sizes or max_feature_idx is unreadable"
        raise bad(msg) from None
    if max_feature != n_features - 1 or not sizes or min(sizes) <= 0:
        msg = "the header does not match the guide's features"
        raise bad(msg)
    pos = text.find("Tree=0\n")
    if pos < 0 or sum(sizes) + pos > len(text):
        msg = "its trees are truncated"
        raise bad(msg)
    for i, size in enumerate(sizes):
        block = text[pos : pos + size]
        pos += size
        if not block.startswith(f"Tree={i}\n"):
            msg = f"tree {i} is not where tree_sizes puts it"
            raise bad(msg)
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        try:
            leaves = int(values["num_leaves"])
            ints = {k: [int(v) for v in values.get(k, "").split()] for k in _INT_FIELDS}
            floats = {
                k: [float(v) for v in values.get(k, "").split()] for k in _FLOAT_FIELDS
            }
        except (KeyError, ValueError):
            msg = f"tree {i} has an unreadable field"
            raise bad(msg) from None
        if leaves < 1 or len(floats["leaf_value"]) != leaves:
            msg = f"tree {i} has {leaves} leaves but other leaf values"
            raise bad(msg)
        if not all(np.isfinite(v).all() for v in floats.values() if v):
            msg = f"tree {i} holds a non-finite number"
            raise bad(msg)
        if leaves > 1:
            nodes = leaves - 1
            if any(len(ints[k]) != nodes for k in _INT_FIELDS):
                msg = f"tree {i}'s node fields disagree with num_leaves"
                raise bad(msg)
            if not all(0 <= f <= max_feature for f in ints["split_feature"]):
                msg = f"tree {i} splits on a feature the model does not have"
                raise bad(msg)
            children = ints["left_child"] + ints["right_child"]
            if not all(-leaves <= c < nodes for c in children):
                msg = f"tree {i} points at a node it does not have"
                raise bad(msg)
    if not text[pos:].startswith("end of trees"):
        msg = "'end of trees' is not where tree_sizes ends"
        raise bad(msg)
