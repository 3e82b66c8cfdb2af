"""Run one strategy on one dataset for one seed, and score what it found.

:func:`evaluate` never raises for a strategy's failure: the row records the error
(``status="error"``), or why the strategy does not apply to the data
(``status="not applicable"``), and the run goes on.
"""

from __future__ import annotations

import dataclasses
import functools
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from segdiscover.bench._data import BenchData, Dataset
from segdiscover.bench._metrics import driver_precision, majority_match, score_partition
from segdiscover.bench._strategy import PREPROCESSOR_OPTIONS, Strategy
from segdiscover.exceptions import InputError

#: Columns of the results table, in order, with their types.
ROW_SCHEMA: dict[str, Any] = {
    "dataset": pl.String,
    "suite": pl.String,
    "strategy": pl.String,
    "seed": pl.Int64,
    "status": pl.String,
    "error": pl.String,
    "n": pl.Int64,
    "n_features": pl.Int64,
    "true_k": pl.Int64,
    "chosen_k": pl.Int64,
    "clusterer": pl.String,
    "ari": pl.Float64,
    "ami": pl.Float64,
    "nca": pl.Float64,
    "stability": pl.Float64,
    "stability_min": pl.Float64,
    "outcome_separation": pl.Float64,
    "n_distinct": pl.Int64,
    "fidelity": pl.Float64,
    "driver_precision": pl.Float64,
    "fit_seconds": pl.Float64,
    "peak_memory_mb": pl.Float64,
    "code_version": pl.String,
}
#: Columns that vary between identical runs (machine load, memory).
MEASURED = ("fit_seconds", "peak_memory_mb")
#: Customers the bare pipeline's stability refits are drawn from.
STABILITY_ROWS = 5_000


@dataclass
class _Fit:
    ids: pl.Series
    labels: np.ndarray
    clusterer: str
    n_features: int
    seconds: float = 0.0
    peak_mb: float | None = None
    seg: Any = None
    stability: tuple[float, float] | None = None
    #: Truth columns the fit is scored against (None: all of them).
    references: list[str] | None = None


# ---------------------------------------------------------------- measuring
def _reset_peak() -> bool:
    """Reset the process's peak resident memory (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float | None:
    """Peak resident memory of the process since the last reset, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _measured(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float, float | None]:
    _reset_peak()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0, _peak_mb()


# ---------------------------------------------------------------- loading
_LOADED: dict[tuple[str, int], BenchData] = {}


def load(dataset: Dataset, seed: int) -> BenchData:
    """Load ``dataset`` for ``seed``, reusing the last few loads in this process."""
    key = (dataset.key(), seed if dataset.seeded else 0)
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = dataset.load(seed)
    return _LOADED[key]


def reference_k(data: BenchData) -> dict[str, int]:
    """Truth column -> its number of clusters (noise left out)."""
    if data.truth is None:
        return {}
    out = {}
    for c in data.truth.columns:
        if c == data.id:
            continue
        s = data.truth.get_column(c).drop_nulls()
        if data.noise_label is not None:
            s = s.filter(s != data.noise_label)
        out[c] = int(s.n_unique())
    return out


def reference_ks(data: BenchData) -> list[int]:
    """Distinct numbers of clusters of the reference partitions (noise left out)."""
    return sorted({k for k in reference_k(data).values() if k >= 2})


def not_applicable(strategy: Strategy, data: BenchData) -> str | None:
    """Why ``strategy`` cannot run on ``data``, or None."""
    if strategy.needs_truth and not reference_ks(data):
        return "k='true' needs a reference partition; the dataset has none"
    if strategy.guide != "none" and data.outcomes is None:
        return f"guide={strategy.guide!r} needs outcomes; the dataset has none"
    if strategy.preprocess.get("scale") == "clustbench":
        if data.table is None:
            return "scale 'clustbench' reads a table of points, not raw tables"
        cols = [c for c in data.table.columns if c not in (data.id, *data.exclude)]
        if not all(data.table.schema[c].is_numeric() for c in cols):
            return "scale 'clustbench' needs numeric columns only"
    return None


