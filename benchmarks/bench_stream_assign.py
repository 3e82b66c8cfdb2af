"""Streaming assign: customers assigned from parquet in bounded memory, vs size.

A k-means model (k=6) is fitted on ``--fit-customers`` generated customers and
saved; their feature table is tiled under new ids into parquet files of
``--file-rows`` customers (untimed setup). Then, for each size, a fresh process
runs ``segdiscover._stream.stream_assign`` over the first files and reports its
wall time, rows per second and peak RSS (``VmHWM`` of that process, and the
highest RSS sampled every 50 ms), so the memory curve vs size is measured job by
job, as a scheduler would see it.

Usage::

    nice -n 19 uv run python benchmarks/bench_stream_assign.py            # to 20M
    nice -n 19 uv run python benchmarks/bench_stream_assign.py --sizes 1000000

Writes ``benchmarks/_out/stream_assign.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

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
TARGET_GIB = 2.0


def setup(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Fit and save the model; write the tiled customer-level parquet files."""
    import polars as pl

    import segdiscover as sd

    data = sd.datasets.make_customers(n_customers=args.fit_customers, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(clusterer="kmeans", n_segments=6, random_state=0).fit(
            data.tables, as_of=data.as_of
        )
    seg.save(folder / "model")
    feats = seg.features_
    n_files = -(-max(args.sizes) // args.file_rows)
    reps = -(-args.file_rows // feats.height)
    block = pl.concat([feats] * reps).head(args.file_rows)
    (folder / "table").mkdir()
    for f in range(n_files):
        ids = pl.int_range(0, block.height, eager=True) + f * args.file_rows
        part = block.with_columns(("c" + ids.cast(pl.String)).alias("customer_id"))
        part.write_parquet(folder / "table" / f"part-{f:04d}.parquet")
    size = sum(p.stat().st_size for p in (folder / "table").iterdir())
    return {
        "fit_customers": args.fit_customers,
        "features": feats.width - 1,
        "files": n_files,
        "file_rows": args.file_rows,
        "table_bytes": size,
    }


def child(args: argparse.Namespace) -> None:
    """One measured job: stream_assign over the first files; print JSON."""
    import psutil

    proc = psutil.Process(os.getpid())
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    from segdiscover._stream import stream_assign

    files = sorted(Path(args.folder, "table").iterdir())[: args.n_files]
    t0 = time.perf_counter()
    src = Path(args.folder, "in")
    src.mkdir(exist_ok=True)
    for f in files:  # the job's input folder: links to the first files
        (src / f.name).symlink_to(f)
    res = stream_assign(
        Path(args.folder, "model"),
        src,
        Path(args.folder, "out"),
        batch_rows=args.batch_rows,
    )
    wall = time.perf_counter() - t0
    stop.set()
    print(
        json.dumps(
            {
                "rows": res.rows,
                "parts": res.parts,
                "wall_s": wall,
                "maxrss_gib": vm_hwm_gib(),
                "sampled_peak_gib": peak[0] / GIB,
            }
        )
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="sd-stream-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        meta = setup(base, args)
        meta["setup_s"] = time.perf_counter() - t0
        print(f"setup {meta}", flush=True)
        runs = []
        for size in args.sizes:
            n_files = -(-size // args.file_rows)
            for rep in range(args.repeats):
                for d in ("in", "out"):
                    shutil.rmtree(base / d, ignore_errors=True)
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    "--folder",
                    str(base),
                    "--n-files",
                    str(n_files),
                    "--batch-rows",
                    str(args.batch_rows),
                ]
                got = subprocess.run(cmd, capture_output=True, text=True, check=True)
                r = json.loads(got.stdout.strip().splitlines()[-1])
                r.update(size=n_files * args.file_rows, repeat=rep)
                r["rows_per_s"] = r["rows"] / r["wall_s"]
                print(r, flush=True)
                runs.append(r)
        return {"meta": meta, "runs": runs, "args": vars(args)}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(res: dict[str, Any]) -> str:
    sizes = sorted({r["size"] for r in res["runs"]})
    m = res["meta"]
    lines = [
        "## Streaming assign: customers from parquet in bounded memory",
        "",
        f"Model: k-means k=6 fitted on {m['fit_customers']:,} generated customers "
        f"({m['features']} features); input: their feature table tiled under new ids "
        f"into parquet files of {m['file_rows']:,} rows ({m['table_bytes'] / GIB:.2f} "
        f"GiB on disk for {m['files']} files); batches of "
        f"{res['args']['batch_rows']:,} rows. Each job is a fresh process; medians "
        f"of {res['args']['repeats']} run(s).",
        "",
        "| customers | wall (s) | customers/s | peak RSS (GiB) | target <= 2 GiB |",
        "|---:|---:|---:|---:|---|",
    ]
    for s in sizes:
        rs = [r for r in res["runs"] if r["size"] == s]
        wall = statistics.median(r["wall_s"] for r in rs)
        rss = max(max(r["maxrss_gib"], r["sampled_peak_gib"]) for r in rs)
        lines.append(
            f"| {s:,} | {wall:.1f} | {s / wall:,.0f} | {rss:.2f} | "
            f"{'yes' if rss <= TARGET_GIB else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000]
    )
    p.add_argument("--fit-customers", type=int, default=100_000)
    p.add_argument("--file-rows", type=int, default=1_000_000)
    p.add_argument("--batch-rows", type=int, default=250_000)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--tmp", default=None, help="folder for the generated files")
    p.add_argument("--out", type=Path, default=OUT / "stream_assign.md")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--n-files", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    res = run(args)
    md = report(res)
    print(md)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
