"""Command-line interface: ``segdiscover demo | discover | assign | drift | bench``.

Exit codes: 0 done; 2 bad input or usage (the message names the problem);
3 a quality gate failed; 1 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from segdiscover._atomic import Terminated, sigterm_raises
from segdiscover._log import cli_logging, get_logger, stage
from segdiscover._version import __version__
from segdiscover.cli._paths import check_assign, check_discover, check_drift
from segdiscover.exceptions import (
    EXIT_CODES,
    InputError,
    QualityGateError,
    SegdiscoverError,
)

#: The registry's names (``segdiscover.clusterers.CLUSTERERS``), written out so that
#: building the parser imports no scikit-learn; a test keeps the two equal.
CLUSTERER_NAMES = ("kmeans", "minibatch_kmeans", "gmm", "ward", "birch", "hdbscan")
#: Names that moved to :mod:`segdiscover.cli._io`, still importable from here.
_MOVED = ("read_table", "_read_tables", "_outcome_table", "_customer_table", "ROW_ID")

_logger = get_logger(__name__)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from segdiscover.cli import _io as _cli_io

        return getattr(_cli_io, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def _exit_code(exc: SegdiscoverError) -> int:
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 2


def _print_segments(seg: Any, out: Path) -> None:
    run = seg.run_
    print(
        f"{run['n_customers']:,} customers, {run['n_features']} features; "
        f"clusterer {run['clusterer']} with {run['n_segments']} segments "
        f"({run['selection']})."
    )
    print(f"Surrogate fidelity {run['fidelity']:.3f} (macro-F1 {run['macro_f1']:.3f}).")
    print()
    print(f"{'id':>3}  {'name':<44} {'size':>8} {'share':>7}  top drivers")
    for r in seg.segments_.iter_rows(named=True):
        name = r["name"] if len(r["name"]) <= 44 else r["name"][:41] + "..."
        print(
            f"{r['segment_id']:>3}  {name:<44} {r['size']:>8,} {r['share']:>7.1%}  "
            f"{r['top_drivers']}"
        )
    print()
    if run.get("stable_segmentation") is False:
        print("No stable segmentation: treat these segments as a hypothesis.")
    print(
        f"Outcomes: {run['outcomes']['summary']}"
        if run.get("outcomes")
        else "Outcomes: none checked (pass --outcome COLUMN to test the segments)."
    )
    print()
    print(
        "Wrote assignments.parquet, segments.json, report.html, report.md, plots/ "
        f"and model/ to {out}/"
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    import segdiscover as sd
    from segdiscover.report import write_outputs

    with stage("demo: generate the synthetic customers", _logger):
        data = sd.datasets.make_customers(n_customers=args.n_customers, seed=args.seed)
    print(
        f"Generated {args.n_customers:,} synthetic customers with 6 planted segments "
        f"({sum(t.height for t in data.tables.values()):,} rows in "
        f"{len(data.tables)} tables), as of {data.as_of:%Y-%m-%d}."
    )
    print(
        "Choosing the number of segments from the data (a sweep of k with stability "
        "refits and held-out outcome checks; the planted number is not told)."
        if args.k is None
        else f"The number of segments is fixed at {args.k} by --k (pass --k 0 to let "
        "segdiscover choose)."
    )
    seg = sd.Segmenter(
        clusterer=args.clusterer, n_segments=args.k, random_state=args.seed
    )
    with stage("demo: fit", _logger):
        seg.fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)
    out = Path(args.out)
    with stage("demo: write the outputs", _logger):
        write_outputs(seg, out)
    _print_segments(seg, out)
    return 0


def _min_differences(items: Sequence[str]) -> dict[str, float | str] | None:
    """Parse ``--min-difference COL=VALUE`` options (VALUE: 0.03, 3pp or 10%)."""
    out: dict[str, float | str] = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not col.strip() or not value.strip():
            msg = (
                f"--min-difference {item!r} must read COLUMN=VALUE, e.g. "
                "churned=3pp, margin=10% or cost=25."
            )
            raise InputError(msg)
        try:
            out[col.strip()] = float(value)
        except ValueError:
            out[col.strip()] = value.strip()
    return out or None


#: The id column ``--row-ids`` adds.
def _check_date(value: Any) -> None:
    """Refuse an ``as_of`` that is not a date, with a table or with raw tables."""
    import datetime as dt

    if isinstance(value, dt.date):
        return
    try:
        dt.datetime.fromisoformat(str(value))
    except ValueError:
        msg = f"as_of={value!r} is not an ISO date or datetime (e.g. '2025-07-01')."
        raise InputError(msg) from None


def _merge_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Fill ``discover`` options from ``--config`` (the command line wins).

    Also checks that the run has what it needs (usage errors, exit code 2).
    """
    from segdiscover.cli._config import load_config
    from segdiscover.cli._io import ROW_ID, _table_files

    cfg = load_config(args.config) if args.config else {}
    given = {
        "table": args.table,
        "tables": _table_files(args.tables) if args.tables else None,
        "as_of": args.as_of,
        "id": args.id,
        "outcome": args.outcome,
        "outcomes": args.outcomes,
        "min_difference": _min_differences(args.min_difference)
        if args.min_difference
        else None,
        "exclude": args.exclude,
        "clusterer": args.clusterer,
        "k": args.k,
        "seed": args.seed,
        "out": args.out,
        "runs": args.runs,
        "run_label": args.run_label,
        "row_ids": args.row_ids,
    }
    merged = {k: v if v is not None else cfg.get(k) for k, v in given.items()}
    if merged["table"] is not None and merged["tables"] is not None:
        if args.table is not None and cfg.get("tables") is not None:
            merged["tables"] = None  # the command line's --table wins
        elif args.tables is not None and cfg.get("table") is not None:
            merged["table"] = None
        else:
            parser.error("give either --table or --tables, not both")
    if merged["table"] is None and merged["tables"] is None:
        parser.error("one of --table FILE or --tables NAME=FILE ... is required")
    if merged["out"] is None:
        parser.error("--out is required")
    if merged["row_ids"]:
        if merged["tables"] is not None:
            parser.error("--row-ids numbers the rows of --table, not of --tables")
        if merged["id"] is not None:
            parser.error("give either --id COLUMN or --row-ids, not both")
        merged["id"] = ROW_ID
    if merged["table"] is not None and merged["id"] is None:
        parser.error(
            "--id is required with --table (or --row-ids when the table has no id "
            "column)"
        )
    if merged["tables"] is not None and merged["as_of"] is None:
        parser.error("--as-of is required with --tables")
    if merged["tables"] is not None and merged["outcome"] and not merged["outcomes"]:
        parser.error("--outcome with --tables names columns of --outcomes FILE")
    if merged["table"] is not None and cfg.get("features") is not None:
        msg = (
            "The config's [features] table applies to raw tables (--tables); "
            "a customer-level table is used as it is."
        )
        raise InputError(msg)
    if merged["as_of"] is not None:
        _check_date(merged["as_of"])
    seed = merged["seed"]
    if seed is not None and not 0 <= seed < 2**32:
        msg = (
            "The 'random_state' parameter of Segmenter (--seed) must be an int in "
            f"[0, 2**32 - 1]. Got {seed!r} instead."
        )
        raise InputError(msg)
    merged["id"] = merged["id"] or "customer_id"
    merged["clusterer"] = merged["clusterer"] or "auto"
    merged["seed"] = 0 if merged["seed"] is None else merged["seed"]
    merged["features"] = cfg.get("features")
    from segdiscover.gates import parse_gates

    gates = parse_gates(cfg.get("gates"), "discover", where="the config's [gates]")
    gates |= parse_gates(args.gate, "discover")  # the command line wins
    if "min_distinct_segments" in gates and not merged["outcome"]:
        parser.error("the gate min_distinct_segments needs --outcome COLUMN")
    merged["gates"] = gates
    for k, v in merged.items():
        setattr(args, k, v)


