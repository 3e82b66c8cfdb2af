"""Wide tables: checking and preprocessing a customer table must be linear in width.

Times ``prepare_table`` (the door of a customer table) and ``Preprocessor.fit``
(including the redundancy fold) on 300 rows x 500, 1,000 and 2,000 numeric columns,
median of ``--repeats`` runs each. Linear means the 2,000-column time is about twice
the 1,000-column one.

Usage::

    uv run python benchmarks/bench_wide.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import polars as pl

from segdiscover._table import prepare_table
from segdiscover.preprocess import Preprocessor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=300)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| columns | door (median s) | preprocess fit (median s) |")
    print("|---:|---:|---:|")
    for width in (500, 1000, 2000):
        df = pl.DataFrame(
            {
                "id": np.arange(args.rows),
                **{f"c{i}": rng.normal(size=args.rows) for i in range(width)},
            }
        )
        door, fit = [], []
        for _ in range(args.repeats):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                frame, _, _ = prepare_table(df, "id")
                t1 = time.perf_counter()
                Preprocessor().fit(frame.drop("id"))
                t2 = time.perf_counter()
            door.append(t1 - t0)
            fit.append(t2 - t1)
        d, f = statistics.median(door), statistics.median(fit)
        print(f"| {width:,} | {d:.2f} | {f:.2f} |")


if __name__ == "__main__":
    main()
