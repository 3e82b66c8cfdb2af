"""The hostile-input corpus: one entry per case, with the outcome it must have.

Each :class:`~hostile_driver.Case` builds its input (small, in-process), makes one
call (the library, ``save``/``load``, or the CLI in-process) and states the expected
outcome: a clear error whose message names the problem, a warning, or documented
handling. ``test_corpus.py`` runs every case through one driver that checks the rules;
``benchmarks/scorecard.py`` prints the figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import polars as pl
from hostile_driver import Case
from hostile_inputs import (
    fitted_raw,
    fitted_table,
    raw,
    rewrite_manifest,
    saved_model,
    segmenter,
    table,
    tables,
    write_csv,
)

import segdiscover as sd
from segdiscover.cli import main
from segdiscover.exceptions import (
    ColumnNotFoundError,
    InputError,
    InvalidParameterError,
    ModelFileError,
    SchemaMismatchError,
)
from segdiscover.report import write_outputs

# ------------------------------------------------------------------ helpers


def fit_table(i: dict[str, Any], _tmp: Path) -> sd.Segmenter:
    kw = i.get("kw", {})
    return segmenter(i.get("k", 2), **i.get("params", {})).fit(i["X"], **kw)


def fit_raw(i: dict[str, Any], _tmp: Path) -> sd.Segmenter:
    return segmenter(3).fit(i["X"], as_of=i["as_of"], **i.get("kw", {}))


def assign_table(i: dict[str, Any], _tmp: Path) -> pl.DataFrame:
    return fitted_table().assign(i["X"])


def assign_raw(i: dict[str, Any], _tmp: Path) -> pl.DataFrame:
    return fitted_raw().assign(i["X"], as_of=i["as_of"])


def load_model(i: dict[str, Any], _tmp: Path) -> Any:
    return sd.load(i["model"])


def cli(i: dict[str, Any], _tmp: Path) -> int:
    return main([str(a) for a in i["argv"]])


def with_col(name: str, values: list[Any], n: int = 60) -> dict[str, Any]:
    return {"X": table(n).with_columns(pl.Series(name, values))}


def at(i: int, value: Any, n: int = 60, fill: float = 1.0) -> list[Any]:
    out: list[Any] = [fill + j for j in range(n)]
    out[i] = value
    return out


def orders_with(**cols: Any) -> dict[str, Any]:
    d = raw()
    t = tables()
    t["orders"] = t["orders"].with_columns(**cols)
    return {"X": t, "as_of": d.as_of}


def config_case(case_id: str, text: bytes, match: str) -> Case:
    """``discover --config job.toml`` with ``text`` in the file, over an earlier run."""

    def make(t: Path) -> dict[str, Any]:
        (t / "job.toml").write_bytes(text)
        return {
            "argv": ["discover", "--config", t / "job.toml", "--out", str(t / "out")]
        }

    return Case(
        case_id, "output folder", make, cli, "exit", match, out="out", prior=True
    )


def discover_argv(tmp: Path, src: Path, *extra: Any) -> list[Any]:
    # The output folder as text: it is written, not an input to keep unchanged.
    out = str(tmp / "out")
    return [
        "discover",
        "--table",
        src,
        "--id",
        "customer_id",
        "--k",
        "2",
        "--out",
        out,
        *extra,
    ]


def n_segments_of(out: Path) -> set[int]:
    """The segment count each part of an output folder claims (one run: one value)."""
    import json

    doc = json.loads((out / "segments.json").read_text())
    labels = pl.read_parquet(out / "assignments.parquet")
    return {
        int(doc["run"]["n_segments"]),
        int(labels["segment_id"].n_unique()),
        int(sd.load(out / "model").n_segments_),
    }


# ------------------------------------------------------------- fault injection
def disk_full_while_writing(i: dict[str, Any], tmp: Path) -> Any:
    """ENOSPC on the third fsync: files are half-written in the temporary folder."""
    real, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    with mock.patch("os.fsync", fsync):
        return write_outputs(fitted_table(3), tmp / "out")


def disk_full_while_moving(i: dict[str, Any], tmp: Path) -> Any:
    """ENOSPC on the fourth rename: some files of the new run are already in place."""
    real, calls = os.replace, []

    def replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)

    with mock.patch("os.replace", replace):
        return write_outputs(fitted_table(3), tmp / "out")


def interrupted_while_writing(i: dict[str, Any], tmp: Path) -> Any:
    """Ctrl-C (KeyboardInterrupt) midway: temporary files go, old outputs stay."""
    real, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real(fd)

    with mock.patch("os.fsync", fsync):
        try:
            write_outputs(fitted_table(3), tmp / "out")
        except KeyboardInterrupt:
            return "interrupted"
    return "finished"


KILL_SCRIPT = """
import os, signal, sys, warnings
from unittest import mock
sys.path.insert(0, {here!r})
warnings.simplefilter("ignore")
from hostile_inputs import fitted_table
from segdiscover.report import write_outputs
real, calls = os.fsync, []
def fsync(fd):
    calls.append(fd)
    if len(calls) == 4:
        os.kill(os.getpid(), signal.SIGKILL)
    real(fd)
