"""The feature build from lazy inputs and in customer buckets gives the same features.

``FeatureSet.build`` collects LazyFrames itself (the CLI hands it pruned parquet
scans, so the raw tables live only as long as the build), and aggregates large event
tables bucket by bucket of customers (``GROUP_ROWS``): neither may change a single
feature value, row or the learned levels.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import segdiscover.features._set as feature_set
from segdiscover.cli import _read_tables
from segdiscover.datasets import make_customers
from segdiscover.exceptions import InputError
from segdiscover.features import FeatureSet


@pytest.fixture(scope="module")
def data():
    return make_customers(n_customers=400, seed=3)


def _with_strangers(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Orders of two ids that are not customers (they become customers too)."""
    orders = tables["orders"]
    extra = orders.head(3).with_columns(
        pl.Series("customer_id", ["zz-stranger", "zz-stranger", "aa-stranger"])
    )
    return {**tables, "orders": pl.concat([orders, extra])}


def test_lazy_tables_give_the_same_features(data):
    fs = FeatureSet.default()
    eager = fs.build(data.tables, as_of=data.as_of)
    lazy = fs.build({k: v.lazy() for k, v in data.tables.items()}, as_of=data.as_of)
    assert lazy.frame.equals(eager.frame)
    assert lazy.levels == eager.levels
    assert lazy.meta == eager.meta
    again = fs.build(
        {k: v.lazy() for k, v in data.tables.items()},
        as_of=data.as_of,
        levels=eager.levels,
    )
    assert again.frame.equals(eager.frame)


@pytest.mark.parametrize("int_ids", [False, True])
def test_customer_buckets_give_the_same_features(data, monkeypatch, int_ids):
    tables = _with_strangers(data.tables)
    if int_ids:  # integer ids: the strangers get numbers no customer has
        tables = {
            k: v.with_columns(
                pl.col("customer_id")
                .str.replace("zz-stranger", "C99999")
                .str.replace("aa-stranger", "C99998")
                .str.extract(r"(\d+)")
                .cast(pl.Int64)
            )
            for k, v in tables.items()
        }
    fs = FeatureSet.default()
    whole = fs.build(tables, as_of=data.as_of)
    assert whole.frame.height == 402
    monkeypatch.setattr(feature_set, "GROUP_ROWS", 97)  # dozens of buckets
    bucketed = fs.build(tables, as_of=data.as_of)
    assert bucketed.frame.equals(whole.frame)
    ids = bucketed.frame.get_column("customer_id")
    assert ids.is_sorted()
    assert ids.n_unique() == ids.len()


def test_a_lazy_table_that_fails_to_read_is_named(data):
    bad = data.tables["orders"].lazy().with_columns(pl.col("category").cast(pl.Int64))
    with pytest.raises(InputError, match="Could not read the 'orders' table"):
        FeatureSet.default().build({**data.tables, "orders": bad}, as_of=data.as_of)


def test_cli_lazy_read_builds_the_same_features(tmp_path, data):
    files = {}
    for name, t in data.tables.items():
        files[name] = str(tmp_path / f"{name}.parquet")
        t.write_parquet(files[name])
    as_of = f"{data.as_of:%Y-%m-%d}"
    lazy = _read_tables(files, "customer_id", None, as_of, lazy=True)
    assert all(isinstance(t, pl.LazyFrame) for t in lazy.values())
    eager = _read_tables(files, "customer_id", None, as_of)
    assert all(isinstance(t, pl.DataFrame) for t in eager.values())
    fs = FeatureSet.default()
    got = fs.build(lazy, as_of=dt.datetime.fromisoformat(as_of))
    want = fs.build(data.tables, as_of=dt.datetime.fromisoformat(as_of))
    assert got.frame.equals(want.frame)
    assert fs.build(eager, as_of=as_of).frame.equals(want.frame)


def test_segmenter_fits_and_assigns_lazy_tables(data):
    from segdiscover import Segmenter

    lazy = {k: v.lazy() for k, v in data.tables.items()}
    kw = {"clusterer": "kmeans", "n_segments": 3, "random_state": 0}
    eager = Segmenter(**kw).fit(data.tables, as_of=data.as_of)
    seg = Segmenter(**kw).fit(lazy, as_of=data.as_of)
    assert seg.labels_.equals(eager.labels_)
    assert seg.assign(lazy, as_of=data.as_of).equals(
        eager.assign(data.tables, as_of=data.as_of)
    )
