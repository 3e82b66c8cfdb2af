"""Larger than memory on one machine: lazy scans, hashed samples, streaming assign."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import segdiscover as sd
from segdiscover._stream import (
    expand,
    hashed_sample,
    scan_tables,
    stream_assign,
)
from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.features import FeatureSet


@pytest.fixture(scope="module")
def data() -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=600, seed=5)


@pytest.fixture(scope="module")
def model(data: sd.datasets.CustomerData) -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.Segmenter(clusterer="kmeans", n_segments=4, random_state=0).fit(
            data.tables, as_of=data.as_of
        )


def _write_parts(frame: pl.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir(parents=True)
    step = -(-frame.height // parts)
    for i in range(parts):
        frame.slice(i * step, step).write_parquet(folder / f"p{i}.parquet")
    return folder


def _read(folder: Path) -> pl.DataFrame:
    return pl.read_parquet(folder / "*.parquet").sort(pl.first())


def test_stream_assign_table_equals_assign(
    model: sd.Segmenter, data: sd.datasets.CustomerData, tmp_path: Path
) -> None:
    feats = model.features_.sample(fraction=1.0, shuffle=True, seed=0)
    src = _write_parts(feats, tmp_path / "features", 3)
    want = model.assign(model.features_)
    res = stream_assign(model, src, tmp_path / "out", batch_rows=100)
    assert res.rows == 600
    assert res.parts >= 6  # 100-row batches: memory holds one batch
    assert_frame_equal(_read(res.path), want, check_exact=True)
    # A glob and a saved model's folder work the same.
    saved = model.save(tmp_path / "model")
    again = stream_assign(saved, str(src / "p*.parquet"), tmp_path / "out2")
    assert_frame_equal(_read(again.path), want, check_exact=True)


@pytest.mark.parametrize("bucket_rows", [10**9, 2_000])
def test_stream_assign_raw_tables_equals_assign(
    bucket_rows: int,
    model: sd.Segmenter,
    data: sd.datasets.CustomerData,
    tmp_path: Path,
) -> None:
    files = {
        name: _write_parts(t, tmp_path / name, 2) for name, t in data.tables.items()
    }
    want = model.assign(data.tables, as_of=data.as_of)
    res = stream_assign(
        model, files, tmp_path / "out", as_of=data.as_of, bucket_rows=bucket_rows
    )
    if bucket_rows == 2_000:
        assert res.batches > 3  # several hash buckets, each with whole customers
    assert res.rows == want.height
    assert_frame_equal(_read(res.path), want, check_exact=True)


def test_scan_tables_prunes_columns_and_rows(
    data: sd.datasets.CustomerData, tmp_path: Path
) -> None:
    files = {
        name: _write_parts(t, tmp_path / name, 2) for name, t in data.tables.items()
    }
    fs = FeatureSet.default()
    scans = scan_tables(files, fs, data.as_of)
    orders = scans["orders"].collect()
    assert "order_id" not in orders.columns  # no builder reads it
    assert orders.get_column("ts").max() < data.as_of
    n_before = data.tables["orders"].filter(pl.col("ts") < data.as_of).height
    assert orders.height == n_before
    assert scans["customers"].collect().columns == data.tables["customers"].columns
    # The features from the pruned tables are the features.
    lazy = fs.build({k: v.collect() for k, v in scans.items()}, as_of=data.as_of)
    full = fs.build(data.tables, as_of=data.as_of)
    assert_frame_equal(lazy.frame, full.frame, check_exact=True)


def test_features_do_not_depend_on_the_other_customers(
    data: sd.datasets.CustomerData,
) -> None:
    # Each customer built alone equals its row of the whole table (the property
    # every bucketed engine relies on).
    fs = FeatureSet.default()
    full = fs.build(data.tables, as_of=data.as_of)
    for cid in full.frame.get_column("customer_id").head(5):
        part = {
            k: v.filter(pl.col("customer_id") == cid) for k, v in data.tables.items()
        }
        alone = fs.build(part, as_of=data.as_of, levels=full.levels, part=True)
        want = full.frame.filter(pl.col("customer_id") == cid)
        assert_frame_equal(alone.frame, want, check_exact=True)


def test_empty_part_gives_empty_frame(data: sd.datasets.CustomerData) -> None:
    fs = FeatureSet.default()
    full = fs.build(data.tables, as_of=data.as_of)
    empty = {k: v.clear() for k, v in data.tables.items()}
    got = fs.build(empty, as_of=data.as_of, levels=full.levels, part=True)
    assert got.frame.height == 0
    assert got.frame.columns == full.frame.columns
    with pytest.raises(InputError, match="No customer"):
        fs.build(empty, as_of=data.as_of, levels=full.levels)


def test_hashed_sample_is_fixed() -> None:
    frame = pl.DataFrame({"customer_id": [f"c{i}" for i in range(1000)], "x": 1.0})
    a = hashed_sample(frame, 100)
    assert a.height == 100
    assert_frame_equal(a, hashed_sample(frame.reverse(), 100))
    # A sample of a sample of the same size is itself; a larger one contains it.
    bigger = hashed_sample(frame, 300)
    assert set(a["customer_id"]) <= set(bigger["customer_id"])
    assert hashed_sample(frame, 5000).height == 1000
    with pytest.raises(InvalidParameterError, match="'n'"):
        hashed_sample(frame, 0)


def test_bad_paths(tmp_path: Path, model: sd.Segmenter) -> None:
    with pytest.raises(InputError, match="No such file"):
        expand(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match="No such file"):
        expand(str(tmp_path / "*.parquet"))
    (tmp_path / "f.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="is a file"):
        stream_assign(model, tmp_path / "f.parquet", tmp_path / "f.parquet")
    with pytest.raises(InputError, match="as_of"):
        stream_assign(model, {"orders": tmp_path}, tmp_path / "o")


def test_cli_reads_folders_and_streams(
    model: sd.Segmenter, data: sd.datasets.CustomerData, tmp_path: Path
) -> None:
    from segdiscover.cli import main

    files = {
        name: _write_parts(t, tmp_path / name, 2) for name, t in data.tables.items()
    }
    tables = [f"--tables={k}={v}" for k, v in files.items()]
    as_of = f"--as-of={data.as_of:%Y-%m-%d}"
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(
            [
                "discover",
                *tables,
                as_of,
                "--clusterer",
                "kmeans",
                "--k",
                "3",
                "--out",
                str(out),
                "--quiet",
            ]
        )
    assert code == 0
    fitted = sd.load(out / "model")
    want = fitted.assign(data.tables, as_of=data.as_of)
    assert_frame_equal(
        pl.read_parquet(out / "assignments.parquet")
        .select(want.columns[:4])
        .sort("customer_id"),
        want.select(want.columns[:4]),
        check_exact=True,
    )
    # Streaming assign of the raw-table folders: parquet parts, the same rows.
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            *tables,
            as_of,
            "--stream",
            "--out",
            str(tmp_path / "streamed"),
            "--quiet",
        ]
    )
    assert code == 0
    assert_frame_equal(_read(tmp_path / "streamed"), want, check_exact=True)
    # ... and of a customer-level table in small batches, from a glob.
    feats = _write_parts(fitted_features(fitted, data), tmp_path / "feats", 3)
    code = main(
        [
            "assign",
            "--model",
            str(out / "model"),
            "--table",
            str(feats / "*.parquet"),
            "--stream",
            "--batch-rows",
            "50",
            "--out",
            str(tmp_path / "s2"),
            "--quiet",
        ]
    )
    assert code == 0
    assert_frame_equal(_read(tmp_path / "s2"), want, check_exact=True)


def fitted_features(model: object, data: sd.datasets.CustomerData) -> pl.DataFrame:
    """The features a saved model reads, built locally."""
    from segdiscover.assign import build_features

    return build_features(model, data.tables, data.as_of)
