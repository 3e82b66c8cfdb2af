"""Fit steps of :class:`segdiscover.Segmenter` that find the segments.

The clusterer is resolved once into a :class:`ClustererPlan` (a registry spec or
the user's estimator, checked once); :func:`segment` builds the unsupervised
and/or the outcome-guided candidate and picks one (see ``Segmenter(guide=)``).
Everything here reads the Segmenter's parameters only, never its fitted state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import polars as pl
from sklearn.utils import check_random_state

from segdiscover._json import sig
from segdiscover.assign import nearest_centroid
from segdiscover.clusterers import CLUSTERERS, ClusterAdapter, ClustererSpec
from segdiscover.clusterers.sklearn_any import SklearnAdapter, check_estimator_contract
from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.guide import HOLDOUT_SHARE, OutcomeGuide, customer_hash, hashed_holdout
from segdiscover.outcomes import compare_segments, materiality_thresholds
from segdiscover.preprocess import Preprocessor, categorical_codes
from segdiscover.selection import sweep

if TYPE_CHECKING:
    from segdiscover.segmenter import Segmenter

#: Build customers whose outcomes train a guided fit (the rest are assigned).
GUIDE_MAX_ROWS = 50_000
#: Customers a clusterer without a limit of its own (k-means, ...) is fitted on
#: when ``max_fit_rows`` is None; the rest are assigned (see ``hashed_rows``).
DEFAULT_FIT_ROWS = 200_000
#: Customers the ``auto`` sweep fits its candidates on (``sweep(max_rows=)``).
SWEEP_ROWS = 20_000


def hashed_rows(pool: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Return the ``n`` rows of ``pool`` with the smallest ``keys``, in key order.

    ``keys`` is a fixed hash of each customer id (``guide.customer_hash``), so a
    sample holds the same customers, in the same order, whatever the row order
    and the seed (a clusterer fitted on it starts from the same points), as
    :func:`segdiscover.spark.sample` draws them. A pool of at most ``n`` rows is
    returned as it is.

    Examples
    --------
    >>> keys = np.array([5, 1, 4, 3, 2], dtype=np.uint64)
    >>> hashed_rows(np.arange(5), keys, 3).tolist()
    [1, 4, 3]
    """
    if len(pool) <= n:
        return np.asarray(pool)
    return np.asarray(pool)[np.argsort(keys[pool], kind="stable")[:n]]


@dataclass(frozen=True)
class ClustererPlan:
    """The ``clusterer`` parameter, resolved once at fit time.

    ``spec`` is the registry entry of a named clusterer (None for ``"auto"`` and
    for a user's estimator); ``estimator`` the user's estimator, its contract
    checked once. Reading the registry at fit time (not at import) lets a
    clusterer registered later in ``CLUSTERERS`` be used by name.
    """

    name: str
    spec: ClustererSpec | None = None
    estimator: Any = None

    @classmethod
    def resolve(cls, clusterer: Any) -> ClustererPlan:
        """Resolve ``Segmenter(clusterer=...)`` against the registry as it is now."""
        if not isinstance(clusterer, str):
            check_estimator_contract(clusterer)
            return cls(type(clusterer).__name__, estimator=clusterer)
        if clusterer == "auto":
            return cls("auto")
        if clusterer not in CLUSTERERS:
            msg = (
                "The 'clusterer' parameter of Segmenter must be one of "
                f"{sorted(['auto', *CLUSTERERS])} or a scikit-learn-style "
                f"estimator. Got {clusterer!r} instead."
            )
            raise InvalidParameterError(msg)
        return cls(clusterer, spec=CLUSTERERS[clusterer])

    def factory(self, name: str, k: int) -> Any:
        """Return seed -> an unfitted adapter like the chosen one (for refits)."""
        if self.estimator is None:
            spec = CLUSTERERS[name]
            return lambda seed: spec.factory(
                n_clusters=k if spec.needs_k else None, random_state=seed
            )
        est = self.estimator
        return lambda seed: SklearnAdapter(est, n_clusters=k, random_state=seed)

    def max_fit_rows(self, name: str) -> int | None:
        """Return the registry's fit-row limit of a clusterer (None: no limit)."""
        if self.estimator is not None:
            return None
        return CLUSTERERS[name].max_fit_rows