# ---------------------------------------------------------------- tables
def customer_table(strategy: Strategy, data: BenchData) -> pl.DataFrame:
    """Return the customer table a strategy clusters (built, then transformed)."""
    if data.table is not None:
        table = data.table
    else:
        from segdiscover.features import FeatureSet

        fs = strategy.features or FeatureSet.default(id=data.id)
        table = fs.build(dict(data.tables or {}), data.as_of).frame
    p = strategy.preprocess
    drop = [*data.exclude, *p.get("exclude", ())]
    missing = [c for c in p.get("exclude", ()) if c not in table.columns]
    if missing:
        msg = f"preprocess.exclude names {missing}, which are not columns."
        raise InputError(msg)
    table = table.drop([c for c in drop if c in table.columns])
    numeric = [
        c for c in table.columns if c != data.id and table.schema[c].is_numeric()
    ]
    if p.get("log1p"):
        table = table.with_columns(
            (pl.col(c).sign() * pl.col(c).abs().log1p()).alias(c) for c in numeric
        )
    if p.get("rank"):
        table = table.with_columns(
            (pl.col(c).rank("average") / pl.col(c).count()).alias(c) for c in numeric
        )
    return table


def _needs_table(strategy: Strategy) -> bool:
    p = strategy.preprocess
    return bool(p.get("log1p") or p.get("rank") or p.get("exclude"))


# ---------------------------------------------------------------- pipelines
def _pick(rule: Any, candidates: pl.DataFrame | None, default: str) -> tuple[str, int]:
    """Read a selection rule's answer as (clusterer, k)."""
    if candidates is None:
        msg = "the selection rule needs a sweep's candidates; none were made"
        raise InputError(msg)
    got = rule(candidates)
    if isinstance(got, tuple) and len(got) == 2:
        return str(got[0]), int(got[1])
    if isinstance(got, int | np.integer) and not isinstance(got, bool):
        return default, int(got)
    msg = f"the selection rule returned {got!r}; expected k or (clusterer, k)"
    raise InputError(msg)


def _segmenter_fit(
    strategy: Strategy, data: BenchData, seed: int, threads: int, k: Any
) -> _Fit:
    from segdiscover.clusterers import CLUSTERERS
    from segdiscover.segmenter import Segmenter

    est = strategy.estimator()
    clusterer: Any = est if est is not None else strategy.clusterer
    if est is None and strategy.clusterer_params:
        # Parameters the Segmenter cannot pass by name: the adapter goes in as an
        # estimator (cloned and seeded by the Segmenter).
        clusterer = CLUSTERERS[strategy.clusterer].factory(**strategy.clusterer_params)
    X: Any
    if data.tables is not None and not _needs_table(strategy):
        X, fit_kw = data.tables, {"as_of": data.as_of, "outcomes": data.outcomes}
    else:
        table = customer_table(strategy, data)
        X = table
        fit_kw = {
            "outcomes": data.outcomes,
            "exclude": [c for c in data.exclude if c in table.columns],
        }

    def fit(c: Any, n: int | None) -> Any:
        seg = Segmenter(
            features=strategy.features,
            clusterer=c,
            n_segments=n,
            guide=strategy.guide,
            random_state=seed,
            n_jobs=threads,
            id=data.id,
            **dict(strategy.params),
        )
        return seg.fit(X, **fit_kw)

    seg, secs, peak = _measured(fit, clusterer, k if isinstance(k, int) else None)
    if callable(k):
        name, k2 = _pick(k, seg.candidates_, seg.clusterer_name_)
        if (name, k2) != (seg.clusterer_name_, seg.n_segments_):
            c2 = name if name in CLUSTERERS else clusterer
            seg, s2, p2 = _measured(fit, c2, k2)
            secs, peak = secs + s2, max(peak or 0.0, p2 or 0.0)
    labels = seg.labels_
    lab = labels.get_column("segment_id").to_numpy()
    return _Fit(
        ids=labels.get_column(data.id),
        labels=lab,
        clusterer=str(seg.clusterer_name_),
        n_features=len(seg.feature_meta_),
        seconds=secs,
        peak_mb=peak,
        seg=seg,
    )


