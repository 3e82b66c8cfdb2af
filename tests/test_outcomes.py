"""Outcome differences: statistics, materiality, merges, leakage, verdicts."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import warnings

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import segdiscover as sd
from segdiscover.cli import main
from segdiscover.clusterers import CLUSTERERS
from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.outcomes import (
    OutcomeComparison,
    compare_segments,
    parse_threshold,
    verdict_sentence,
)
from segdiscover.report import SCHEMA_PATH
from segdiscover.report._write import segments_document
from segdiscover.selection import sweep


def compare(labels, frame, **kw) -> OutcomeComparison:
    kw.setdefault("n_bootstrap", 200)
    kw.setdefault("random_state", 0)
    return compare_segments(np.asarray(labels), frame, **kw)


# ------------------------------------------------------------ hand-derived numbers
def test_means_differences_and_welch_by_hand():
    # Segment 0: 1, 2, 3 (mean 2); segment 1: 4, 6, 8, 10 (mean 7).
    y = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0]
    labels = [0, 0, 0, 1, 1, 1, 1]
    res = compare(labels, pl.DataFrame({"margin": y}))
    r = res.vs_rest.sort("segment_id")
    assert r["value"].to_list() == [2.0, 7.0]
    assert r["rest_value"].to_list() == [7.0, 2.0]
    assert r["difference"].to_list() == [-5.0, 5.0]
    assert r["overall"][0] == pytest.approx(34 / 7)
    # Welch by hand: var0 = 1, var1 = 20/3; se² = 1/3 + 5/3 = 2; t = 5/sqrt(2);
    # df = 4 / ((1/3)²/2 + (5/3)²/3) = 4 / (1/18 + 25/27) = 216/53.
    want = 2 * stats.t.sf(5 / math.sqrt(2), 216 / 53)
    np.testing.assert_allclose(r["p_value"].to_list(), [want, want], rtol=1e-9)
    assert r["kind"][0] == "count"  # non-negative integers
    # Cohen's d: pooled sd = sqrt((2*1 + 3*20/3) / 5) = sqrt(22/5).
    np.testing.assert_allclose(r["effect_size"][1], 5 / math.sqrt(22 / 5))
    # Two segments: the only pair is 0 - 1.
    p = res.pairs.row(0, named=True)
    assert (p["segment_a"], p["segment_b"], p["difference"]) == (0, 1, -5.0)


def test_rate_effect_size_and_chi_square_by_hand():
    # Segment 0 churns 2 of 4, segment 1 none of 4.
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    churn = [True, True, False, False, False, False, False, False]
    res = compare(labels, pl.DataFrame({"churned": churn}))
    r = res.vs_rest.filter(pl.col("segment_id") == 0).row(0, named=True)
    assert r["kind"] == "rate"
    assert r["effect_measure"] == "cohens_h"
    np.testing.assert_allclose(r["effect_size"], math.pi / 2)  # 2 asin(sqrt(.5))
    # 2x2 table [[2, 2], [0, 4]]: expected [[1, 3], [1, 3]], chi² = 1+1/3+1+1/3.
    om = res.omnibus.row(0, named=True)
    assert om["test"] == "chi2"
    np.testing.assert_allclose(om["statistic"], 8 / 3)


def test_bh_runs_across_every_comparison():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 100)
    frame = pl.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    res = compare(labels, frame)
    p = np.concatenate([res.vs_rest["p_value"], res.pairs["p_value"]])
    adj = np.concatenate([res.vs_rest["p_adjusted"], res.pairs["p_adjusted"]])
    m = p.size  # 3 segments x 2 outcomes + 3 pairs x 2 outcomes = 12
    assert m == 12
    order = np.argsort(p)
    want = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(adj[order], np.minimum(want, 1), rtol=1e-9)


def test_bootstrap_ci_is_deterministic_and_brackets_the_difference():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 400)
    frame = pl.DataFrame({"m": rng.gamma(2, 50, 800) + 30 * labels})
    a, b = compare(labels, frame), compare(labels, frame)
    assert a.vs_rest.equals(b.vs_rest)
    c = compare(labels, frame, random_state=1)
    assert not c.vs_rest["ci_low"].equals(a.vs_rest["ci_low"])
    r = a.vs_rest
    assert (r["ci_low"] < r["difference"]).all()
    assert (r["difference"] < r["ci_high"]).all()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=12, max_size=40),
    st.integers(0, 2**31 - 1),
)
def test_values_are_group_means_whatever_the_data(labels, seed):
    labels = np.array(labels)
    if len(np.unique(labels)) < 2:
        labels[0], labels[-1] = 0, 1
    y = np.random.default_rng(seed).normal(10, 3, labels.size)
    frame = pl.DataFrame({"y": y})
    before = frame.clone()
    res = compare(labels, frame, n_bootstrap=50)
    assert frame.equals(before)  # never mutates the input
    for r in res.vs_rest.iter_rows(named=True):
        s = r["segment_id"]
        np.testing.assert_allclose(r["value"], y[labels == s].mean(), rtol=1e-9)
        np.testing.assert_allclose(r["rest_value"], y[labels != s].mean(), rtol=1e-9)
        assert 0 <= r["p_adjusted"] <= 1


# ------------------------------------------------------------------ thresholds
def test_parse_threshold():
    assert parse_threshold("3pp").value == pytest.approx(0.03)
    assert parse_threshold(" 10 % ").relative
    assert parse_threshold(0).value == 0
    for bad in ("ten", -1, float("nan"), True, "3 dollars"):
        with pytest.raises(InvalidParameterError, match="minimum difference"):
            parse_threshold(bad)


def test_default_and_custom_thresholds():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 200)
    frame = pl.DataFrame(
        {"churned": rng.random(400) < 0.2, "margin": rng.normal(200, 20, 400)}
    )
    res = compare(labels, frame)
    t = res.thresholds
    assert t["churned"]["threshold"] == pytest.approx(0.03)
    assert t["churned"]["set_as"] == "3.0 pp (default)"
    mean = frame["margin"].mean()
    assert t["margin"]["threshold"] == pytest.approx(0.1 * mean)
    res = compare(labels, frame, min_difference={"churned": "5pp", "margin": 7})
    assert res.thresholds["churned"]["threshold"] == pytest.approx(0.05)
    assert res.thresholds["margin"]["threshold"] == 7
    with pytest.raises(InputError, match=r"'ghost'.*not outcomes"):
        compare(labels, frame, min_difference={"ghost": 1})
    with pytest.raises(InputError, match="'3pp'"):
        compare(labels, frame, min_difference={"churned": 3})


def test_material_only_when_the_interval_clears_the_threshold():
    # A clear but small difference: 20% vs 24% on 20,000 customers each.
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 20_000)
    churn = rng.random(40_000) < np.where(labels == 0, 0.20, 0.24)
    frame = pl.DataFrame({"churned": churn})
    small = compare(labels, frame, min_difference={"churned": "10pp"})
    r = small.vs_rest.row(0, named=True)
    assert r["significant"]
    assert not r["material"]
    assert "not clearly by the 10.0 pp that matters" in r["verdict"]
    big = compare(labels, frame, min_difference={"churned": "1pp"})
    assert big.vs_rest["material"].all()


def test_segmenter_validates_min_difference():
    seg = sd.Segmenter(min_difference={"churned": "lots"})
    with pytest.raises(InvalidParameterError, match="'min_difference' parameter"):
        seg.fit(pl.DataFrame({"customer_id": [1, 2], "x": [1.0, 2.0]}))


# ------------------------------------------------------------ null and merges
def test_null_outcomes_rarely_give_a_material_verdict():
    # Outcomes shuffled across customers: no segment truly differs. BH at 5% keeps
    # the chance of any material verdict at or under 5% (benchmark: 200 runs).
    data = sd.datasets.make_customers(n_customers=1200, n_segments=4, seed=5)
    labels = (
        data.truth.get_column("segment").cast(pl.Categorical).to_physical().to_numpy()
    )
    outcomes = data.outcomes.drop("customer_id")
    rng = np.random.default_rng(0)
    runs, hits = 30, 0
    for i in range(runs):
        shuffled = outcomes[rng.permutation(outcomes.height)]
        res = compare(labels, shuffled, n_bootstrap=100, random_state=i)
        hits += bool(res.vs_rest["material"].any() or res.pairs["material"].any())
    assert hits / runs <= 0.1


def planted_noise_pair(n: int = 900, seed: int = 0):
    """Segments 0 and 1 drawn from one distribution; segment 2 differs."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], n // 3)
    far = labels == 2
    features = pl.DataFrame(
        {
            "spend": rng.lognormal(np.where(far, 6.0, 4.0), 0.4),
            "visits": rng.poisson(np.where(far, 2, 9)).astype(float),
            "plan": np.where(rng.random(n) < np.where(far, 0.8, 0.2), "pro", "basic"),
        }
    )
    outcomes = pl.DataFrame(
        {
            "churned": rng.random(n) < np.where(far, 0.35, 0.10),
            "margin": rng.gamma(2, np.where(far, 150, 50)),
        }
    )
    return labels, features, outcomes


