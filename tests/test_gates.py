"""Quality gates, ``--json`` and ``validate-config``: what an ETL job branches on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from segdiscover.cli import main
from segdiscover.exceptions import InputError, QualityGateError
from segdiscover.gates import check_gates, measure_gates, parse_gates


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gates")
    rng = np.random.default_rng(0)
    n = 240
    g = np.arange(n) % 3
    pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "spend": rng.normal(100 + 150 * g, 10),
            "visits": rng.normal(5 + 6 * g, 1),
            "churned": (rng.random(n) < 0.05 + 0.4 * (g == 2)).astype(int),
        }
    ).write_parquet(root / "t.parquet")
    return root


def discover(files: Path, out: Path, *extra: object) -> list[str]:
    return [
        "discover", "--table", str(files / "t.parquet"), "--id", "customer_id",
        "--out", str(out), "--clusterer", "kmeans", "--k", "3",
        "--outcome", "churned", *map(str, extra),
    ]  # fmt: skip


def published(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.glob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        (["min_fidelty=0.9"], "Unknown quality gate 'min_fidelty'"),
        (["min_fidelity"], "must be NAME=VALUE"),
        (["min_fidelity=high"], "must be a number; got 'high'"),
        (["min_fidelity=1.5"], "between 0 and 1; got '1.5'"),
        (["min_distinct_segments=1.5"], "whole number"),
        (["require_stable=maybe"], "true or false; got 'maybe'"),
        ({"min_segment_share": True}, "must be a number; got True"),
    ],
)
def test_bad_gates_are_refused_by_name(given: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_gates(given, "discover")  # type: ignore[arg-type]


def test_assign_gates_are_not_discover_gates() -> None:
    with pytest.raises(InputError, match="assign takes"):
        parse_gates(["min_fidelity=0.9"], "assign")
    assert parse_gates(["max_novel_share=0.05"], "assign") == {"max_novel_share": 0.05}


def test_gate_failure_exits_3_and_publishes_nothing(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, store = tmp_path / "out", tmp_path / "runs.duckdb"
    assert main([*discover(files, out), "--runs", str(store)]) == 0
    before = published(out)
    capsys.readouterr()
    code = main(
        [*discover(files, out, "--gate", "min_segment_share=0.9"), "--runs", str(store)]
    )
    err = capsys.readouterr().err
    assert code == 3
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1
    assert "min_segment_share: smallest segment's share" in lines[0]
    assert "< 0.900" in lines[0]
    assert published(out) == before  # the earlier outputs stay the current ones
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # not recorded
    con.close()


def test_passing_gates_publish_and_report(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [*discover(files, out, "--gate", "min_fidelity=0.5", "--gate",
                   "min_distinct_segments=1"), "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1  # one machine-readable line; the text went to stderr
    doc = json.loads(lines[0])
    assert doc["status"] == "ok"
    assert doc["n_segments"] == 3
    assert [g["passed"] for g in doc["gates"]] == [True, True]
    assert "Wrote assignments.parquet" in captured.err
    assert (out / "segments.json").exists()


def test_json_line_on_gate_failure_and_on_error(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [*discover(files, tmp_path / "o", "--gate", "min_fidelity=1"), "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    if code == 0:  # a perfect surrogate: the gate passes, which is also correct
        assert doc["gates"][0]["passed"] is True
    else:
        assert (code, doc["status"], doc["exit_code"]) == (3, "gate_failed", 3)
        assert doc["gates"][0]["passed"] is False
        assert "min_fidelity" in doc["error"]
    code = main(
        ["discover", "--table", str(tmp_path / "missing.csv"), "--id", "x", "--out",
         str(tmp_path / "o2"), "--json"]
    )  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 2
    assert doc["status"] == "error"
    assert "missing.csv" in doc["error"]


def test_distinct_gate_needs_outcomes(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        a for a in discover(files, tmp_path / "o") if a not in ("--outcome", "churned")
    ]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--gate", "min_distinct_segments=2"])
    assert exc.value.code == 2
    assert "needs --outcome" in capsys.readouterr().err


def test_assign_novel_gate(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(discover(files, out)) == 0
    t = pl.read_parquet(files / "t.parquet")
    # Customers far outside what the model saw: all flagged novel.
    t.with_columns(pl.col("spend") * 50, pl.col("visits") * 50).write_parquet(
        tmp_path / "far.parquet"
    )
    scores = tmp_path / "scores.parquet"
    capsys.readouterr()
    code = main(
        ["assign", "--model", str(out / "model"), "--table",
         str(tmp_path / "far.parquet"), "--out", str(scores),
         "--gate", "max_novel_share=0.2"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert "max_novel_share: share of customers flagged novel" in err
    assert "was not written" in err
    assert not scores.exists()


def test_config_gates_and_command_line_override(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "job.toml"
    cfg.write_text(
        f'table = "{files / "t.parquet"}"\nid = "customer_id"\nout = "out"\n'
        'clusterer = "kmeans"\nk = 3\n[gates]\nmin_segment_share = 0.9\n'
    )
    assert main(["discover", "--config", str(cfg)]) == 3
    assert (
        main(["discover", "--config", str(cfg), "--gate", "min_segment_share=0.01"])
        == 0
    )
    assert (tmp_path / "out" / "segments.json").exists()


def test_validate_config(
    files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "job.toml"
    cfg.write_text(
        f'table = "{files / "t.parquet"}"\nid = "customer_id"\nout = "out"\n'
        "[gates]\nmin_fidelity = 0.9\nrequire_stable = true\n"
    )
    assert main(["validate-config", str(cfg)]) == 0
    assert "OK" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()  # nothing was run
    for body, needle in [
        ('table = "t.csv"\nbogus = 1\n', "unknown key 'bogus'"),
        ('table = "nope.csv"\nid = "x"\n', "do not exist: table = "),
        ('id = "x"\n', "names no input"),
        ('tables = {orders = "t.csv"}\n', "no as_of"),
        ('table = "t.csv"\n[gates]\nmin_fidelity = "high"\n', "must be a number"),
    ]:
        (tmp_path / "t.csv").write_text("customer_id,a\n1,2\n")
        cfg.write_text(body)
        assert main(["validate-config", str(cfg)]) == 2, body
        assert needle in capsys.readouterr().err, body


def test_measure_on_an_empty_frame_fails_the_gate() -> None:
    frame = pl.DataFrame(
        {"segment_id": [], "is_novel": []},
        schema={"segment_id": pl.Int64, "is_novel": pl.Boolean},
    )
    [res] = measure_gates(frame, {"max_novel_share": 0.1})
    assert not res.passed
    with pytest.raises(QualityGateError, match="max_novel_share"):
        check_gates(frame, {"max_novel_share": 0.1})