seg = fitted_table(3)
with mock.patch("os.fsync", fsync):
    write_outputs(seg, {out!r})
"""


def killed_while_writing(i: dict[str, Any], tmp: Path) -> Any:
    """SIGKILL midway (a real process): old outputs intact, next run cleans up."""
    script = KILL_SCRIPT.format(here=str(Path(__file__).parent), out=str(tmp / "out"))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=False
    )
    if proc.returncode != -signal.SIGKILL:
        msg = f"the writer was not killed: {proc.returncode} {proc.stderr[-500:]!r}"
        raise AssertionError(msg)
    # The next run in the same folder must leave no trace of the killed one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_outputs(fitted_table(2), tmp / "out")


def two_writers_at_once(i: dict[str, Any], tmp: Path) -> Any:
    """Two runs (2 and 3 segments) write one folder at once, their moves overlapping."""
    out = tmp / "out"
    out.mkdir()
    barrier = threading.Barrier(2)
    real = os.replace
    seen: set[int] = set()
    errors: list[BaseException] = []

    def replace(src: Any, dst: Any) -> None:
        me = threading.get_ident()
        if me not in seen:
            seen.add(me)
            # Line both writers up at the start of their moves (a lock makes the
            # second wait here in vain: the barrier breaks after a second).
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=1.0)
        # Unserialised, the 2-segment run's assignments land after the 3-segment
        # run's, and its segments.json and model before: a folder of two runs.
        who = (threading.current_thread().name, Path(dst).name)
        time.sleep(
            {("k2", "assignments.parquet"): 0.2, ("k3", "segments.json"): 0.4}.get(
                who, 0.0
            )
        )
        real(src, dst)

    def run(k: int) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                write_outputs(fitted_table(k), out)
        except BaseException as exc:
            errors.append(exc)

    fitted_table(2), fitted_table(3)
    with mock.patch("os.replace", replace):
        threads = [
            threading.Thread(target=run, args=(k,), name=f"k{k}") for k in (2, 3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return out


def not_writable(out: Path) -> Any:
    """The folder refuses new files (as for a non-root user without write access)."""
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    with mock.patch("tempfile.mkdtemp", side_effect=denied):
        return write_outputs(fitted_table(), out)


def one_complete_run(result: Any, i: dict[str, Any], tmp: Path) -> list[str]:
    claims = n_segments_of(tmp / "out")
    return [] if len(claims) == 1 else [f"folder mixes two runs: {claims}"]


def same_files_as_before(result: Any, i: dict[str, Any], tmp: Path) -> list[str]:
    return [] if n_segments_of(tmp / "out") == {2} else ["outputs changed"]


# ------------------------------------------------------------------ the cases
def all_noise(i: dict[str, Any], _tmp: Path) -> Any:
    return sd.Segmenter(clusterer="hdbscan", random_state=0).fit(i["X"])


class OneCluster:
    """A scikit-learn-style clusterer that puts everyone in one segment."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> OneCluster:
        return self

    def fit(self, X: Any, y: Any = None) -> OneCluster:
        self.labels_ = np.zeros(len(X), dtype=np.int64)
        return self


