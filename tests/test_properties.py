"""Properties (hypothesis): as-of cutoff, row order, determinism, no mutation."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segdiscover as sd
from segdiscover.features import FeatureSet

DATA = sd.datasets.make_customers(n_customers=300, seed=5)
BASE = FeatureSet.default().build(DATA.tables, as_of=DATA.as_of).frame
SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_same_features(frame: pl.DataFrame) -> None:
    """Equal up to float summation order (polars sums in parallel chunks)."""
    assert frame.columns == BASE.columns
    for c in BASE.columns:
        if BASE.schema[c] == pl.Float64:
            np.testing.assert_allclose(
                frame[c].to_numpy(),
                BASE[c].to_numpy(),
                rtol=1e-12,
                atol=1e-12,
                err_msg=c,
            )
        else:
            assert frame[c].equals(BASE[c]), c


@SETTINGS
@given(n=st.integers(1, 50), seed=st.integers(0, 10_000), offset_days=st.floats(0, 400))
def test_events_after_as_of_never_change_features(n, seed, offset_days):
    rng = np.random.default_rng(seed)
    orders, tickets = DATA.tables["orders"], DATA.tables["tickets"]
    ids = DATA.tables["customers"]["customer_id"].to_numpy()
    at = DATA.as_of + dt.timedelta(days=offset_days)
    new_orders = pl.DataFrame(
        {
            "order_id": np.arange(n) + 10**9,
            "customer_id": rng.choice(ids, n),
            "ts": [at] * n,
            "amount": rng.lognormal(5, 2, n),
            "margin": rng.normal(0, 99, n),
            "discount": rng.random(n) * 10,
            "returned": rng.random(n) < 0.5,
            "category": rng.choice(["zzz", "office"], n),
            "channel": rng.choice(["fax", "web"], n),
        }
    ).cast(orders.schema)
    new_tickets = pl.DataFrame(
        {
            "ticket_id": np.arange(n) + 10**9,
            "customer_id": rng.choice(ids, n),
            "opened": [at] * n,
            "resolved": [at + dt.timedelta(hours=1)] * n,
            "severity": ["critical"] * n,
            "topic": ["x"] * n,
            "reopened": [True] * n,
        }
    ).cast(tickets.schema)
    tables = {
        **DATA.tables,
        "orders": pl.concat([orders, new_orders]),
        "tickets": pl.concat([tickets, new_tickets]),
    }
    assert_same_features(FeatureSet.default().build(tables, as_of=DATA.as_of).frame)


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_feature_rows_do_not_depend_on_input_order(seed):
    tables = {
        k: v.sample(fraction=1.0, shuffle=True, seed=seed)
        for k, v in DATA.tables.items()
    }
    assert_same_features(FeatureSet.default().build(tables, as_of=DATA.as_of).frame)


def _fit(frame: pl.DataFrame, seed: int = 0) -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.Segmenter(
            clusterer="kmeans", n_segments=4, shap_max_rows=200, random_state=seed
        ).fit(frame)


REFERENCE = _fit(BASE)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_segments_do_not_depend_on_row_order(seed):
    shuffled = BASE.sample(fraction=1.0, shuffle=True, seed=seed)
    before = shuffled.clone()
    seg = _fit(shuffled)
    assert shuffled.equals(before)  # no mutation
    assert seg.labels_.equals(REFERENCE.labels_)
    assert seg.segments_["name"].to_list() == REFERENCE.segments_["name"].to_list()


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_segments_do_not_depend_on_raw_table_order(seed):
    tables = {
        k: v.sample(fraction=1.0, shuffle=True, seed=seed)
        for k, v in DATA.tables.items()
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            clusterer="kmeans", n_segments=4, shap_max_rows=200, random_state=0
        ).fit(tables, as_of=DATA.as_of)
    ref = RAW_REFERENCE
    assert seg.labels_.equals(ref.labels_)
    assert seg.segments_.equals(ref.segments_)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    RAW_REFERENCE = sd.Segmenter(
        clusterer="kmeans", n_segments=4, shap_max_rows=200, random_state=0
    ).fit(DATA.tables, as_of=DATA.as_of)


def test_every_output_id_is_an_input_id():
    assert set(REFERENCE.labels_["customer_id"]) == set(BASE["customer_id"])
