"""Model-selection benchmark: does ``clusterer="auto"`` pick the planted k?

For each seed and planted k (3..8): planted data at default difficulty, then
``Segmenter(random_state=seed, stability_refits=0).fit`` with the defaults
(``clusterer="auto"``, k from 2 to 10). ``--generator customers`` (default) uses
``make_customers(n_customers, n_segments=k, seed=seed)`` (raw tables);
``--generator table`` uses ``make_segments_table`` (one customer table, fitted with
``id="customer_id"``), written independently of it. Reports the share of runs whose
chosen k equals the planted k (overall and per planted k), the ARI of the chosen
segmentation against the planted segments, and the fit time.

With ``--size-check N`` it also times the sweep alone on N customers against one
k-means fit on all of them (the cost budget in docs/guide/03-clustering.md).

Usage::

    uv run python benchmarks/bench_selection.py --seeds 20 --n-customers 5000
    uv run python benchmarks/bench_selection.py --generator table --seeds 20
    uv run python benchmarks/bench_selection.py --seeds 0 --size-check 200000
    uv run python benchmarks/bench_selection.py --set kmeans.n_init=10 --tag _k10

``--set NAME.PARAM=VALUE`` (repeatable) overrides a registry clusterer's parameter
for the whole run (sweep, stability refits and final fit), to compare settings on
the same seeds. Each run also records, per clusterer, the stability interval's lower
end of its candidate at the planted k.

Writes ``benchmarks/_out/selection[_table].md`` and ``.json`` (``--tag`` adds a
suffix). Each run also records whether the sweep called its pick stable.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl
from _provenance import describe, provenance
from sklearn.metrics import adjusted_rand_score

import segdiscover as sd

OUT = Path(__file__).parent / "_out"


def accuracy(args: argparse.Namespace) -> list[dict]:
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for k in args.ks:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if args.generator == "table":
                    data = sd.datasets.make_segments_table(
                        n_customers=args.n_customers, n_segments=k, seed=seed
                    )
                    t0 = time.perf_counter()
                    seg = sd.Segmenter(
                        id="customer_id", random_state=seed, stability_refits=0
                    ).fit(data.table)
                else:
                    data = sd.datasets.make_customers(
                        n_customers=args.n_customers, n_segments=k, seed=seed
                    )
                    t0 = time.perf_counter()
                    seg = sd.Segmenter(random_state=seed, stability_refits=0).fit(
                        data.tables, as_of=data.as_of
                    )
            secs = time.perf_counter() - t0
            cand = seg.candidates_
            at_k = (
                cand.filter(pl.col("n_segments") == k)
                if "stability_lo" in cand.columns
                else cand.clear()
            )
            truth = data.truth.join(seg.labels_, on="customer_id")
            ari = adjusted_rand_score(truth["segment"], truth["segment_id"])
            no_order = no_order_segments(seg)
            rows.append(
                {
                    "seed": seed,
                    "planted": k,
                    "chosen": seg.n_segments_,
                    "clusterer": seg.clusterer_name_,
                    "ari": ari,
                    "stable": bool(
                        "stable" in cand.columns
                        and cand.filter(pl.col("chosen"))["stable"][0]
                    ),
                    "seconds": secs,
                    "no_order_segments": no_order,
                    "planted_lo": {
                        r["clusterer"]: round(r["stability_lo"], 3)
                        for r in at_k.iter_rows(named=True)
                    },
                }
            )
            print(rows[-1], flush=True)
    return rows


def no_order_segments(seg: sd.Segmenter) -> int:
    """Count the chosen segments of customers with no order in the feature window.

    A segment counts when >= 90% of its customers have ``orders_per_month`` 0 (the
    raw-table generator's customers whose sparse order process left the 365-day
    window empty). Such a group is observable structure the planted truth does not
    label; the summary reports the planted-k figure with and without it.
    """
    feat = seg.result_.features
    if "orders_per_month" not in feat.columns:
        return 0
    share = (
        feat.select("customer_id", (pl.col("orders_per_month") == 0).alias("none"))
        .join(seg.labels_, on="customer_id")
        .group_by("segment_id")
        .agg(pl.col("none").mean())
    )
    return int((share["none"] >= 0.9).sum())


def size_check(n: int) -> dict:
    from threadpoolctl import threadpool_limits

    from segdiscover.clusterers import CLUSTERERS
    from segdiscover.preprocess import Preprocessor
    from segdiscover.selection import sweep

    data = sd.datasets.make_customers(n_customers=n, seed=0)
    built = sd.FeatureSet.default().build(data.tables, data.as_of)
    feat = built.frame.drop("customer_id")
    pre = Preprocessor().fit(feat, {m.name: m.kind for m in built.meta})
    X = pre.transform(feat)
    specs = [s for s in CLUSTERERS.values() if s.in_auto]
    sweeps, fits = [], []
    for r in range(3):
        with warnings.catch_warnings(), threadpool_limits(2):
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            sel = sweep(X, specs, list(range(2, 11)), random_state=r)
            sweeps.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            CLUSTERERS["kmeans"].factory(n_clusters=6, random_state=r).fit(X)
            fits.append(time.perf_counter() - t0)
    return {
        "n_customers": n,
        "candidates": sel.candidates.height,
        "sweep_seconds": sweeps,
        "one_kmeans_fit_seconds": fits,
        "ratio_median": statistics.median(sweeps) / statistics.median(fits),
    }


def override(settings: list[str]) -> dict[str, dict[str, object]]:
    """Apply ``NAME.PARAM=VALUE`` overrides to the registry (this process only)."""
    from segdiscover.clusterers import CLUSTERERS

    done: dict[str, dict[str, object]] = {}
    for item in settings:
        key, value = item.split("=", 1)
        name, param = key.split(".", 1)
        done.setdefault(name, {})[param] = json.loads(value)
    for name, params in done.items():
        spec = CLUSTERERS[name]
        CLUSTERERS[name] = dataclasses.replace(
            spec, factory=functools.partial(spec.factory, **params)
        )
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--n-customers", type=int, default=5000)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--ks", type=int, nargs="+", default=list(range(3, 9)))
    p.add_argument("--generator", choices=["customers", "table"], default="customers")
    p.add_argument("--tag", default="")
    p.add_argument("--size-check", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE")
    args = p.parse_args()
    overrides = override(args.set)
    stem = "selection" + ("_table" if args.generator == "table" else "") + args.tag
    OUT.mkdir(exist_ok=True)
    res: dict = {"provenance": provenance(), "args": vars(args)}
    lines = ["# Model selection (`clusterer='auto'`)", "", describe(res["provenance"])]
    if overrides:
        lines += ["", f"Registry overrides: {overrides}."]
    if args.seeds:
        rows = accuracy(args)
        res["runs"] = rows
        hit = [r["chosen"] == r["planted"] for r in rows]
        plus = [r["chosen"] - r["no_order_segments"] == r["planted"] for r in rows]
        plus8 = [h for h, r in zip(plus, rows, strict=True) if r["planted"] == 8]
        lines += [
            "",
            f"{len(rows)} runs ({args.generator}, {args.seeds} seeds x planted k "
            f"{args.ks}, {args.n_customers:,} customers): planted k chosen in "
            f"{np.mean(hit):.0%} (target >= 90%, >= 80% at k=8); pick called "
            f"stable in {np.mean([r['stable'] for r in rows]):.0%}; median ARI "
            f"{statistics.median(r['ari'] for r in rows):.3f}; median fit "
            f"{statistics.median(r['seconds'] for r in rows):.1f} s.",
            *(
                [
                    "",
                    "Counting a chosen segment of customers with no order in the "
                    "window (>= 90% of its customers) as observed structure beside "
                    "the planted k: "
                    f"{np.mean(plus):.0%} (at k=8: "
                    f"{np.mean(plus8) if plus8 else float('nan'):.0%}); runs with "
                    f"such a segment: {sum(r['no_order_segments'] > 0 for r in rows)}.",
                ]
                if args.generator == "customers"
                else []
            ),
            "",
            "| planted k | runs | chosen = planted | chosen k (all runs) "
            "| median ARI |",
            "|---:|---:|---:|---|---:|",
        ]
        for k in args.ks:
            rk = [r for r in rows if r["planted"] == k]
            lines.append(
                f"| {k} | {len(rk)} | "
                f"{np.mean([r['chosen'] == k for r in rk]):.0%} | "
                f"{sorted(r['chosen'] for r in rk)} | "
                f"{statistics.median(r['ari'] for r in rk):.3f} |"
            )
    if args.size_check:
        sc = size_check(args.size_check)
        res["size_check"] = sc
        lines += [
            "",
            f"Sweep on {sc['n_customers']:,} customers ({sc['candidates']} "
            f"candidates): median {statistics.median(sc['sweep_seconds']):.1f} s "
            f"(runs {[round(v, 1) for v in sc['sweep_seconds']]}); one k-means fit "
            f"on all customers median "
            f"{statistics.median(sc['one_kmeans_fit_seconds']):.1f} s; ratio "
            f"{sc['ratio_median']:.1f}x.",
        ]
    (OUT / f"{stem}.json").write_text(json.dumps(res, indent=1, default=str))
    (OUT / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
