"""Bad input: one clear segdiscover error naming the problem, input untouched."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover.exceptions import (
    ColumnNotFoundError,
    InputError,
    InvalidParameterError,
    NotFittedError,
)


def table(n: int = 50) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "kind": rng.choice(["x", "y"], n),
        }
    )


CASES = {
    "missing id column": (
        lambda: table().drop("customer_id"),
        {},
        ColumnNotFoundError,
        "no column 'customer_id'",
    ),
    "unknown outcome column": (
        table,
        {"outcomes": ["nope"]},
        ColumnNotFoundError,
        "no column 'nope'",
    ),
    "empty table": (lambda: table().head(0), {}, InputError, "0 rows"),
    "one customer": (lambda: table().head(1), {}, InputError, "1 customers"),
    "duplicate ids": (
        lambda: pl.concat([table(), table().head(3)]),
        {},
        InputError,
        "3 duplicated ids.*'c0'",
    ),
    "junk in numeric column": (
        lambda: table().with_columns(
            pl.Series("a", [str(v) for v in range(49)] + ["n/a?"])
        ),
        {},
        InputError,
        "Column 'a'.*1 of 50.*'n/a\\?'.*'c49'",
    ),
    "infinite value": (
        lambda: table().with_columns(pl.Series("a", [np.inf] + [0.0] * 49)),
        {},
        InputError,
        "Column 'a'.*1 values.*'c0'",
    ),
    "absurd magnitude": (
        lambda: table().with_columns(pl.Series("b", [1e308] + [0.0] * 49)),
        {},
        InputError,
        "Column 'b'",
    ),
    "null ids": (
        lambda: table().with_columns(
            pl.when(pl.int_range(50) == 4)
            .then(None)
            .otherwise(pl.col("customer_id"))
            .alias("customer_id")
        ),
        {},
        InputError,
        "1 rows with a null 'customer_id'",
    ),
    "outcome is a feature": (
        table,
        {"outcomes": ["customer_id"]},
        InputError,
        "cannot be an outcome",
    ),
    "no usable feature": (
        lambda: table().select("customer_id"),
        {},
        InputError,
        "no usable feature",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_clear_error(case):
    make, kw, exc, pattern = CASES[case]
    frame = make() if callable(make) else make
    before = frame.clone()
    with pytest.raises(exc, match=pattern):
        sd.Segmenter(clusterer="kmeans", n_segments=2, random_state=0).fit(frame, **kw)
    assert frame.equals(before)


@pytest.mark.parametrize(
    ("param", "value", "pattern"),
    [
        (
            "n_segments",
            1,
            "'n_segments' parameter of Segmenter must be an int in \\[2, 50\\]",
        ),
        ("clusterer", "kmeens", "'clusterer' parameter"),
        ("noise", "drop", "'noise' parameter"),
        ("k_range", (5, 2), "'k_range' parameter"),
        ("fidelity_threshold", 1.5, "'fidelity_threshold'"),
    ],
)
def test_invalid_parameters(param, value, pattern):
    with pytest.raises(InvalidParameterError, match=pattern):
        sd.Segmenter(**{param: value}).fit(table())


def test_fewer_customers_than_segments():
    with pytest.raises(InputError, match="at least 40 are needed"):
        sd.Segmenter(n_segments=20).fit(table(30))


def test_raw_tables_need_as_of():
    data = sd.datasets.make_customers(200, seed=0)
    with pytest.raises(InputError, match="as_of"):
        sd.Segmenter().fit(data.tables)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        sd.Segmenter().profile(0)


def test_not_a_table():
    with pytest.raises(InputError, match="polars or pandas DataFrame; got list"):
        sd.Segmenter().fit([[1, 2]])


def test_constant_columns_dropped_with_warning():
    t = table().with_columns(pl.lit(3.0).alias("const"))
    with pytest.warns(sd.exceptions.SegdiscoverWarning, match="const"):
        seg = sd.Segmenter(clusterer="kmeans", n_segments=2, random_state=0).fit(t)
    assert "const" not in seg.features_.columns


def test_identifier_like_text_is_not_a_feature():
    t = table().with_columns(
        pl.format("{}@mail.com", pl.col("customer_id")).alias("email")
    )
    with pytest.warns(sd.exceptions.SegdiscoverWarning, match="email"):
        seg = sd.Segmenter(clusterer="kmeans", n_segments=2, random_state=0).fit(t)
    assert "email" not in seg.features_.columns


def test_pandas_with_text_converts_without_pyarrow(monkeypatch):
    import importlib.util

    import numpy as np
    import pandas as pd

    from segdiscover._checks import to_polars

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "pyarrow" else real(name, *a, **k),
    )
    df = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, np.nan, 3.0], "c": ["a", None, "b"]})
    before = df.copy()
    got = to_polars(df)
    assert got["x"].null_count() == 1
    assert got["c"].to_list() == ["a", None, "b"]
    pd.testing.assert_frame_equal(df, before)
