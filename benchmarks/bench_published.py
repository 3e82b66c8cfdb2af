"""Published scores: do segdiscover's clusterers reproduce them, and how does `auto` do?

Data: Gagolewski's Benchmark Suite for Clustering Algorithms v1 (``clustering-data-v1``:
wut, graves, sipu, fcps, uci, other; 2-D/3-D shapes and a few real UCI tables) and
the published scores of the methods run on it (``clustering-results-v1-scores``,
from the genieclust documentation). Both are in ``../shared/data/``; see their
SOURCE.md for licence (AGPL-3.0, research use) and citation.

1. **Parity.** Each registered clusterer, asked for each reference partition's k,
   on the suite's preprocessing (zero-variance columns dropped, centred, scaled to
   total variance 1, tiny Gaussian noise), scored by the adjusted Rand index with
   noise points (label 0) left out, maximum over the reference partitions, the same
   convention as the published table. Compared with the published method of the
   same family: ``kmeans`` with ``sklearn_kmeans``, ``gmm`` with ``sklearn_gm``
   (ours uses diagonal covariances by default, so it is also run with
   ``covariance_type="full"``), ``ward`` with ``fastcluster_ward``, ``birch`` (at the
   published threshold 0.01, branching factor 50) with
   ``sklearn_birch_T0.01_BF50``.
2. **Choosing k.** On datasets whose reference k is 2-10, ``selection.sweep`` with
   the ``auto`` candidates (k-means and GMM, k = 2..10) picks k itself: the share of
   datasets where it picks a reference k, and its ARI against the published
   methods that were *given* k.

Usage::

    uv run python benchmarks/bench_published.py               # about 10 min
    uv run python benchmarks/bench_published.py --max-n 3000  # quick look

Writes ``benchmarks/_out/published.md`` and ``published.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _provenance import describe, provenance
from sklearn.metrics import adjusted_rand_score

from segdiscover.clusterers import CLUSTERERS
from segdiscover.selection import sweep

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
DATA = SHARED / "clustering-data-v1"
SCORES = SHARED / "clustering-results-v1-scores" / "v1-scores.csv.gz"
OUT = Path(__file__).resolve().parent / "_out"
BATTERIES = ("wut", "graves", "sipu", "fcps", "uci", "other")

#: ours -> (published method, parameters for our adapter)
PAIRS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "kmeans": ("sklearn_kmeans", "kmeans", {}),
    "gmm (diag, default)": ("sklearn_gm", "gmm", {}),
    "gmm (full)": ("sklearn_gm", "gmm", {"covariance_type": "full"}),
    "ward": ("fastcluster_ward", "ward", {}),
    "birch (T 0.01, BF 50)": (
        "sklearn_birch_T0.01_BF50",
        "birch",
        {"threshold": 0.01, "branching_factor": 50},
    ),
}


def load(battery: str, name: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Points and reference label vectors (0 = noise) of one dataset."""
    X = np.loadtxt(DATA / battery / f"{name}.data.gz", ndmin=2)
    labels = []
    for j in range(10):
        f = DATA / battery / f"{name}.labels{j}.gz"
        if not f.exists():
            break
        labels.append(np.loadtxt(f, dtype=int))
    return X, labels