@dataclass
class Candidate:
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
    sweep_rows: int | None = None
    # Labels of the fit rows in ``X`` (noise -1) when they differ from ``labels``
    # (guided: customers are placed from another space); stability refits on
    # ``X`` are compared with these, the partition that was actually fitted.
    fit_labels: np.ndarray | None = None


@dataclass(frozen=True)
class Choice:
    """An unfitted adapter, its name, why it was chosen, and the sweep behind it."""

    adapter: ClusterAdapter
    name: str
    reason: str
    candidates: pl.DataFrame | None = None
    sweep_rows: int | None = None  # customers the sweep fitted on (None: no sweep)


def beats(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Return True when candidate score ``a`` wins over ``b`` (``Segmenter(guide=)``).

    ``b`` is the incumbent, the unsupervised candidate. A stable candidate beats an
    unstable one. Then, when every segment of ``b`` is operationally distinct
    (material on an outcome vs the rest, on the held-out customers), ``b`` stays: it
    passes the mission's test already, and outcome-built segments would trade
    shared behaviour for tiers of a gradient (decision 85). Otherwise more
    operationally distinct segments win. Ties keep ``b``: its segments share
    behaviour, read from behaviour and are measured on every customer, and a
    guided candidate's larger outcome spread is what it was built for, so spread
    alone does not choose it.

    Examples
    --------
    >>> u = {"stable": True, "distinct_segments": 2, "n_segments": 4}
    >>> beats({"stable": True, "distinct_segments": 3, "n_segments": 8}, u)
    True
    >>> beats({"stable": False, "distinct_segments": 4, "n_segments": 4}, u)
    False
    >>> beats(dict(u), u)
    False
    >>> every = {"stable": True, "distinct_segments": 6, "n_segments": 6}
    >>> beats({"stable": True, "distinct_segments": 8, "n_segments": 8}, every)
    False
    """
    sa, sb = a["stable"] is not False, b["stable"] is not False
    if sa != sb:
        return sa
    if b["distinct_segments"] >= b["n_segments"] > 0:
        return False
    return bool(a["distinct_segments"] > b["distinct_segments"])


def _candidate(
    space: str,
    choice: Choice,
    clustered: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    X: np.ndarray,
    fit_mask: np.ndarray,
    validation: np.ndarray,
    guide: OutcomeGuide | None = None,
    fit_labels: np.ndarray | None = None,
) -> Candidate:
    """Package a fitted choice with the sweep it came from."""
    labels, conf, noise, rows = clustered
    return Candidate(
        space, choice.adapter, choice.name, choice.reason, labels, conf, noise,
        rows, X, fit_mask, validation, choice.candidates,
        _stable_pick(choice.candidates), guide, choice.sweep_rows, fit_labels,
    )  # fmt: skip


def _stable_pick(candidates: pl.DataFrame | None) -> bool | None:
    """Whether the swept pick has every segment stable (None: nothing swept)."""
    if candidates is None:
        return None
    row = candidates.filter(pl.col("chosen"))
    if row.height == 0:
        return None
    return bool(row["stable"][0])  # null: not measured, not called stable


def choose(
    est: Segmenter,
    plan: ClustererPlan,
    Xp: np.ndarray,
    rng: np.random.RandomState,
    outcomes: np.ndarray | None = None,
    max_valley: float = 0.5,
    keys: np.ndarray | None = None,
    n_threads: int = 1,
) -> Choice:
    """Pick the clusterer and number of segments (a sweep when they are not given).

    A sweep fits its candidates on at most :data:`SWEEP_ROWS` customers: with
    ``keys`` (a hash per row of ``Xp``), those with the smallest hashes, so the
    sweep sees the same customers whatever the row order and the seed.
    """
    seed = int(rng.randint(2**31 - 1))
    if keys is not None and Xp.shape[0] > SWEEP_ROWS:
        rows = hashed_rows(np.arange(Xp.shape[0]), keys, SWEEP_ROWS)
        Xp = Xp[rows]
        outcomes = None if outcomes is None else outcomes[rows]
    sweep_rows = min(Xp.shape[0], SWEEP_ROWS)
    if plan.estimator is not None:
        adapter = SklearnAdapter(
            plan.estimator, n_clusters=est.n_segments, random_state=seed
        )
        return Choice(adapter, plan.name, "estimator given by the user")
    lo, hi = est.k_range
    if plan.spec is not None:
        spec = plan.spec
        if not spec.needs_k or est.n_segments:
            adapter = spec.factory(n_clusters=est.n_segments, random_state=seed)
            return Choice(adapter, spec.name, "given by the user")
        sel = sweep(
            Xp,
            [spec],
            range(lo, hi + 1),
            random_state=seed,
            max_rows=SWEEP_ROWS,
            outcomes=outcomes,
            max_valley=max_valley,
            n_jobs=n_threads,
        )
        adapter = spec.factory(n_clusters=sel.n_segments, random_state=sel.seed)
        reason = "k chosen by " + sel.reason
        return Choice(adapter, spec.name, reason, sel.candidates, sweep_rows)
    specs = [s for s in CLUSTERERS.values() if s.in_auto]
    ks = [est.n_segments] if est.n_segments else list(range(lo, hi + 1))
    sel = sweep(
        Xp, specs, ks, random_state=seed, max_rows=SWEEP_ROWS, outcomes=outcomes,
        max_valley=max_valley, n_jobs=n_threads,
    )  # fmt: skip
    spec = CLUSTERERS[sel.clusterer]
    adapter = spec.factory(n_clusters=sel.n_segments, random_state=sel.seed)
    return Choice(adapter, spec.name, sel.reason, sel.candidates, sweep_rows)


def settle_noise(
    labels: np.ndarray,
    conf: np.ndarray,
    X: np.ndarray,
    adapter: ClusterAdapter,
    noise: str,
) -> np.ndarray:
    """Zero noise customers' confidence; place them when ``noise="assign"``.

    Edits ``labels`` and ``conf`` in place; returns the noise mask.
    """
    raw_noise = labels < 0
    # Noise was not found in a segment: no confidence is claimed, kept or placed.
    conf[raw_noise] = 0.0
    if raw_noise.any() and noise == "assign":
        labels[raw_noise] = nearest_centroid(X[raw_noise], adapter.centroids_)
    return raw_noise


def fit_limit(est: Segmenter, plan: ClustererPlan, name: str) -> int | None:
    """Return how many customers the clusterer is fitted on at most (None: all).

    ``max_fit_rows`` when given; else the clusterer's own limit (Ward 10k, ...);
    else :data:`DEFAULT_FIT_ROWS` for a registry clusterer (k-means: its centres
    from 200,000 customers are those of a million to within sampling noise, at a
    fifth of the cost). A user's estimator without ``max_fit_rows`` sees everyone.
    """
    if est.max_fit_rows is not None:
        return int(est.max_fit_rows)
    own = plan.max_fit_rows(name)
    if own is not None or plan.estimator is not None:
        return own
    return DEFAULT_FIT_ROWS


def cluster(
    est: Segmenter,
    plan: ClustererPlan,
    choice: Choice,
    Xp: np.ndarray,
    keys: np.ndarray,
    fit_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Fit the chosen clusterer (on a sample above its limit; ``fit_mask`` rows).

    The sample is the customers with the smallest ``keys`` (a hash of the id,
    see :func:`hashed_rows`), in hash order: the same fit whatever the row order
    and the seed.
    Returns labels, confidence, the noise mask and the number of rows fitted on.
    """
    adapter, name, n = choice.adapter, choice.name, Xp.shape[0]
    limit = fit_limit(est, plan, name)
    pool = np.arange(n) if fit_mask is None else np.flatnonzero(fit_mask)
    if (limit is not None and len(pool) > limit) or len(pool) < n:
        idx = hashed_rows(pool, keys, limit) if limit is not None else pool
        adapter.fit(Xp[idx])
        labels, conf = adapter.assign(Xp)
        labels[idx] = adapter.labels_  # fitted customers keep their fitted label
        fit_rows = len(idx)
    else:
        adapter.fit(Xp)
        labels = adapter.labels_.copy()
        _, conf = adapter.assign(Xp) if adapter.native_assign else (None, np.ones(n))
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
    raw_noise = settle_noise(labels, conf, Xp, adapter, est.noise)
    return labels, conf, raw_noise, fit_rows


def guide_weights(est: Segmenter, cols: list[str]) -> dict[str, float]:
    """Map ``guide_weights`` onto outcomes (``Churn`` names ``Churn=Yes``)."""
    given = dict(est.guide_weights or {})
    base = {c.split("=")[0]: c for c in cols}
    unknown = sorted(k for k in given if k not in cols and k not in base)
    if unknown:
        msg = (
            f"guide_weights names {unknown}, which are not outcomes; the outcomes "
            f"are {cols}."
        )
        raise InputError(msg)
    return {(k if k in cols else base[k]): float(v) for k, v in given.items()}


@dataclass(frozen=True)
class GuideInputs:
    """What a guided candidate is built from (features, outcomes, hold-out)."""

    feat: pl.DataFrame
    Y: np.ndarray
    cols: list[str]
    holdout: np.ndarray
    hashes: np.ndarray
    weights: dict[str, float]


def guided(
    est: Segmenter,
    plan: ClustererPlan,
    pre: Preprocessor,
    g: GuideInputs,
    grng: np.random.RandomState,
    n_threads: int,
) -> Candidate:
    """Cluster on cross-fitted outcome contributions, built without the hold-out."""
    Xc = categorical_codes(g.feat, pre.columns_)
    cat = [j for j, c in enumerate(pre.columns_) if c["kind"] == "categorical"]
    build = ~g.holdout
    if build.sum() > GUIDE_MAX_ROWS:  # the rest is assigned, like a sampled fit
        rows = np.flatnonzero(build)
        keep = rows[np.argsort(g.hashes[rows], kind="stable")[:GUIDE_MAX_ROWS]]
        build = np.zeros_like(build)
        build[keep] = True
    # One threshold per outcome column (an array; OutcomeGuide reads it by index).
    thr = cast(
        "Sequence[float]", materiality_thresholds(g.Y, g.cols, est.min_difference)
    )
    guide = OutcomeGuide(
        weights=g.weights,
        n_jobs=n_threads,
        random_state=int(grng.randint(2**31 - 1)),
        total=True,
    ).fit(Xc, cat, g.Y, g.cols, thr, pre.input_columns, build=build, hashes=g.hashes)
    G = guide.space_
    # No density-valley test in the outcome space: contributions form risk
    # gradients, and cutting one into reproducible tiers is the point (Telco:
    # k = 3 and 4 stable at 0.97 / 0.92 but "unseparated", so k = 2 won).
    # Stability and the hold-out's material differences judge these segments.
    choice = choose(
        est, plan, G[build], grng, g.Y[build], max_valley=1.01,
        keys=g.hashes[build], n_threads=n_threads,
    )  # fmt: skip
    g_labels, _, g_noise, fit_rows = cluster(
        est, plan, choice, G, g.hashes, fit_mask=build
    )
    # Every customer is placed from the fold-mean contributions, as assign()
    # places it later, so a refit customer keeps its segment. The clusterer was
    # fitted on out-of-fold contributions, and verdicts come from the hold-out,
    # whose outcomes trained no fold model.
    E = guide.transform(Xc)
    labels, conf = choice.adapter.assign(E)
    labels, conf = labels.astype(np.int64), conf.astype(np.float64)
    noise = settle_noise(labels, conf, E, choice.adapter, est.noise)
    clustered = (labels, conf, noise, fit_rows)
    # Stability asks whether the partition fitted in G comes back when refitted
    # in G; the fold-mean placement E is a different view of a build customer
    # (its fold models saw its outcome), so comparing G refits with E labels
    # measured the gap between the views, not the segments' stability.
    fitted = np.where(g_noise, -1, g_labels)[build]
    return _candidate("outcomes", choice, clustered, G, build, g.holdout, guide, fitted)


def holdout_score(
    est: Segmenter, cand: Candidate, Y: np.ndarray, cols: list[str], holdout: np.ndarray
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
            min_difference=est.min_difference,
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
    row["spread"] = sig(float(np.max(spread.get_column("s").to_numpy())))
    return row


@dataclass(frozen=True)
class Segmented:
    """The chosen candidate, the candidate table shown, and the guide comparison."""

    chosen: Candidate
    candidates: pl.DataFrame | None
    comparison: list[dict[str, Any]] | None


def segment(
    est: Segmenter,
    plan: ClustererPlan,
    pre: Preprocessor,
    feat: pl.DataFrame,
    Xp: np.ndarray,
    rng: np.random.RandomState,
    outcome_cols: list[str] | None,
    Y: np.ndarray | None,
    ids: pl.Series,
    n_threads: int,
) -> Segmented:
    """Build the unsupervised and/or guided candidate; pick one (see ``guide``)."""
    if est.guide == "outcomes" and outcome_cols is None:
        msg = (
            "guide='outcomes' builds segments from the outcomes; pass "
            "outcomes=... (a frame keyed by the id, or outcome column names)."
        )
        raise InputError(msg)
    everyone = np.ones(Xp.shape[0], dtype=bool)
    # Samples (the sweep's, a fit's above its limit), hold-out and folds follow
    # the customer ids (a fixed hash): they do not move with row order or seed.
    hashes = customer_hash(ids)
    cands: list[Candidate] = []
    if est.guide != "outcomes" or outcome_cols is None:
        choice = choose(est, plan, Xp, rng, Y, keys=hashes, n_threads=n_threads)
        clustered = cluster(est, plan, choice, Xp, hashes)
        cands.append(_candidate("features", choice, clustered, Xp, everyone, everyone))
    if est.guide == "none" or outcome_cols is None or Y is None:
        return Segmented(cands[0], cands[0].candidates, None)
    # Own stream: the unsupervised candidate is the same with or without it.
    grng = check_random_state(
        est.random_state + 7919
        if isinstance(est.random_state, int)
        else est.random_state
    )
    holdout = hashed_holdout(hashes, HOLDOUT_SHARE)
    # A typo in guide_weights fails here, not silently below.
    g = GuideInputs(
        feat, Y, outcome_cols, holdout, hashes, guide_weights(est, outcome_cols)
    )
    if est.guide == "outcomes":
        only = guided(est, plan, pre, g, grng, n_threads)
        return Segmented(only, only.candidates, None)
    first = cands[0]
    try:
        cands.append(guided(est, plan, pre, g, grng, n_threads))
    except InputError as exc:  # e.g. one segment in the outcome space
        failed = {"space": "outcomes", "error": str(exc), "chosen": False}
        score = holdout_score(est, first, Y, outcome_cols, holdout)
        return Segmented(first, first.candidates, [{**score, "chosen": True}, failed])
    scored = [holdout_score(est, c, Y, outcome_cols, holdout) for c in cands]
    best = 0
    for i in range(1, len(cands)):
        if beats(scored[i], scored[best]):
            best = i
    for i, row in enumerate(scored):
        row["chosen"] = i == best
    # Candidate tables of both spaces side by side.
    frames = [
        c.candidates.with_columns(pl.lit(c.space).alias("space"))
        for c in cands
        if c.candidates is not None
    ]
    table = pl.concat(frames, how="diagonal") if frames else None
    return Segmented(cands[best], table, scored)