def test_segments_differing_only_by_noise_are_proposed_for_merging():
    labels, features, outcomes = planted_noise_pair()
    res = compare(labels, outcomes, features=features)
    assert res.merge_candidates.select("segment_a", "segment_b").rows() == [(0, 1)]
    assert res.groups == [[0, 1], [2]]
    # Each differs materially from the rest on churn (10% vs 22.5%, 35% vs 10%);
    # that 0 and 1 do not differ from each other is what the merge candidates say.
    assert res.n_distinct == 3
    assert res.summary() == (
        "3 of 3 segments are operationally distinct (differ materially on "
        "churned, margin); candidates to merge: 0 & 1."
    )
    cand = res.merge_candidates.row(0, named=True)
    assert abs(cand["feature_effect"]) < 0.33
    # The distinct segment differs materially from both on churn.
    r = res.vs_rest.filter(
        (pl.col("segment_id") == 2) & (pl.col("outcome") == "churned")
    )
    assert r["material"][0]


def test_a_key_feature_difference_blocks_a_merge():
    labels, features, outcomes = planted_noise_pair()
    # Segment 1 now differs from 0 on visits only: not a merge candidate.
    visits = features["visits"].to_numpy() + np.where(labels == 1, 8.0, 0.0)
    features = features.with_columns(pl.Series("visits", visits))
    res = compare(labels, outcomes, features=features)
    assert res.merge_candidates.height == 0
    assert res.groups == [[0], [1], [2]]
    # On outcomes alone 0 and 1 still cannot be told apart.
    assert res.distinct_groups == [[0, 1], [2]]
    assert res.n_distinct == 3


