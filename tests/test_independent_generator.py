"""The independent planted-truth generator (make_segments_table)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segdiscover.datasets import PlantedTable, make_segments_table
from segdiscover.datasets._independent import COLUMNS, TRAITS
from segdiscover.exceptions import InvalidParameterError


def _standardise(table: pl.DataFrame) -> np.ndarray:
    """Numbers and flags z-scored (log1p for counts/amounts), few-level text one-hot."""
    cols = []
    for c, dtype in table.schema.items():
        if c == "customer_id":
            continue
        if dtype.is_numeric() or dtype == pl.Boolean:
            x = table[c].cast(pl.Float64).to_numpy()
            x = np.where(np.isnan(x), np.nanmedian(x), x)
            if x.min() >= 0 and x.max() > 1:
                x = np.log1p(x)
            cols.append((x - x.mean()) / (x.std() or 1.0))
        elif table[c].n_unique() <= 5:
            for v in table[c].drop_nulls().unique().sort():
                x = (table[c] == v).fill_null(value=False).cast(pl.Float64).to_numpy()
                cols.append((x - x.mean()) / x.std())
    return np.column_stack(cols)


def test_same_seed_same_table_other_seed_other_table():
    a = make_segments_table(800, 4, seed=3)
    b = make_segments_table(800, 4, seed=3)
    c = make_segments_table(800, 4, seed=4)
    assert isinstance(a, PlantedTable)
    for name in ("table", "truth", "outcomes", "effects"):
        assert getattr(a, name).equals(getattr(b, name))
    assert a.segment_features == b.segment_features
    assert not a.table.equals(c.table)


def test_shapes_kinds_nulls_and_sizes():
    pt = make_segments_table(2000, 6, seed=0, n_noise_features=4)
    t = pt.table
    assert t.height == 2000
    assert t["customer_id"].n_unique() == 2000
    assert pt.id == "customer_id"
    assert pt.n_segments == 6
    assert t.width == 1 + len(COLUMNS) + 2 + 4
    kinds = t.schema
    assert kinds["calls_per_week"] == pl.Int64  # Poisson count
    assert kinds["support_calls_90d"] == pl.Int64  # negative binomial count
    assert kinds["monthly_charge"] == pl.Float64  # gamma amount
    assert kinds["autopay"] == pl.Boolean
    assert set(t["uses_app"].drop_nulls().unique()) == {"Yes", "No"}
    assert t["area_code"].n_unique() > 30  # many levels, no signal
    share = t["streaming_share"]
    assert share.min() > 0
    assert share.max() < 1
    assert 0 < t["data_gb"].null_count() < 100
    sizes = pt.truth["segment"].value_counts()["count"]
    assert sizes.min() >= 0.05 * 2000
    assert sizes.max() > 1.5 * sizes.min()
    assert pt.truth["customer_id"].equals(t["customer_id"])
    assert pt.outcomes.columns == ["customer_id", "churned", "margin", "support_cost"]
    assert pt.centres.shape == (6, len(TRAITS))


def test_planted_features_really_differ():
    pt = make_segments_table(4000, 5, seed=2)
    df = pt.table.join(pt.truth, on="customer_id")
    # Effects are planted on the link scale (log for counts and amounts, logit for
    # shares), so they are measured there: on the raw scale one far segment's
    # exponential tail can pull the mean of "the rest" past a segment.
    link = {
        "poisson": lambda x: np.log1p(x),
        "negbin": lambda x: np.log1p(x),
        "gamma": lambda x: np.log(np.maximum(x, 0.01)),
        "lognormal": lambda x: np.log(np.maximum(x, 0.01)),
        "beta": lambda x: np.log(x / (1 - x)),
        "bool": lambda x: x,
    }
    kinds = {c.name: c.kind for c in COLUMNS if c.kind in link}
    for s, moved in pt.segment_features.items():
        assert moved, f"segment {s} moves no column"
        inside = df.filter(pl.col("segment") == s)
        for col, kind in kinds.items():
            f = link[kind]
            a = f(inside[col].cast(pl.Float64).drop_nulls().to_numpy())
            b = df.filter(pl.col("segment") != s)[col].cast(pl.Float64)
            b = f(b.drop_nulls().to_numpy())
            pooled = np.sqrt((a.var() + b.var()) / 2)
            d = (a.mean() - b.mean()) / pooled
            listed = dict(moved).get(col)
            if listed is not None:
                # Direction as listed, and a real effect (Cohen's d).
                assert np.sign(d) == (1 if listed == "+" else -1), (s, col, d)
                assert abs(d) > 0.4, (s, col, d)
    # The no-signal columns do not differ between segments.
    for col in ("noise_1", "noise_2", "noise_3"):
        means = df.group_by("segment").agg(pl.col(col).mean())[col].to_numpy()
        assert means.std() < 0.1 * df[col].std()
    listed = {f for moved in pt.segment_features.values() for f, _ in moved}
    assert not listed & {"area_code", "signup_channel", "noise_1"}


def test_outcomes_differ_by_segment():
    pt = make_segments_table(5000, 4, seed=1)
    by = (
        pt.outcomes.join(pt.truth, on="customer_id")
        .group_by("segment")
        .agg(pl.col("churned").mean(), pl.col("margin").mean(), pl.len())
    )
    assert by["churned"].max() - by["churned"].min() > 0.08
    assert by["margin"].max() - by["margin"].min() > 4.0


def test_kmeans_recovers_truth_better_when_separated():
    aris = {}
    for sep in (1.0, 0.5):
        aris[sep] = [
            adjusted_rand_score(
                pt.truth["segment"],
                KMeans(4, n_init=10, random_state=0).fit_predict(
                    _standardise(pt.table)
                ),
            )
            for pt in (
                make_segments_table(2000, 4, seed=s, separation=sep) for s in range(5)
            )
        ]
    # Mean over seeds: k-means itself sometimes stops in a split of the largest
    # segment (seed 2 at separation 1.0), which is not the generator's doing.
    assert np.median(aris[1.0]) > 0.95, aris
    assert np.mean(aris[1.0]) > 0.9, aris
    assert np.mean(aris[0.5]) < np.mean(aris[1.0]) - 0.1, aris


def test_bad_parameters_are_named():
    with pytest.raises(InvalidParameterError, match="n_segments"):
        make_segments_table(100, 1)
