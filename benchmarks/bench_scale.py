"""End-to-end scale benchmark: 1M customers, ~10M order events before ``as_of``.

Stages, each timed as the median over ``--repeats`` runs (the full ``Segmenter`` fit
over ``--segmenter-repeats`` runs, default 1, since it is the slowest):

a. feature building, ``FeatureSet.default().build`` vs a plain-pandas baseline
   (``baseline_pandas.py``; tables converted to pandas before timing), with a check
   that the two tables agree column by column;
b. preprocessing and k-means on the full feature table, segdiscover's k-means adapter
   vs plain ``sklearn.cluster.KMeans(6, n_init=4)``;
c. the full ``Segmenter(clusterer="kmeans", n_segments=6).fit`` end to end, with its
   internal stages timed, and the explanation parts (surrogate fit, SHAP, statistics)
   timed separately;
d. peak resident memory: psutil samples RSS every 20 ms during each stage, and
   ``ru_maxrss`` gives the process high-water mark.

Usage::

    uv run python benchmarks/bench_scale.py                       # 1M customers
    uv run python benchmarks/bench_scale.py --n-customers 100000 --repeats 1

Writes ``benchmarks/_out/scale.md`` and ``benchmarks/_out/scale.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _provenance import describe, provenance
from baseline_pandas import build_features, tables_to_pandas

import segdiscover as sd
from segdiscover.clusterers import CLUSTERERS
from segdiscover.explain import (
    feature_statistics,
    fit_surrogate,
    rank_drivers,
    shap_values,
    stratified_sample,
)
from segdiscover.features import FeatureSet
from segdiscover.preprocess import Preprocessor, categorical_codes

OUT = Path(__file__).resolve().parent / "_out"


def vm_hwm_gib() -> float:
    """Peak RSS of this process image (``VmHWM``; reset by exec, unlike
    ``ru_maxrss``, which a child inherits from the parent it was forked from)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


GIB = 2**30

TARGETS = {
    "features": ("< 5 s at 1M customers / 10M events", lambda s: s < 5.0),
    "explain": ("< 10 s", lambda s: s < 10.0),
    "fidelity": (">= 0.95 at scale", lambda f: f >= 0.95),
}


