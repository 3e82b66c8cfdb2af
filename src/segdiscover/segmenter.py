"""Segmenter: raw tables or a customer table in, explained segments out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from segdiscover._checks import align_id_dtype, check_ids, to_polars
from segdiscover._params import (
    NONE,
    Check,
    InstanceOf,
    Interval,
    Options,
    validate_params,
)
from segdiscover._resources import resolve_n_jobs
from segdiscover._table import prepare_table
from segdiscover._version import __version__
from segdiscover.assign import assign as _assign
from segdiscover.assign import fit_assign_state, nearest_centroid
from segdiscover.clusterers import CLUSTERERS, ClusterAdapter, SklearnAdapter
from segdiscover.clusterers.sklearn_any import check_estimator_contract
from segdiscover.exceptions import (
    InputError,
    InvalidParameterError,
    NotFittedError,
    SegdiscoverWarning,
)
from segdiscover.explain._segments import explain_segments, segments_frame, sig
from segdiscover.features import FeatureMeta, FeatureSet
from segdiscover.features._spec import normalise_as_of
from segdiscover.guide import (
    HOLDOUT_SHARE,
    OutcomeGuide,
    customer_hash,
    hashed_holdout,
)
from segdiscover.outcomes import (
    OutcomeComparison,
    _valid_min_difference,
    check_outcome_leakage,
    compare_segments,
    materiality_thresholds,
)
from segdiscover.persist import save as _save
from segdiscover.preprocess import Preprocessor, categorical_codes
from segdiscover.profiles import SegmentProfile
from segdiscover.report import write_report
from segdiscover.selection import sweep
from segdiscover.stability import merge_tree, stability

#: Customers the stability refits are drawn from (a random sample above this).
STABILITY_ROWS = 5_000
#: Build customers whose outcomes train a guided fit (the rest are assigned).
GUIDE_MAX_ROWS = 50_000


@dataclass
class _Candidate:
    """One way to segment: its space, fitted clusterer and labels, and how judged."""

    space: str  # "features" (unsupervised) or "outcomes" (guided)
    adapter: ClusterAdapter
    name: str
    reason: str
    labels: np.ndarray
    conf: np.ndarray
    raw_noise: np.ndarray
    fit_rows: int
    X: np.ndarray  # the matrix the clusterer works in
    fit_mask: np.ndarray  # rows the clusterer (and its stability refits) may fit on
    validation: np.ndarray  # rows whose outcomes validate it
    candidates: pl.DataFrame | None
    stable: bool | None
    guide: OutcomeGuide | None = None


def _beats(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return True when candidate score ``a`` wins over ``b`` (``Segmenter(guide=)``).

    A stable candidate beats an unstable one; then more operationally distinct
    segments (material on an outcome vs the rest, on the held-out customers) win.
    Ties keep ``b``, the unsupervised candidate: its segments share behaviour,
    read from behaviour and are measured on every customer, and a guided
    candidate's larger outcome spread is what it was built for, so spread alone
    does not choose it.

    Examples
    --------
    >>> u = {"stable": True, "distinct_segments": 2}
    >>> _beats({"stable": True, "distinct_segments": 3}, u)
    True
    >>> _beats({"stable": False, "distinct_segments": 4}, u)
    False
    >>> _beats(dict(u), u)
    False
    """
    sa, sb = a["stable"] is not False, b["stable"] is not False
    if sa != sb:
        return sa
    return bool(a["distinct_segments"] > b["distinct_segments"])


POSITIVE = ("yes", "y", "true", "t", "1", "churned", "churn", "lost", "left")


