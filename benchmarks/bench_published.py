"""Published scores: do our clusterers reproduce them, and where does segdiscover stand?

A thin caller of the harness (``segdiscover.bench``), which holds the protocol:
Gagolewski's Benchmark Suite for Clustering Algorithms v1 (``clustering-data-v1``)
and the published scores of the methods run on it
(``clustering-results-v1-scores``), both in ``../shared/data/`` (see their
SOURCE.md for licence and citation; nothing is downloaded).

1. **Reproduction.** :func:`segdiscover.bench.protocol_strategies`: k-means, Ward,
   BIRCH (T 0.01, BF 50), scikit-learn's Gaussian mixture with the published
   settings, and segdiscover's own ``gmm`` adapter, each given every reference
   partition's k on the published preprocessing (seeded tie-breaking noise,
   one scale factor), scored by ARI with noise points left out, best over the
   reference partitions, beside the published score of its twin. Targets: Ward
   and BIRCH within 0.01 on every dataset; k-means and the Gaussian mixture
   within 0.03 of the published median.
2. **Where we stand.** ``auto`` choosing k itself (the sweep on the same
   preprocessing, and with ``--segmenter`` the whole ``Segmenter`` on its own
   preprocessing) against the best published method, which was *given* k.

Usage::

    uv run python benchmarks/bench_published.py                # about 10 min
    uv run python benchmarks/bench_published.py --max-n 3000   # quick look
    uv run python benchmarks/bench_published.py --segmenter --jobs 2

Writes ``benchmarks/_out/published.md``, ``published.parquet`` and
``published.csv``; results are cached in ``benchmarks/_out/published_cache`` (a
rerun on the same code computes nothing).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _provenance import describe, provenance

from segdiscover import bench
from segdiscover.bench._report import (
    reproduction,
    reproduction_markdown,
    where_we_stand,
)

OUT = Path(__file__).resolve().parent / "_out"


def strategies(*, auto: bool, segmenter: bool) -> list[bench.Strategy]:
    out = bench.protocol_strategies()
    if auto:
        out.append(
            bench.Strategy(
                "auto (sweep, protocol preprocessing)",
                pipeline="clusterer",
                preprocess={"scale": "clustbench"},
                params={"stability_refits": 0},
            )
        )
    if segmenter:
        out.append(bench.Strategy("auto (Segmenter defaults)"))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-n", type=int, default=20_000, help="skip larger datasets")
    p.add_argument("--no-auto", action="store_true", help="reproduction only")
    p.add_argument("--segmenter", action="store_true", help="also Segmenter auto")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=OUT / "published.md")
    args = p.parse_args()
    sets, message = bench.clustbench_datasets(args.data_dir, max_n=args.max_n)
    published = bench.published_scores(args.data_dir)
    if message or published is None:
        raise SystemExit(message or "The published scores file is absent.")
    prov = provenance()
    t0 = time.perf_counter()
    results = bench.run(
        strategies(auto=not args.no_auto, segmenter=args.segmenter),
        sets,
        jobs=args.jobs,
        cache=args.out.parent / "published_cache",
    )
    results = bench.add_published(results, published)
    secs = time.perf_counter() - t0
    md = "\n".join(
        [
            "# Published scores (Benchmark Suite v1)",
            "",
            f"Measured on {describe(prov)}; {len(sets)} datasets of at most "
            f"{args.max_n:,} points; {secs:.0f} s (cached results count 0 s).",
            "",
            "## Reproduction: our clusterers given the reference k",
            "",
            *reproduction_markdown(reproduction(results), results),
            "## Where we stand",
            "",
            *where_we_stand(results),
        ]
    )
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md + "\n")
    results.write_parquet(args.out.with_suffix(".parquet"))
    results.write_csv(args.out.with_suffix(".csv"))
    print(f"wrote {args.out} and its .parquet / .csv")


if __name__ == "__main__":
    main()
