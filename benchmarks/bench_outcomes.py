"""Outcome benchmark: power on planted differences, false positives under the null.

Power (``--power-sims`` simulations, default 100): ``make_customers(seed=i)`` at the
default size (20,000 customers, 6 planted segments), compared with
``segdiscover.outcomes.compare_segments`` on the **planted labels** (the statistics
module directly, so this measures the statistics, not the clustering). The true
segment-vs-rest difference of every (segment, outcome) is measured once on a large
draw (``--truth-n`` customers, default 300,000). A difference is *planted material*
when its true size is at least twice the default threshold (3 pp for churn, 10% of
the overall mean otherwise): clear of the threshold by more than sampling noise.
Reported: the share of planted material differences found (material, right sign),
averaged over simulations; the share of simulations in which *all* were found; and
wrong-sign material verdicts (should be 0).

Null (``--null-sims`` simulations, default 200): outcomes shuffled across customers,
so no segment truly differs. Two label sets: the planted labels of one 20,000-customer
draw, and the labels of a ``Segmenter`` fitted once (kmeans, k=6) on 5,000 customers
(**fitted segments**). Reported: the share of runs with *any* material verdict,
segment-vs-rest or pairwise, on any outcome; the nominal level is alpha = 0.05
(Benjamini-Hochberg across all comparisons), and its 95% binomial upper bound.

Timings: ``compare_segments`` with the default 500 replicates at 20,000 and 200,000
customers.

Usage::

    uv run python benchmarks/bench_outcomes.py [--power-sims 100 --null-sims 200]

Writes ``benchmarks/_out/outcomes.md`` and ``benchmarks/_out/outcomes.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _provenance import describe, provenance
from scipy import stats

import segdiscover as sd
from segdiscover.outcomes import (
    DEFAULT_RATE_THRESHOLD,
    DEFAULT_RELATIVE_THRESHOLD,
    compare_segments,
)

OUT = Path(__file__).parent / "_out"
OUTCOMES = ["churned", "next_margin_90d", "cost_to_serve_90d", "tickets_90d"]


def planted(data: sd.datasets.CustomerData) -> tuple[np.ndarray, list[str]]:
    names = sorted(data.truth.get_column("segment").unique().to_list())
    j = data.truth.join(data.outcomes, on="customer_id", maintain_order="left")
    labels = j.get_column("segment").replace_strict(
        {s: i for i, s in enumerate(names)}, return_dtype=pl.Int64
    )
    return labels.to_numpy(), names


def truth(n: int) -> dict[tuple[int, str], dict[str, float]]:
    data = sd.datasets.make_customers(n_customers=n, seed=10_000)
    labels, _ = planted(data)
    out = {}
    for c in OUTCOMES:
        y = data.outcomes.get_column(c).cast(pl.Float64).to_numpy()
        thr = (
            DEFAULT_RATE_THRESHOLD
            if c == "churned"
            else DEFAULT_RELATIVE_THRESHOLD * abs(y.mean())
        )
        for g in np.unique(labels):
            d = y[labels == g].mean() - y[labels != g].mean()
            out[(int(g), c)] = {"difference": float(d), "threshold": float(thr)}
    return out


def power(
    sims: int, n_boot: int, t: dict[tuple[int, str], dict[str, float]], n: int
) -> dict[str, Any]:
    target = {
        key: v for key, v in t.items() if abs(v["difference"]) >= 2 * v["threshold"]
    }
    found, all_found, wrong, secs = [], 0, 0, []
    for seed in range(sims):
        data = sd.datasets.make_customers(n_customers=n, seed=seed)
        labels, _ = planted(data)
        frame = data.truth.select("customer_id").join(
            data.outcomes, on="customer_id", maintain_order="left"
        )
        t0 = time.perf_counter()
        res = compare_segments(
            labels, frame.select(OUTCOMES), n_bootstrap=n_boot, random_state=seed
        )
        secs.append(time.perf_counter() - t0)
        hit = 0
        for r in res.vs_rest.iter_rows(named=True):
            key = (r["segment_id"], r["outcome"])
            true_d = t[key]["difference"]
            if r["material"] and np.sign(r["difference"]) != np.sign(true_d):
                wrong += 1
            if (
                key in target
                and r["material"]
                and np.sign(r["difference"]) == np.sign(true_d)
            ):
                hit += 1
        found.append(hit / len(target))
        all_found += hit == len(target)
    return {
        "simulations": sims,
        "n_customers": n,
        "n_bootstrap": n_boot,
        "planted_material": len(target),
        "of_comparisons": len(t),
        "power_mean": float(np.mean(found)),
        "power_all_found": all_found / sims,
        "wrong_sign_material": wrong,
        "compare_seconds_median": float(np.median(secs)),
    }


def null(labels: np.ndarray, outcomes: pl.DataFrame, sims: int, n_boot: int) -> dict:
    rng = np.random.default_rng(0)
    any_material = rest_material = any_significant = 0
    for i in range(sims):
        shuffled = outcomes[rng.permutation(outcomes.height)]
        res = compare_segments(labels, shuffled, n_bootstrap=n_boot, random_state=i)
        a = bool(res.vs_rest["material"].any())
        rest_material += a
        any_material += a or bool(res.pairs["material"].any())
        any_significant += bool(
            res.vs_rest["significant"].any()
            or (res.pairs["p_adjusted"] <= res.alpha).any()
        )
    upper = stats.beta.ppf(0.975, any_material + 1, sims - any_material)
    return {
        "simulations": sims,
        "n_customers": int(labels.size),
        "n_segments": len(np.unique(labels)),
        "n_bootstrap": n_boot,
        "any_material_rate": any_material / sims,
        "any_material_rate_upper95": float(upper),
        "vs_rest_material_rate": rest_material / sims,
        "any_significant_rate": any_significant / sims,
    }


def fitted_labels() -> tuple[np.ndarray, pl.DataFrame]:
    data = sd.datasets.make_customers(n_customers=5_000, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(clusterer="kmeans", n_segments=6, random_state=0).fit(
            data.tables, as_of=data.as_of
        )
    j = seg.labels_.join(data.outcomes, on="customer_id", maintain_order="left")
    return j.get_column("segment_id").to_numpy(), j.select(OUTCOMES)


def timings() -> dict[str, float]:
    out = {}
    for n in (20_000, 200_000):
        data = sd.datasets.make_customers(n_customers=n, seed=3)
        labels, _ = planted(data)
        frame = data.truth.select("customer_id").join(
            data.outcomes, on="customer_id", maintain_order="left"
        )
        t0 = time.perf_counter()
        compare_segments(labels, frame.select(OUTCOMES), random_state=0)
        out[f"compare_{n}_rows_500_reps_s"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--power-sims", type=int, default=100)
    ap.add_argument("--null-sims", type=int, default=200)
    ap.add_argument("--n-bootstrap", type=int, default=200)
    ap.add_argument("--truth-n", type=int, default=300_000)
    ap.add_argument("--sizes", default="20000,2000", help="power at these sizes")
    args = ap.parse_args()
    t0 = time.perf_counter()
    prov = provenance()
    res: dict[str, Any] = {"provenance": prov}
    t = truth(args.truth_n)
    res["power"] = [
        power(args.power_sims, args.n_bootstrap, t, int(n))
        for n in args.sizes.split(",")
    ]
    print("power", res["power"], flush=True)
    data = sd.datasets.make_customers(seed=0)
    labels, _ = planted(data)
    frame = data.truth.select("customer_id").join(
        data.outcomes, on="customer_id", maintain_order="left"
    )
    res["null_planted"] = null(
        labels, frame.select(OUTCOMES), args.null_sims, args.n_bootstrap
    )
    print("null planted", res["null_planted"], flush=True)
    fl, fo = fitted_labels()
    res["null_fitted"] = null(fl, fo, args.null_sims, args.n_bootstrap)
    print("null fitted", res["null_fitted"], flush=True)
    res["timings"] = timings()
    res["total_seconds"] = time.perf_counter() - t0
    OUT.mkdir(exist_ok=True)
    (OUT / "outcomes.json").write_text(json.dumps(res, indent=2))
    md = ["# Outcome benchmark", "", describe(prov), ""]
    md += ["| metric | value |", "|---|---:|"]
    for p in res["power"]:
        tag = f"power, {p['n_customers']:,} customers ({p['simulations']} sims)"
        md += [
            f"| {tag}: mean share of {p['planted_material']} planted material "
            f"differences found | {p['power_mean']:.3f} |",
            f"| {tag}: simulations finding all | {p['power_all_found']:.2f} |",
            f"| {tag}: wrong-sign material verdicts | {p['wrong_sign_material']} |",
        ]
    for key, what in (("null_planted", "planted labels"), ("null_fitted", "fitted")):
        q = res[key]
        md += [
            f"| null ({what}, {q['simulations']} sims): runs with any material "
            f"verdict | {q['any_material_rate']:.3f} "
            f"(95% upper {q['any_material_rate_upper95']:.3f}) |",
            f"| null ({what}): runs with any BH-significant comparison | "
            f"{q['any_significant_rate']:.3f} |",
        ]
    md += [f"| {k} | {v:.2f} |" for k, v in res["timings"].items()]
    md += ["", f"Total {res['total_seconds']:.0f} s."]
    (OUT / "outcomes.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