def uniform(n: int = 60, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)]}
        | {f"u{j}": rng.uniform(size=n) for j in range(6)}
    )


def mixed_tz_orders() -> dict[str, Any]:
    """Orders in UTC, tickets in Tokyo time, signup dates naive."""
    t = tables()
    t["orders"] = t["orders"].with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    t["tickets"] = t["tickets"].with_columns(
        pl.col(c).dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo")
        for c in ("opened", "resolved")
    )
    return {"X": t, "as_of": raw().as_of}


def tz_orders(as_of: Any) -> dict[str, Any]:
    t = tables()
    t["orders"] = t["orders"].with_columns(
        pl.col("ts").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin")
    )
    return {"X": t, "as_of": as_of}


def mixed_id_pandas() -> dict[str, Any]:
    df = table().to_pandas()
    df["customer_id"] = [i if i % 2 else f"c{i}" for i in range(len(df))]
    return {"X": df}


def dup_column_pandas() -> dict[str, Any]:
    df = table().to_pandas()
    df.columns = ["customer_id", "spend", "spend", "plan", "seats"]
    return {"X": df}


def renamed_column() -> dict[str, Any]:
    return {"X": table(30, seed=1).rename({"spend": "Spend"})}


def future_version(m: dict[str, Any]) -> None:
    m["format_version"] = 99