def matrix(strategy: Strategy, data: BenchData) -> tuple[pl.Series, np.ndarray]:
    """Ids and the preprocessed matrix of the ``clusterer`` pipeline."""
    from segdiscover._table import prepare_table

    table = customer_table(strategy, data)
    p = strategy.preprocess
    scale = p.get("scale", "segdiscover")
    if scale == "clustbench":
        from segdiscover.bench._clustbench import protocol_matrix

        cols = [c for c in table.columns if c != data.id]
        bad = [c for c in cols if not table.schema[c].is_numeric()]
        if bad:
            msg = f"scale 'clustbench' needs numeric columns; {bad} are not"
            raise InputError(msg)
        # Single precision, as published: in double precision BIRCH's tree differs
        # on 3 datasets (up to 0.075 ARI); single-precision Gaussian mixtures fail
        # on wut/cross and uci/statlog (recorded as errors).
        X = protocol_matrix(table.select(cols).to_numpy())
        return table.get_column(data.id), X
    frame, _, meta = prepare_table(table, data.id)
    feat = frame.drop(data.id)
    if scale == "standard":
        feat = feat.to_dummies(
            [c for c in feat.columns if not feat.schema[c].is_numeric()]
        )
        X = feat.cast(pl.Float64).to_numpy()
        mean, sd = np.nanmean(X, 0), np.nanstd(X, 0)
        X = np.where(np.isnan(X), 0.0, (X - mean) / np.where(sd > 0, sd, 1.0))
        return frame.get_column(data.id), X
    from segdiscover.features._spec import derivations
    from segdiscover.preprocess import Preprocessor

    opts = {k: p[k] for k in PREPROCESSOR_OPTIONS if k in p}
    pre = Preprocessor(**opts).fit(
        feat,
        {m.name: m.kind for m in meta},
        derivations(meta),  # as the Segmenter
    )
    return frame.get_column(data.id), pre.transform(feat)


def _spec(strategy: Strategy, name: str | None = None) -> Any:
    """Return the spec to fit: the registry's (with parameters) or the user's."""
    from segdiscover.clusterers import CLUSTERERS, ClustererSpec, SklearnAdapter

    est = strategy.estimator()
    if est is not None and name in (None, type(est).__name__):
        return ClustererSpec(
            type(est).__name__,
            functools.partial(SklearnAdapter, est),
            needs_k="n_clusters" in est.get_params()
            or "n_components" in est.get_params(),
        )
    spec = CLUSTERERS[name or strategy.clusterer]
    if strategy.clusterer_params and (name is None or name == strategy.clusterer):
        spec = dataclasses.replace(
            spec, factory=functools.partial(spec.factory, **strategy.clusterer_params)
        )
    return spec