def _cmd_discover(args: argparse.Namespace) -> int:
    import segdiscover as sd
    from segdiscover.cli._io import _customer_table, _outcome_table, _read_tables
    from segdiscover.gates import check_gates
    from segdiscover.report import write_outputs

    check_discover(args)  # before anything is read: a refused run changes nothing
    features = None
    with stage("discover: read the input", _logger):
        if args.tables:
            if args.features is not None:
                from segdiscover.cli._config import feature_set

                features = feature_set(args.features, args.id)
            # Parquet read lazily: only the builders' columns and events before
            # --as-of are loaded (projection and predicate pushdown), inside the
            # feature build, which releases them when it returns.
            X: Any = _read_tables(args.tables, args.id, features, args.as_of, lazy=True)
        else:
            X = _customer_table(args.table, args.id, row_ids=args.row_ids)
        outcomes: Any = args.outcome or None
        if args.outcomes:
            outcomes = _outcome_table(args.outcomes, args.id, args.outcome, X)
    seg = sd.Segmenter(
        features=features,
        clusterer=args.clusterer,
        n_segments=args.k,
        id=args.id,
        random_state=args.seed,
        min_difference=args.min_difference,
    )
    with stage("discover: fit", _logger):
        seg.fit(X, as_of=args.as_of, outcomes=outcomes, exclude=args.exclude or ())
    out = Path(args.out)
    args.summary = _discover_summary(seg, out)
    gates = check_gates(
        seg,
        args.gates,
        consequence="Nothing was published: the earlier outputs are unchanged",
    )
    args.summary["gates"] = [g.to_dict() for g in gates]
    events = None
    with stage("discover: write the outputs", _logger):
        if args.runs:
            # The outputs are published inside the run's transaction, after the ids
            # are aligned: a run whose outputs fail to write is not recorded.
            events = _record_run(
                seg, args.runs, args.run_label, lambda: write_outputs(seg, out)
            )
        else:
            write_outputs(seg, out)
    _print_segments(seg, out)
    if events is not None:
        run_id, lines = events
        args.summary["run_id"] = run_id
        print(f"Recorded run {run_id} in {args.runs}.")
        for line in lines:
            print(f"  {line}")
    return 0