# --------------------------------------------------------------------- memory
class MemTracker:
    """Sample this process's RSS in a background thread; peak per stage."""

    def __init__(self, interval: float = 0.02) -> None:
        self.proc = psutil.Process(os.getpid())
        self.interval = interval
        self.stage_peak = 0
        self.global_peak = 0
        self.stages: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.proc.memory_info().rss
            self.stage_peak = max(self.stage_peak, rss)
            self.global_peak = max(self.global_peak, rss)
            time.sleep(self.interval)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        gc.collect()
        before = self.proc.memory_info().rss
        self.stage_peak = before
        sys0, own0, t0 = _busy_seconds(), self.proc.cpu_times(), time.perf_counter()
        try:
            yield
        finally:
            after = self.proc.memory_info().rss
            self.stage_peak = max(self.stage_peak, after)
            wall = time.perf_counter() - t0
            own1 = self.proc.cpu_times()
            own = (own1.user + own1.system) - (own0.user + own0.system)
            busy = _busy_seconds() - sys0
            self.stages[name] = {
                "rss_before_gib": before / GIB,
                "rss_peak_gib": self.stage_peak / GIB,
                "maxrss_gib": maxrss_gib(),
                "wall_s": wall,
                "own_cores": own / wall if wall else 0.0,
                "other_cores": max(0.0, busy - own) / wall if wall else 0.0,
            }

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def maxrss_gib() -> float:
    """Process high-water mark (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# --------------------------------------------------------------------- timing
def timed(
    fn: Callable[[], Any], repeats: int, budget_s: float | None = None
) -> tuple[list[float], Any]:
    """Run ``fn`` ``repeats`` times; return the wall times and the last result.

    With ``budget_s``, stop repeating once the runs so far took longer than it (a
    stage that is pathologically slow on a loaded machine is then timed fewer times).
    """
    times, result = [], None
    for _ in range(repeats):
        if budget_s is not None and times and sum(times) > budget_s:
            break
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def med(times: list[float]) -> float:
    return float(statistics.median(times))


@contextlib.contextmanager
def time_methods(
    cls: type, names: list[str], store: dict[str, float]
) -> Iterator[None]:
    """Time some methods of ``cls`` (accumulated into ``store``) without editing it."""
    originals = {n: getattr(cls, n) for n in names}

    def wrap(name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return orig(self, *args, **kwargs)
            finally:
                store[name] = store.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    for n, orig in originals.items():
        setattr(cls, n, wrap(n, orig))
    try:
        yield
    finally:
        for n, orig in originals.items():
            setattr(cls, n, orig)


# ------------------------------------------------------------------ agreement
def agreement(ref: pl.DataFrame, other: Any) -> dict[str, dict[str, Any]]:
    """Compare the pandas table with segdiscover's, column by column, by id."""
    idc = ref.columns[0]
    other = other.set_index(idc).reindex(ref.get_column(idc).to_numpy())
    out = {}
    for c in ref.columns[1:]:
        a = ref.get_column(c)
        if c not in other.columns:
            out[c] = {"ok": False, "max_abs_diff": None, "note": "missing"}
            continue
        b = other[c]
        if a.dtype == pl.String:
            x = a.fill_null("<NA>").to_numpy().astype(str)
            y = b.astype(object).where(b.notna(), "<NA>").to_numpy().astype(str)
            out[c] = {
                "ok": bool((x == y).all()),
                "max_abs_diff": None,
                "mismatches": int((x != y).sum()),
            }
        else:
            x = a.cast(pl.Float64).fill_null(np.nan).to_numpy()
            y = b.to_numpy(dtype=float)
            diff = np.abs(x - y)
            out[c] = {
                "ok": bool(np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True)),
                "max_abs_diff": float(np.nanmax(diff)) if diff.size else 0.0,
                "mismatches": int(
                    (~np.isclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True)).sum()
                ),
            }
    return out