def _clusterer_fit(
    strategy: Strategy, data: BenchData, seed: int, threads: int, k: Any
) -> _Fit:
    from segdiscover.clusterers import CLUSTERERS
    from segdiscover.selection import sweep
    from segdiscover.stability import stability

    ids, X = matrix(strategy, data)
    params = strategy.params
    lo, hi = params.get("k_range", (2, 10))

    def fit() -> tuple[Any, np.ndarray, Any, int]:
        fit_seed = seed
        if strategy.clusterer == "auto" or k == "auto" or callable(k):
            specs = (
                [s for s in CLUSTERERS.values() if s.in_auto]
                if strategy.clusterer == "auto"
                else [_spec(strategy)]
            )
            sel = sweep(X, specs, list(range(lo, hi + 1)), random_state=seed)
            if callable(k):
                name, k2 = _pick(k, sel.candidates, sel.clusterer)
            else:
                name, k2 = sel.clusterer, sel.n_segments
                # Refit the very partition whose stability the sweep measured.
                fit_seed = sel.seed
            spec = next((s for s in specs if s.name == name), None) or _spec(
                strategy, name
            )
        else:
            spec, k2 = _spec(strategy), int(k)
        adapter = spec.factory(
            n_clusters=k2 if spec.needs_k else None, random_state=fit_seed
        )
        n = X.shape[0]
        limit = None if params.get("full_fit") else spec.max_fit_rows
        if limit is not None and n > limit:
            idx = np.sort(np.random.RandomState(seed).choice(n, limit, replace=False))
            adapter.fit(X[idx])
            labels, _ = adapter.assign(X)
            labels[idx] = adapter.labels_
        else:
            labels = adapter.fit(X).labels_.copy()
        return spec, labels, adapter, k2

    (spec, labels, adapter, _), secs, peak = _measured(fit)
    out = _Fit(ids, labels, spec.name, X.shape[1], secs, peak)
    refits = params.get("stability_refits", 10)
    if refits and adapter.n_segments_ >= 2:
        kk = adapter.n_segments_ if spec.needs_k else None
        st = stability(
            lambda s: spec.factory(n_clusters=kk, random_state=s),
            X,
            labels,
            n_refits=refits,
            max_rows=min(STABILITY_ROWS, spec.max_fit_rows or STABILITY_ROWS),
            random_state=seed,
            n_jobs=threads,
        )
        if st.measured:
            vals = list(st.per_segment.values())
            out.stability = (float(np.mean(vals)), float(np.min(vals)))
    return out


# ---------------------------------------------------------------- scoring
def _outcome_scores(
    fit: _Fit, data: BenchData, seed: int
) -> tuple[float | None, int | None]:
    from segdiscover.guide import customer_hash
    from segdiscover.outcomes import compare_segments
    from segdiscover.segmenter import binary_outcomes
    from segdiscover.selection import outcome_separation

    if data.outcomes is None:
        return None, None
    frame = pl.DataFrame({data.id: fit.ids}).join(
        binary_outcomes(data.outcomes, data.id),
        on=data.id,
        how="left",
        maintain_order="left",
    )
    cols = [c for c in frame.columns if c != data.id and frame.schema[c].is_numeric()]
    keep = np.ones(len(fit.labels), dtype=bool)
    if fit.seg is not None:  # a guided fit's verdicts come from its held-out rows
        keep = fit.ids.is_in(fit.seg.validation_ids_).to_numpy()
    Y = frame.select(cols).cast(pl.Float64).fill_null(np.nan).to_numpy()
    labels = fit.labels[keep]
    fold = (customer_hash(fit.ids.filter(pl.Series(keep))) & np.uint64(1)) == 0
    sep = outcome_separation(labels, Y[keep], fold)
    if fit.seg is not None:
        comp = fit.seg.outcome_comparison_
        distinct = None if comp is None else int(comp.n_distinct)
    else:
        comp = compare_segments(
            labels,
            frame.select(cols).filter(pl.Series(keep)),
            n_bootstrap=200,
            random_state=seed,
        )
        distinct = int(comp.n_distinct)
    return (None if not np.isfinite(sep) else float(sep)), distinct


def _drivers(fit: _Fit, data: BenchData, refs: list[np.ndarray]) -> float | None:
    if fit.seg is None or not data.segment_features or not refs:
        return None
    matched = majority_match(refs[0], fit.labels)
    drivers = {
        r["segment_id"]: [(d["feature"], d["direction"]) for d in r["drivers"]]
        for r in fit.seg.segments_.select("segment_id", "drivers").iter_rows(named=True)
    }
    found = {s: drivers.get(m, []) for s, m in matched.items()}
    return driver_precision(found, data.segment_features)


