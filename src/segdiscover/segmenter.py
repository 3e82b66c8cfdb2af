"""Segmenter: raw tables or a customer table in, explained segments out.

The estimator keeps its parameters and orchestrates the fit steps, which live
beside what they use: :mod:`segdiscover._fit.door` (the inputs),
:mod:`segdiscover._fit.cluster` (the clusterer, resolved once, and the choice of
segments), :mod:`segdiscover._fit.result` (explanation, stability, outcomes).
What a fit finds is one immutable :class:`segdiscover.result.Segmentation`
(``result_``); ``segments_``, ``labels_`` and the other fitted attributes are
read-only views of it.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from segdiscover._checks import to_polars
from segdiscover._fit.cluster import ClustererPlan, segment
from segdiscover._fit.door import as_table, binary_outcomes, door
from segdiscover._fit.estimator import (
    ESTIMATOR,
    SEGMENTER_CONSTRAINTS,
    ClusterEstimator,
)
from segdiscover._fit.result import build
from segdiscover._fit.views import FittedViews
from segdiscover._log import get_logger, stage
from segdiscover._params import (
    Options,
    validate_params,
)
from segdiscover._resources import resolve_n_jobs
from segdiscover.assign import assign as _assign
from segdiscover.clusterers import CLUSTERERS
from segdiscover.exceptions import InputError, InvalidParameterError, SegdiscoverWarning
from segdiscover.features import FeatureSet
from segdiscover.features._spec import derivations
from segdiscover.persist import save as _save
from segdiscover.preprocess import Preprocessor
from segdiscover.result import Segmentation

# binary_outcomes stays importable from here (benchmarks and bench read it).
__all__ = ["Segmenter", "binary_outcomes"]

_logger = get_logger(__name__)


class Segmenter(FittedViews, BaseEstimator):
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
    stability_threshold : float, default 0.8
        Mean Jaccard recovery under which a segment is flagged unstable (the bound
        ``auto`` holds candidates to; Hennig's "valid" starts at 0.75).
    max_fit_rows : int or None, default None
        Fit the clusterer on at most this many customers and assign the rest;
        None uses the clusterer's own limit (Ward 10k, HDBSCAN 20k, ...), and
        200,000 for those without one (k-means; a scikit-learn estimator given
        as ``clusterer`` fits everyone). The sample is the customers with the
        smallest hash of their id (the same whatever the row order and the seed),
        reported in ``run_["fit_rows"]`` and ``run_["fit_sample"]``. The ``auto``
        sweep compares its candidates on at most 20,000 customers drawn the same
        way (``run_["sweep_rows"]``).
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
    result_ : Segmentation
        Everything the fit found, as one immutable object (the attributes above
        are read-only views of it); see :class:`segdiscover.result.Segmentation`.

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> seg.segments_.height, seg.labels_.columns[:3]
    (3, ['customer_id', 'segment_id', 'segment_name'])

    A numpy matrix is a customer table with columns ``x0, x1, ...`` and ids
    ``0..n-1``, so a Segmenter ends a scikit-learn pipeline:

    >>> import numpy as np
    >>> from sklearn.impute import SimpleImputer
    >>> from sklearn.pipeline import make_pipeline
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> X[:100] += 4
    >>> pipe = make_pipeline(SimpleImputer(), sd.Segmenter(clusterer="kmeans",
    ...     n_segments=2, random_state=0, stability_refits=0))
    >>> pipe.fit_predict(X).shape
    (200,)
    """

    # The checks of every parameter, one line each, in segdiscover._fit.estimator.
    _parameter_constraints: dict[str, list[Any]] = SEGMENTER_CONSTRAINTS

    def __init__(
        self,
        features: FeatureSet | None = None,
        clusterer: str | ClusterEstimator = "auto",
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
        stability_threshold: float = 0.8,
        min_difference: Mapping[str, float | str] | None = None,
        n_bootstrap: int = 500,
        guide: str = "auto",
        guide_weights: Mapping[str, float] | None = None,
        random_state: int | np.random.RandomState | None = None,
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

    def _constraints(self) -> dict[str, list[Any]]:
        # Read the registry now, not at import: a clusterer registered after
        # import is usable by name.
        return {
            **self._parameter_constraints,
            "clusterer": [Options(("auto", *CLUSTERERS)), ESTIMATOR],
        }

    def set_params(self, **params: Any) -> Segmenter:
        """Set constructor parameters; returns self (scikit-learn convention)."""
        unknown = sorted(set(params) - set(self._get_param_names()))
        if unknown:
            msg = (
                f"Segmenter has no parameter {unknown[0]!r}; its parameters are "
                f"{sorted(self._get_param_names())}."
            )
            raise InvalidParameterError(msg)
        super().set_params(**params)
        return self

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: None = None,
        *,
        as_of: Any = None,
        outcomes: Any = None,
        exclude: Sequence[str] = (),
    ) -> Segmenter:
        """Discover and explain segments.

        Parameters
        ----------
        X : dict of DataFrames, DataFrame or 2-D ndarray
            Raw tables by name (built into features as of ``as_of``), or a
            customer-level table (one row per customer; its columns are the
            features), polars or pandas; a numpy matrix is a table with columns
            ``x0, x1, ...`` and ids ``0..n-1``.
        y : None
            Ignored (scikit-learn's pipelines pass it); give outcomes with
            ``outcomes=``.
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
        validate_params("Segmenter", self.get_params(deep=False), self._constraints())
        plan = ClustererPlan.resolve(self.clusterer)
        # Transactional: a fit that raises leaves the object as it was (a previous
        # fit stays whole; save() never sees a mix of two fits).
        before = dict(self.__dict__)
        try:
            self.n_threads_ = resolve_n_jobs(self.n_jobs)
            # One cap for every thread pool (scikit-learn's OpenMP, BLAS, LightGBM).
            with threadpool_limits(limits=self.n_threads_):
                self.result_ = self._fit(plan, X, as_of, outcomes, exclude)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def _fit(
        self,
        plan: ClustererPlan,
        X: Any,
        as_of: Any,
        outcomes: Any,
        exclude: Sequence[str],
    ) -> Segmentation:
        rng = check_random_state(self.random_state)
        started = dt.datetime.now(dt.UTC)
        with stage("fit: read and check the input", _logger):
            inputs = door(self, as_table(X, self.id), as_of, outcomes, exclude)
        n, k = inputs.frame.height, self.n_segments or self.k_range[0]
        if n < max(10, 2 * k):
            msg = (
                f"There are {n} customers; at least {max(10, 2 * k)} are needed to "
                f"find {k} or more segments."
            )
            raise InputError(msg)
        feat = inputs.frame.drop(self.id)
        with (
            stage("fit: preprocess", _logger),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always", SegdiscoverWarning)
            pre = Preprocessor().fit(
                feat,
                {m.name: m.kind for m in inputs.meta},
                derivations(inputs.meta),
            )
            Xp = pre.transform(feat)
        for w in caught:
            warnings.warn(w.message, SegdiscoverWarning, stacklevel=3)
        with stage("fit: find the segments", _logger):
            found = segment(
                self, plan, pre, feat, Xp, rng, inputs.outcome_cols,
                inputs.outcome_matrix(), inputs.frame.get_column(self.id),
                self.n_threads_,
            )  # fmt: skip
        with stage("fit: explain, stability and outcomes", _logger):
            return build(
                self, plan, inputs, pre, found, rng, started=started, as_of=as_of,
                n_threads=self.n_threads_,
            )  # fmt: skip

    def fit_predict(self, X: Any, y: None = None, **fit_params: Any) -> Any:
        """Fit, then return each customer's segment id, in the input's row order.

        A numpy array (pandas or polars Series under :meth:`set_output`); for raw
        tables, in ``labels_`` order. ``fit_params`` go to :meth:`fit`.
        """
        self.fit(X, y, **fit_params)
        return self._ids_out(self._in_input_order(X, self.result_.labels))

    def predict(self, X: Any, **assign_params: Any) -> Any:
        """Return the segment id of each customer of ``X`` (see :meth:`assign`)."""
        return self._ids_out(self._in_input_order(X, self._assign(X, **assign_params)))

    def _in_input_order(self, X: Any, labels: pl.DataFrame) -> pl.Series:
        if isinstance(X, Mapping):
            return labels.get_column("segment_id")
        ids = to_polars(as_table(X, self.id), "table").select(self.id)
        return ids.join(labels, on=self.id, how="left", maintain_order="left")[
            "segment_id"
        ]

    def _assign(self, X: Any, **params: Any) -> pl.DataFrame:
        return _assign(self, as_table(X, self.id), **params)

    def assign(
        self,
        X: Any,
        *,
        as_of: Any = None,
        force: bool = False,
        allow_unassigned: bool = False,
    ) -> Any:
        """Assign customers (new or known) to this model's segments.

        See :func:`segdiscover.assign.assign` for the parameters and the columns
        (``<id>``, ``segment_id``, ``segment_name``, ``confidence``, ``is_novel``,
        ``is_noise``): polars, or pandas under ``set_output(transform="pandas")``.

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
        kw = {"as_of": as_of, "force": force, "allow_unassigned": allow_unassigned}
        return self._frame_out(self._assign(X, **kw))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted model to a folder that cannot run code.

        See :func:`segdiscover.persist.save`; :func:`segdiscover.load` reads it
        back with the same ``result_`` (profiles, report, assignment).
        """
        return _save(self, path)
