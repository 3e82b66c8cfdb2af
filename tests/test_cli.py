"""The command line: outputs, their contract, and exit codes."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from segdiscover.cli import main
from segdiscover.report import SCHEMA_PATH

jsonschema = pytest.importorskip("jsonschema")


def check_outputs(out, id_col: str, n: int) -> dict:
    # The visible names; the generations they point into live in .segdiscover/.
    assert sorted(p.name for p in out.iterdir() if p.name != ".segdiscover") == [
        "assignments.parquet",
        "model",
        "plots",
        "report.html",
        "report.md",
        "segments.json",
    ]
    a = pl.read_parquet(out / "assignments.parquet")
    assert a.columns[:4] == [id_col, "segment_id", "segment_name", "confidence"]
    assert a.height == n
    assert a["confidence"].is_between(0, 1).all()
    doc = json.loads((out / "segments.json").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert doc["run"]["segdiscover_version"]
    assert sum(s["size"] for s in doc["segments"]) == n
    html = (out / "report.html").read_text()
    assert all(s["name"] in html for s in doc["segments"])
    return doc


def test_demo(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-customers", "1500"]) == 0
    text = capsys.readouterr().out
    assert "top drivers" in text
    assert "Surrogate fidelity" in text
    doc = check_outputs(out, "customer_id", 1500)
    assert doc["run"]["n_segments"] == 6
    assert doc["segments"][0]["outcomes"]  # demo passes the planted outcomes


def customer_csv(path, n=300):
    rng = np.random.default_rng(1)
    g = rng.integers(0, 3, n)
    df = pl.DataFrame(
        {
            "cust": np.arange(1000, 1000 + n),
            "revenue": np.where(g == 0, 5000.0, 300.0) * rng.lognormal(0, 0.2, n),
            "tickets": np.where(g == 1, 12, 1) + rng.poisson(1, n),
            "segment_hint": np.where(g == 2, "enterprise", "smb"),
            "churned": (rng.random(n) < 0.2).astype(int),
        }
    ).with_columns(
        pl.when(pl.int_range(n) % 11 == 0)
        .then(None)
        .otherwise(pl.col("revenue"))
        .alias("revenue")
    )
    df.write_csv(path)
    return df


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_discover_on_a_customer_table(tmp_path, fmt, capsys):
    src = tmp_path / "customers.csv"
    df = customer_csv(src)
    if fmt == "parquet":
        src = tmp_path / "customers.parquet"
        df.write_parquet(src)
    out = tmp_path / "out"
    code = main(
        [
            "discover",
            "--table",
            str(src),
            "--id",
            "cust",
            "--outcome",
            "churned",
            "--k",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    doc = check_outputs(out, "cust", 300)
    assert doc["run"]["n_segments"] == 3
    assert {o["outcome"] for o in doc["segments"][0]["outcomes"]} == {"churned"}


def test_discover_default_choice_is_reported(tmp_path):
    src = tmp_path / "c.csv"
    customer_csv(src)
    assert (
        main(
            [
                "discover",
                "--table",
                str(src),
                "--id",
                "cust",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "o" / "segments.json").read_text())
    assert "silhouette" in doc["run"]["selection"]
    assert any(c["chosen"] for c in doc["run"]["candidates"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--id", "nope"], "no column 'nope'"),
        (["--id", "cust", "--outcome", "ghost"], "no column 'ghost'"),
        (["--id", "cust", "--k", "1"], "'n_segments'"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, needle):
    src = tmp_path / "c.csv"
    customer_csv(src)
    code = main(["discover", "--table", str(src), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "segments.json").exists()


def test_missing_file_and_bad_format(tmp_path, capsys):
    assert (
        main(
            [
                "discover",
                "--table",
                str(tmp_path / "x.csv"),
                "--id",
                "a",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "No such file" in capsys.readouterr().err
    bad = tmp_path / "x.xlsx"
    bad.write_text("hello")
    assert (
        main(["discover", "--table", str(bad), "--id", "a", "--out", str(tmp_path)])
        == 2
    )
    assert "Unsupported file type" in capsys.readouterr().err


def test_out_is_a_file(tmp_path, capsys):
    src = tmp_path / "c.csv"
    customer_csv(src)
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert (
        main(
            [
                "discover",
                "--table",
                str(src),
                "--id",
                "cust",
                "--k",
                "3",
                "--out",
                str(target),
            ]
        )
        == 2
    )
    assert target.read_text() == "keep me"
    assert "is a file" in capsys.readouterr().err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as e:
        main(["discover"])
    assert e.value.code == 2