def binary_outcomes(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Numbers and booleans as they are; two-level text outcomes as 0/1 rates.

    The level that counts as 1 is a "yes"-like word, else the rarer level; the column
    is renamed ``<column>=<level>`` so the report says what the rate is of. Other text
    outcomes are refused: their mean means nothing.
    """
    out = [pl.col(id_col)]
    for c in frame.columns:
        if c == id_col:
            continue
        dtype = frame.schema[c]
        if dtype.is_numeric() or dtype == pl.Boolean:
            out.append(pl.col(c).cast(pl.Float64))
            continue
        if dtype.is_temporal():  # a measurement date: the leakage guard reads it
            out.append(pl.col(c))
            continue
        s = frame.get_column(c).cast(pl.String).str.strip_chars()
        levels = s.drop_nulls().value_counts(sort=True)
        if levels.height != 2:
            msg = (
                f"Outcome column {c!r} is text with {levels.height} distinct values; "
                "an outcome must be numeric, boolean or have exactly two levels "
                "(e.g. Yes/No)."
            )
            raise InputError(msg)
        names = levels.get_column(c).to_list()
        yes = [v for v in names if v.lower() in POSITIVE]
        positive = yes[0] if len(yes) == 1 else names[-1]  # else the rarer level
        out.append(
            pl.when(s.is_null())
            .then(None)
            .otherwise((s == positive).cast(pl.Float64))
            .alias(f"{c}={positive}")
        )
    return frame.select(out)


class Segmenter:
    """Discover customer segments and explain them.

    Parameters
    ----------
    features : FeatureSet or None, default None
        Builders for raw tables; None means ``FeatureSet.default()``. Ignored when
        ``fit`` gets a customer-level table.
    clusterer : str or estimator, default "auto"
        A name from ``segdiscover.clusterers.CLUSTERERS``, ``"auto"`` (sweep and pick,
        see :mod:`segdiscover.selection`), or any scikit-learn-style estimator.
    n_segments : int or None, default None
        Number of segments; None lets ``auto`` choose within ``k_range``.
    k_range : tuple of int, default (2, 10)
        Numbers of segments ``auto`` tries when ``n_segments`` is None.
    id : str, default "customer_id"
        Customer id column.
    noise : {"assign", "keep"}, default "assign"
        What to do with customers a density clusterer calls noise: assign them to the
        nearest segment (flagged ``is_noise``), or keep them as segment -1.
    fidelity_threshold : float, default 0.9
        Surrogate held-out accuracy below which explanations are flagged.
    shap_max_rows : int, default 2000
        Cap on customers explained with SHAP (stratified by segment).
    surrogate_max_rows : int, default 50000
        Cap on customers the surrogate trains and is tested on.
    stability_refits : int, default 10
        Refits on random 80% subsamples (of at most 5,000 customers) that measure
        each segment's Jaccard recovery (see :mod:`segdiscover.stability`); 0 skips.
    stability_threshold : float, default 0.6
        Mean Jaccard recovery under which a segment is flagged unstable.
    max_fit_rows : int or None, default None
        Fit the clusterer on at most this many customers and assign the rest;
        None uses the clusterer's own limit (Ward 10k, HDBSCAN 20k, ...).
    n_jobs : int or None, default None
        Threads for clustering and the surrogate; None uses the available cores not
        busy with other work (1-minute load average), so a shared machine is not
        oversubscribed.
    min_difference : dict or None, default None
        Outcome column -> the smallest difference that matters: a number in the
        outcome's units (``0.03`` for a rate is 3 percentage points), ``"3pp"``, or
        ``"10%"`` of the overall mean. Unlisted outcomes get 3 pp (rates) or 10% of
        the mean (counts, amounts). See :mod:`segdiscover.outcomes`.
    n_bootstrap : int, default 500
        Bootstrap replicates behind the outcome differences' confidence intervals.
    guide : {"auto", "none", "outcomes"}, default "auto"
        How outcomes shape the segments (see :mod:`segdiscover.guide`).
        ``"none"``: segments come from the features alone. ``"outcomes"``: customers
        are clustered on their cross-fitted SHAP contributions to the outcomes, so
        segments differ in *why* their outcomes differ; built on 70% of customers,
        validated on the 30% held out. ``"auto"``: with outcomes, both are built and
        compared on the held-out customers (a stable candidate first, then more
        operationally distinct segments; ties keep the unsupervised one); without
        outcomes, ``"none"``.
    guide_weights : dict or None, default None
        Outcome -> weight of that outcome in the guided space (default 1 each; one
        unit of distance is one smallest difference that matters).
    random_state : int, RandomState or None, default None

    Attributes
    ----------
    labels_ : polars.DataFrame
        ``<id>``, ``segment_id``, ``segment_name``, ``confidence``, ``is_noise``.
    segments_ : polars.DataFrame
        One row per segment: ``segment_id``, ``name``, ``size``, ``share``,
        ``drivers`` (list of structs), ``top_drivers``, ``narrative``, ``fidelity_f1``.
    features_ : polars.DataFrame
        The customer-level features used (id first).
    fidelity_ : float
        Surrogate accuracy on held-out customers.
    candidates_ : polars.DataFrame or None
        The ``auto`` sweep's candidate table.
    outcomes_ : polars.DataFrame or None
        One row per segment and outcome: ``segment_id``, ``outcome``, ``value``,
        ``rest_value``, ``difference``, ``ci_low``, ``ci_high``, ``p_adjusted``,
        ``material``, ``verdict`` and more (see
        :class:`segdiscover.outcomes.OutcomeComparison`); None without outcomes.
    outcome_comparison_ : OutcomeComparison or None
        Every outcome comparison: vs the rest, between pairs, omnibus tests, merge
        candidates, operational answers.
    guide_ : OutcomeGuide or None
        The cross-fitted outcome models of a guided fit (None otherwise).
    validation_ids_ : polars.Series
        Ids of the customers the outcome verdicts come from: the held-out customers
        of a guided fit (their outcomes built nothing), else every customer.
    stable_ : bool or None
        False when ``auto`` found no stable segmentation (the segments are then the
        least unstable candidate, flagged in warnings, ``run_`` and the report);
        None when nothing was swept.
    run_ : dict
        Run metadata (version, parameters, choice and why, fidelity, timings).

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> seg.segments_.height, seg.labels_.columns[:3]
    (3, ['customer_id', 'segment_id', 'segment_name'])
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "features": [InstanceOf((FeatureSet,), "a FeatureSet"), NONE],
        "clusterer": [
            Options(("auto", *CLUSTERERS)),
            Check(
                lambda c: c is not None and not isinstance(c, str | int | float),
                "a scikit-learn-style estimator",
            ),
        ],
        "n_segments": [Interval(int, 2, 50), NONE],
        "k_range": [
            Check(
                lambda r: (
                    len(r) == 2
                    and 2 <= int(r[0]) <= int(r[1]) <= 50
                    and all(isinstance(v, int) for v in r)
                ),
                "a pair of ints (low, high) with 2 <= low <= high <= 50",
            )
        ],
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
        "guide_weights": [
            Check(
                lambda d: (
                    isinstance(d, Mapping)
                    and all(
                        isinstance(k, str)
                        and isinstance(v, int | float)
                        and not isinstance(v, bool)
                        and 0 < v < float("inf")
                        for k, v in d.items()
                    )
                ),
                "a dict of outcome column -> positive weight",
            ),
            NONE,
        ],
        "random_state": [
            Interval(int, 0, None),
            NONE,
            InstanceOf((np.random.RandomState,), "a RandomState"),
        ],
    }

    def __init__(
        self,
        features: FeatureSet | None = None,
        clusterer: Any = "auto",
        n_segments: int | None = None,
        *,
        k_range: tuple[int, int] = (2, 10),
        id: str = "customer_id",
        noise: str = "assign",
        fidelity_threshold: float = 0.9,
        shap_max_rows: int = 2000,
        surrogate_max_rows: int = 50_000,
        max_fit_rows: int | None = None,
        n_jobs: int | None = None,
        stability_refits: int = 10,
        stability_threshold: float = 0.6,
        min_difference: Mapping[str, float | str] | None = None,
        n_bootstrap: int = 500,
        guide: str = "auto",
        guide_weights: Mapping[str, float] | None = None,
        random_state: Any = None,
    ) -> None:
        self.features = features
        self.clusterer = clusterer
        self.n_segments = n_segments
        self.k_range = k_range
        self.id = id
        self.noise = noise
        self.fidelity_threshold = fidelity_threshold
        self.shap_max_rows = shap_max_rows
        self.surrogate_max_rows = surrogate_max_rows
        self.max_fit_rows = max_fit_rows
        self.n_jobs = n_jobs
        self.stability_refits = stability_refits
        self.stability_threshold = stability_threshold
        self.min_difference = min_difference
        self.n_bootstrap = n_bootstrap
        self.guide = guide
        self.guide_weights = guide_weights
        self.random_state = random_state

    def get_params(self, deep: bool = False) -> dict[str, Any]:  # noqa: FBT001
        """Return the constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in self._parameter_constraints}

    def set_params(self, **params: Any) -> Segmenter:
        """Set constructor parameters; returns self."""
        for k, v in params.items():
            if k not in self._parameter_constraints:
                msg = (
                    f"Segmenter has no parameter {k!r}; its parameters are "
                    f"{sorted(self._parameter_constraints)}."
                )
                raise InvalidParameterError(msg)
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        *,
        as_of: Any = None,
        outcomes: Any = None,
        exclude: Sequence[str] = (),
    ) -> Segmenter:
        """Discover and explain segments.

        Parameters
        ----------
        X : dict of DataFrames or DataFrame
            Raw tables by name (built into features as of ``as_of``), or a
            customer-level table (one row per customer; its columns are the features).
        as_of : date, datetime or str, optional
            Feature cutoff; required with raw tables.
        outcomes : DataFrame or list of str, optional
            Outcomes per customer: a frame keyed by the id column, or names of columns
            of the customer-level table (then they are not used as features).
        exclude : list of str, optional
            Columns of a customer-level table not to use as features.

        Returns
        -------
        self
        """
        validate_params("Segmenter", self.get_params(), self._parameter_constraints)
        # Transactional: a fit that raises leaves the object as it was (a previous
        # fit stays whole; save() never sees a mix of two fits).
        before = dict(self.__dict__)
        try:
            self.n_threads_ = resolve_n_jobs(self.n_jobs)
            # One cap for every thread pool (scikit-learn's OpenMP, BLAS, LightGBM).
            with threadpool_limits(limits=self.n_threads_):
                return self._fit(X, as_of=as_of, outcomes=outcomes, exclude=exclude)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit(
        self, X: Any, *, as_of: Any, outcomes: Any, exclude: Sequence[str]
    ) -> Segmenter:
        if not isinstance(self.clusterer, str):
            check_estimator_contract(self.clusterer)
        rng = check_random_state(self.random_state)
        started = dt.datetime.now(dt.UTC)
        frame, meta, outcome_frame = self._door(X, as_of, outcomes, exclude)
        # Outcomes aligned with the rows, for the sweep's outcome separation.
        sweep_outcomes = (
            None
            if outcome_frame is None
            else frame.select(self.id)
            .join(outcome_frame, on=self.id, how="left", maintain_order="left")
            .drop(self.id)
            .to_numpy()
            .astype(float)
        )
        n = frame.height
        min_rows = max(10, 2 * (self.n_segments or self.k_range[0]))
        if n < min_rows:
            msg = (
                f"There are {n} customers; at least {min_rows} are needed to find "
                f"{self.n_segments or self.k_range[0]} or more segments."
            )
            raise InputError(msg)
        feat = frame.drop(self.id)
        kinds = {m.name: m.kind for m in meta}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SegdiscoverWarning)
            self.preprocessor_ = Preprocessor().fit(feat, kinds)
        for w in caught:
            warnings.warn(w.message, SegdiscoverWarning, stacklevel=2)
        Xp = self.preprocessor_.transform(feat)
        used = set(self.preprocessor_.input_columns)
        self.feature_meta_ = [m for m in meta if m.name in used]
        self.features_ = frame.select(self.id, *[m.name for m in self.feature_meta_])

        chosen, comparison = self._segment(
            feat, Xp, rng, outcome_frame, sweep_outcomes, frame.get_column(self.id)
        )
        adapter, name, labels = chosen.adapter, chosen.name, chosen.labels
        conf, raw_noise, fit_rows = chosen.conf, chosen.raw_noise, chosen.fit_rows
        selection_reason = chosen.reason
        self.clusterer_ = adapter
        self.clusterer_name_ = name
        self.fit_rows_ = fit_rows
        self.guide_ = chosen.guide
        self.stable_ = chosen.stable
        validated = chosen.validation
        self.validation_ids_ = frame.get_column(self.id).filter(pl.Series(validated))
        self._explain(labels, conf, raw_noise, rng)
        self._assess_stability(
            adapter, name, chosen.X, labels, raw_noise, rng, rows=chosen.fit_mask
        )
        self._outcome_frame = outcome_frame  # kept so merge_segments can re-validate
        self.outcomes_ = self._compare_outcomes(outcome_frame, rng)
        if self.stable_ is False:
            msg = (
                "No stable segmentation: no candidate of the sweep has every segment "
                "stable under resampling; the segments shown are the least unstable "
                f"candidate ({selection_reason}). Treat them as a hypothesis, not as "
                "segments to act on."
            )
            self.warnings_.insert(0, msg)
            warnings.warn(msg, SegdiscoverWarning, stacklevel=3)
        self.run_ = {
            "segdiscover_version": __version__,
            "started_at": started.isoformat(timespec="seconds"),
            "as_of": None if as_of is None else str(as_of),
            "n_customers": n,
            "n_features": len(self.feature_meta_),
            "clusterer": name,
            "n_segments": self.n_segments_,
            "selection": selection_reason,
            "stable_segmentation": self.stable_,
            # Near-duplicate columns clustered once (they still explain segments).
            "folded": self.preprocessor_.folded_,
            "fold_report": self.preprocessor_.fold_report(),
            "guide": {
                "mode": chosen.space,
                "requested": self.guide,
                "validated_on": (
                    "held-out customers"
                    if chosen.space == "outcomes"
                    else "all customers"
                ),
                "validation_customers": int(validated.sum()),
                "comparison": comparison,
                "outcome_r2": None
                if chosen.guide is None
                else dict(
                    zip(
                        chosen.guide.outcomes_,
                        [sig(r) for r in chosen.guide.r2_],
                        strict=True,
                    )
                ),
            },
            "fit_rows": fit_rows,
            "threads": self.n_threads_,
            "sampled_fit": fit_rows < n,
            "noise_share": float(raw_noise.mean()),
            "fidelity": self.fidelity_,
            "macro_f1": self.macro_f1_,
            "fidelity_threshold": self.fidelity_threshold,
            "shap_rows": self.shap_rows_,
            "stability": self.stability_summary_,
            "outcomes": self._outcome_run_summary(),
            "warnings": self.warnings_,
            "params": {
                k: (
                    v
                    if isinstance(v, int | float | str | tuple | type(None))
                    else type(v).__name__
                )
                for k, v in self.get_params().items()
            },
        }
        # Schema, novelty threshold and noise rows that assign() checks against.
        self.assign_state_ = fit_assign_state(self)
        return self

    def _door(
        self, X: Any, as_of: Any, outcomes: Any, exclude: Sequence[str]
    ) -> tuple[pl.DataFrame, list[FeatureMeta], pl.DataFrame | None]:
        outcome_cols: list[str] = []
        outcome_frame = None
        if isinstance(outcomes, str):
            outcomes = [outcomes]
        if isinstance(outcomes, Sequence) and not isinstance(outcomes, str):
            outcome_cols = list(outcomes)
        elif outcomes is not None:
            outcome_frame = to_polars(outcomes, "outcomes table")
            check_ids(outcome_frame, self.id, "outcomes table", unique=True)
        if isinstance(X, Mapping):
            if as_of is None:
                msg = (
                    "Raw tables need as_of=..., the cutoff date for features "
                    "(e.g. as_of='2025-07-01')."
                )
                raise InputError(msg)
            if outcome_cols:
                msg = "With raw tables pass outcomes as a DataFrame keyed by the id."
                raise InputError(msg)
            fs = self.features or FeatureSet.default(id=self.id)
            built = fs.build(X, as_of)
            self.feature_levels_ = built.levels
            self.input_kind_ = "tables"
            frame = (
                built.frame.rename({fs.id: self.id})
                if fs.id != self.id
                else built.frame
            )
            meta = built.meta
        else:
            frame, table_outcomes, meta = prepare_table(
                X, self.id, outcomes=outcome_cols, exclude=exclude
            )
            self.feature_levels_ = {}
            self.input_kind_ = "table"
            if table_outcomes is not None:
                outcome_frame = table_outcomes
        if outcome_frame is not None:
            # Source names first: binary_outcomes renames a Yes/No text outcome
            # `churn` to `churn=Yes`, which no feature is called.
            feats = {m.name for m in meta}
            leak = [c for c in outcome_frame.columns if c in feats and c != self.id]
            if leak:
                msg = (
                    f"Outcome column(s) {leak} are also features; an outcome cannot "
                    "explain itself. Drop them from the features or rename them."
                )
                raise InputError(msg)
            # Text ids "42" join integer ids 42; "00042" is refused, never guessed.
            outcome_frame = align_id_dtype(
                outcome_frame, self.id, frame.schema[self.id], "outcomes table"
            )
            # Fail fast: a bad outcome column is refused before any fitting.
            outcome_frame = binary_outcomes(outcome_frame, self.id)
            # Leakage guard: measurement dates after as_of, no copy of a feature,
            # no feature recorded after the outcome.
            outcome_frame = check_outcome_leakage(
                outcome_frame,
                frame,
                self.id,
                as_of=normalise_as_of(as_of) if self.input_kind_ == "tables" else None,
            )
        return frame, meta, outcome_frame

    # ------------------------------------------------------------ segment
    def _segment(
        self,
        feat: pl.DataFrame,
        Xp: np.ndarray,
        rng: np.random.RandomState,
        outcome_frame: pl.DataFrame | None,
        Y: np.ndarray | None,
        ids: pl.Series,
    ) -> tuple[_Candidate, list[dict[str, Any]] | None]:
        """Build the unsupervised and/or guided candidate; pick one (see ``guide``)."""
        if self.guide == "outcomes" and outcome_frame is None:
            msg = (
                "guide='outcomes' builds segments from the outcomes; pass "
                "outcomes=... (a frame keyed by the id, or outcome column names)."
            )
            raise InputError(msg)
        n = Xp.shape[0]
        everyone = np.ones(n, dtype=bool)
        cands: list[_Candidate] = []
        if self.guide != "outcomes" or outcome_frame is None:
            adapter, name, why = self._choose(Xp, rng, Y)
            clustered = self._cluster(adapter, Xp, name, rng)
            cands.append(
                self._candidate(
                    "features", adapter, name, why, clustered, Xp, everyone, everyone
                )
            )
        if self.guide == "none" or outcome_frame is None or Y is None:
            return cands[0], None
        cols = [c for c in outcome_frame.columns if c != self.id]
        weights = self._guide_weights(cols)  # a typo fails here, not silently below
        # Own stream: the unsupervised candidate is the same with or without it.
        grng = check_random_state(
            self.random_state + 7919
            if isinstance(self.random_state, int)
            else self.random_state
        )
        # Hold-out and folds follow the customer ids (a fixed hash), so the guided
        # space, and with it the choice, does not move with random_state.
        hashes = customer_hash(ids)
        holdout = hashed_holdout(hashes, HOLDOUT_SHARE)
        if self.guide == "outcomes":
            return self._guided(feat, Y, cols, holdout, grng, hashes, weights), None
        kept = self.candidates_
        try:
            cands.append(self._guided(feat, Y, cols, holdout, grng, hashes, weights))
        except InputError as exc:  # e.g. one segment in the outcome space
            self.candidates_ = kept
            failed = {"space": "outcomes", "error": str(exc), "chosen": False}
            return cands[0], [
                {**self._holdout_score(cands[0], Y, cols, holdout), "chosen": True},
                failed,
            ]
        scored = [self._holdout_score(c, Y, cols, holdout) for c in cands]
        best = 0
        for i in range(1, len(cands)):
            if _beats(scored[i], scored[best]):
                best = i
        for i, row in enumerate(scored):
            row["chosen"] = i == best
        # Candidate tables of both spaces side by side.
        frames = [
            c.candidates.with_columns(pl.lit(c.space).alias("space"))
            for c in cands
            if c.candidates is not None
        ]
        self.candidates_ = pl.concat(frames, how="diagonal") if frames else None
        return cands[best], scored

    def _guide_weights(self, cols: list[str]) -> dict[str, float]:
        """Map ``guide_weights`` onto outcomes (``Churn`` names ``Churn=Yes``)."""
        given = dict(self.guide_weights or {})
        base = {c.split("=")[0]: c for c in cols}
        unknown = sorted(k for k in given if k not in cols and k not in base)
        if unknown:
            msg = (
                f"guide_weights names {unknown}, which are not outcomes; the outcomes "
                f"are {cols}."
            )
            raise InputError(msg)
        return {(k if k in cols else base[k]): float(v) for k, v in given.items()}

    def _candidate(
        self,
        space: str,
        adapter: ClusterAdapter,
        name: str,
        reason: str,
        clustered: tuple[np.ndarray, np.ndarray, np.ndarray, int],
        X: np.ndarray,
        fit_mask: np.ndarray,
        validation: np.ndarray,
        guide: OutcomeGuide | None = None,
    ) -> _Candidate:
        """Package a fitted candidate with the sweep it came from (``candidates_``)."""
        labels, conf, noise, rows = clustered
        return _Candidate(
            space=space,
            adapter=adapter,
            name=name,
            reason=reason,
            labels=labels,
            conf=conf,
            raw_noise=noise,
            fit_rows=rows,
            X=X,
            fit_mask=fit_mask,
            validation=validation,
            candidates=self.candidates_,
            stable=self._stable_pick(),
            guide=guide,
        )

    def _stable_pick(self) -> bool | None:
        """Whether the swept pick has every segment stable (None: nothing swept)."""
        if self.candidates_ is None:
            return None
        row = self.candidates_.filter(pl.col("chosen"))
        if row.height == 0:
            return None
        return bool(row["stable"][0])  # null: not measured, not called stable

    def _guided(
        self,
        feat: pl.DataFrame,
        Y: np.ndarray,
        cols: list[str],
        holdout: np.ndarray,
        grng: np.random.RandomState,
        hashes: np.ndarray,
        weights: dict[str, float],
    ) -> _Candidate:
        """Cluster on cross-fitted outcome contributions, built without ``holdout``."""
        pre = self.preprocessor_
        Xc = categorical_codes(feat, pre.columns_)
        cat = [j for j, c in enumerate(pre.columns_) if c["kind"] == "categorical"]
        build = ~holdout
        if build.sum() > GUIDE_MAX_ROWS:  # the rest is assigned, like a sampled fit
            rows = np.flatnonzero(build)
            keep = rows[np.argsort(hashes[rows], kind="stable")[:GUIDE_MAX_ROWS]]
            build = np.zeros_like(build)
            build[keep] = True
        thr = materiality_thresholds(Y, cols, self.min_difference)
        guide = OutcomeGuide(
            weights=weights,
            n_jobs=self.n_threads_,
            random_state=int(grng.randint(2**31 - 1)),
        ).fit(Xc, cat, Y, cols, thr, pre.input_columns, build=build, hashes=hashes)
        G = guide.space_
        # No density-valley test in the outcome space: contributions form risk
        # gradients, and cutting one into reproducible tiers is the point (Telco:
        # k = 3 and 4 stable at 0.97 / 0.92 but "unseparated", so k = 2 won).
        # Stability and the hold-out's material differences judge these segments.
        adapter, name, why = self._choose(G[build], grng, Y[build], max_valley=1.01)
        _, _, _, rows = self._cluster(adapter, G, name, grng, fit_mask=build)
        # Every customer is placed from the fold-mean contributions, as assign()
        # places it later, so a refit customer keeps its segment. The clusterer was
        # fitted on out-of-fold contributions, and verdicts come from the hold-out,
        # whose outcomes trained no fold model.
        E = guide.transform(Xc)
        labels, conf = adapter.assign(E)
        labels, conf = labels.astype(np.int64), conf.astype(np.float64)
        noise = self._settle_noise(labels, conf, E, adapter)
        return self._candidate(
            "outcomes", adapter, name, why, (labels, conf, noise, rows), G, build,
            holdout, guide,
        )  # fmt: skip

    def _holdout_score(
        self, cand: _Candidate, Y: np.ndarray, cols: list[str], holdout: np.ndarray
    ) -> dict[str, Any]:
        """Materially distinct segments and outcome spread on the held-out customers."""
        lab = np.where(cand.raw_noise, -1, cand.labels)[holdout]
        row: dict[str, Any] = {
            "space": cand.space,
            "clusterer": cand.name,
            "n_segments": int(cand.adapter.n_segments_),
            "stable": cand.stable,
            "distinct_segments": 0,
            "spread": 0.0,
        }
        if len(np.unique(lab[lab >= 0])) < 2:
            return row
        try:
            res = compare_segments(
                lab,
                pl.DataFrame(Y[holdout], schema=cols, orient="row"),
                min_difference=self.min_difference,
                n_bootstrap=200,
                random_state=0,
            )
        except InputError as exc:  # e.g. an outcome unknown for every held-out one
            row["error"] = str(exc)
            return row
        vr = res.vs_rest
        row["distinct_segments"] = res.n_distinct
        # Spread in smallest differences that matter, the widest over the outcomes.
        width = pl.col("value").max() - pl.col("value").min()
        spread = vr.group_by("outcome").agg(
            (width / pl.col("threshold").first()).alias("s")
        )
        row["spread"] = sig(float(spread["s"].max()))
        return row

    def _choose(
        self,
        Xp: np.ndarray,
        rng: np.random.RandomState,
        outcomes: np.ndarray | None = None,
        max_valley: float = 0.5,
    ) -> tuple[ClusterAdapter, str, str]:
        seed = int(rng.randint(2**31 - 1))
        self.candidates_ = None
        if not isinstance(self.clusterer, str):
            adapter = SklearnAdapter(
                self.clusterer, n_clusters=self.n_segments, random_state=seed
            )
            return adapter, type(self.clusterer).__name__, "estimator given by the user"
        if self.clusterer != "auto":
            spec = CLUSTERERS[self.clusterer]
            k = self.n_segments or (6 if spec.needs_k else None)
            why = (
                "given by the user"
                if self.n_segments or not spec.needs_k
                else "clusterer given, k defaulted to 6"
            )
            if spec.needs_k and self.n_segments is None:
                sel = sweep(
                    Xp,
                    [spec],
                    range(self.k_range[0], self.k_range[1] + 1),
                    random_state=seed,
                    outcomes=outcomes,
                    max_valley=max_valley,
                )
                self.candidates_ = sel.candidates
                k, why = sel.n_segments, "k chosen by " + sel.reason
            return spec.factory(n_clusters=k, random_state=seed), spec.name, why
        specs = [s for s in CLUSTERERS.values() if s.in_auto]
        ks = (
            [self.n_segments]
            if self.n_segments
            else list(range(self.k_range[0], self.k_range[1] + 1))
        )
        sel = sweep(
            Xp, specs, ks, random_state=seed, outcomes=outcomes, max_valley=max_valley
        )
        self.candidates_ = sel.candidates
        spec = CLUSTERERS[sel.clusterer]
        return (
            spec.factory(n_clusters=sel.n_segments, random_state=seed),
            spec.name,
            sel.reason,
        )

    def _cluster(
        self,
        adapter: ClusterAdapter,
        Xp: np.ndarray,
        name: str,
        rng: np.random.RandomState,
        fit_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        n = Xp.shape[0]
        spec = CLUSTERERS.get(name)
        limit = self.max_fit_rows or (spec.max_fit_rows if spec else None)
        pool = np.arange(n) if fit_mask is None else np.flatnonzero(fit_mask)
        if (limit is not None and len(pool) > limit) or len(pool) < n:
            idx = (
                np.sort(rng.choice(pool, limit, replace=False))
                if limit is not None and len(pool) > limit
                else pool
            )
            adapter.fit(Xp[idx])
            labels, conf = adapter.assign(Xp)
            labels[idx] = adapter.labels_  # fitted customers keep their fitted label
            fit_rows = len(idx)
        else:
            adapter.fit(Xp)
            labels = adapter.labels_.copy()
            _, conf = (
                adapter.assign(Xp) if adapter.native_assign else (None, np.ones(n))
            )
            fit_rows = n
        if adapter.n_segments_ < 1:
            msg = (
                f"The clusterer {name} found no segment: it called all {n} customers "
                "noise. Try a smaller min_cluster_size or another clusterer."
            )
            raise InputError(msg)
        if adapter.n_segments_ < 2:  # tests/hostile: surrogate-one-segment
            msg = (
                f"The clusterer {name} found 1 segment for all {n} customers; there "
                "is nothing to tell apart or explain. Ask for n_segments >= 2 or try "
                "another clusterer."
            )
            raise InputError(msg)
        raw_noise = self._settle_noise(labels, conf, Xp, adapter)
        return labels, conf, raw_noise, fit_rows

    def _settle_noise(
        self,
        labels: np.ndarray,
        conf: np.ndarray,
        X: np.ndarray,
        adapter: ClusterAdapter,
    ) -> np.ndarray:
        """Zero noise customers' confidence; place them when ``noise="assign"``.

        Edits ``labels`` and ``conf`` in place; returns the noise mask.
        """
        raw_noise = labels < 0
        # Noise was not found in a segment: no confidence is claimed, kept or placed.
        conf[raw_noise] = 0.0
        if raw_noise.any() and self.noise == "assign":
            labels[raw_noise] = nearest_centroid(X[raw_noise], adapter.centroids_)
        return raw_noise

    # ------------------------------------------------------------ explain
    def _explain(
        self,
        labels: np.ndarray,
        conf: np.ndarray,
        raw_noise: np.ndarray,
        rng: np.random.RandomState,
    ) -> None:
        ex = explain_segments(
            self.features_.drop(self.id),
            self.feature_meta_,
            self.preprocessor_,
            labels,
            shap_max_rows=self.shap_max_rows,
            surrogate_max_rows=self.surrogate_max_rows,
            n_threads=self.n_threads_,
            fidelity_threshold=self.fidelity_threshold,
            rng=rng,
        )
        for msg in ex.warnings:
            warnings.warn(msg, SegdiscoverWarning, stacklevel=4)
        self.explanation_ = ex
        self.warnings_ = list(ex.warnings)
        self.n_segments_ = len(ex.profiles)
        self.fidelity_, self.macro_f1_ = ex.fidelity, ex.macro_f1
        self.shap_rows_, self.surrogate_ = ex.shap_rows, ex.surrogate
        self.drivers_, self.rules_, self.profiles_ = ex.drivers, ex.rules, ex.profiles
        self._noise_assigned = {
            s: int((raw_noise & (labels == s)).sum()) for s in ex.profiles
        }
        self.segments_ = segments_frame(self.profiles_, self._noise_assigned)
        self.labels_ = self.features_.select(self.id).with_columns(
            pl.Series("segment_id", labels, dtype=pl.Int64),
            pl.Series("segment_id", labels, dtype=pl.Int64)
            .replace_strict(
                list(self.profiles_),
                [p.name for p in self.profiles_.values()],
                default="no segment",
                return_dtype=pl.String,
            )
            .alias("segment_name"),
            # Rounded like every user-facing float (see explain._segments.sig).
            pl.Series("confidence", np.round(conf, 6), dtype=pl.Float64),
            pl.Series("is_noise", raw_noise, dtype=pl.Boolean),
        )

    def _factory(self, name: str, k: int) -> Any:
        """Return seed -> unfitted adapter like the chosen one (for refits)."""
        if name in CLUSTERERS and isinstance(self.clusterer, str):
            spec = CLUSTERERS[name]
            return lambda seed: spec.factory(
                n_clusters=k if spec.needs_k else None, random_state=seed
            )
        est = self.clusterer
        return lambda seed: SklearnAdapter(est, n_clusters=k, random_state=seed)

    def _assess_stability(
        self,
        adapter: ClusterAdapter,
        name: str,
        Xp: np.ndarray,
        labels: np.ndarray,
        raw_noise: np.ndarray,
        rng: np.random.RandomState,
        rows: np.ndarray | None = None,
    ) -> None:
        self._refresh_merge_tree(labels)
        if rows is not None and not rows.all():  # guided: refit on the build rows
            Xp, labels, raw_noise = Xp[rows], labels[rows], raw_noise[rows]
        self.stability_ = None
        self.stability_summary_: dict[str, Any] | None = None
        # Drawn after the segments are found and always drawn, so turning refits on
        # or off changes neither the segments nor anything computed after.
        seed = int(rng.randint(2**31 - 1))
        if self.stability_refits < 1:
            return
        ref = np.where(raw_noise, -1, labels)
        spec = CLUSTERERS.get(name) if isinstance(self.clusterer, str) else None
        limit = min(STABILITY_ROWS, (spec and spec.max_fit_rows) or STABILITY_ROWS)
        st = stability(
            self._factory(name, adapter.n_segments_),
            Xp,
            ref,
            n_refits=self.stability_refits,
            max_rows=limit,
            threshold=self.stability_threshold,
            random_state=seed,
            n_jobs=self.n_threads_,
        )
        if not st.measured:  # too few customers per segment to refit
            return
        self.stability_ = st.frame()
        lo, hi = st.ari_spread
        unstable = st.unstable()
        self.stability_summary_ = {
            "ari_median": sig(st.ari_median),
            "ari_p10": sig(lo),
            "ari_p90": sig(hi),
            "refits": st.n_refits,
            "fraction": st.fraction,
            "rows": st.rows,
            "threshold": self.stability_threshold,
            "unstable_segments": unstable,
        }
        for s, p in self.profiles_.items():
            p.stability = sig(st.per_segment.get(s, 0.0))
            p.stability_threshold = self.stability_threshold
        self.segments_ = segments_frame(self.profiles_, self._noise_assigned)
        if unstable:
            shown = ", ".join(
                f"{s} ({self.profiles_[s].name}: {st.per_segment[s]:.2f})"
                for s in unstable
            )
            msg = (
                f"{len(unstable)} segment(s) are unstable (mean Jaccard recovery under "
                f"{self.stability_threshold} over {st.n_refits} resampled refits): "
                f"{shown}. They may be an artificial split; see merge_tree_ and "
                "merge_segments()."
            )
            self.warnings_.append(msg)
            warnings.warn(msg, SegdiscoverWarning, stacklevel=4)

    def _refresh_merge_tree(self, labels: np.ndarray) -> None:
        """Set ``merge_tree_`` from the current segments' centres and sizes.

        ``centroids_`` is indexed by segment id (renumbered or merged ids leave
        ``inf`` rows), so only the rows of the current segments take part.
        """
        ids = sorted(self.profiles_)
        sizes = np.array([int((labels == s).sum()) for s in ids])
        tree = merge_tree(self.clusterer_.centroids_[ids], sizes)
        lut = dict(enumerate(ids))
        self.merge_tree_ = tree.with_columns(
            pl.col(c).list.eval(pl.element().replace_strict(lut))
            for c in ("left", "right")
        )

    def merge_segments(self, ids: Sequence[int]) -> Segmenter:
        """Merge segments by hand and explain the result again.

        The merged segment takes the smallest of ``ids``; other segments keep their
        ids (and custom names). Drivers, rules, names, profiles and outcomes are
        recomputed; customers keep their confidence (a lower bound for the merged
        segment). The merged segment's stability is not re-measured (null): a refit
        does not produce a hand-made merge.

        Parameters
        ----------
        ids : sequence of int
            Two or more segment ids, e.g. a pair read off ``merge_tree_``.

        Returns
        -------
        self

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=4, random_state=0,
        ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
        >>> first = seg.merge_tree_.row(0, named=True)
        >>> pair = first["left"] + first["right"]
        >>> seg = seg.merge_segments(pair)
        >>> seg.segments_.height, seg.n_segments_
        (3, 3)
        """
        self._check_fitted()
        try:
            wanted = sorted({int(i) for i in ids})
        except (TypeError, ValueError) as exc:
            msg = f"merge_segments takes a list of segment ids; got {ids!r}."
            raise InputError(msg) from exc
        unknown = [i for i in wanted if i not in self.profiles_]
        if len(wanted) < 2 or unknown:
            msg = (
                f"merge_segments needs two or more existing segment ids; got {wanted}"
                f" (unknown: {unknown}); segments are {sorted(self.profiles_)}."
            )
            raise InputError(msg)
        if len(wanted) == len(self.profiles_):
            msg = "Merging every segment leaves one segment: nothing to explain."
            raise InputError(msg)
        into = wanted[0]
        custom = {
            s: p.name
            for s, p in self.profiles_.items()
            if p.name_source != "generated" and s not in wanted
        }
        kept = {s: p.stability for s, p in self.profiles_.items() if s not in wanted}
        labels = self.labels_.get_column("segment_id").to_numpy().copy()
        conf = self.labels_.get_column("confidence").to_numpy().copy()
        raw_noise = self.labels_.get_column("is_noise").to_numpy()
        sizes = {s: int((labels == s).sum()) for s in wanted}
        self.clusterer_.merge(wanted, sizes)
        labels[np.isin(labels, wanted)] = into
        rng = check_random_state(self.random_state)
        with threadpool_limits(limits=self.n_threads_):
            self._explain(labels, conf, raw_noise, rng)
        for s, p in self.profiles_.items():
            p.stability = kept.get(s)
            p.stability_threshold = self.stability_threshold
        self.segments_ = segments_frame(self.profiles_, self._noise_assigned)
        if self.stability_ is not None:
            self.stability_ = self.stability_.filter(
                ~pl.col("segment_id").is_in(wanted[1:])
            ).with_columns(
                pl.when(pl.col("segment_id") == into)
                .then(None)
                .otherwise(pl.col(c))
                .alias(c)
                for c in ("jaccard_mean", "jaccard_min", "dissolved", "stable")
            )
        self._refresh_merge_tree(labels)
        if self.stability_summary_ is not None:  # merged ids are no longer flagged
            self.stability_summary_["unstable_segments"] = [
                s
                for s in self.stability_summary_["unstable_segments"]
                if s not in wanted
            ]
        self.outcomes_ = self._compare_outcomes(self._outcome_frame, rng)
        merges = self.run_.setdefault("merges", [])
        merges.append({"merged": wanted, "into": into})
        self.run_.update(
            stability=self.stability_summary_,
            n_segments=self.n_segments_,
            fidelity=self.fidelity_,
            macro_f1=self.macro_f1_,
            warnings=self.warnings_,
            outcomes=self._outcome_run_summary(),
        )
        self.assign_state_ = fit_assign_state(self)
        if custom:
            self.rename(custom)
        return self

    def rename(self, names: Mapping[int, str]) -> Segmenter:
        """Give segments custom names; they replace the generated ones everywhere.

        Parameters
        ----------
        names : mapping of int to str
            Segment id -> new name. Names must stay unique and non-empty.

        Returns
        -------
        self

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of).rename({0: "Core"})
        >>> seg.segments_["name"][0], seg.segments_["name_source"][0]
        ('Core', 'custom')
        """
        self._check_fitted()
        unknown = [k for k in names if k not in self.profiles_]
        if unknown:
            msg = f"No segment(s) {unknown}; segments are {sorted(self.profiles_)}."
            raise InputError(msg)
        new = {s: p.name for s, p in self.profiles_.items()}
        for k, v in names.items():
            if not isinstance(v, str) or not v.strip():
                msg = f"The new name of segment {k} must be a non-empty string."
                raise InputError(msg)
            new[k] = v.strip()
        if len(set(new.values())) != len(new):
            msg = f"Segment names must be unique; got {sorted(new.values())}."
            raise InputError(msg)
        for k in names:
            p = self.profiles_[k]
            p.narrative = p.narrative.replace(p.name, new[k], 1)
            p.name, p.name_source = new[k], "custom"
        self.segments_ = segments_frame(self.profiles_, self._noise_assigned)
        self.labels_ = self.labels_.with_columns(
            pl.col("segment_id")
            .replace_strict(new, default="no segment", return_dtype=pl.String)
            .alias("segment_name")
        )
        return self

    def _compare_outcomes(
        self, outcomes: pl.DataFrame | None, rng: np.random.RandomState
    ) -> pl.DataFrame | None:
        """Compare segments on the outcomes (see :mod:`segdiscover.outcomes`)."""
        self.outcome_comparison_: OutcomeComparison | None = None
        if outcomes is None:
            return None
        cols = [c for c in outcomes.columns if c != self.id]
        if not cols or self.n_segments_ < 2:
            return None
        # Guided segments are judged on the held-out customers only.
        j = (
            self.labels_.select(self.id, "segment_id")
            .filter(pl.col(self.id).is_in(self.validation_ids_.implode()))
            .join(outcomes, on=self.id, how="left", maintain_order="left")
        )
        if j.get_column("segment_id").filter(j["segment_id"] >= 0).n_unique() < 2:
            return None
        res = compare_segments(
            j.get_column("segment_id").to_numpy(),
            j.select(cols),
            features=self.features_.join(
                j.select(self.id), on=self.id, how="semi", maintain_order="left"
            ).drop(self.id),
            min_difference=self.min_difference,
            n_bootstrap=self.n_bootstrap,
            random_state=int(rng.randint(2**31 - 1)),
            ids=j.get_column(self.id),
            feature_labels={m.name: m.label for m in self.feature_meta_},
        )
        if self.guide_ is not None:
            res = dataclasses.replace(
                res,
                validated_on=f"{j.height:,} held-out customers whose outcomes built "
                "nothing",
            )
        self.outcome_comparison_ = res
        keep = ("kind", "value", "rest_value", "overall", "difference", "ci_low",
                "ci_high", "p_adjusted", "material", "verdict")  # fmt: skip
        for r in res.vs_rest.iter_rows(named=True):
            self.profiles_[r["segment_id"]].outcomes[r["outcome"]] = {
                k: r[k] for k in keep
            }
        for r in res.answers.iter_rows(named=True):
            self.profiles_[r["segment_id"]].answers.append(
                {k: r[k] for k in ("question", "source", "column", "answer")}
            )
        return res.to_polars()

    def _outcome_run_summary(self) -> dict[str, Any] | None:
        res = self.outcome_comparison_
        if res is None:
            return None
        return {
            "outcomes": list(res.thresholds),
            "thresholds": res.thresholds,
            "n_bootstrap": res.n_bootstrap,
            "alpha": res.alpha,
            "n_material": int(res.vs_rest.get_column("material").sum()),
            "n_operationally_distinct": res.n_distinct,
            "merge_candidates": [
                list(p)
                for p in res.merge_candidates.select("segment_a", "segment_b").rows()
            ],
            "validated_on": res.validated_on or "all customers",
            "summary": res.summary(),
        }

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained report (``.html`` with charts, or ``.md``).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import tempfile
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
        ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
        >>> seg.report(tempfile.mkdtemp() + "/segments.md").read_text()[:19]
        '# Customer segments'
        """
        self._check_fitted()
        return write_report(self, path)

    # ------------------------------------------------------------ living
    def assign(
        self,
        X: Any,
        *,
        as_of: Any = None,
        force: bool = False,
        allow_unassigned: bool = False,
    ) -> pl.DataFrame:
        """Assign customers (new or known) to this model's segments.

        Parameters
        ----------
        X : dict of DataFrames or DataFrame
            Raw tables (features built as of ``as_of`` with the fitted builders and
            learned levels) or a customer-level table with the feature columns.
        as_of : date, datetime or str, optional
            Feature cutoff; required with raw tables.
        force : bool, default False
            Give every customer its nearest segment, even novel ones.
        allow_unassigned : bool, default False
            Give novel and noise customers segment -1 ("no segment").

        Returns
        -------
        polars.DataFrame
            ``<id>``, ``segment_id``, ``segment_name``, ``confidence`` in [0, 1],
            ``is_novel`` (far outside the fitted customers), ``is_noise``.

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of)
        >>> out = seg.assign(data.tables, as_of=data.as_of)
        >>> out["segment_id"].equals(seg.labels_["segment_id"])
        True
        """
        self._check_fitted()
        return _assign(
            self, X, as_of=as_of, force=force, allow_unassigned=allow_unassigned
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted model to a folder in a format that cannot run code.

        A JSON manifest (versions, feature schema, preprocessing, segments) and
        ``.npy`` arrays, each with a SHA-256 in the manifest; read it back with
        :func:`segdiscover.load`. See :func:`segdiscover.persist.save`.

        Returns
        -------
        pathlib.Path
            The folder written.

        Examples
        --------
        >>> import tempfile
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of)
        >>> model = sd.load(seg.save(tempfile.mkdtemp() + "/model"))
        >>> model.assign(data.tables, as_of=data.as_of)["segment_id"].equals(
        ...     seg.labels_["segment_id"])
        True
        """
        self._check_fitted()
        return _save(self, path)

    # ------------------------------------------------------------ access
    def _check_fitted(self) -> None:
        if not hasattr(self, "segments_"):
            msg = "This Segmenter is not fitted yet; call fit(...) first."
            raise NotFittedError(msg)

    def profile(self, segment_id: int) -> SegmentProfile:
        """Return one segment's profile card (HTML in notebooks, text when printed)."""
        self._check_fitted()
        if segment_id not in self.profiles_:
            msg = (
                f"There is no segment {segment_id}; segments are "
                f"{sorted(self.profiles_)}."
            )
            raise InputError(msg)
        return self.profiles_[segment_id]

    # ------------------------------------------------------------ run history
    def renumber(
        self,
        mapping: Mapping[int, int],
        *,
        names: Mapping[int, str] | None = None,
        name_sources: Mapping[int, str] | None = None,
    ) -> Segmenter:
        """Give segments new ids (and optionally names) everywhere; returns self.

        Used to keep ids stable across runs (:meth:`segdiscover.runs.RunStore.record`
        aligns a new run to the previous one). Labels, segments, profiles, drivers,
        rules, outcomes, stability, the merge tree and the clusterer take the new
        ids, so :meth:`assign` and saved models give the new ids too. Ids need not
        be contiguous: a segment that died in an earlier run leaves its id unused.

        Parameters
        ----------
        mapping : mapping of int to int
            Current id -> new id; every segment must be mapped, new ids distinct.
        names : mapping of int to str, optional
            New id -> name to give that segment (e.g. carried from the last run).
        name_sources : mapping of int to str, optional
            New id -> ``name_source`` for the renamed segments (default
            ``"carried"``).

        Returns
        -------
        self

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of)
        >>> before = seg.labels_["segment_id"]
        >>> seg = seg.renumber({0: 2, 1: 0, 2: 5}, names={5: "Small"})
        >>> seg.segments_["segment_id"].to_list(), seg.profile(5).name
        ([0, 2, 5], 'Small')
        >>> seg.assign(data.tables, as_of=data.as_of)["segment_id"].equals(
        ...     seg.labels_["segment_id"])
        True
        """
        self._check_fitted()
        old_ids = sorted(self.profiles_)
        m = {int(k): int(v) for k, v in mapping.items()}
        missing = [s for s in old_ids if s not in m]
        new_ids = [m.get(s, -1) for s in old_ids]
        if missing or len(set(new_ids)) != len(new_ids) or min(new_ids) < 0:
            msg = (
                f"A renumbering must map every segment {old_ids} to distinct ids "
                f">= 0; got {dict(sorted(m.items()))}."
            )
            raise InputError(msg)
        names = dict(names or {})
        unknown = [k for k in names if k not in new_ids]
        if unknown:
            msg = f"Names given for unknown segment id(s) {unknown}; ids are {new_ids}."
            raise InputError(msg)
        final = {m[s]: names.get(m[s], self.profiles_[s].name) for s in old_ids}
        if len(set(final.values())) != len(final):
            msg = f"Segment names must be unique; got {sorted(final.values())}."
            raise InputError(msg)

        def rekey(d: dict[int, Any]) -> dict[int, Any]:
            return {m.get(k, k): v for k, v in d.items()}

        self.clusterer_.renumber(m)
        for s in old_ids:
            p = self.profiles_[s]
            p.segment_id = m[s]
            new_name = final[m[s]]
            if new_name != p.name:
                p.narrative = p.narrative.replace(p.name, new_name, 1)
                p.name = new_name
                p.name_source = (name_sources or {}).get(m[s], "carried")
        self.profiles_ = dict(sorted(rekey(self.profiles_).items()))
        self.drivers_, self.rules_ = rekey(self.drivers_), rekey(self.rules_)
        self._noise_assigned = rekey(self._noise_assigned)
        ex = self.explanation_
        ex.profiles, ex.drivers, ex.rules = self.profiles_, self.drivers_, self.rules_
        ex.per_segment_f1 = rekey(ex.per_segment_f1)
        if ex.shap_labels is not None:
            ex.shap_labels = np.array([m.get(int(v), int(v)) for v in ex.shap_labels])
        # Composed over successive calls: fit-time id -> current id (the surrogate
        # and SHAP arrays keep fit-time class order).
        prev = getattr(self, "renumbered_", {s: s for s in old_ids})
        self.renumbered_ = {k: m[v] for k, v in prev.items()}
        remap = pl.col("segment_id").replace_strict(m, default=pl.col("segment_id"))
        sources = {p.segment_id: p.name_source for p in self.profiles_.values()}
        self.segments_ = (
            self.segments_.with_columns(remap)
            .with_columns(
                pl.col("segment_id").replace_strict(final).alias("name"),
                pl.col("segment_id").replace_strict(sources).alias("name_source"),
                pl.col("segment_id")
                .replace_strict(
                    {s: p.narrative for s, p in self.profiles_.items()},
                    return_dtype=pl.String,
                )
                .alias("narrative"),
            )
            .sort("segment_id")
        )
        self.labels_ = self.labels_.with_columns(remap).with_columns(
            pl.col("segment_id")
            .replace_strict(final, default="no segment", return_dtype=pl.String)
            .alias("segment_name")
        )
        # outcomes_ is a rendering of outcome_comparison_: renumber the source once.
        if self.outcome_comparison_ is not None:
            self.outcome_comparison_ = self.outcome_comparison_.renumber(m)
            self.outcomes_ = self.outcome_comparison_.to_polars()
            self.run_["outcomes"] = self._outcome_run_summary()
        if self.stability_ is not None:
            self.stability_ = self.stability_.with_columns(remap).sort("segment_id")
        self.merge_tree_ = self.merge_tree_.with_columns(
            pl.col(c).list.eval(pl.element().replace_strict(m)).list.sort()
            for c in ("left", "right")
        )
        summary = self.stability_summary_
        if summary is not None:
            summary["unstable_segments"] = sorted(
                m[s] for s in summary["unstable_segments"]
            )
        return self
