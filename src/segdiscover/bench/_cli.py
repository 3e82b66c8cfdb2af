"""``segdiscover bench``: the harness from a shell.

``add_parser(subparsers)`` adds the command to the main parser and imports
nothing heavy (the names below are written out; a test keeps them equal to
:data:`segdiscover.bench.SUITES`); :func:`cmd_bench` runs it and returns the exit
code. Bad input raises :class:`~segdiscover.exceptions.InputError` (exit 2 in
``segdiscover``'s main), naming the file and key.

Writes into ``--out``: ``results.parquet`` and ``results.csv`` (one row per
dataset, strategy and seed), ``leaderboard.md``, ``heatmap.png``,
``time_vs_size.png`` and ``cache/`` (a rerun reads it and computes only what is
missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: The suites (segdiscover.bench.SUITES), written out so the parser stays light.
SUITE_NAMES = ("quick", "planted", "clustbench", "real", "full", "user")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number >= 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` command to ``subparsers`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="segdiscover")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["bench", "--suite", "quick", "--out", "b"])
    >>> args.suite, args.seeds, args.func.__name__
    ('quick', 1, 'cmd_bench')
    """
    p = subparsers.add_parser(
        "bench",
        help="compare segmentation strategies on planted, published and real data",
        description=(
            "Run strategies (clusterer x rule for k x guide x preprocessing) over a "
            "suite of datasets and write a results table, a leaderboard and charts."
        ),
    )
    p.add_argument("--suite", choices=SUITE_NAMES, default="quick")
    p.add_argument(
        "--strategies",
        type=Path,
        metavar="FILE",
        help="TOML file of [strategies.NAME] tables",
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="SPEC",
        help="auto, a registry name or module:Class, optionally @K (a number, "
        "auto or true); repeatable",
    )
    p.add_argument(
        "--with-defaults",
        action="store_true",
        help="run the suite's default strategies beside the given ones",
    )
    p.add_argument("--seeds", type=_positive, default=1, help="seeds 0..N-1")
    p.add_argument("--jobs", type=_positive, default=1, help="parallel workers")
    p.add_argument(
        "--reference",
        choices=["published"],
        help="add the published scores (clustering benchmark suite) beside ours",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="shared data folder (default $SEGDISCOVER_BENCH_DATA or ../shared/data)",
    )
    p.add_argument(
        "--max-n",
        type=_positive,
        help="largest clustbench dataset and row cap of real tables (20000)",
    )
    p.add_argument("--planted-n", type=_positive, help="customers per planted scenario")
    p.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="FILE",
        help="your own customer table (CSV or parquet), benchmarked with the "
        "suite; repeatable",
    )
    p.add_argument("--id", default="customer_id", help="id column of --table")
    p.add_argument(
        "--truth",
        action="append",
        default=[],
        metavar="COLUMN",
        help="reference partition column of --table (repeatable)",
    )
    p.add_argument(
        "--outcome",
        action="append",
        default=[],
        metavar="COLUMN",
        help="outcome column of --table (repeatable)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLUMN",
        help="column of --table not to use as a feature (repeatable)",
    )
    p.add_argument("--no-cache", action="store_true", help="compute everything again")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_bench)
    parser: argparse.ArgumentParser = p
    return parser


def _strategies(args: argparse.Namespace) -> list[Any]:
    from segdiscover.bench._clustbench import protocol_strategies
    from segdiscover.bench._strategy import Strategy, load_strategies
    from segdiscover.bench._suites import default_strategies

    given = []
    if args.strategies is not None:
        given += load_strategies(args.strategies)
    given += [Strategy.from_spec(s) for s in args.strategy]
    out = given if given else default_strategies(args.suite)
    if given and args.with_defaults:
        names = {s.name for s in given}
        out = [s for s in default_strategies(args.suite) if s.name not in names] + given
    if args.reference == "published":
        names = {s.name for s in out}
        out += [s for s in protocol_strategies() if s.name not in names]
    return out


def _tables(args: argparse.Namespace) -> list[Any]:
    """Read the user's ``--table`` files as datasets (suite ``user``)."""
    from segdiscover.bench._data import Dataset
    from segdiscover.cli._io import read_table

    out = []
    for path in args.table:
        frame = read_table(path, args.id)
        out.append(
            Dataset.from_table(
                Path(path).stem,
                frame,
                id=args.id,
                truth=args.truth or None,
                outcomes=args.outcome or None,
                exclude=args.exclude,
                description=str(path),
            )
        )
    return out


def _write_text(path: Path, text: str) -> None:
    from segdiscover._atomic import write_file

    # Atomic, and a full disk is an InputError naming the file (exit 2).
    write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def cmd_bench(args: argparse.Namespace) -> int:
    """Run ``segdiscover bench``; return the exit code (0)."""
    import polars as pl

    from segdiscover.bench._charts import save_charts
    from segdiscover.bench._clustbench import published_scores
    from segdiscover.bench._report import add_published, markdown_report
    from segdiscover.bench._run import run
    from segdiscover.bench._suites import suite_datasets
    from segdiscover.exceptions import InputError

    strategies = _strategies(args)
    mine = _tables(args)
    datasets, messages = suite_datasets(
        args.suite,
        data_dir=args.data_dir,
        max_n=args.max_n,
        planted_n=args.planted_n,
    )
    if args.suite == "user" and mine:
        messages = []  # the tables given are the user's datasets
    clash = sorted({d.name for d in datasets} & {d.name for d in mine})
    if clash:
        msg = f"--table names {clash} are dataset names of the suite; rename the files."
        raise InputError(msg)
    datasets += mine
    for m in messages:
        print(m, file=sys.stderr)
    if not datasets:
        msg = f"The {args.suite} suite has no dataset here ({'; '.join(messages)})."
        raise InputError(msg)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} exists and is not a folder."
        raise InputError(msg)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"bench {args.suite}: {len(datasets)} datasets x {len(strategies)} "
        f"strategies x {args.seeds} seed(s)",
        file=sys.stderr,
    )
    results = run(
        strategies,
        datasets,
        args.seeds,
        jobs=args.jobs,
        cache=None if args.no_cache else out / "cache",
    )
    notes = [*messages]
    if args.reference == "published":
        pub = published_scores(args.data_dir)
        if pub is None:
            notes.append("published scores absent: --reference published skipped")
            print(notes[-1], file=sys.stderr)
        else:
            results = add_published(results, pub)
    from segdiscover._atomic import write_file, write_parquet

    write_file(out / "results.parquet", lambda tmp: write_parquet(results, tmp))
    _write_text(out / "results.csv", results.write_csv())
    report = markdown_report(results, title=f"Benchmark: {args.suite}", notes=notes)
    _write_text(out / "leaderboard.md", report)
    save_charts(results, out)
    counts = results.group_by("status").len().sort("status")
    print(
        ", ".join(f"{n} {s}" for s, n in counts.iter_rows())
        + f"; wrote {out / 'results.parquet'}, results.csv, leaderboard.md, "
        "heatmap.png, time_vs_size.png",
        file=sys.stderr,
    )
    ok = results.filter(pl.col("status") == "ok")
    if ok.height:
        table = (
            ok.group_by("strategy", maintain_order=True)
            .agg(pl.col("ari").mean().round(3), pl.col("fit_seconds").sum().round(1))
            .rows()
        )
        for name, ari, secs in table:
            print(f"{name:<32} mean ARI {ari}  fit {secs} s")
    return 0