def preprocess(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """The suite's preprocessing: drop constant columns, centre, total variance 1."""
    X = X[:, X.std(axis=0) > 0]
    X = X - X.mean(axis=0)
    X = X / np.sqrt((X**2).mean(axis=0).sum())
    # Tiny noise breaks ties between duplicate points, as the published runs did.
    return X + np.random.default_rng(seed).normal(0.0, 1e-6, X.shape)


def ari_max(pred: np.ndarray, refs: list[np.ndarray]) -> float:
    """Maximum ARI over the reference vectors, noise points (0) left out."""
    out = []
    for y in refs:
        keep = y > 0
        out.append(adjusted_rand_score(y[keep], pred[keep]))
    return max(out)


def datasets(max_n: int) -> list[tuple[str, str]]:
    found = []
    for b in BATTERIES:
        for f in sorted((DATA / b).glob("*.data.gz")):
            found.append((b, f.name.removesuffix(".data.gz")))
    dims = pl.read_csv(SHARED / "clustering-results-v1-scores" / "v1-dims.csv")
    n = {(r["battery"], r["dataset"]): r["n"] for r in dims.iter_rows(named=True)}
    return [d for d in found if n.get(d, 0) <= max_n]


def parity(sets: list[tuple[str, str]], published: pl.DataFrame) -> list[dict]:
    rows = []
    for battery, name in sets:
        X, refs = load(battery, name)
        Xp = preprocess(X)
        ks = sorted({int(y.max()) for y in refs})
        for label, (pub, key, params) in PAIRS.items():
            # Each reference vector's own k, then the best over vectors (convention).
            t0 = time.perf_counter()
            scores = []
            for k in ks:
                est = CLUSTERERS[key].factory(n_clusters=k, random_state=0, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred = np.asarray(est.fit(Xp).labels_)
                refs_k = [y for y in refs if int(y.max()) == k]
                scores.append(ari_max(pred, refs_k))
            p = published.filter(
                (pl.col("battery") == battery)
                & (pl.col("dataset") == name)
                & (pl.col("method") == pub)
            )
            rows.append(
                {
                    "battery": battery,
                    "dataset": name,
                    "n": X.shape[0],
                    "ours": label,
                    "published_method": pub,
                    "ari": max(scores),
                    "published_ari": float(p["ar"].max()) if p.height else None,
                    "seconds": time.perf_counter() - t0,
                }
            )
        print(f"{battery}/{name}: n={X.shape[0]}, k={ks}", flush=True)
    return rows


def choose_k(sets: list[tuple[str, str]], published: pl.DataFrame) -> list[dict]:
    specs = [s for s in CLUSTERERS.values() if s.in_auto]
    rows = []
    for battery, name in sets:
        X, refs = load(battery, name)
        ks = {int(y.max()) for y in refs}
        if not ks & set(range(2, 11)):
            continue
        Xp = preprocess(X)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sel = sweep(Xp, specs, list(range(2, 11)), random_state=0)
            est = CLUSTERERS[sel.clusterer].factory(
                n_clusters=sel.n_segments, random_state=0
            )
            pred = np.asarray(est.fit(Xp).labels_)
        p = published.filter(
            (pl.col("battery") == battery) & (pl.col("dataset") == name)
        )
        best = p.group_by("method").agg(pl.col("ar").max())
        rows.append(
            {
                "battery": battery,
                "dataset": name,
                "n": X.shape[0],
                "reference_k": sorted(ks),
                "chosen_k": sel.n_segments,
                "chosen_clusterer": sel.clusterer,
                "k_correct": sel.n_segments in ks,
                "ari": ari_max(pred, refs),
                "published_kmeans_given_k": _get(best, "sklearn_kmeans"),
                "published_gm_given_k": _get(best, "sklearn_gm"),
                "published_best_given_k": float(best["ar"].max()),
                "seconds": time.perf_counter() - t0,
            }
        )
        print(
            f"auto {battery}/{name}: k {sel.n_segments} (reference {sorted(ks)})",
            flush=True,
        )
    return rows


def _blob_line(auto: list[dict]) -> list[str]:
    """The same, on the datasets whose groups k-means can find when given k."""
    blob = [
        r
        for r in auto
        if r["published_kmeans_given_k"] is not None
        and r["published_kmeans_given_k"] >= 0.9
    ]
    if not blob:
        return []
    ok = sum(r["k_correct"] for r in blob)
    med = statistics.median(r["ari"] for r in blob)
    return [
        f"On the {len(blob)} datasets where the published k-means, given the "
        f"reference k, reaches ARI >= 0.9 (groups of the shape `auto`'s candidates "
        f"look for), `auto` picks a reference k in {ok} and its median ARI is "
        f"{med:.3f}."
    ]


def _get(frame: pl.DataFrame, method: str) -> float | None:
    r = frame.filter(pl.col("method") == method)
    return float(r["ar"][0]) if r.height else None


def report(par: list[dict], auto: list[dict], prov: dict[str, str], secs: float) -> str:
    lines = [
        "# Published scores (Benchmark Suite v1)",
        "",
        f"Measured on {describe(prov)}; {secs:.0f} s.",
        "",
        "## Parity: our clusterers given the reference k",
        "",
        "| ours | published | datasets | our ARI mean / median | published mean / "
        "median | within 0.05 | ours better by > 0.05 | ours worse by > 0.05 |",
        "|---|---|---:|---|---|---:|---:|---:|",
    ]
    worst: list[dict] = []
    for label, (pub, _, _) in PAIRS.items():
        rs = [r for r in par if r["ours"] == label and r["published_ari"] is not None]
        if not rs:
            continue
        a = [r["ari"] for r in rs]
        b = [r["published_ari"] for r in rs]
        d = [x - y for x, y in zip(a, b, strict=True)]
        lines.append(
            f"| {label} | {pub} | {len(rs)} | {statistics.mean(a):.3f} / "
            f"{statistics.median(a):.3f} | {statistics.mean(b):.3f} / "
            f"{statistics.median(b):.3f} | {sum(abs(x) <= 0.05 for x in d)} | "
            f"{sum(x > 0.05 for x in d)} | {sum(x < -0.05 for x in d)} |"
        )
        worst += sorted(rs, key=lambda r: r["ari"] - r["published_ari"])[:3]
    lines += [
        "",
        "Largest shortfalls against the published score (three per method):",
        "",
        "| ours | dataset | n | our ARI | published ARI |",
        "|---|---|---:|---:|---:|",
    ]
    for r in worst:
        lines.append(
            f"| {r['ours']} | {r['battery']}/{r['dataset']} | {r['n']:,} "
            f"| {r['ari']:.3f} | {r['published_ari']:.3f} |"
        )
    if auto:
        ok = sum(r["k_correct"] for r in auto)
        med = statistics.median(r["ari"] for r in auto)
        km = [
            r["published_kmeans_given_k"]
            for r in auto
            if r["published_kmeans_given_k"] is not None
        ]
        gm = [
            r["published_gm_given_k"]
            for r in auto
            if r["published_gm_given_k"] is not None
        ]
        lines += [
            "",
            "## `auto` choosing k itself (datasets with a reference k of 2-10)",
            "",
            f"{len(auto)} datasets: a reference k chosen in {ok} "
            f"({ok / len(auto):.0%}); median ARI {med:.3f} (mean "
            f"{statistics.mean(r['ari'] for r in auto):.3f}). Published, *given* the "
            f"reference k: k-means median {statistics.median(km):.3f} (mean "
            f"{statistics.mean(km):.3f}), GMM median {statistics.median(gm):.3f} "
            f"(mean {statistics.mean(gm):.3f}).",
            "",
            *_blob_line(auto),
            "",
            "| dataset | n | reference k | chosen | clusterer | ARI "
            "| published k-means (given k) | best published (given k) |",
            "|---|---:|---|---:|---|---:|---:|---:|",
        ]
        for r in auto:
            kmk = r["published_kmeans_given_k"]
            lines.append(
                f"| {r['battery']}/{r['dataset']} | {r['n']:,} | {r['reference_k']} "
                f"| {r['chosen_k']} | {r['chosen_clusterer']} | {r['ari']:.3f} "
                f"| {'' if kmk is None else f'{kmk:.3f}'} "
                f"| {r['published_best_given_k']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-n", type=int, default=20_000, help="skip larger datasets")
    p.add_argument("--no-auto", action="store_true", help="parity only")
    p.add_argument("--out", type=Path, default=OUT / "published.md")
    args = p.parse_args()
    if not DATA.is_dir() or not SCORES.is_file():
        msg = f"Needs {DATA} and {SCORES} (../shared/data beside the repository)."
        raise SystemExit(msg)
    prov = provenance()
    published = pl.read_csv(SCORES)
    sets = datasets(args.max_n)
    t0 = time.perf_counter()
    par = parity(sets, published)
    auto = [] if args.no_auto else choose_k(sets, published)
    md = report(par, auto, prov, time.perf_counter() - t0)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(
        json.dumps({"provenance": prov, "parity": par, "auto": auto}, indent=2)
    )
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