def _discover_summary(seg: Any, out: Path) -> dict[str, Any]:
    run = seg.run_
    comparison = getattr(seg, "outcome_comparison_", None)
    stability = seg.segments_["stability"].drop_nulls()
    return {
        "out": str(out),
        "n_customers": run["n_customers"],
        "n_segments": run["n_segments"],
        "clusterer": run["clusterer"],
        "selection": run["selection"],
        "stable_segmentation": run.get("stable_segmentation"),
        "fidelity": run["fidelity"],
        "min_stability": float(stability.min()) if stability.len() else None,
        "min_segment_share": float(seg.segments_["share"].min()),
        "outcomes_checked": comparison is not None,
        "distinct_segments": None if comparison is None else comparison.n_distinct,
        "segments": [
            {k: r[k] for k in ("segment_id", "name", "size", "share")}
            for r in seg.segments_.iter_rows(named=True)
        ],
    }


def _cmd_validate_config(args: argparse.Namespace) -> int:
    from segdiscover.cli._config import feature_set, load_config
    from segdiscover.gates import parse_gates

    cfg = load_config(args.file)
    gates = parse_gates(cfg.get("gates"), "discover", where="the config's [gates]")
    if cfg.get("features") is not None:
        feature_set(cfg["features"], cfg.get("id", "customer_id"))
    named = [("table", cfg["table"])] if "table" in cfg else []
    named += [(f"tables.{k}", v) for k, v in cfg.get("tables", {}).items()]
    named += [("outcomes", cfg["outcomes"])] if "outcomes" in cfg else []
    missing = [f"{key} = {path!r}" for key, path in named if not Path(path).is_file()]
    if missing:
        msg = f"The config {args.file!r} names files that do not exist: " + "; ".join(
            missing
        )
        raise InputError(msg)
    if not named:
        msg = f"The config {args.file!r} names no input: give table or [tables]."
        raise InputError(msg)
    if "tables" in cfg and "as_of" not in cfg:
        msg = f"The config {args.file!r} has [tables] but no as_of date."
        raise InputError(msg)
    args.summary = {"file": args.file, "keys": sorted(cfg), "gates": gates}
    print(
        f"{args.file}: OK ({len(cfg)} keys; inputs {', '.join(k for k, _ in named)}; "
        f"{len(gates)} quality gates)."
    )
    return 0


def _record_run(
    seg: Any, path: str, label: str | None, publish: Callable[[], Any]
) -> tuple[int, list[str]]:
    from segdiscover.runs import RunStore

    store = RunStore(path)
    run_id = store.record(seg, label=label, publish=publish)
    return run_id, store.lineage(run_id).get_column("text").to_list()


def _cmd_drift(args: argparse.Namespace) -> int:
    from segdiscover.runs import RunStore

    check_drift(args)
    with stage("drift: compare the runs", _logger):
        report = RunStore(args.runs).drift(args.previous, args.current)
    for line in report.summary():
        print(line)
    if args.out:
        written = report.write(args.out)
        print(f"Wrote {', '.join(sorted(written))} to {args.out}/")
    return 0


