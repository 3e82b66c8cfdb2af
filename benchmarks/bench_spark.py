"""Spark local mode vs the polars path: the same features from the same parquet.

Generates the project's tables (``--n-customers``, ``--history-days``; the
defaults give about 10M order events before ``as_of``) and writes them to parquet,
then, side by side and alternating, ``--repeats`` times:

- polars: read the parquet (projection and ``as_of`` pushdown through
  :func:`segdiscover._stream.scan_tables`), ``FeatureSet.default().build``, write
  the features to parquet;
- Spark (``local[N]``, one session started once and timed apart):
  ``spark.read.parquet`` -> :func:`segdiscover.spark.build_features` -> write
  parquet (which runs the whole job).

It checks that both feature tables are equal, and reports medians and the ratio.

Usage::

    nice -n 19 uv run python benchmarks/bench_spark.py                  # ~10M events
    nice -n 19 uv run python benchmarks/bench_spark.py --n-customers 50000 --repeats 1

Writes ``benchmarks/_out/spark.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _provenance import describe, provenance

import segdiscover as sd
from segdiscover._stream import scan_tables
from segdiscover.features import FeatureSet

OUT = Path(__file__).resolve().parent / "_out"


def session(cores: int, memory: str) -> Any:
    """Start a local Spark session with the interpreter running this script."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("segdiscover-bench")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(4 * cores))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def polars_job(files: dict[str, Path], as_of: Any, out: Path) -> int:
    fs = FeatureSet.default()
    tables = {
        k: v.collect(engine="streaming")
        for k, v in scan_tables(files, fs, as_of).items()
    }
    frame = fs.build(tables, as_of=as_of).frame
    frame.write_parquet(out)
    return frame.height


def spark_job(spark: Any, files: dict[str, Path], as_of: Any, out: Path) -> None:
    import segdiscover.spark as sds

    tables = {k: spark.read.parquet(str(v)) for k, v in files.items()}
    sds.build_features(tables, FeatureSet.default(), as_of).write.mode(
        "overwrite"
    ).parquet(str(out))


def run(args: argparse.Namespace) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
    base = Path(tempfile.mkdtemp(prefix="sd-spark-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        data = sd.datasets.make_customers(
            n_customers=args.n_customers, seed=0, history_days=args.history_days
        )
        as_of = data.as_of
        files = {}
        for name, t in data.tables.items():
            d = base / "in" / name
            d.mkdir(parents=True)
            step = -(-t.height // args.files)
            for i in range(args.files):
                t.slice(i * step, step).write_parquet(d / f"part-{i:03d}.parquet")
            files[name] = d
        events = data.tables["orders"].filter(pl.col("ts") < as_of).height
        tickets = data.tables["tickets"].filter(pl.col("opened") < as_of).height
        del data
        gen_s = time.perf_counter() - t0
        print(f"data: {events:,} orders + {tickets:,} tickets before as_of", flush=True)
        t0 = time.perf_counter()
        spark = session(args.cores, args.driver_memory)
        spark.range(1).count()
        start_s = time.perf_counter() - t0
        print(f"Spark session started in {start_s:.1f} s", flush=True)
        walls: dict[str, list[float]] = {"polars": [], "spark": []}
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            n = polars_job(files, as_of, base / "polars.parquet")
            walls["polars"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            spark_job(spark, files, as_of, base / "spark")
            walls["spark"].append(time.perf_counter() - t0)
            print(
                f"round {rep}: polars {walls['polars'][-1]:.1f} s, spark "
                f"{walls['spark'][-1]:.1f} s",
                flush=True,
            )
        a = pl.read_parquet(base / "polars.parquet")
        b = pl.read_parquet(base / "spark" / "*.parquet").sort("customer_id")
        equal = a.equals(b)
        spark.stop()
        return {
            "customers": n,
            "orders_before_as_of": events,
            "tickets_before_as_of": tickets,
            "generate_s": gen_s,
            "spark_start_s": start_s,
            "walls": walls,
            "equal": equal,
            "args": vars(args),
            "provenance": provenance(),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(res: dict[str, Any]) -> str:
    w = {k: statistics.median(v) for k, v in res["walls"].items()}
    ev = res["orders_before_as_of"] + res["tickets_before_as_of"]
    runs = {k: ", ".join(f"{x:.1f}" for x in v) for k, v in res["walls"].items()}
    return (
        "\n".join(
            [
                f"## Features on Spark local[{res['args']['cores']}] vs polars: "
                f"{res['customers']:,} customers, {ev:,} events before as_of",
                "",
                f"Measured on {describe(res['provenance'])}; medians of "
                f"{res['args']['repeats']} alternating run(s), parquet in "
                f"({res['args']['files']} files per table) and parquet out.",
                "",
                "| path | wall (s) | runs | events/s |",
                "|---|---:|---|---:|",
                f"| polars (lazy scan, FeatureSet.build, one process) | "
                f"{w['polars']:.1f} | {runs['polars']} | {ev / w['polars']:,.0f} |",
                f"| Spark local mode (build_features: polars per bucket in "
                f"applyInArrow) | {w['spark']:.1f} | {runs['spark']} | "
                f"{ev / w['spark']:,.0f} |",
                f"| ratio Spark / polars | {w['spark'] / w['polars']:.2f}x | - | - |",
                "",
                f"Spark session start (once, not in the runs): "
                f"{res['spark_start_s']:.1f} s. Feature tables equal: {res['equal']}.",
            ]
        )
        + "\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-customers", type=int, default=1_000_000)
    p.add_argument("--history-days", type=int, default=120)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--driver-memory", default="6g")
    p.add_argument("--tmp", default=None)
    p.add_argument("--out", type=Path, default=OUT / "spark.md")
    args = p.parse_args()
    res = run(args)
    md = report(res)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