def test_no_outcome_difference_means_no_distinct_segment():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 400)
    res = compare(labels, pl.DataFrame({"churned": rng.random(1200) < 0.2}))
    assert res.n_distinct == 0
    assert res.summary().startswith(
        "No segment differs materially from the others on churned"
    )


# ------------------------------------------------------------------ leakage
@pytest.fixture(scope="module")
def raw() -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=600, n_segments=3, seed=2)


def test_leakage_guard_fires_on_an_outcome_computed_inside_the_window(raw):
    # "Spend last year" is the year *before* as_of: the feature revenue_365d again.
    start = raw.as_of - dt.timedelta(days=365)
    leaked = (
        raw.tables["orders"]
        .filter(pl.col("ts").is_between(start, raw.as_of, closed="left"))
        .group_by("customer_id")
        .agg(pl.col("amount").sum().alias("spend_last_year"))
    )
    outcomes = raw.outcomes.join(leaked, on="customer_id", how="left").with_columns(
        pl.col("spend_last_year").fill_null(0.0)
    )
    seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    with pytest.raises(InputError, match=r"'spend_last_year' looks computed inside"):
        seg.fit(raw.tables, as_of=raw.as_of, outcomes=outcomes)
    with pytest.raises(InputError, match="revenue_365d"):
        seg.fit(raw.tables, as_of=raw.as_of, outcomes=outcomes)