def _cmd_assign(args: argparse.Namespace) -> int:
    import segdiscover as sd
    from segdiscover.cli._io import (
        _customer_table,
        _read_tables,
        _table_files,
        _write_table,
    )
    from segdiscover.gates import check_gates, parse_gates

    check_assign(args)
    with stage("assign: load the model", _logger):
        model = sd.load(args.model)
    if args.table and args.tables:
        msg = "Give either --table (a customer-level table) or --tables, not both."
        raise InputError(msg)
    if not (args.table or args.tables):
        msg = (
            "Give --table FILE (customer-level) or --tables NAME=FILE ... --as-of DATE."
        )
        raise InputError(msg)
    if args.stream:
        return _assign_streaming(args, model)
    with stage("assign: read the input", _logger):
        if args.tables:
            X: Any = _read_tables(
                _table_files(args.tables),
                model.id,
                model.features,
                args.as_of,
                lazy=True,
            )
        else:
            X = _customer_table(args.table, model.id, row_ids=args.row_ids)
    with stage("assign: assign the customers", _logger):
        out = model.assign(
            X,
            as_of=args.as_of,
            force=args.force,
            allow_unassigned=args.allow_unassigned,
        )
    n_novel = int(out["is_novel"].sum())
    args.summary = {
        "n_customers": out.height,
        "novel_share": n_novel / out.height if out.height else None,
        "segments": [
            {"segment_id": r[0], "segment_name": r[1], "size": r[2]}
            for r in out.group_by("segment_id", "segment_name")
            .len()
            .sort("segment_id")
            .iter_rows()
        ],
    }
    gates = check_gates(
        out,
        parse_gates(args.gate, "assign"),
        consequence=f"{args.out} was not written",
    )
    args.summary["gates"] = [g.to_dict() for g in gates]
    with stage("assign: write the assignments", _logger):
        _write_table(out, Path(args.out))
    counts = out.group_by("segment_id", "segment_name").len().sort("segment_id")
    print(f"Assigned {out.height:,} customers with {model!r}:")
    for r in counts.iter_rows(named=True):
        print(f"{r['segment_id']:>3}  {r['segment_name']:<44} {r['len']:>8,}")
    novel = int(out["is_novel"].sum())
    print(f"{novel:,} customers flagged novel (outside what the model was fitted on).")
    print(f"Wrote {args.out}")
    return 0


def _assign_streaming(args: argparse.Namespace, model: Any) -> int:
    """``assign --stream``: batches (or id-hash buckets) in, parquet parts out."""
    import polars as pl

    from segdiscover._stream import stream_assign
    from segdiscover.cli._io import _table_files

    if args.gate or args.row_ids:
        what = "--gate" if args.gate else "--row-ids"
        msg = f"{what} is not available with --stream (the input is never whole)."
        raise InputError(msg)
    source: Any = _table_files(args.tables) if args.tables else args.table
    with stage("assign: stream the customers", _logger):
        res = stream_assign(
            model,
            source,
            args.out,
            as_of=args.as_of,
            batch_rows=args.batch_rows,
            force=args.force,
            allow_unassigned=args.allow_unassigned,
        )
    parts = pl.scan_parquet(res.path / "*.parquet") if res.parts else None
    counts = (
        parts.group_by("segment_id", "segment_name").len().sort("segment_id").collect()
        if parts is not None
        else pl.DataFrame()
    )
    novel = (
        0
        if parts is None
        else int(parts.select(pl.col("is_novel").sum()).collect().item())
    )
    args.summary = {
        "n_customers": res.rows,
        "novel_share": novel / res.rows if res.rows else None,
        "parts": res.parts,
        "segments": [
            {"segment_id": r[0], "segment_name": r[1], "size": r[2]}
            for r in counts.iter_rows()
        ],
    }
    print(f"Assigned {res.rows:,} customers with {model!r} in {res.batches} batches:")
    for r in counts.iter_rows(named=True):
        print(f"{r['segment_id']:>3}  {r['segment_name']:<44} {r['len']:>8,}")
    print(f"{novel:,} customers flagged novel (outside what the model was fitted on).")
    print(f"Wrote {res.parts} parquet parts to {args.out}/")
    return 0


