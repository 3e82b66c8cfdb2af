"""The command line never writes its inputs: same path, links and replaced folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from segdiscover.cli import main
from segdiscover.cli._paths import refuse_written_inputs
from segdiscover.exceptions import InputError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _table(path: Path, n: int = 60) -> Path:
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame({"id": [f"c{i:03d}" for i in range(n)], "a": rng.random(n)})
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    return path


@pytest.fixture
def model_dir(tmp_path) -> Path:
    # assign refuses before it loads the model, so any folder stands for one here.
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    return folder


def _assign(model: Path, table: Path, out: Path) -> list[str]:
    return ["assign", "--model", str(model), "--table", str(table), "--out", str(out)]


def _refused(argv: list[str], capsys, *names: Path) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "never writes its inputs" in err
    for name in names:
        assert str(name) in err
    return err


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_assign_out_equal_to_the_table_is_refused(tmp_path, model_dir, capsys, suffix):
    table = _table(tmp_path / f"t{suffix}")
    before = _digest(table)
    err = _refused(_assign(model_dir, table, table), capsys, table)
    assert "--table" in err
    assert "same file" in err
    assert _digest(table) == before


def test_assign_out_through_a_symlink_or_a_hard_link_is_refused(
    tmp_path, model_dir, capsys
):
    table = _table(tmp_path / "data" / "t.parquet")
    before = _digest(table)
    soft = tmp_path / "soft.parquet"
    soft.symlink_to(table)
    hard = tmp_path / "hard.parquet"
    os.link(table, hard)
    _refused(_assign(model_dir, table, soft), capsys, soft, table)
    err = _refused(_assign(model_dir, table, hard), capsys, hard, table)
    assert "hard link" in err
    # A relative spelling of the same path is the same file too.
    rel = Path(os.path.relpath(table))
    _refused(_assign(model_dir, rel, table), capsys, table)
    assert _digest(table) == before


def test_assign_out_inside_the_model_folder_is_refused(tmp_path, model_dir, capsys):
    table = _table(tmp_path / "t.parquet")
    out = model_dir / "assignments.parquet"
    err = _refused(_assign(model_dir, table, out), capsys, out, model_dir)
    assert "inside the input folder" in err
    assert not out.exists()


def test_assign_out_equal_to_a_raw_table_is_refused(tmp_path, model_dir, capsys):
    orders = _table(tmp_path / "orders.csv")
    before = _digest(orders)
    argv = [
        "assign",
        "--model",
        str(model_dir),
        "--tables",
        f"orders={orders}",
        "--as-of",
        "2025-01-01",
        "--out",
        str(orders),
    ]
    err = _refused(argv, capsys, orders)
    assert "--tables orders=" in err
    assert _digest(orders) == before


@pytest.mark.parametrize(
    "where", ["assignments.parquet", "model/arrays/t.parquet", "plots/t.csv"]
)
def test_discover_refuses_an_input_among_the_files_it_replaces(tmp_path, capsys, where):
    out = tmp_path / "out"
    table = _table(out / where)
    before = _digest(table)
    argv = ["discover", "--table", str(table), "--id", "id", "--out", str(out)]
    err = _refused(argv, capsys, table)
    assert "--table" in err
    assert _digest(table) == before
    assert sorted(p.name for p in out.iterdir()) == [Path(where).parts[0]]


def test_discover_refuses_outcomes_and_raw_tables_in_replaced_files(tmp_path, capsys):
    out = tmp_path / "out"
    orders = _table(tmp_path / "orders.parquet")
    outcomes = _table(out / "model" / "outcomes.csv")
    argv = [
        "discover",
        *("--tables", f"orders={orders}", "--as-of", "2025-01-01"),
        *("--outcomes", str(outcomes), "--out", str(out)),
    ]
    err = _refused(argv, capsys, outcomes)
    assert "--outcomes" in err
    argv = [
        "discover",
        *("--tables", f"orders={out / 'report.md'}", "--as-of", "2025-01-01"),
        *("--out", str(out)),
    ]
    (out / "report.md").write_text("not a table, but an input all the same")
    _refused(argv, capsys, out / "report.md")
    assert (out / "report.md").read_text().startswith("not a table")


def test_discover_runs_store_may_not_be_an_input_or_an_output(tmp_path, capsys):
    table = _table(tmp_path / "t.parquet")
    before = _digest(table)
    argv = ["discover", "--table", str(table), "--id", "id"]
    _refused([*argv, "--out", str(tmp_path / "o"), "--runs", str(table)], capsys, table)
    out = tmp_path / "o2"
    store = out / "segments.json"
    store.parent.mkdir()
    store.write_bytes(b"a store file")
    err = _refused([*argv, "--out", str(out), "--runs", str(store)], capsys, store)
    assert "--runs" in err
    assert store.read_bytes() == b"a store file"
    assert _digest(table) == before


def test_drift_out_may_not_replace_the_run_store(tmp_path, capsys):
    store = tmp_path / "drift.json"
    store.write_bytes(b"a store file")
    argv = ["drift", "--runs", str(store), "--out", str(tmp_path)]
    err = _refused(argv, capsys, store)
    assert "--runs" in err
    assert store.read_bytes() == b"a store file"


def test_outputs_beside_the_inputs_are_allowed(tmp_path):
    out = tmp_path / "out"
    table = _table(out / "data" / "t.parquet")
    outcomes = _table(out / "outcomes.csv")
    given = [("--table", table), ("--outcomes", outcomes)]
    written = [(f"--out {n}", out / n) for n in ("assignments.parquet", "model")]
    refuse_written_inputs(given, written)  # nothing the run replaces is an input
    refuse_written_inputs([("--model", out / "model")], [("--out", out / "m.parquet")])
    with pytest.raises(InputError, match="inside the folder that is replaced"):
        refuse_written_inputs([("--table", table)], [("--out x", out / "data")])


@pytest.mark.parametrize(
    "where", [".segdiscover/gen-000001/t.csv", ".segdiscover/t.csv"]
)
def test_inputs_in_the_generation_folder_are_refused(tmp_path, capsys, where):
    # Runs are built in out/.segdiscover and older generations pruned: an input
    # there would be deleted by a later run.
    out = tmp_path / "out"
    table = _table(out / where)
    before = _digest(table)
    argv = ["discover", "--table", str(table), "--id", "id", "--out", str(out)]
    err = _refused(argv, capsys, table)
    assert "inside the folder that is replaced" in err
    store = out / ".segdiscover" / "runs.duckdb"
    store.write_bytes(b"a store file")
    _refused(["drift", "--runs", str(store), "--out", str(out)], capsys, store)
    assert _digest(table) == before
    assert store.read_bytes() == b"a store file"