def test_leakage_guard_reads_measurement_dates(raw):
    early = raw.outcomes.with_columns(
        pl.lit(raw.as_of - dt.timedelta(days=10)).alias("measured_at")
    )
    seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    with pytest.raises(InputError, match=r"'measured_at' dates 600 measurement"):
        seg.fit(raw.tables, as_of=raw.as_of, outcomes=early)
    late = raw.outcomes.with_columns(
        pl.lit(raw.as_of + dt.timedelta(days=90)).alias("measured_at")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg.fit(raw.tables, as_of=raw.as_of, outcomes=late)
    assert "measured_at" not in seg.outcomes_["outcome"].to_list()


def test_planted_outcomes_pass_the_guard(fitted):
    assert set(fitted.outcomes_["outcome"]) == {
        "churned",
        "next_margin_90d",
        "cost_to_serve_90d",
        "tickets_90d",
    }


# ------------------------------------------------------------------ verdicts
NUM = r"[+-]?[\d,]*\.?\d+"


def test_verdict_numbers_match_the_data(fitted, small_data):
    # The verdicts come from the validation customers (all of them, or the
    # hold-out of a guided fit).
    j = fitted.labels_.filter(
        pl.col("customer_id").is_in(fitted.validation_ids_.implode())
    ).join(small_data.outcomes, on="customer_id")
    o = fitted.outcomes_
    for col in ("value", "rest_value", "difference", "ci_low", "ci_high"):
        assert col in o.columns
    for r in o.iter_rows(named=True):
        y = j.get_column(r["outcome"]).cast(pl.Float64)
        member = j.get_column("segment_id") == r["segment_id"]
        value, rest = y.filter(member).mean(), y.filter(~member).mean()
        np.testing.assert_allclose([r["value"], r["rest_value"]], [value, rest])
        np.testing.assert_allclose(r["difference"], value - rest, atol=1e-9)
        pct = "%" if r["kind"] == "rate" else ""
        pp = " pp" if r["kind"] == "rate" else ""
        m = re.match(
            rf"^.+ ({NUM}){pct} vs ({NUM}){pct} for the rest \(({NUM}){pp}, "
            rf"95% CI ({NUM}) to ({NUM}){pp}\): ",
            r["verdict"],
        )
        assert m, r["verdict"]
        got = [float(x.replace(",", "")) for x in m.groups()]
        want = [value, rest, value - rest, r["ci_low"], r["ci_high"]]
        if r["kind"] == "rate":  # percent with one decimal
            np.testing.assert_allclose(got, 100 * np.array(want), atol=0.0501)
        else:  # 3 significant digits at least
            np.testing.assert_allclose(got, want, rtol=0.006, atol=0.0051)
        word = "higher" if r["difference"] > 0 else "lower"
        assert r["verdict"].endswith(f"materially {word}." if r["material"] else ".")


def test_verdict_sentence_for_an_amount():
    r = {
        "outcome": "next_margin_90d",
        "kind": "continuous",
        "value": 1234.4,
        "rest_value": 980.0,
        "difference": 254.4,
        "ci_low": 200.2,
        "ci_high": 310.9,
        "material": True,
        "significant": True,
        "threshold": 44.0,
    }
    assert verdict_sentence(r) == (
        "Next margin 90d 1,234 vs 980 for the rest (+254, 95% CI +200 to +311): "
        "materially higher."
    )
    r.update(material=False, significant=False)
    assert verdict_sentence(r).endswith(": no clear difference.")


# ------------------------------------------------------------------ wiring
def test_segmenter_outputs_carry_outcomes(fitted):
    jsonschema = pytest.importorskip("jsonschema")
    comp = fitted.outcome_comparison_
    assert isinstance(comp, OutcomeComparison)
    assert fitted.outcomes_.equals(comp.to_polars())
    p = fitted.profile(0)
    assert p.outcomes["churned"]["verdict"] in p.facts()
    assert any(t == "Outcomes" for t, _, _ in p.sections())
    assert "Operational questions" in p.to_markdown()
    questions = {a["question"] for a in p.answers}
    assert {"churn", "support volume", "cost-to-serve", "channel"} <= questions
    doc = segments_document(fitted)
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert doc["outcomes"]["n_operationally_distinct"] == comp.n_distinct
    assert fitted.run_["outcomes"]["summary"] == comp.summary()
    d = comp.to_dict()
    assert len(d["pairs"]) == 15 * 4  # 6 segments: 15 pairs, 4 outcomes
    assert comp.summary() in comp.to_markdown()


def test_cli_min_difference(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 300
    g = rng.integers(0, 3, n)
    src = tmp_path / "c.csv"
    pl.DataFrame(
        {
            "cust": np.arange(n),
            "revenue": np.where(g == 0, 5000.0, 300.0) * rng.lognormal(0, 0.2, n),
            "tickets": np.where(g == 1, 12, 1) + rng.poisson(1, n),
            "churned": (rng.random(n) < np.where(g == 0, 0.5, 0.1)).astype(int),
            "margin": rng.normal(100, 10, n),
        }
    ).write_csv(src)
    base = ["discover", "--table", str(src), "--id", "cust", "--k", "3"]
    args = [*base, "--outcome", "churned", "--outcome", "margin"]
    out = tmp_path / "o"
    code = main([*args, "--min-difference", "churned=5pp", "--out", str(out)])
    assert code == 0
    assert "operationally distinct" in capsys.readouterr().out
    doc = json.loads((out / "segments.json").read_text())
    assert doc["run"]["outcomes"]["thresholds"]["churned"]["threshold"] == 0.05
    assert {o["outcome"] for o in doc["segments"][0]["outcomes"]} == {
        "churned",
        "margin",
    }
    code = main([*args, "--min-difference", "churned", "--out", str(out)])
    assert code == 2
    assert "COLUMN=VALUE" in capsys.readouterr().err


# ------------------------------------------------------------------ selection
def test_sweep_reports_held_out_outcome_separation():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.3, (150, 2)) for c in (0, 3, 6)])
    y = np.repeat([0.0, 10.0, 20.0], 150) + rng.normal(0, 1, 450)
    sel = sweep(X, [CLUSTERERS["kmeans"]], [2, 3, 4], random_state=0, outcomes=y)
    c = sel.candidates
    assert "outcome_separation" in c.columns
    best = c.filter(pl.col("n_segments") == 3)["outcome_separation"][0]
    assert best > 0.95
    assert sel.n_segments == 3
    assert "outcome separation" in sel.reason
    plain = sweep(X, [CLUSTERERS["kmeans"]], [2, 3, 4], random_state=0)
    assert "outcome_separation" not in plain.candidates.columns
    # Without a near-tie the pick is the silhouette's, with or without outcomes.
    assert plain.n_segments == sel.n_segments