# Long on purpose (~140 lines): one declarative list of every subcommand and flag,
# read top to bottom like the --help it prints; splitting it would scatter the CLI.
def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="segdiscover",
        description="Discover customer segments and explain each one.",
    )
    p.add_argument("--version", action="version", version=f"segdiscover {__version__}")
    _add_verbosity_options(p)
    sub = p.add_subparsers(dest="command", required=True)
    choices = ["auto", *CLUSTERER_NAMES]

    d = sub.add_parser("demo", help="run the whole job on bundled synthetic data")
    d.add_argument("--out", default="segdiscover-demo", help="output folder")
    # 5,000 customers: the real choice of k (the sweep, stability refits, outcome
    # checks) finishes in about a minute on 2 cores (80 s of CPU measured).
    d.add_argument("--n-customers", type=int, default=5_000)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--clusterer", default="auto", choices=choices)
    d.add_argument(
        "--k",
        type=int,
        default=0,
        help="number of segments (default 0: chosen automatically; 6 are planted)",
    )
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser(
        "discover",
        help="segment a customer-level table, or raw tables as of a date",
        description="Segment a customer-level table (--table) or raw event tables "
        "built into features as of a date (--tables ... --as-of). Options may also "
        "come from a TOML file (--config); the command line wins.",
    )
    c.add_argument("--config", metavar="FILE", help="TOML file of these options")
    c.add_argument("--table", help="CSV or parquet, one row per customer")
    c.add_argument(
        "--tables",
        action="append",
        metavar="NAME=FILE",
        help="raw table (orders, tickets, customers; repeatable), with --as-of",
    )
    c.add_argument("--as-of", help="feature cutoff date, with --tables")
    c.add_argument(
        "--id", help="customer id column (required with --table; default customer_id)"
    )
    c.add_argument(
        "--row-ids",
        action="store_true",
        default=None,
        help="the table has no id column: number its rows 1..n as 'row_id'",
    )
    c.add_argument(
        "--outcome",
        action="append",
        help="outcome column (repeatable): of --table, or of --outcomes",
    )
    c.add_argument(
        "--outcomes",
        metavar="FILE",
        help="customer-level outcomes (id + outcome columns), e.g. with --tables",
    )
    c.add_argument(
        "--min-difference",
        action="append",
        metavar="COL=VALUE",
        help="smallest difference that matters for an outcome: a number in its "
        "units, 3pp or 10%% of the mean (repeatable; defaults 3pp for rates, 10%%)",
    )
    c.add_argument("--exclude", action="append", help="column not to use (repeatable)")
    c.add_argument("--clusterer", choices=choices, help="default auto")
    c.add_argument("--k", type=int, default=None, help="number of segments (0 = auto)")
    c.add_argument("--seed", type=int, default=None, help="default 0")
    c.add_argument("--out", help="output folder (required)")
    c.add_argument(
        "--runs",
        metavar="FILE",
        help="run store (DuckDB file) to append this run to, ids aligned to the last",
    )
    c.add_argument("--run-label", help="a name for the recorded run (with --runs)")
    _add_gate_options(c, "discover")
    c.set_defaults(func=_cmd_discover)

    a = sub.add_parser("assign", help="assign customers with a saved model")
    a.add_argument("--model", required=True, help="a saved model folder (DIR/model)")
    a.add_argument("--table", help="customer-level CSV or parquet")
    a.add_argument(
        "--row-ids",
        action="store_true",
        help="number the table's rows 1..n as 'row_id' (model fitted with --row-ids)",
    )
    a.add_argument(
        "--tables",
        action="append",
        metavar="NAME=FILE",
        help="raw table for a model fitted on raw tables (repeatable)",
    )
    a.add_argument("--as-of", help="feature cutoff date, with --tables")
    a.add_argument("--force", action="store_true", help="every customer gets a segment")
    a.add_argument(
        "--allow-unassigned",
        action="store_true",
        help="novel and noise customers get segment -1",
    )
    a.add_argument(
        "--out",
        required=True,
        help="output file (.parquet or .csv); with --stream, a folder of parquet parts",
    )
    a.add_argument(
        "--stream",
        action="store_true",
        help="bounded memory: read the input in batches (raw tables: by id-hash "
        "bucket) and write parquet parts into the --out folder",
    )
    a.add_argument(
        "--batch-rows",
        type=int,
        default=250_000,
        metavar="N",
        help="customers per batch with --stream (default 250000)",
    )
    _add_gate_options(a, "assign")
    a.set_defaults(func=_cmd_assign)

    r = sub.add_parser("drift", help="compare the last two runs of a run store")
    r.add_argument("--runs", required=True, metavar="FILE", help="run store file")
    r.add_argument("--previous", type=int, help="earlier run (default: the one before)")
    r.add_argument("--current", type=int, help="later run id (default: the last)")
    r.add_argument("--out", help="folder for drift.md, drift.json, drift_flows.png")
    r.set_defaults(func=_cmd_drift)

    v = sub.add_parser(
        "validate-config",
        help="check a discover config file without running it",
        description="Check a discover config file: keys, value types, quality gates, "
        "feature builder options, and that the files it names exist. Exit 0 when "
        "the run could start, 2 with the problem named otherwise.",
    )
    v.add_argument("file", metavar="FILE", help="the TOML config file")
    v.set_defaults(func=_cmd_validate_config)

    from segdiscover.bench._cli import add_parser as add_bench_parser

    add_bench_parser(sub)  # segdiscover bench: strategies x datasets x seeds
    for command in sub.choices.values():
        _add_verbosity_options(command)
    return p


