"""``segdiscover discover`` on raw tables (--tables, --as-of) and with --config."""

from __future__ import annotations

import json

import polars as pl
import pytest

import segdiscover as sd
from segdiscover.cli import main
from segdiscover.cli._config import feature_set, load_config
from segdiscover.exceptions import InputError


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Planted raw tables on disk; orders renamed the way a warehouse might."""
    d = tmp_path_factory.mktemp("raw")
    data = sd.datasets.make_customers(n_customers=800, n_segments=3, seed=2)
    data.tables["orders"].rename({"ts": "order_time", "amount": "net_value"}).write_csv(
        d / "sales.csv"
    )
    data.tables["tickets"].write_parquet(d / "tickets.parquet")
    data.tables["customers"].write_parquet(d / "customers.parquet")
    data.tables["orders"].write_parquet(d / "orders.parquet")
    data.outcomes.write_parquet(d / "outcomes.parquet")
    return d, data


def write(path, text):
    path.write_text(text)
    return str(path)


CONFIG = """
as_of = "2025-07-01"
out = "seg-out"
outcomes = "outcomes.parquet"
outcome = ["churned"]
k = 3
[tables]
sales = "sales.csv"
tickets = "tickets.parquet"
customers = "customers.parquet"
[min_difference]
churned = "5pp"
[features.behavioural]
table = "sales"
ts = "order_time"
amount = "net_value"
[features.value]
table = "sales"
ts = "order_time"
amount = "net_value"
[features.channel]
table = "sales"
ts = "order_time"
"""


def test_discover_on_raw_tables_from_the_command_line(raw, tmp_path, capsys):
    d, data = raw
    out = tmp_path / "o"
    code = main(
        [
            "discover",
            "--tables",
            f"orders={d / 'orders.parquet'}",
            "--tables",
            f"tickets={d / 'tickets.parquet'}",
            "--tables",
            f"customers={d / 'customers.parquet'}",
            "--as-of",
            "2025-07-01",
            "--outcomes",
            str(d / "outcomes.parquet"),
            "--outcome",
            "churned",
            "--k",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "segments.json").read_text())
    assert doc["run"]["n_segments"] == 3
    assert {o["outcome"] for o in doc["segments"][0]["outcomes"]} == {"churned"}
    labels = pl.read_parquet(out / "assignments.parquet")
    assert labels.height == data.truth.height


def test_config_file_with_renamed_columns_and_relative_paths(raw, tmp_path, capsys):
    d, data = raw
    cfg = write(d / "job.toml", CONFIG)
    code = main(["discover", "--config", cfg])
    assert code == 0, capsys.readouterr().err
    out = d / "seg-out"  # relative to the config file, not the working directory
    doc = json.loads((out / "segments.json").read_text())
    assert doc["run"]["n_segments"] == 3
    assert doc["run"]["as_of"].startswith("2025-07-01")
    # built from the renamed columns: order features are there and not empty
    drivers = {d["feature"] for s in doc["segments"] for d in s["drivers"]}
    assert {"orders_per_month", "avg_basket"} & drivers
    # The command line wins over the file.
    code = main(["discover", "--config", cfg, "--k", "2", "--out", str(tmp_path / "o")])
    assert code == 0
    doc = json.loads((tmp_path / "o" / "segments.json").read_text())
    assert doc["run"]["n_segments"] == 2
    # The saved model reads the renamed columns when it assigns.
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--tables",
            f"sales={d / 'sales.csv'}",
            "--tables",
            f"tickets={d / 'tickets.parquet'}",
            "--tables",
            f"customers={d / 'customers.parquet'}",
            "--as-of",
            "2025-07-01",
            "--out",
            str(tmp_path / "a.parquet"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assigned = pl.read_parquet(tmp_path / "a.parquet")
    fitted = pl.read_parquet(out / "assignments.parquet")
    j = assigned.join(fitted, on="customer_id", suffix="_fit")
    assert j.height == data.truth.height
    assert (j["segment_id"] == j["segment_id_fit"]).mean() >= 0.99


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('tabel = "x.csv"\n', "unknown key 'tabel'"),
        ("k = 'three'\n", "'k' must be an integer"),
        ("k = true\n", "'k' must be an integer"),
        ("this is not toml\n", "not valid TOML"),
        ('table = "c.csv"\n[features.behavioural]\ntimestamp = "t"\n', "timestamp"),
        ('table = "c.csv"\n[features]\nwindow_days = -3\n', "window_days"),
        ('table = "c.csv"\n[features]\nspeed = 1\n', "unknown key(s) ['speed']"),
        ('outcome = [1, 2]\ntable = "c.csv"\n', "not a column name"),
    ],
)
def test_bad_config_exits_2_and_names_the_key(tmp_path, capsys, text, needle):
    cfg = write(tmp_path / "bad.toml", text)
    code = main(
        ["discover", "--config", cfg, "--id", "c", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--out", "o"], "one of --table"),
        (["--table", "c.csv", "--out", "o"], "--id is required"),
        (["--tables", "orders=o.csv", "--out", "o"], "--as-of is required"),
        (["--table", "c.csv", "--tables", "orders=o.csv", "--out", "o"], "not both"),
        (["--table", "c.csv", "--id", "c"], "--out is required"),
        (
            [
                *("--tables", "orders=o.csv", "--as-of", "2025-01-01"),
                *("--outcome", "x", "--out", "o"),
            ],
            "--outcomes FILE",
        ),
    ],
)
def test_missing_options_are_usage_errors(args, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(["discover", *args])
    assert e.value.code == 2
    assert needle in capsys.readouterr().err


def test_features_with_a_customer_table_is_refused(tmp_path, capsys):
    cfg = write(tmp_path / "c.toml", 'table = "c.csv"\n[features]\nwindow_days = 90\n')
    code = main(["discover", "--config", cfg, "--id", "c", "--out", str(tmp_path)])
    assert code == 2
    assert "applies to raw tables" in capsys.readouterr().err


def test_bad_tables_option_and_missing_config(tmp_path, capsys):
    code = main(
        ["discover", "--tables", "orders", "--as-of", "2025-01-01", "--out", "o"]
    )
    assert code == 2
    assert "NAME=FILE" in capsys.readouterr().err
    code = main(["discover", "--config", str(tmp_path / "none.toml")])
    assert code == 2
    assert "No such config file" in capsys.readouterr().err


def test_outcomes_file_without_the_id(raw, tmp_path, capsys):
    d, _ = raw
    bad = tmp_path / "out.parquet"
    pl.DataFrame({"cust": ["a"], "churned": [True]}).write_parquet(bad)
    code = main(
        [
            *("discover", "--tables", f"orders={d / 'orders.parquet'}"),
            *("--as-of", "2025-07-01", "--outcomes", str(bad)),
            *("--out", str(tmp_path / "o")),
        ]
    )
    assert code == 2
    assert "no column 'customer_id'" in capsys.readouterr().err


def test_feature_set_from_config_leaves_out_and_renames():
    fs = feature_set(
        {"service": False, "attribute": {"table": "accounts", "signup": "created"}},
        "acct",
    )
    assert [type(b).__name__ for b in fs.builders] == [
        "Behavioural",
        "Value",
        "Channel",
        "Attributes",
    ]
    assert fs.customers_table == "accounts"
    assert fs.signup == "created"
    assert all(b.id == "acct" for b in fs.builders)
    with pytest.raises(InputError, match="every builder"):
        feature_set(dict.fromkeys(sd.features.BUILDERS, False), "id")


def test_load_config_accepts_dashes_and_dates(tmp_path):
    cfg = load_config(
        write(tmp_path / "c.toml", "as-of = 2025-07-01\nrun-label = 'x'\n")
    )
    assert cfg == {"as_of": "2025-07-01", "run_label": "x"}


def _no_id_table(path, sep=","):
    import numpy as np

    rng = np.random.default_rng(0)
    a = np.r_[rng.normal(0, 1, 150), rng.normal(8, 1, 150)]
    b = np.r_[rng.normal(0, 1, 150), rng.normal(-8, 1, 150)]
    frame = pl.DataFrame({"spend": a.round(3), "visits": b.round(3)})
    frame.write_csv(path, separator=sep)
    return frame


def test_semicolon_csv_and_row_ids(tmp_path, capsys):
    src = tmp_path / "export.csv"
    _no_id_table(src, sep=";")
    out = tmp_path / "o"
    code = main(
        ["discover", "--table", str(src), "--row-ids", "--k", "2", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    labels = pl.read_parquet(out / "assignments.parquet")
    assert labels["row_id"].to_list() == list(range(1, 301))
    # the two planted halves are the two segments
    assert labels["segment_id"][:150].n_unique() == 1
    assert labels["segment_id"][150:].n_unique() == 1
    # the saved model assigns a table without ids the same way
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--table",
            str(src),
            "--row-ids",
            "--out",
            str(tmp_path / "a.csv"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    again = pl.read_csv(tmp_path / "a.csv")
    assert again["segment_id"].to_list() == labels["segment_id"].to_list()


def test_row_ids_conflicts(tmp_path, capsys):
    src = tmp_path / "t.csv"
    _no_id_table(src)
    with pytest.raises(SystemExit):
        main(["discover", "--table", str(src), "--row-ids", "--id", "x", "--out", "o"])
    assert "not both" in capsys.readouterr().err
    pl.DataFrame({"row_id": [1, 2], "x": [1.0, 2.0]}).write_csv(tmp_path / "r.csv")
    code = main(
        [
            "discover",
            "--table",
            str(tmp_path / "r.csv"),
            "--row-ids",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "already has one" in capsys.readouterr().err