def _score(fit: _Fit, data: BenchData, seed: int) -> dict[str, Any]:
    refs = data.references(fit.ids, fit.references)
    row: dict[str, Any] = {
        "n": len(fit.labels),
        "n_features": fit.n_features,
        "chosen_k": int(np.unique(fit.labels[fit.labels >= 0]).size),
        "clusterer": fit.clusterer,
        "fit_seconds": fit.seconds,
        "peak_memory_mb": fit.peak_mb,
    }
    if refs:
        row.update(score_partition(fit.labels, refs, data.noise_label))
    if fit.seg is not None:
        row["fidelity"] = float(fit.seg.fidelity_)
        st = fit.seg.stability_
        if st is not None and st.height:
            row["stability"] = float(st["jaccard_mean"].mean())
            row["stability_min"] = float(st["jaccard_mean"].min())
    elif fit.stability is not None:
        row["stability"], row["stability_min"] = fit.stability
    row["outcome_separation"], row["n_distinct"] = _outcome_scores(fit, data, seed)
    row["driver_precision"] = _drivers(fit, data, refs)
    return row


def _takes_k(strategy: Strategy) -> bool:
    """Whether the strategy's clusterer is told a number of segments."""
    from segdiscover.clusterers import CLUSTERERS

    est = strategy.estimator()
    if est is not None:
        params = est.get_params()
        return "n_clusters" in params or "n_components" in params
    return strategy.clusterer == "auto" or CLUSTERERS[strategy.clusterer].needs_k


def _run(strategy: Strategy, data: BenchData, seed: int, threads: int) -> _Fit:
    run = _segmenter_fit if strategy.pipeline == "segmenter" else _clusterer_fit
    if strategy.needs_truth and not _takes_k(strategy):
        # A clusterer that finds its own k is fitted once, scored on every reference.
        return run(strategy, data, seed, threads, reference_ks(data)[0])
    if strategy.needs_truth:
        # Each reference k fitted; the best ARI kept (the published convention).
        # Each fit is scored against the references with its k only.
        scored = []
        by_k = reference_k(data)
        for k in reference_ks(data):
            fit = run(strategy, data, seed, threads, k)
            fit.references = [c for c, kc in by_k.items() if kc == k]
            refs = data.references(fit.ids, fit.references)
            ari = score_partition(fit.labels, refs, data.noise_label)["ari"]
            scored.append((-2.0 if ari is None else ari, fit))
        best = max(scored, key=lambda t: t[0])[1]  # the first of equal scores
        best.seconds = sum(f.seconds for _, f in scored)
        best.peak_mb = max((f.peak_mb or 0.0) for _, f in scored) or None
        return best
    return run(strategy, data, seed, threads, strategy.k)


def evaluate(
    dataset: Dataset, strategy: Strategy, seed: int, threads: int = 1
) -> dict[str, Any]:
    """Fit ``strategy`` on ``dataset`` for ``seed`` and return one results row.

    Parameters
    ----------
    dataset : Dataset
    strategy : Strategy
    seed : int
        The strategy's ``random_state`` (and the data's seed for planted data).
    threads : int, default 1
        Threads for the fit (clustering, surrogate, stability refits).

    Returns
    -------
    dict
        One value per column of :data:`ROW_SCHEMA` (without ``code_version``).
    """
    from threadpoolctl import threadpool_limits

    row: dict[str, Any] = dict.fromkeys(ROW_SCHEMA)
    row.update(
        dataset=dataset.name, suite=dataset.suite, strategy=strategy.name, seed=seed
    )
    row.pop("code_version")
    try:
        data = load(dataset, seed)
    except Exception as exc:  # a dataset that fails is recorded
        row.update(status="error", error=f"loading: {type(exc).__name__}: {exc}")
        return row
    why = not_applicable(strategy, data)
    if why:
        row.update(status="not applicable", error=why)
        return row
    try:
        with threadpool_limits(limits=threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = _run(strategy, data, seed, threads)
            row.update(_score(fit, data, seed))
        row["status"] = "ok"
    except Exception as exc:  # a failing strategy is a result
        row.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000])
    return row