# ----------------------------------------------------------------------- main
def versions() -> dict[str, str]:
    import lightgbm
    import pandas
    import shap
    import sklearn

    return {
        "python": platform.python_version(),
        "segdiscover": sd.__version__,
        "polars": pl.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "lightgbm": lightgbm.__version__,
        "shap": shap.__version__,
        "nproc": str(os.cpu_count()),
        "affinity": str(len(os.sched_getaffinity(0))),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    mem = MemTracker()
    res: dict[str, Any] = {
        "args": vars(args),
        "versions": versions(),
        "stages": {},
        "provenance": provenance(),
    }
    st = res["stages"]
    n, reps = args.n_customers, args.repeats

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    t_all = time.perf_counter()
    # ---------------------------------------------------------------- data
    with mem.stage("generate"):
        t0 = time.perf_counter()
        data = sd.datasets.make_customers(
            n_customers=n, seed=args.seed, history_days=args.history_days
        )
        gen_s = time.perf_counter() - t0
    orders = data.tables["orders"]
    n_before = orders.filter(pl.col("ts") < data.as_of).height
    t_before = data.tables["tickets"].filter(pl.col("opened") < data.as_of).height
    res["data"] = {
        "n_customers": n,
        "history_days": args.history_days,
        "orders_rows": orders.height,
        "orders_before_as_of": n_before,
        "tickets_rows": data.tables["tickets"].height,
        "tickets_before_as_of": t_before,
        "generate_s": gen_s,
    }
    log(
        f"generated {n:,} customers, {orders.height:,} orders "
        f"({n_before:,} before as_of), {data.tables['tickets'].height:,} tickets "
        f"({t_before:,} before as_of) in {gen_s:.1f} s"
    )

    # ---------------------------------------------------- a. feature building
    fs = FeatureSet.default()
    with mem.stage("features_polars"):
        times, built = timed(lambda: fs.build(data.tables, as_of=data.as_of), reps)
    frame = built.frame
    st["features_polars"] = times
    log(f"features (segdiscover): {frame.shape} median {med(times):.2f} s {times}")

    t0 = time.perf_counter()
    ptables = tables_to_pandas(data.tables)
    res["pandas_convert_s"] = time.perf_counter() - t0
    log(f"converted tables to pandas in {res['pandas_convert_s']:.1f} s (untimed)")
    with mem.stage("features_pandas"):
        times, pframe = timed(
            lambda: build_features(ptables, data.as_of), args.pandas_repeats or reps
        )
    st["features_pandas"] = times
    log(f"features (pandas): {pframe.shape} median {med(times):.2f} s {times}")
    agree = agreement(frame, pframe)
    res["agreement"] = agree
    bad = [c for c, a in agree.items() if not a["ok"]]
    for c in ("orders_per_month", "revenue_365d", "tickets_per_month"):
        a = agree[c]
        log(f"  agree {c}: allclose={a['ok']} max|diff|={a['max_abs_diff']:.2e}")
    log(
        f"  agreement over all {len(agree)} columns: "
        f"{'all agree' if not bad else 'DISAGREE on ' + ', '.join(bad)}"
    )
    ptables = pframe = None  # free the pandas copies
    gc.collect()

    # ------------------------------------------------ b. preprocess + k-means
    feat = frame.drop("customer_id")
    with mem.stage("preprocess"):
        times, X = timed(lambda: Preprocessor().fit_transform(feat), reps)
    st["preprocess"] = times
    log(f"preprocess: X {X.shape} median {med(times):.2f} s {times}")
    spec = CLUSTERERS["kmeans"]
    with mem.stage("kmeans_segdiscover"):
        times, km = timed(
            lambda: spec.factory(n_clusters=6, random_state=0).fit(X), reps
        )
    st["kmeans_segdiscover"] = times
    log(f"kmeans (segdiscover adapter): median {med(times):.2f} s {times}")
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    with mem.stage("kmeans_sklearn"):
        times, skm = timed(lambda: KMeans(6, n_init=4, random_state=0).fit(X), reps)
    st["kmeans_sklearn"] = times
    res["kmeans_ari_adapter_vs_sklearn"] = float(
        adjusted_rand_score(km.labels_, skm.labels_)
    )
    log(
        f"kmeans (sklearn): median {med(times):.2f} s {times}; ARI between the two "
        f"labelings {res['kmeans_ari_adapter_vs_sklearn']:.3f}"
    )
    X = km = skm = None
    gc.collect()

    # --------------------------------------------------- c. full Segmenter fit
    seg_times, parts_runs = [], []
    with mem.stage("segmenter_fit"):
        for _ in range(args.segmenter_repeats):
            parts: dict[str, float] = {}
            seg = None
            gc.collect()
            with (
                time_methods(
                    sd.Segmenter, ["_door", "_choose", "_cluster", "_explain"], parts
                ),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                seg = sd.Segmenter(
                    clusterer="kmeans", n_segments=6, n_jobs=args.n_jobs, random_state=0
                ).fit(data.tables, as_of=data.as_of)
                total = time.perf_counter() - t0
            parts["preprocess (rest)"] = total - sum(parts.values())
            seg_times.append(total)
            parts_runs.append(parts)
    st["segmenter_fit"] = seg_times
    res["segmenter_parts"] = parts_runs
    res["fidelity"] = float(seg.fidelity_)
    res["macro_f1"] = float(seg.macro_f1_)
    res["shap_rows"] = int(seg.run_["shap_rows"])
    res["segmenter_threads"] = seg.run_.get("threads", "not recorded")
    res["segment_sizes"] = seg.segments_["size"].to_list()
    log(
        f"Segmenter.fit: median {med(seg_times):.1f} s {seg_times}; parts "
        + ", ".join(f"{k} {v:.1f} s" for k, v in parts_runs[-1].items())
        + f"; fidelity {seg.fidelity_:.4f}, shap_rows {seg.run_['shap_rows']}"
    )

    # ------------------------------------------------ explanation, separately
    pre = seg.preprocessor_
    labels = seg.labels_.get_column("segment_id").to_numpy()
    cols = pre.columns_
    cat_idx = [j for j, c in enumerate(cols) if c["kind"] == "categorical"]
    names = [c["name"] for c in cols]
    segs = sorted(int(s) for s in np.unique(labels))
    with mem.stage("explain"):
        times, Xraw = timed(lambda: categorical_codes(seg.features_, cols), reps)
        st["explain_codes"] = times
        times, sur = timed(
            lambda: fit_surrogate(
                Xraw,
                labels,
                cat_idx,
                max_rows=50_000,
                random_state=0,
                n_jobs=args.n_jobs,
            ),
            reps,
            budget_s=60.0,
        )
        st["explain_surrogate"] = times
        if args.n_jobs != 1:
            times, _ = timed(
                lambda: fit_surrogate(
                    Xraw, labels, cat_idx, max_rows=50_000, random_state=0, n_jobs=1
                ),
                reps,
            )
            st["explain_surrogate_1job"] = times
        idx = stratified_sample(labels, 2000, np.random.RandomState(0))
        times, sv = timed(lambda: shap_values(sur, Xraw[idx]), reps)
        st["explain_shap"] = times
        times, stats = timed(
            lambda: feature_statistics(seg.features_, seg.feature_meta_, labels, segs),
            reps,
        )
        st["explain_statistics"] = times
        times, _ = timed(
            lambda: rank_drivers(sv, labels[idx], names, stats, segs), reps
        )
        st["explain_rank"] = times
    res["surrogate_fidelity_separate"] = float(sur.fidelity)
    res["shap_sample_rows"] = int(idx.size)
    log(
        "explain parts: "
        + ", ".join(
            f"{k.removeprefix('explain_')} {med(st[k]):.2f} s {st[k]}"
            for k in (
                "explain_codes",
                "explain_surrogate",
                "explain_surrogate_1job",
                "explain_shap",
                "explain_statistics",
                "explain_rank",
            )
            if k in st
        )
        + f"; separate surrogate fidelity {sur.fidelity:.4f}"
    )

    mem.stop()
    res["memory"] = mem.stages
    res["peak_rss_gib"] = max(mem.global_peak / GIB, maxrss_gib())
    res["maxrss_gib"] = maxrss_gib()
    res["wall_total_s"] = time.perf_counter() - t_all
    log(f"done in {res['wall_total_s']:.0f} s; peak RSS {res['peak_rss_gib']:.2f} GiB")
    return res


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report(res: dict[str, Any]) -> str:
    st, d, mem = res["stages"], res["data"], res["memory"]

    def m(k: str) -> float:
        return med(st[k])

    def runs(k: str) -> str:
        return ", ".join(f"{t:.2f}" for t in st[k])

    def peak(*keys: str) -> str:
        return " / ".join(
            f"{fmt(mem[k]['rss_peak_gib'])} ({fmt(mem[k]['rss_before_gib'])})"
            for k in keys
        )

    seg_stages = [
        "features_polars",
        "preprocess",
        "kmeans_segdiscover",
        "segmenter_fit",
        "explain",
    ]
    explain_parts = [
        "explain_codes",
        "explain_surrogate",
        "explain_shap",
        "explain_statistics",
        "explain_rank",
    ]
    explain_sum = sum(m(k) for k in explain_parts)
    seg_parts = res["segmenter_parts"]
    part_med = {k: statistics.median(p[k] for p in seg_parts) for k in seg_parts[0]}
    tf, fe = TARGETS["features"], TARGETS["explain"]
    ff = TARGETS["fidelity"]
    agree = res["agreement"]
    n_ok = sum(a["ok"] for a in agree.values())

    def yes(ok: object) -> str:
        return "yes" if ok else "**no**"

    lines = [
        f"## Scale: {d['n_customers']:,} customers, {d['orders_rows']:,} orders "
        f"({d['orders_before_as_of']:,} before as_of), {d['tickets_rows']:,} tickets "
        f"({d['tickets_before_as_of']:,} before as_of)",
        "",
        f"Measured on {describe(res['provenance'])}.",
        "",
        f"history_days={d['history_days']}, repeats={res['args']['repeats']}, "
        f"Segmenter fits={res['args']['segmenter_repeats']}; times are medians in "
        "seconds (all runs in brackets); peak RSS is the highest sampled resident "
        "memory of the process during the stage, with the RSS at the stage's start in "
        "parentheses (the generated polars tables, ~2 GiB, are resident throughout; "
        "for feature building: segdiscover / pandas, the pandas run also holding the "
        "pandas copies of the tables).",
        "",
        "| Stage | segdiscover (s) | baseline (s) | baseline / segdiscover | "
        "peak RSS (at start), GiB | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
        f"| a. feature building ({d['n_customers']:,} customers) | "
        f"{fmt(m('features_polars'))} [{runs('features_polars')}] | "
        f"pandas {fmt(m('features_pandas'))} [{runs('features_pandas')}] | "
        f"{m('features_pandas') / m('features_polars'):.1f}x | "
        f"{peak('features_polars', 'features_pandas')} | {tf[0]} | "
        f"{yes(tf[1](m('features_polars')))} |",
        f"| b1. preprocessing (Preprocessor.fit_transform) | "
        f"{fmt(m('preprocess'))} [{runs('preprocess')}] | - | - | "
        f"{peak('preprocess')} | - | - |",
        f"| b2. k-means k=6, n_init=4 (adapter vs sklearn KMeans) | "
        f"{fmt(m('kmeans_segdiscover'))} [{runs('kmeans_segdiscover')}] | "
        f"sklearn {fmt(m('kmeans_sklearn'))} [{runs('kmeans_sklearn')}] | "
        f"{m('kmeans_sklearn') / m('kmeans_segdiscover'):.2f}x | "
        f"{peak('kmeans_segdiscover', 'kmeans_sklearn')} | - | - |",
        f"| c. Segmenter(kmeans, 6).fit end to end | {fmt(m('segmenter_fit'), 1)} "
        f"[{runs('segmenter_fit')}] | - | - | {peak('segmenter_fit')} | - | - |",
        f"| c1. explanation inside fit (`_explain`) | {fmt(part_med['_explain'])} | - "
        f"| - | - | {fe[0]} | {yes(fe[1](part_med['_explain']))} |",
        f"| c2. surrogate fit (LightGBM, 50k rows) | "
        f"{fmt(m('explain_surrogate'))} [{runs('explain_surrogate')}] | - | - | - | "
        "- | - |",
        *(
            [
                f"| c2'. surrogate fit with n_jobs=1 (for comparison) | "
                f"{fmt(m('explain_surrogate_1job'))} "
                f"[{runs('explain_surrogate_1job')}] "
                "| - | - | - | - | - |"
            ]
            if "explain_surrogate_1job" in st
            else []
        ),
        f"| c3. SHAP ({res['shap_sample_rows']:,} rows) | {fmt(m('explain_shap'))} "
        f"[{runs('explain_shap')}] | - | - | - | - | - |",
        f"| c2+c3 surrogate + SHAP | "
        f"{fmt(m('explain_surrogate') + m('explain_shap'))} | - | - | - | {fe[0]} | "
        f"{yes(fe[1](m('explain_surrogate') + m('explain_shap')))} |",
        f"| c4. feature statistics (all customers) | "
        f"{fmt(m('explain_statistics'))} [{runs('explain_statistics')}] | - | - | - "
        "| - | - |",
        f"| c5. categorical codes + driver ranking | "
        f"{fmt(m('explain_codes') + m('explain_rank'))} | - | - | - | - | - |",
        f"| c2..c5 explanation, sum of parts | {fmt(explain_sum)} | - | - | "
        f"{peak('explain')} | {fe[0]} | {yes(fe[1](explain_sum))} |",
        f"| surrogate fidelity (held-out accuracy) | {res['fidelity']:.4f} | - | - | "
        f"- | {ff[0]} | {yes(ff[1](res['fidelity']))} |",
        f"| peak RSS, whole run (incl. data generation and pandas baseline) | "
        f"{res['peak_rss_gib']:.2f} GiB | - | - | - | - | - |",
        f"| peak RSS, segdiscover stages only (after data generation) | "
        f"{max(mem[k]['rss_peak_gib'] for k in seg_stages):.2f} GiB | - | - | - | - "
        "| - |",
        "",
        "Segmenter.fit breakdown (median): "
        + ", ".join(f"{k.strip('_')} {v:.2f} s" for k, v in part_med.items())
        + " (`door` = feature building and checks; `preprocess (rest)` = the time "
        "outside the four timed methods, mostly the Preprocessor).",
        "",
        f"Pandas baseline agreement with segdiscover (aligned by customer_id, "
        f"np.allclose rtol=atol=1e-9, equal_nan): {n_ok}/{len(agree)} columns agree"
        + "; "
        + ", ".join(
            f"{c} max|diff| {agree[c]['max_abs_diff']:.1e}"
            for c in ("orders_per_month", "revenue_365d", "tickets_per_month")
        )
        + ".",
        "",
        f"shap_rows={res['shap_rows']}, macro F1={res['macro_f1']:.4f}, "
        f"segment sizes={res['segment_sizes']}, k-means ARI adapter vs sklearn="
        f"{res['kmeans_ari_adapter_vs_sklearn']:.3f}, data generation "
        f"{d['generate_s']:.1f} s, pandas conversion {res['pandas_convert_s']:.1f} s "
        f"(untimed), total wall {res['wall_total_s']:.0f} s.",
        "",
        "Mean CPU use per stage, this process / all other processes, in cores (the "
        "machine has " + res["versions"]["nproc"] + "; other processes' load is "
        "the noise from the shared machine): "
        + ", ".join(
            f"{k} {v['own_cores']:.2f}/{v['other_cores']:.2f}" for k, v in mem.items()
        )
        + ".",
        f"n_jobs passed to Segmenter and fit_surrogate: {res['args']['n_jobs']} "
        f"(None = the library default); threads the Segmenter fit used "
        f"(`run_['threads']`): {res['segmenter_threads']}.",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------- whole jobs
#: The issue's targets for the whole-process jobs (issue 17).
JOB_TARGETS = {
    "speedup": 2.7,  # baseline wall / fixed-k wall >=
    "auto": 2.0,  # auto wall / fixed-k wall <=
    "assign": 1 / 3,  # assign wall / fixed-k wall <=
    "rss_gib": 2.0,  # every segdiscover job's peak RSS <=
}


def write_job_data(folder: Path, n: int, seed: int, history_days: int) -> str:
    """Generate the tables once and write them to parquet; return ``as_of``."""
    data = sd.datasets.make_customers(
        n_customers=n, seed=seed, history_days=history_days
    )
    folder.mkdir(parents=True, exist_ok=True)
    for name, t in data.tables.items():
        t.write_parquet(folder / f"{name}.parquet")
    return f"{data.as_of:%Y-%m-%d}"


def run_job(args: argparse.Namespace) -> None:
    """Child process: run one job, then print its peak RSS as the last line."""
    d, as_of, out = Path(args.data), args.as_of, Path(args.job_out)
    tables = [
        f"--tables={n}={d / n}.parquet" for n in ("orders", "tickets", "customers")
    ]
    if args.run_job == "baseline":
        from baseline_pandas import plain_job

        plain_job(str(d), dt_from(as_of), str(out / "assignments.parquet"))
    else:
        from segdiscover.cli import main as cli

        argv = {
            "fixed": [
                "discover",
                *tables,
                f"--as-of={as_of}",
                "--clusterer",
                "kmeans",
                "--k",
                "6",
                "--out",
                str(out),
            ],
            "auto": ["discover", *tables, f"--as-of={as_of}", "--out", str(out)],
            "assign": [
                "assign",
                "--model",
                str(Path(args.model)),
                *tables,
                f"--as-of={as_of}",
                "--out",
                str(out / "assigned.parquet"),
            ],
            "assign_stream": [
                "assign",
                "--model",
                str(Path(args.model)),
                *tables,
                f"--as-of={as_of}",
                "--stream",
                "--out",
                str(out / "assigned"),
            ],
        }[args.run_job]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = cli([*argv, "--quiet"])
        if code != 0:
            raise SystemExit(code)
    print(json.dumps({"maxrss_gib": vm_hwm_gib()}))


def dt_from(text: str) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text)


def jobs(args: argparse.Namespace) -> dict[str, Any]:
    """Time each job as a whole process, side by side, interleaved by round."""
    import shutil
    import subprocess
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="sd-jobs-", dir=args.tmp))
    env = dict(os.environ)
    if not args.no_bytecode_cache:
        # An installed package runs from compiled bytecode (pip compiles at
        # install); where the environment turns the cache off
        # (PYTHONDONTWRITEBYTECODE), every job would compile its imports from
        # source (seconds for sklearn, shap, ...). A private cache, filled by an
        # untimed warm-up round on small data, gives every job (segdiscover's and
        # the baseline alike) the installed condition.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")

    def one(name: str, data: Path, as_of: str, out: Path, model: Path) -> Any:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        cmd = [
            sys.executable,
            __file__,
            "--run-job",
            name,
            "--data",
            str(data),
            "--as-of",
            as_of,
            "--job-out",
            str(out),
            "--model",
            str(model),
        ]
        t1 = time.perf_counter()
        got = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t1
        if got.returncode != 0:
            msg = f"{name} failed:\n{got.stderr[-3000:]}"
            raise RuntimeError(msg)
        rss = json.loads(got.stdout.strip().splitlines()[-1])["maxrss_gib"]
        return {"wall_s": wall, "maxrss_gib": rss}

    try:
        names = ["fixed", "baseline", "auto", "assign", "assign_stream"]
        names = [n for n in names if n in args.job_names]
        warm_s = 0.0
        if not args.no_bytecode_cache:
            t0 = time.perf_counter()
            small = base / "warm"
            warm_as_of = write_job_data(
                small / "data", 12_000, args.seed, args.history_days
            )
            for name in ["fixed", *[n for n in names if n != "fixed"]]:
                one(name, small / "data", warm_as_of, small / name,
                    small / "fixed" / "model")  # fmt: skip
            warm_s = time.perf_counter() - t0
            print(f"bytecode cache warmed in {warm_s:.0f} s (untimed)", flush=True)
        t0 = time.perf_counter()
        as_of = write_job_data(
            base / "data", args.n_customers, args.seed, args.history_days
        )
        gen_s = time.perf_counter() - t0
        print(f"data written in {gen_s:.0f} s", flush=True)
        runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        model = base / "fixed-0" / "model"
        for rep in range(args.job_repeats):
            for name in names:
                got = one(name, base / "data", as_of, base / f"{name}-{rep}", model)
                runs[name].append(got)
                print(
                    f"round {rep} {name}: {got['wall_s']:.1f} s, "
                    f"{got['maxrss_gib']:.2f} GiB",
                    flush=True,
                )
        return {
            "runs": runs,
            "generate_s": gen_s,
            "warmup_s": warm_s,
            "bytecode_cache": not args.no_bytecode_cache,
            "args": vars(args),
            "provenance": provenance(),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def jobs_report(res: dict[str, Any]) -> str:
    """The issue's side-by-side table, with the targets and whether each is met."""
    runs = res["runs"]
    wall = {k: med([r["wall_s"] for r in v]) for k, v in runs.items()}
    rss = {k: max(r["maxrss_gib"] for r in v) for k, v in runs.items()}
    n = res["args"]["n_customers"]

    def yes(ok: object) -> str:
        return "yes" if ok else "**no**"

    label = {
        "fixed": "`segdiscover discover --tables ... --clusterer kmeans --k 6`",
        "baseline": "the same job written plainly (pandas features, StandardScaler "
        "+ one-hot, KMeans, LightGBM surrogate, SHAP on 2k rows, medians, parquet)",
        "auto": "`segdiscover discover --tables ...` (auto)",
        "assign": "`segdiscover assign --model ... --tables ...`",
        "assign_stream": "`segdiscover assign ... --stream` (bounded memory)",
    }
    lines = [
        f"## Whole jobs at {n:,} customers (each a fresh process, medians of "
        f"{res['args']['job_repeats']} round(s), interleaved)",
        "",
        f"Measured on {describe(res['provenance'])}.",
        "",
        "| job | wall (s) | runs | peak RSS (GiB) | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    T = JOB_TARGETS
    fixed = wall.get("fixed")
    for k in runs:
        runs_s = ", ".join(f"{r['wall_s']:.1f}" for r in runs[k])
        ratio, target, met = "-", "-", "-"
        if fixed and k == "baseline":
            ratio = f"{wall[k] / fixed:.2f}x fixed-k"
            target = f"baseline >= {T['speedup']}x fixed-k"
            met = yes(wall[k] / fixed >= T["speedup"])
        elif fixed and k == "auto":
            ratio = f"{wall[k] / fixed:.2f}x fixed-k"
            target = f"<= {T['auto']:.0f}x fixed-k"
            met = yes(wall[k] / fixed <= T["auto"])
        elif fixed and k.startswith("assign"):
            ratio = f"{wall[k] / fixed:.2f}x fixed-k"
            target = "<= 1/3 of fixed-k"
            met = yes(wall[k] / fixed <= T["assign"])
        rss_ok = "-" if k == "baseline" else yes(rss[k] <= T["rss_gib"])
        lines.append(
            f"| {label[k]} | {wall[k]:.1f} | {runs_s} | {rss[k]:.2f} "
            f"({rss_ok if k != 'baseline' else 'baseline'}) | {ratio} | {target} | "
            f"{met} |"
        )
    lines += [
        "",
        f"Peak RSS target: every segdiscover job <= {T['rss_gib']:.0f} GiB (in "
        "parentheses: met or not). Data generation (untimed): "
        f"{res['generate_s']:.0f} s. Bytecode: "
        + (
            "compiled once in an untimed warm-up round on 12,000 customers, as an "
            "installed package runs (every job alike)."
            if res.get("bytecode_cache", False)
            else "as the environment is (no cache where PYTHONDONTWRITEBYTECODE is "
            "set: each job compiles its imports)."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-customers", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--segmenter-repeats", type=int, default=1)
    p.add_argument(
        "--pandas-repeats",
        type=int,
        default=None,
        help="repeats of the pandas baseline (default: --repeats)",
    )
    p.add_argument(
        "--history-days",
        type=int,
        default=120,
        help="120 gives ~10.4M orders before as_of at 1M customers",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="n_jobs for the surrogate (default: the library default)",
    )
    p.add_argument("--out", type=Path, default=OUT / "scale.md")
    p.add_argument(
        "--jobs",
        action="store_true",
        help="the side-by-side table of whole jobs (issue 17) instead of the stages",
    )
    p.add_argument("--job-repeats", type=int, default=1)
    p.add_argument(
        "--job-names",
        nargs="+",
        default=["fixed", "baseline", "auto", "assign", "assign_stream"],
    )
    p.add_argument("--tmp", default=None, help="folder for the generated parquet")
    p.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run the jobs as the environment is (no private bytecode cache and no "
        "warm-up): with PYTHONDONTWRITEBYTECODE set, each job compiles its imports",
    )
    p.add_argument("--run-job", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--as-of", help=argparse.SUPPRESS)
    p.add_argument("--job-out", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.run_job:
        run_job(args)
        return
    if args.jobs:
        res = jobs(args)
        md = jobs_report(res)
        print()
        print(md)
        out = (
            args.out.with_name("scale_jobs.md")
            if args.out.name == "scale.md"
            else args.out
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(md)
        out.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str))
        print(f"wrote {out}")
        return
    res = run(args)
    md = report(res)
    print()
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