CASES: list[Case] = [
    # ---------------------------------------------------------- empty and tiny
    Case(
        "empty-table",
        "empty and tiny",
        lambda t: {"X": table().head(0)},
        fit_table,
        "error",
        r"0 rows",
        InputError,
    ),
    Case(
        "one-customer",
        "empty and tiny",
        lambda t: {"X": table().head(1)},
        fit_table,
        "error",
        r"There are 1 customers; at least 10",
        InputError,
    ),
    Case(
        "fewer-customers-than-k",
        "empty and tiny",
        lambda t: {"X": table(30), "k": 20},
        fit_table,
        "error",
        r"30 customers; at least 40 are needed",
        InputError,
    ),
    Case(
        "empty-orders-table",
        "empty and tiny",
        lambda t: {
            **orders_with(),
            "X": {**tables(), "orders": tables()["orders"].head(0)},
            "as_of": raw().as_of,
        },
        fit_raw,
        "warning",
        r"constant column",
        note="no activity: the empty features are dropped, with a warning",
    ),
    Case(
        "empty-assign-table",
        "empty and tiny",
        lambda t: {"X": table().head(0)},
        assign_table,
        "error",
        r"0 rows",
        InputError,
    ),
    Case(
        "k-range-beyond-data",
        "empty and tiny",
        lambda t: {"X": table(12), "k": None, "params": {"k_range": (2, 50)}},
        fit_table,
        "ok",
        note="auto tries only the k the data can hold",
    ),
    # ---------------------------------------------------------- degenerate values
    Case(
        "all-identical-rows",
        "degenerate values",
        lambda t: {
            "X": table().with_columns(
                pl.lit(1.0).alias("spend"),
                pl.lit(2.0).alias("visits"),
                pl.lit("a").alias("plan"),
                pl.lit(3).alias("seats"),
            )
        },
        fit_table,
        "error",
        r"constant|identical",
        InputError,
    ),
    Case(
        "constant-column",
        "degenerate values",
        lambda t: {"X": table().with_columns(pl.lit(7.0).alias("const"))},
        fit_table,
        "warning",
        r"const",
        note="dropped with a warning",
    ),
    Case(
        "extremely-skewed",
        "degenerate values",
        lambda t: with_col("spend", list(np.r_[np.ones(59), 1e14])),
        fit_table,
        "ok",
        note="log transform and clipping",
    ),
    Case(
        "all-null-column",
        "degenerate values",
        lambda t: with_col("spend", [None] * 60),
        fit_table,
        "warning",
        r"spend",
    ),
    # ---------------------------------------------------------- non-finite
    Case(
        "nan-in-numeric",
        "non-finite numbers",
        lambda t: with_col("spend", at(3, float("nan"))),
        fit_table,
        "error",
        r"Column 'spend'.*1 values.*'c003'",
        InputError,
    ),
    Case(
        "inf-in-numeric",
        "non-finite numbers",
        lambda t: with_col("spend", at(5, float("inf"))),
        fit_table,
        "error",
        r"Column 'spend'.*'c005'",
        InputError,
    ),
    Case(
        "minus-inf-in-numeric",
        "non-finite numbers",
        lambda t: with_col("visits", at(0, -np.inf)),
        fit_table,
        "error",
        r"Column 'visits'.*'c000'",
        InputError,
    ),
    Case(
        "1e308-in-numeric",
        "non-finite numbers",
        lambda t: with_col("spend", at(7, 1e308)),
        fit_table,
        "error",
        r"Column 'spend'.*1e\+308.*'c007'",
        InputError,
    ),
    Case(
        "null-in-numeric",
        "non-finite numbers",
        lambda t: with_col("spend", at(2, None)),
        fit_table,
        "ok",
        note="imputed, with a missing-indicator column",
    ),
    Case(
        "nan-in-raw-amount",
        "non-finite numbers",
        lambda t: orders_with(
            amount=pl.when(pl.int_range(pl.len()) == 0)
            .then(float("nan"))
            .otherwise(pl.col("amount"))
        ),
        fit_raw,
        "error",
        r"'amount'.*orders",
        InputError,
    ),
    Case(
        "inf-in-raw-amount",
        "non-finite numbers",
        lambda t: orders_with(
            amount=pl.when(pl.int_range(pl.len()) == 0)
            .then(float("inf"))
            .otherwise(pl.col("amount"))
        ),
        fit_raw,
        "error",
        r"'amount'.*orders",
        InputError,
    ),
    Case(
        "nan-at-assign",
        "non-finite numbers",
        lambda t: with_col("spend", at(4, float("nan"), 120), 120),
        assign_table,
        "error",
        r"Column 'spend'.*'c004'",
        InputError,
    ),
    # ---------------------------------------------------------- negative amounts
    Case(
        "negative-amounts",
        "negative amounts",
        lambda t: orders_with(amount=-pl.col("amount")),
        fit_raw,
        "ok",
        note="negative amounts are refunds, summed as given",
    ),
    Case(
        "negative-table-values",
        "negative amounts",
        lambda t: with_col("spend", at(0, -1e6)),
        fit_table,
        "ok",
        note="a customer-level table may hold negatives (refunds)",
    ),
    # ---------------------------------------------------------- time
    Case(
        "events-in-the-future",
        "timestamps",
        lambda t: orders_with(ts=pl.col("ts") + pl.duration(days=3650)),
        fit_raw,
        "warning",
        r"Dropped 1\d constant column",
        note="events after as_of are ignored; the empty features are dropped, said",
    ),
    Case(
        "orders-before-signup",
        "timestamps",
        lambda t: orders_with(ts=pl.col("ts") - pl.duration(days=3000)),
        fit_raw,
        "ok",
        note="counted: signup dates are often recorded late",
    ),
    Case(
        "mixed-time-zones",
        "timestamps",
        lambda t: mixed_tz_orders(),
        fit_raw,
        "ok",
        note="converted to UTC",
    ),
    Case(
        "aware-data-naive-as-of",
        "timestamps",
        lambda t: tz_orders(raw().as_of),
        fit_raw,
        "ok",
        note="naive as_of read in the data's time zone",
    ),
    Case(
        "aware-as-of-naive-data",
        "timestamps",
        lambda t: {"X": tables(), "as_of": dt.datetime(2025, 7, 1, tzinfo=dt.UTC)},
        fit_raw,
        "ok",
        note="aware as_of converted to the data's clock",
    ),
    Case(
        "as-of-not-a-date",
        "timestamps",
        lambda t: {"X": tables(), "as_of": "yesterday"},
        fit_raw,
        "error",
        r"as_of.*'yesterday'",
        InputError,
    ),
    # ---------------------------------------------------------- ids
    Case(
        "duplicated-ids",
        "ids",
        lambda t: {"X": pl.concat([table(), table().head(2)])},
        fit_table,
        "error",
        r"2 duplicated ids.*'c000'",
        InputError,
    ),
    Case(
        "duplicated-ids-in-customers",
        "ids",
        lambda t: {
            "X": {
                **tables(),
                "customers": pl.concat(
                    [tables()["customers"], tables()["customers"].head(2)]
                ),
            },
            "as_of": raw().as_of,
        },
        fit_raw,
        "error",
        r"customers.*2 duplicated ids",
        InputError,
    ),
    Case(
        "mixed-type-ids",
        "ids",
        lambda t: mixed_id_pandas(),
        fit_table,
        "error",
        r"customer_id",
        InputError,
    ),
    Case(
        "int-ids-at-assign-str-at-fit",
        "ids",
        lambda t: {
            "X": table(120).with_columns(pl.int_range(120).alias("customer_id"))
        },
        assign_table,
        "ok",
        note="ids are labels: any type is assigned and returned as given",
    ),
    Case(
        "null-ids",
        "ids",
        lambda t: with_col("customer_id", [None] + [f"c{i}" for i in range(1, 60)]),
        fit_table,
        "error",
        r"1 rows with a null 'customer_id'",
        InputError,
    ),
    Case(
        "order-ids-of-another-type",
        "ids",
        lambda t: orders_with(
            customer_id=pl.col("customer_id").str.slice(1).cast(pl.Int64, strict=False)
        ),
        fit_raw,
        "error",
        r"customer_id",
        InputError,
    ),
    # ---------------------------------------------------------- schema
    Case(
        "missing-id-column",
        "columns and dtypes",
        lambda t: {"X": table().drop("customer_id")},
        fit_table,
        "error",
        r"no column 'customer_id'",
        ColumnNotFoundError,
    ),
    Case(
        "renamed-column-at-assign",
        "columns and dtypes",
        lambda t: renamed_column(),
        assign_table,
        "error",
        r"'spend'",
        SchemaMismatchError,
    ),
    Case(
        "missing-raw-table",
        "columns and dtypes",
        lambda t: {
            "X": {k: v for k, v in tables().items() if k != "orders"},
            "as_of": raw().as_of,
        },
        fit_raw,
        "warning",
        r"No 'orders' table was given",
        note="its builders are skipped, with a warning",
    ),
    Case(
        "missing-raw-column",
        "columns and dtypes",
        lambda t: {
            "X": {**tables(), "orders": tables()["orders"].drop("amount")},
            "as_of": raw().as_of,
        },
        fit_raw,
        "error",
        r"'amount'",
        InputError,
    ),
    Case(
        "unknown-exclude-column",
        "columns and dtypes",
        lambda t: {"X": table(), "kw": {"exclude": ["nope"]}},
        fit_table,
        "error",
        r"no column 'nope'",
        ColumnNotFoundError,
    ),
    Case(
        "numbers-as-strings",
        "columns and dtypes",
        lambda t: {"X": table().with_columns(pl.col("spend").cast(pl.String))},
        fit_table,
        "ok",
        note="parsed as numbers",
    ),
    Case(
        "numbers-as-strings-with-junk",
        "columns and dtypes",
        lambda t: with_col("spend", [str(v) for v in range(59)] + ["n/a?"]),
        fit_table,
        "error",
        r"Column 'spend'.*1 of 60.*'n/a\?'",
        InputError,
    ),
    Case(
        "text-where-numbers-at-assign",
        "columns and dtypes",
        lambda t: {"X": table(120).with_columns(pl.lit("lots").alias("spend"))},
        assign_table,
        "error",
        r"'spend'",
        SchemaMismatchError,
    ),
    Case(
        "amount-as-text-in-raw",
        "columns and dtypes",
        lambda t: orders_with(amount=pl.col("amount").cast(pl.String)),
        fit_raw,
        "ok",
        note="numeric text parsed",
    ),
    Case(
        "unknown-category-at-assign",
        "columns and dtypes",
        lambda t: {"X": table(120).with_columns(pl.lit("enterprise").alias("plan"))},
        assign_table,
        "warning",
        r"'plan'.*not seen at fit.*'enterprise'",
    ),
    Case(
        "pandas-nullable-dtypes",
        "columns and dtypes",
        lambda t: {
            "X": table().to_pandas().astype({"seats": "Int64", "plan": "category"})
        },
        fit_table,
        "ok",
        note="converted once at the door",
    ),
    # ---------------------------------------------------------- column names
    Case(
        "unicode-column-names",
        "column names",
        lambda t: {"X": table().rename({"spend": "Umsatz €", "visits": "訪問回数"})},
        fit_table,
        "ok",
        note="kept as given",
    ),
    Case(
        "spaces-in-column-names",
        "column names",
        lambda t: {
            "X": table().rename({"spend": "  total spend ", "plan": "plan name"})
        },
        fit_table,
        "ok",
        note="kept as given",
    ),
    Case(
        "blank-column-name",
        "column names",
        lambda t: {"X": table().rename({"spend": " "})},
        fit_table,
        "error",
        r"1 column\(s\) with a blank name",
        InputError,
    ),
    Case(
        "duplicate-column-names",
        "column names",
        lambda t: dup_column_pandas(),
        fit_table,
        "error",
        r"duplicated column.*'spend'",
        InputError,
    ),
    # ---------------------------------------------------------- clusterers
    Case(
        "hdbscan-all-noise",
        "clusterers",
        lambda t: {"X": uniform(40)},
        all_noise,
        "error",
        r"no segment.*40 customers noise",
        InputError,
    ),
    Case(
        "surrogate-one-segment",
        "clusterers",
        lambda t: {"X": table(), "params": {"clusterer": OneCluster()}, "k": None},
        fit_table,
        "error",
        r"found 1 segment for all 60 customers",
        InputError,
    ),
    # ---------------------------------------------------------- parameters
    Case(
        "unknown-constructor-key",
        "parameters and config",
        lambda t: {},
        lambda i, t: sd.Segmenter(**{"bogus": 1}),
        "error",
        r"'bogus'",
        TypeError,
        note="Python's own TypeError names the key (scikit-learn convention)",
    ),
    Case(
        "unknown-set-params-key",
        "parameters and config",
        lambda t: {},
        lambda i, t: sd.Segmenter().set_params(bogus=1),
        "error",
        r"no parameter 'bogus'",
        InvalidParameterError,
    ),
    Case(
        "k-as-string",
        "parameters and config",
        lambda t: {"X": table(), "k": "3"},
        fit_table,
        "error",
        r"'n_segments' parameter.*Got '3'",
        InvalidParameterError,
    ),
    Case(
        "cli-unknown-option",
        "parameters and config",
        lambda t: {
            "argv": [*discover_argv(t, write_csv(table(), t / "c.csv")), "--bogus", "1"]
        },
        cli,
        "exit",
        r"unrecognized arguments: --bogus 1",
    ),
    Case(
        "cli-k-not-a-number",
        "parameters and config",
        lambda t: {
            "argv": [
                "discover",
                "--table",
                write_csv(table(), t / "c.csv"),
                "--id",
                "customer_id",
                "--k",
                "three",
                "--out",
                t / "out",
            ]
        },
        cli,
        "exit",
        r"--k.*'three'",
    ),
    # ---------------------------------------------------------- model files
    Case(
        "model-missing",
        "model file",
        lambda t: {"model": t / "nowhere"},
        load_model,
        "error",
        r"no saved model at .*nowhere",
        ModelFileError,
    ),
    Case(
        "model-corrupted-manifest",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {"_": (t / "m" / "manifest.json").write_bytes(b"\x00\xffgarbage")}
        ),
        load_model,
        "error",
        r"manifest of .*m'.* not valid JSON",
        ModelFileError,
    ),
    Case(
        "model-truncated-array",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {
                "_": [
                    p.write_bytes(p.read_bytes()[:40])
                    for p in (t / "m" / "arrays").glob("*.npy")
                ]
            }
        ),
        load_model,
        "error",
        r"array file 'arrays/.*\.npy'.* was modified",
        ModelFileError,
    ),
    Case(
        "model-tampered-manifest",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {
                "_": (t / "m" / "manifest.json").write_text(
                    (t / "m" / "manifest.json")
                    .read_text()
                    .replace('"kmeans"', '"gmm"', 1)
                )
            }
        ),
        load_model,
        "error",
        r"manifest of .* was modified",
        ModelFileError,
    ),
    Case(
        "model-resigned-bad-adapter",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {
                "_": rewrite_manifest(
                    t / "m", lambda m: m["clusterer"].update(adapter="os.system")
                )
            }
        ),
        load_model,
        "error",
        r"unknown clusterer adapter 'os.system'",
        ModelFileError,
    ),
    Case(
        "model-resigned-path-escape",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {
                "_": rewrite_manifest(
                    t / "m",
                    lambda m: m["arrays"].update(
                        {
                            "../../etc/passwd": {
                                "file": "x",
                                "sha256": "0",
                                "dtype": "f8",
                                "shape": [1],
                            }
                        }
                    ),
                )
            }
        ),
        load_model,
        "error",
        r"invalid array '\.\./\.\./etc/passwd'",
        ModelFileError,
    ),
    Case(
        "model-resigned-wrong-types",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {
                "_": rewrite_manifest(
                    t / "m", lambda m: m.update(segments="lots", feature_meta=[1, 2])
                )
            }
        ),
        load_model,
        "error",
        # The field checks name what is wrong (e.g. "lists invalid segment ids").
        r"manifest of .* (malformed|lists invalid)",
        ModelFileError,
    ),
    Case(
        "model-future-version",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")}
            | {"_": rewrite_manifest(t / "m", future_version)}
        ),
        load_model,
        "error",
        r"format version 99.*reads format version 1",
        ModelFileError,
    ),
    Case(
        "model-checksum-missing",
        "model file",
        lambda t: (
            {"model": saved_model(t / "m")} | {"_": (t / "m" / "checksum").unlink()}
        ),
        load_model,
        "error",
        r"lacks its member 'checksum'",
        ModelFileError,
    ),
    Case(
        "model-path-is-a-file",
        "model file",
        lambda t: {"model": write_csv(table(), t / "m.csv")},
        load_model,
        "error",
        r"no saved model at .*m\.csv",
        ModelFileError,
    ),
    Case(
        "cli-assign-tampered-model",
        "model file",
        lambda t: (
            {
                "argv": [
                    "assign",
                    "--model",
                    saved_model(t / "m"),
                    "--table",
                    write_csv(table(120), t / "c.csv"),
                    "--out",
                    str(t / "out" / "a.parquet"),
                ]
            }
            | {"_": (t / "m" / "checksum").write_text("0" * 64 + "  manifest.json\n")}
        ),
        cli,
        "exit",
        r"manifest of .* was modified",
        out="out",
    ),
    # ---------------------------------------------------------- output folder
    Case(
        "out-is-a-file",
        "output folder",
        lambda t: {"X": None} | {"_": (t / "out").write_text("mine")},
        lambda i, t: write_outputs(fitted_table(), t / "out"),
        "error",
        r"'.*out' is a file",
        InputError,
    ),
    Case(
        "out-parent-is-a-file",
        "output folder",
        lambda t: {"_": (t / "taken").write_text("mine")},
        lambda i, t: write_outputs(fitted_table(), t / "taken" / "out"),
        "error",
        r"Cannot write to the output folder '.*taken/out'",
        InputError,
    ),
    Case(
        "out-not-writable",
        "output folder",
        lambda t: {},
        lambda i, t: not_writable(t / "out"),
        "error",
        r"Cannot write to the output folder '.*out': Permission denied",
        InputError,
        out="out",
        prior=True,
    ),
    Case(
        "model-target-holds-other-files",
        "output folder",
        lambda t: {
            "_": [(t / "m").mkdir(), (t / "m" / "notes.txt").write_text("mine")]
        },
        lambda i, t: fitted_table().save(t / "m"),
        "error",
        r"holds other files",
        ModelFileError,
    ),
    Case(
        "cli-out-unsupported-suffix",
        "output folder",
        lambda t: {
            "argv": [
                "assign",
                "--model",
                saved_model(t / "m"),
                "--table",
                write_csv(table(120), t / "c.csv"),
                "--out",
                t / "a.xlsx",
            ]
        },
        cli,
        "exit",
        r"Unsupported output type '\.xlsx'",
    ),
    Case(
        "cli-missing-table-file",
        "output folder",
        lambda t: {"argv": discover_argv(t, t / "absent.csv")},
        cli,
        "exit",
        r"No such file: '.*absent\.csv'",
        out="out",
        prior=True,
    ),
    Case(
        "cli-garbage-csv",
        "output folder",
        lambda t: (
            {"argv": discover_argv(t, t / "g.csv")}
            | {"_": (t / "g.csv").write_bytes(b"a,b\n1,2,3,4\n\x00\xff\xfe")}
        ),
        cli,
        "exit",
        r"'.*g\.csv'",
        out="out",
        prior=True,
    ),
    Case(
        "cli-header-only-csv",
        "output folder",
        lambda t: (
            {"argv": discover_argv(t, t / "h.csv")}
            | {"_": (t / "h.csv").write_text("customer_id,spend\n")}
        ),
        cli,
        "exit",
        r"0 rows",
        out="out",
        prior=True,
    ),
    config_case("cli-config-not-toml", b"\x00\xff[[tables\nk = = 3", r"not valid TOML"),
    config_case(
        "cli-config-unknown-key",
        b'tabel = "c.csv"\nid = "customer_id"\n',
        r"unknown key 'tabel'",
    ),
    config_case(
        "cli-config-missing-raw-table",
        b'as_of = "2025-07-01"\n[tables]\norders = "absent.parquet"\n',
        r"No such file: '.*absent\.parquet'",
    ),
    # ---------------------------------------------------------- faults while writing
    Case(
        "disk-full-while-writing",
        "faults while writing",
        lambda t: {},
        disk_full_while_writing,
        "error",
        r"'.*out'.*No space left on device",
        InputError,
        out="out",
        prior=True,
        note="temporary folder removed; earlier run intact",
    ),
    Case(
        "disk-full-while-moving",
        "faults while writing",
        lambda t: {},
        disk_full_while_moving,
        "error",
        r"'.*out'.*No space left on device",
        InputError,
        out="out",
        prior=True,
        verify=same_files_as_before,
        note="files already moved are rolled back",
    ),
    Case(
        "interrupted-while-writing",
        "faults while writing",
        lambda t: {},
        interrupted_while_writing,
        "ok",
        out="out",
        prior=True,
        verify=lambda r, i, t: [] if r == "interrupted" else [f"got {r}"],
        note="KeyboardInterrupt propagates; temporary folder removed",
    ),
    Case(
        "killed-while-writing",
        "faults while writing",
        lambda t: {},
        killed_while_writing,
        "ok",
        out="out",
        prior=True,
        note="SIGKILL leaves the earlier run; the next run removes the dead one's temp",
    ),
    Case(
        "two-writers-at-once",
        "faults while writing",
        lambda t: {},
        two_writers_at_once,
        "ok",
        out="out",
        verify=one_complete_run,
        note="a lock on the folder: the last writer's run, complete",
    ),
    Case(
        "cli-discover-over-earlier-run",
        "faults while writing",
        lambda t: {"argv": discover_argv(t, write_csv(table(80), t / "c.csv"))},
        cli,
        "exit",
        r"",
        exit_code=0,
        out="out",
        prior=True,
    ),
]