def test_renumber_maps_ids_and_flips_pairs():
    labels, features, outcomes = planted_noise_pair()
    res = compare(labels, outcomes, features=features)
    new = res.renumber({0: 2, 1: 0, 2: 1})
    assert new.merge_candidates.select("segment_a", "segment_b").rows() == [(0, 2)]
    assert new.groups == [[0, 2], [1]]
    assert new.summary().endswith("candidates to merge: 0 & 2.")
    old = res.pairs.filter(
        (pl.col("segment_a") == 0) & (pl.col("segment_b") == 1)
    ).sort("outcome")
    got = new.pairs.filter(
        (pl.col("segment_a") == 0) & (pl.col("segment_b") == 2)
    ).sort("outcome")
    assert got["value_a"].to_list() == old["value_b"].to_list()
    np.testing.assert_allclose(got["difference"], -old["difference"])
    np.testing.assert_allclose(got["ci_low"], -old["ci_high"])
    seg2 = new.vs_rest.filter(pl.col("segment_id") == 2)
    assert (
        seg2["value"].to_list()
        == res.vs_rest.filter(pl.col("segment_id") == 0)["value"].to_list()
    )


def test_a_date_outcome_of_a_customer_table_is_refused():
    n = 40
    table = pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "spend": np.linspace(1, 100, n),
            "visits": np.arange(n) % 7 * 1.0,
            "activated": [dt.date(2025, 1, 1 + i % 28) for i in range(n)],
        }
    )
    seg = sd.Segmenter(clusterer="kmeans", n_segments=2, random_state=0)
    with pytest.raises(InputError, match=r"\['activated'\] hold dates"):
        seg.fit(table, outcomes=["activated"])
