"""`segdiscover assign`: a saved model assigns customers from a shell."""

from __future__ import annotations

import polars as pl
import pytest

import segdiscover as sd
from segdiscover.cli import main
from segdiscover.features import FeatureSet


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    root = tmp_path_factory.mktemp("assign")
    data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=2)
    table = FeatureSet.default().build(data.tables, data.as_of).frame
    table.write_parquet(root / "customers.parquet")
    out = root / "out"
    assert (
        main(
            [
                "discover",
                "--table",
                str(root / "customers.parquet"),
                "--id",
                "customer_id",
                "--k",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return root, table, out


def test_discover_writes_a_loadable_model(discovered):
    _, _, out = discovered
    model = sd.load(out / "model")
    assert model.n_segments_ == 3
    assert model.id == "customer_id"


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_assign_reproduces_the_discovered_labels(discovered, suffix, capsys):
    root, _, out = discovered
    target = root / f"assigned{suffix}"
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--table",
            str(root / "customers.parquet"),
            "--out",
            str(target),
        ]
    )
    assert code == 0
    got = pl.read_parquet(target) if suffix == ".parquet" else pl.read_csv(target)
    want = pl.read_parquet(out / "assignments.parquet")
    assert got["customer_id"].to_list() == want["customer_id"].to_list()
    assert got["segment_id"].to_list() == want["segment_id"].to_list()
    assert "Assigned 600 customers" in capsys.readouterr().out


def test_assign_names_a_missing_column(discovered, capsys):
    root, table, out = discovered
    table.drop("orders_per_month").write_parquet(root / "short.parquet")
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--table",
            str(root / "short.parquet"),
            "--out",
            str(root / "x.parquet"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "orders_per_month" in err
    assert not (root / "x.parquet").exists()


def test_assign_refuses_a_tampered_model(discovered, tmp_path, capsys):
    import shutil

    _, _, out = discovered
    model = tmp_path / "model"
    shutil.copytree(out / "model", model)
    manifest = model / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"kmeans"', '"gmm"', 1))
    code = main(
        [
            "assign",
            "--model",
            str(model),
            "--table",
            str(discovered[0] / "customers.parquet"),
            "--out",
            str(tmp_path / "y.parquet"),
        ]
    )
    assert code == 2
    assert "checksum" in capsys.readouterr().err.lower()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "--table"),
        (["--tables", "orders"], "NAME=FILE"),
        (["--table", "t.parquet", "--tables", "a=b.parquet"], "not both"),
    ],
)
def test_assign_usage_errors(discovered, args, needle, capsys):
    _, _, out = discovered
    code = main(["assign", "--model", str(out / "model"), *args, "--out", "z.parquet"])
    assert code == 2
    assert needle in capsys.readouterr().err


def test_assign_refuses_an_unknown_output_type(discovered, tmp_path, capsys):
    root, _, out = discovered
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--table",
            str(root / "customers.parquet"),
            "--out",
            str(tmp_path / "a.xlsx"),
        ]
    )
    assert code == 2
    assert ".xlsx" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["r.html", "r.md"])
def test_segmenter_report_writes_one_file(tmp_path, name):
    data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    seg = sd.Segmenter(
        clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ).fit(data.tables, as_of=data.as_of)
    path = seg.report(tmp_path / name)
    text = path.read_text()
    assert all(n in text for n in seg.segments_["name"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_segmenter_report_refuses_other_types(tmp_path):
    from segdiscover.exceptions import InputError

    data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    seg = sd.Segmenter(
        clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ).fit(data.tables, as_of=data.as_of)
    with pytest.raises(InputError, match="pdf"):
        seg.report(tmp_path / "r.pdf")
