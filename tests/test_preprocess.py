"""Preprocessor: redundancy fold, binary equivalence, categorical weights, state."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import spearmanr

from segdiscover import preprocess
from segdiscover.exceptions import InputError
from segdiscover.preprocess import (
    HIGH_CARDINALITY_WEIGHT,
    Preprocessor,
    onehot_weights,
)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _usage(rng, n=400):
    minutes = rng.gamma(4.0, 40.0, n).round(1)
    return pl.DataFrame(
        {
            "minutes": minutes,
            "calls": rng.poisson(30, n).astype(float),
            "charge": (minutes * 0.17).round(2) + 0.0,  # the same quantity, in money
        }
    )


def test_exact_linear_twin_folds_into_the_first_column(rng):
    df = _usage(rng).with_columns(charge=pl.col("minutes") * 0.17 + 1.0)
    pre = Preprocessor().fit(df)
    assert pre.feature_names_out_ == ["minutes", "calls"]
    # Left out of the clustering, not out of the explanation.
    assert pre.input_columns == ["minutes", "calls", "charge"]
    assert pre.columns_[2]["drop"] == ["charge"]
    assert pre.folded_ == [
        {"representative": "minutes", "folded": ["charge"], "rho": [1.0]}
    ]
    assert pre.fold_report() == ["charge enters as minutes (rank correlation 1.000)"]
    # Folding leaves exactly the matrix of the table without the twin.
    alone = Preprocessor().fit(df.drop("charge"))
    assert_array_equal(pre.transform(df), alone.transform(df))


def test_monotone_near_twin_folds(rng):
    x = rng.normal(size=600)
    near = np.exp(x) + rng.normal(scale=0.02, size=600)
    rho = spearmanr(x, near).statistic
    assert 0.98 <= rho < 0.9999  # a near twin, not an exact one
    assert np.corrcoef(x, near)[0, 1] < 0.9  # which a linear correlation misses
    df = pl.DataFrame({"x": x, "near": near, "other": rng.normal(size=600)})
    pre = Preprocessor().fit(df)
    assert pre.feature_names_out_ == ["x", "other"]
    (group,) = pre.folded_
    assert group["folded"] == ["near"]
    assert group["rho"][0] == pytest.approx(rho, abs=1e-4)


def test_no_fold_below_the_threshold(rng):
    x = rng.normal(size=600)
    y = x + rng.normal(scale=0.25, size=600)
    rho = spearmanr(x, y).statistic
    assert 0.9 < rho < 0.98
    df = pl.DataFrame({"x": x, "y": y})
    pre = Preprocessor().fit(df)
    assert pre.feature_names_out_ == ["x", "y"]
    assert pre.folded_ == []
    # The same pair folds once the threshold is below its correlation.
    assert Preprocessor(fold_rho=0.9).fit(df).feature_names_out_ == ["x"]
    assert Preprocessor(fold_rho=None).fit(df).folded_ == []


def test_representative_has_fewest_nulls_and_ignores_row_order(rng, monkeypatch):
    # Few enough sampled rows that the fold reads a sample of the table.
    monkeypatch.setattr(preprocess, "FOLD_MAX_ROWS", 2_000)
    n = 5_000
    base = rng.gamma(3.0, 10.0, n)
    gappy = pl.Series(base * 2.0).scatter(np.arange(0, n, 50), None)
    df = pl.DataFrame(
        {"gappy": gappy, "noise": rng.normal(size=n), "full": base, "id": range(n)}
    )
    pre = Preprocessor().fit(df.drop("id"))
    # "gappy" comes first but has nulls: the complete twin represents both.
    assert [g["representative"] for g in pre.folded_] == ["full"]
    assert pre.folded_[0]["folded"] == ["gappy"]
    # gappy's null flag has no twin: it stays, the input column with it.
    assert "gappy__missing" in pre.feature_names_out_
    assert "gappy" not in pre.feature_names_out_
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=3)
    again = Preprocessor().fit(shuffled.drop("id"))
    assert again.folded_ == pre.folded_
    assert again.feature_names_out_ == pre.feature_names_out_
    order = shuffled["id"].to_numpy()
    # Equal up to the order of floating-point sums (winsorised deviations).
    assert_allclose(
        again.transform(shuffled.drop("id")),
        pre.transform(df.drop("id"))[order],
        rtol=1e-12,
    )


def test_repeated_category_level_folds_and_keeps_the_column(rng):
    internet = rng.choice(["DSL", "Fiber", "No"], 500)
    security = np.where(
        internet == "No", "No internet service", rng.choice(["Yes", "No"], 500)
    )
    df = pl.DataFrame({"internet": internet, "security": security})
    pre = Preprocessor().fit(df)
    assert pre.folded_ == [
        {
            "representative": "internet=No",
            "folded": ["security=No internet service"],
            "rho": [1.0],
        }
    ]
    assert pre.input_columns == ["internet", "security"]
    security_out = {n for n in pre.feature_names_out_ if n.startswith("security")}
    assert security_out == {"security=No", "security=Yes"}
    assert pre.transform(df).shape == (500, len(pre.feature_names_out_))


def test_wide_table_folds_its_twins(rng):
    base = rng.normal(size=(300, 1000))
    wide = np.hstack([base, 3.0 * base - 2.0])
    frame = pl.DataFrame(wide, schema=[f"c{i}" for i in range(2000)])
    pre = Preprocessor().fit(frame)
    assert pre.feature_names_out_ == [f"c{i}" for i in range(1000)]
    assert sorted(len(g["folded"]) for g in pre.folded_) == [1] * 1000


@pytest.mark.parametrize("with_nulls", [False, True])
def test_binary_fact_weighs_the_same_in_every_encoding(rng, with_nulls):
    flag = rng.random(300) < 0.16
    null = np.zeros(300, dtype=bool)
    if with_nulls:
        null[::17] = True
    as_bool = pl.Series("f", flag).scatter(np.flatnonzero(null), None)
    forms = {
        "bool": as_bool,
        "int": as_bool.cast(pl.Int64),
        "text": pl.Series("f", np.where(flag, "yes", "no")).scatter(
            np.flatnonzero(null), None
        ),
        "Text": pl.Series("f", np.where(flag, "Yes", "No")).scatter(
            np.flatnonzero(null), None
        ),
    }
    x = pl.DataFrame({"x": rng.normal(size=300)})
    mats = {
        k: Preprocessor().fit_transform(x.with_columns(s)) for k, s in forms.items()
    }
    for k in ("int", "text", "Text"):
        assert_array_equal(mats[k], mats["bool"], err_msg=k)
    assert mats["bool"].shape[1] == (3 if with_nulls else 2)  # one column per fact
    # Standardised: unit variance, the weight of one numeric feature.
    z = mats["bool"][~null, 1]
    assert z.std() == pytest.approx(1.0, abs=1e-9)
    # Any two values, not just 0/1.
    other = x.with_columns(
        f=pl.Series(np.where(flag, 7.5, 2.0)).scatter(np.flatnonzero(null), None)
    )
    assert_allclose(Preprocessor().fit_transform(other), mats["bool"], atol=1e-12)


def test_categorical_block_weighs_one_numeric_feature(rng):
    df = pl.DataFrame(
        {
            "x": rng.normal(size=3000),
            "plan": rng.choice(["a", "b", "c", "d"], 3000, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    pre = Preprocessor().fit(df)
    X = pre.transform(df)
    block = [i for i, s in enumerate(pre.source_) if s == "plan"]
    assert len(block) == 4
    assert X[:, block].var(0).sum() == pytest.approx(1.0, rel=1e-9)


def test_high_cardinality_categorical_is_capped(rng):
    states = [f"S{i:02d}" for i in range(50)]
    df = pl.DataFrame({"x": rng.normal(size=5000), "state": rng.choice(states, 5000)})
    pre = Preprocessor().fit(df)
    (spec,) = [c for c in pre.columns_ if c["name"] == "state"]
    assert spec["n_distinct"] == 50
    assert len(spec["levels"]) == 13  # 12 most frequent + the pooled rest
    assert spec["levels"][-1] == preprocess.OTHER
    X = pre.transform(df)
    block = [i for i, s in enumerate(pre.source_) if s == "state"]
    total = X[:, block].var(0).sum()
    assert total == pytest.approx(HIGH_CARDINALITY_WEIGHT, rel=1e-9)
    # Just under the limit a categorical weighs a full numeric feature.
    assert sum(
        w**2 * p * (1 - p)
        for w, p in zip(onehot_weights([0.05] * 20, 20), [0.05] * 20, strict=True)
    ) == pytest.approx(1.0)


def test_round_trip_with_folds_is_plain_json(rng):
    df = _usage(rng).with_columns(
        plan=pl.Series(rng.choice(["basic", "plus", "max"], 400)),
        intl=pl.Series(rng.choice(["yes", "no"], 400)),
        gap=pl.Series(rng.normal(size=400)).scatter([1, 5, 9], None),
    )
    pre = Preprocessor().fit(df)
    assert pre.folded_  # charge folds into minutes
    state = json.loads(json.dumps(pre.to_dict()))
    back = Preprocessor.from_dict(state)
    assert back.to_dict() == pre.to_dict()
    assert back.feature_names_out_ == pre.feature_names_out_
    assert back.source_ == pre.source_
    assert back.folded_ == pre.folded_
    new = df.sample(100, seed=1).with_columns(plan=pl.lit("unseen"))
    assert_array_equal(back.transform(new), pre.transform(new))


def test_state_saved_before_weights_transforms_as_then():
    old = {
        "params": {"clip": 5.0, "max_levels": 12, "min_level_share": 0.005},
        "columns": [
            {
                "name": "a",
                "kind": "numeric",
                "transform": "none",
                "impute": 2.0,
                "center": 2.0,
                "scale": 1.0,
                "missing": False,
            },
            {"name": "c", "kind": "categorical", "levels": ["x", "y"]},
        ],
        "dropped": [],
    }
    pre = Preprocessor.from_dict(old)
    assert pre.feature_names_out_ == ["a", "c=x", "c=y"]
    X = pre.transform(pl.DataFrame({"a": [1.0, 3.0], "c": ["x", "y"]}))
    h = 1 / np.sqrt(2)
    assert_allclose(X, [[-1.0, h, 0.0], [1.0, 0.0, h]])


def test_transform_pair_is_transform_and_its_unclipped_twin() -> None:
    # One pass gives exactly the two transforms assign needs (clipped for the
    # segments, unclipped for novelty), for numbers, yes/no text and categories,
    # nulls and extremes included.
    from segdiscover.assign import unclipped
    from segdiscover.datasets import make_customers
    from segdiscover.features import FeatureSet

    data = make_customers(n_customers=500, seed=2)
    feats = FeatureSet.default().build(data.tables, as_of=data.as_of).frame
    feats = feats.drop("customer_id")
    pre = Preprocessor().fit(feats)
    far = feats.with_columns(pl.col("monthly_spend") * 1e6)
    for frame in (feats, far):
        X, U = pre.transform_pair(frame)
        assert_array_equal(X, pre.transform(frame))
        assert_array_equal(U, unclipped(pre).transform(frame))
    assert np.abs(U).max() > pre.clip >= np.abs(X).max()
    binary = pl.DataFrame(
        {"flag": ["Yes", "No", None, "Yes"], "x": [1.0, 2.0, 3.0, 40.0]}
    )
    pre = Preprocessor().fit(binary)
    X, U = pre.transform_pair(binary)
    assert_array_equal(X, pre.transform(binary))
    assert_array_equal(U, unclipped(pre).transform(binary))


# ------------------------------------------------------ derived columns
def _mix(rng, n=600):
    """Two channel shares, their argmax as a category, and the argmax as a flag."""
    web = rng.beta(2, 2, n)
    frame = pl.DataFrame({"share_web": web, "share_phone": 1 - web})
    return frame.with_columns(
        top=pl.when(pl.col("share_web") >= 0.5)
        .then(pl.lit("web"))
        .otherwise(pl.lit("phone")),
        web_first=(pl.col("share_web") >= 0.5).cast(pl.Float64),
    )


def test_a_derived_column_is_explained_not_clustered(rng):
    frame = _mix(rng).drop("web_first")
    derived = {"top": ("share_web", "share_phone")}
    pre = Preprocessor().fit(frame, derived=derived)
    assert "top" in pre.input_columns  # still read by the explanation
    assert not any(n.startswith("top") for n in pre.feature_names_out_)
    assert pre.derived_ == [{"column": "top", "from": ["share_web", "share_phone"]}]
    assert pre.fold_report()[0].startswith("top is not clustered: it is derived from")
    assert pre.transform(frame).shape[1] == len(pre.feature_names_out_)
    # Without the declaration the category is clustered, as any other.
    plain = Preprocessor().fit(frame)
    assert any(n.startswith("top=") for n in plain.feature_names_out_)


def test_a_derived_column_whose_source_is_missing_stays(rng):
    frame = _mix(rng).drop("web_first", "share_phone")
    pre = Preprocessor().fit(frame, derived={"top": ("share_web", "share_phone")})
    assert pre.derived_ == []
    assert any(n.startswith("top=") for n in pre.feature_names_out_)


def test_a_derived_column_never_represents_a_fold(rng):
    # web_first is top=web to the last customer: without the guard the fold could
    # keep top=web for both and then the derived rule drop it, losing the fact.
    frame = _mix(rng).select("share_web", "share_phone", "top", "web_first")
    pre = Preprocessor().fit(frame, derived={"top": ("share_web", "share_phone")})
    assert "web_first" in pre.feature_names_out_
    assert not any(n.startswith("top") for n in pre.feature_names_out_)
    assert all(not str(g["representative"]).startswith("top") for g in pre.folded_)


def test_derived_state_round_trips_and_old_state_has_none(rng):
    frame = _mix(rng).drop("web_first")
    pre = Preprocessor().fit(frame, derived={"top": ("share_web", "share_phone")})
    state = json.loads(json.dumps(pre.to_dict()))
    back = Preprocessor.from_dict(state)
    assert back.derived_ == pre.derived_
    assert back.feature_names_out_ == pre.feature_names_out_
    assert_array_equal(back.transform(frame), pre.transform(frame))
    del state["derived"]  # saved before derived columns existed
    assert Preprocessor.from_dict(state).derived_ == []


def test_a_derived_mapping_to_a_string_is_refused(rng):
    frame = _mix(rng).drop("web_first")
    with pytest.raises(InputError, match=r"derived maps \['top'\] to a string"):
        Preprocessor().fit(frame, derived={"top": "share_web"})
    from segdiscover.features import FeatureMeta

    with pytest.raises(InputError, match="derived_from must be a list"):
        FeatureMeta("top", "channel", "channel", derived_from="share_web")