def _add_verbosity_options(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: nothing is set unless given, so a subcommand's parser does not
    # overwrite `segdiscover -v discover ...` with its default.
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only warnings and errors (on stderr; --json still prints its "
        "line); no progress bars",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log each stage and its wall time on stderr; -vv: debug detail",
    )


def _verbosity(args: argparse.Namespace) -> int:
    """-1 for --quiet, 0 by default, 1 for -v, 2 for -vv (and more)."""
    if getattr(args, "quiet", False):
        return -1
    return int(getattr(args, "verbose", 0))


def _add_gate_options(p: argparse.ArgumentParser, command: str) -> None:
    from segdiscover.gates import ASSIGN_GATES, DISCOVER_GATES

    names = ", ".join(DISCOVER_GATES if command == "discover" else ASSIGN_GATES)
    p.add_argument(
        "--gate",
        action="append",
        metavar="NAME=VALUE",
        help=f"quality gate (repeatable): {names}; a failed gate exits 3 and "
        "publishes nothing",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a one-line JSON summary on stdout (the text goes to stderr)",
    )


_NOTHING_TORN = "no output was left half-written"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segdiscover`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = _verbosity(args)
    json_line = getattr(args, "json", False)
    if not json_line and verbosity >= 0:
        with cli_logging(verbosity):
            return _run(args, parser)
    # --json: the text goes to stderr, one JSON line to stdout, whatever happens;
    # --quiet: the text goes nowhere (warnings and errors still reach stderr).
    stdout = sys.stdout
    args.summary = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(cli_logging(verbosity))
        text = (
            stack.enter_context(open(os.devnull, "w")) if verbosity < 0 else sys.stderr
        )
        stack.enter_context(contextlib.redirect_stdout(text))
        try:
            code = _run(args, parser)
        except SystemExit as exc:  # a usage error found after parsing (exit 2)
            if not json_line:
                raise
            code = exc.code if isinstance(exc.code, int) else 2
    if not json_line:
        return code
    status = {0: "ok", 3: "gate_failed"}.get(code, "error")
    line = {"command": args.command, "status": status, "exit_code": code}
    line |= args.summary
    if code and getattr(args, "error", None):
        line["error"] = args.error
    print(json.dumps(line, default=str, allow_nan=False), file=stdout)
    return code


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        if args.command == "discover":
            _merge_config(args, parser)
        if getattr(args, "k", None) == 0:
            args.k = None
        with sigterm_raises(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = args.func(args)
        for w in caught:
            if issubclass(w.category, UserWarning) and w.category.__module__.startswith(
                "segdiscover"
            ):
                print(f"warning: {w.message}", file=sys.stderr)
        return code
    except SegdiscoverError as exc:
        print(f"segdiscover: error: {exc}", file=sys.stderr)
        args.error = str(exc)
        gates = exc.results if isinstance(exc, QualityGateError) else None
        if gates is not None and hasattr(args, "summary"):
            args.summary["gates"] = [g.to_dict() for g in gates]
        return _exit_code(exc)
    except KeyboardInterrupt:
        print(f"segdiscover: interrupted; {_NOTHING_TORN}", file=sys.stderr)
        return 130
    except Terminated:  # SIGTERM from a scheduler: cleaned up on the way out
        print(f"segdiscover: terminated; {_NOTHING_TORN}", file=sys.stderr)
        return 143
    except OSError as exc:  # the environment (a path, permissions, the disk): exit 2
        where = f" {exc.filename!r}" if exc.filename else ""
        print(
            f"segdiscover: error: cannot use the path{where}: {exc.strerror or exc}.",
            file=sys.stderr,
        )
        args.error = str(exc)
        return 2
    except Exception as exc:  # a bug: one line, not a dependency's traceback
        print(
            f"segdiscover: internal error ({type(exc).__name__}: {exc}). "
            "Please report it at the project's issue tracker.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
