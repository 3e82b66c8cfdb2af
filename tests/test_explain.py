"""Explanations: rules against planted cut points, fidelity, names, renaming."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans

import segdiscover as sd
from segdiscover._markdown import md_text
from segdiscover.explain import (
    CLIFF_THRESHOLD,
    COHEN_H_THRESHOLD,
    fit_rules,
    fit_surrogate,
    rank_drivers,
)
from segdiscover.report import write_outputs

# Segments defined by known rules on original values (cut points 6, 40 and 100):
#   frequent_small: orders_per_month >= 6 and avg_basket < 40
#   bulk:           orders_per_month <  6 and avg_basket >= 100
#   rest:           everything else
CUTS = {"orders_per_month": 6.0, "avg_basket": 40.0}


def planted_rule_data(n: int = 6000, seed: int = 0):
    rng = np.random.default_rng(seed)
    opm = rng.uniform(0, 12, n)
    basket = rng.uniform(5, 400, n)
    region = rng.choice(["north", "south"], n)
    labels = np.full(n, 2)
    labels[(opm >= 6) & (basket < 40)] = 0
    labels[(opm < 6) & (basket >= 100)] = 1
    raw = np.column_stack([opm, basket, (region == "south").astype(float)])
    cols = [
        {"name": "orders_per_month", "kind": "numeric"},
        {"name": "avg_basket", "kind": "numeric"},
        {"name": "region", "kind": "categorical", "levels": ["north", "south"]},
    ]
    return raw, labels, cols


def test_rules_recover_planted_cut_points():
    raw, labels, cols = planted_rule_data()
    idx = np.arange(len(labels))
    rules = fit_rules(raw, labels, cols, idx[:4500], idx[4500:])
    rule = rules[0]
    feats = {c.feature for c in rule.conditions}
    assert feats == {"orders_per_month", "avg_basket"}
    for c in rule.conditions:
        cut = CUTS[c.feature]
        assert abs(float(c.value) - cut) <= 0.10 * cut, rule.text
    assert rule.precision >= 0.95
    assert len(rule.conditions) <= 3
    bulk = rules[1]
    for c in bulk.conditions:
        if c.feature == "orders_per_month":
            assert abs(float(c.value) - 6) <= 0.6
        if c.feature == "avg_basket":
            assert abs(float(c.value) - 100) <= 10
    assert bulk.precision >= 0.95


def test_surrogate_fidelity_on_rule_defined_segments():
    raw, labels, _cols = planted_rule_data()
    sur = fit_surrogate(raw, labels, [2], random_state=0)
    assert sur.fidelity >= 0.95
    assert sur.n_holdout > 0


class ShuffledKMeans(ClusterMixin, BaseEstimator):
    """k-means whose labels are then shuffled across customers: no structure left."""

    def __init__(self, n_clusters=4, random_state=None):
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X, y=None):
        labels = KMeans(self.n_clusters, n_init=1, random_state=0).fit(X).labels_
        self.labels_ = np.random.default_rng(self.random_state).permutation(labels)
        return self


def test_shuffled_labels_collapse_fidelity_and_warn(small_data):
    seg = sd.Segmenter(
        clusterer=ShuffledKMeans(), n_segments=4, random_state=0, stability_refits=0
    )
    with pytest.warns(sd.exceptions.SegdiscoverWarning, match="fidelity .* is below"):
        seg.fit(small_data.tables, as_of=small_data.as_of)
    assert seg.fidelity_ < 0.5
    assert "is below" in seg.run_["warnings"][0]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("clusterer", ["kmeans", "gmm", "ward"])
def test_names_unique_and_every_word_backed(seed, clusterer):
    data = sd.datasets.make_customers(n_customers=1200, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            clusterer=clusterer, n_segments=6, shap_max_rows=600, random_state=seed
        ).fit(data.tables, as_of=data.as_of)
    names = seg.segments_["name"].to_list()
    assert len(set(names)) == len(names)
    meta = {m.name: m for m in seg.feature_meta_}
    for r in seg.segments_.iter_rows(named=True):
        backed = [d for d in r["drivers"] if d["in_name"]]
        words = [w.strip().lower() for w in r["name"].split(",")]
        if r["name"].endswith("(no strong driver)"):
            assert not backed
            continue
        for d in backed:
            limit = (
                CLIFF_THRESHOLD
                if d["effect_measure"] == "cliffs_delta"
                else COHEN_H_THRESHOLD
            )
            assert d["passes"]
            assert abs(d["effect_size"]) >= limit
        # every word of the name is the word of one backed driver
        driver_words = {
            meta[d["feature"]].word(d["direction"], d["category"]).lower()
            for d in backed
        }
        assert {w.split(" #")[0] for w in words} <= driver_words, r["name"]


def test_rules_in_pipeline_are_precise(fitted):
    s = fitted.segments_
    assert s["rule"].null_count() == 0
    assert (s["rule_precision"] >= 0.8).all()
    assert s["rule_coverage"].is_between(0, 1).all()
    for rule in s["rule"]:
        assert rule.count(" and ") <= 2  # at most three conditions


def test_rename_persists_in_every_output(tmp_path, small_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            clusterer="kmeans", n_segments=4, shap_max_rows=300, random_state=0
        ).fit(small_data.tables, as_of=small_data.as_of)
    old = seg.profile(1).name
    seg.rename({1: "Key accounts"})
    assert seg.profile(1).name == "Key accounts"
    assert seg.profile(1).narrative.startswith("Key accounts holds")
    assert old not in seg.segments_["name"].to_list()
    assert (
        seg.labels_.filter(pl.col("segment_id") == 1)["segment_name"] == "Key accounts"
    ).all()
    write_outputs(seg, tmp_path)
    doc = json.loads((tmp_path / "segments.json").read_text())
    s1 = next(s for s in doc["segments"] if s["segment_id"] == 1)
    assert s1["name"] == "Key accounts"
    assert s1["name_source"] == "custom"
    with pytest.raises(sd.exceptions.InputError, match="unique"):
        seg.rename({0: "Key accounts"})


def test_plots_written_and_embedded(tmp_path, fitted):
    files = write_outputs(fitted, tmp_path)
    pngs = [p for p in files if p.startswith("plots/")]
    assert {"plots/heatmap.png", "plots/map.png", "plots/sizes.png"} <= set(pngs)
    assert "plots/outcomes.png" in pngs  # fitted with outcomes
    # Map, sizes, outcomes, heatmap and one driver chart per segment; no selection
    # chart: the clusterer and k were given, so nothing was swept.
    assert len(pngs) == fitted.n_segments_ + 4
    for p in pngs:
        assert files[p].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64") == len(
        pngs
    )


def test_profile_card_has_template_sections(fitted):
    titles = [t for t, _, _ in fitted.profile(0).sections()]
    assert titles[0] == "Key behaviours and signals"
    for t in ("Value", "Cost-to-serve and service load", "Channel mix", "Outcomes"):
        assert t in titles
    md = fitted.profile(0).to_markdown()
    assert "Rule:" in md
    assert "precision" in md


def test_a_driver_that_restates_another_is_folded_into_it():
    rng = np.random.default_rng(0)
    g = np.repeat([0, 1, 2], 200)
    spend = np.exp(rng.normal(g * 1.5, 0.3))
    table = pl.DataFrame(
        {
            "id": np.arange(600),
            "monthly_spend": spend,
            "revenue_365d": spend * 12.0 * np.exp(rng.normal(0, 0.15, 600)),
            "tickets": rng.poisson(np.where(g == 1, 6, 1)).astype(float),
        }
    )
    seg = sd.Segmenter(
        clusterer="kmeans", n_segments=3, id="id", random_state=0, stability_refits=0
    ).fit(table)
    for s in seg.profiles_:
        feats = [d["feature"] for d in seg.profile(s).drivers]
        assert not {"monthly_spend", "revenue_365d"} <= set(feats)
    related = [d["related"] for s in seg.profiles_ for d in seg.profile(s).drivers]
    assert any(r in (["monthly_spend"], ["revenue_365d"]) for r in related)


def test_passing_drivers_rank_before_larger_shap_without_a_difference():
    # Feature "a" carries more SHAP toward segment 0 than "b", but segment 0 does
    # not differ from the rest on "a" (it only rules out another segment): "b",
    # whose effect passes, comes first; "a" stays in the list, after it.
    names = ["a", "b", "c"]
    labels = np.array([0] * 4 + [1] * 4)
    shap_vals = np.zeros((8, 3, 2))
    shap_vals[:4, :, 0] = [0.9, 0.5, 0.2]
    shap_vals[4:, :, 1] = [0.1, 0.8, 0.3]

    def st(passes: bool, delta: float) -> dict:
        return {"direction": "+", "passes": passes, "effect_size": delta}

    stats = {
        0: {"a": st(False, 0.1), "b": st(True, 0.6), "c": st(True, 0.4)},
        1: {"a": st(False, 0.0), "b": st(True, -0.6), "c": st(False, 0.2)},
    }
    out = rank_drivers(shap_vals, labels, names, stats, [0, 1])
    assert [d["feature"] for d in out[0]] == ["b", "c", "a"]
    assert [d["feature"] for d in out[1]] == ["b", "c", "a"]
    assert out[0][2]["importance"] > out[0][0]["importance"]  # SHAP kept as is


def test_name_words_say_different_things_while_they_can():
    from segdiscover.features import FeatureMeta
    from segdiscover.profiles import make_names

    meta = {
        f: FeatureMeta(f, "value", f, high=f"high-{f}", low=f"low-{f}")
        for f in ("basket", "spend", "profit", "breadth")
    }

    def d(f: str) -> dict:
        return {"feature": f, "direction": "+", "passes": True, "category": None}

    drivers = {0: [d("basket"), d("spend"), d("profit"), d("breadth")]}
    similar = {"profit": ["spend"], "spend": ["profit"]}
    name, in_name = make_names(drivers, meta, similar)[0]
    assert name == "High-basket, high-spend, high-breadth"
    assert in_name == ["basket", "spend", "breadth"]
    # without similarity, SHAP order as before
    assert make_names(drivers, meta)[0][0] == "High-basket, high-spend, high-profit"
    # a similar word is still used when nothing else is left (collisions)
    two = {0: [d("spend"), d("profit")], 1: [d("spend"), d("basket")]}
    names = make_names(two, meta, similar)
    assert names[0][0] == "High-spend, high-profit"


def test_shap_sample_is_capped_stratified_and_reported(small_data):
    # Bounded memory on any table size: SHAP runs on at most shap_max_rows
    # customers, every segment is in the sample, and the cap is in the run record.
    seg = sd.Segmenter(
        clusterer="kmeans",
        n_segments=4,
        shap_max_rows=120,
        random_state=0,
        stability_refits=0,
    ).fit(small_data.tables, as_of=small_data.as_of)
    assert 0 < seg.run_["shap_rows"] <= 120
    assert seg.explanation_.shap.shape[0] == seg.run_["shap_rows"]
    assert set(seg.explanation_.shap_labels) == set(seg.segments_["segment_id"])


def test_low_fidelity_warning_names_the_weak_segments_in_the_report(tmp_path):
    rng = np.random.default_rng(0)
    table = pl.DataFrame(
        {"id": range(400), **{f"f{j}": rng.normal(size=400) for j in range(3)}}
    )
    seg = sd.Segmenter(
        clusterer="kmeans",
        n_segments=8,
        id="id",
        fidelity_threshold=0.999,
        random_state=0,
        stability_refits=0,
    )
    with pytest.warns(sd.exceptions.SegdiscoverWarning, match="fidelity"):
        seg.fit(table)
    warning = next(w for w in seg.run_["warnings"] if "fidelity" in w.lower())
    weak = [s for s, f in seg.explanation_.per_segment_f1.items() if f < 0.999]
    assert weak
    assert str(weak) in warning
    write_outputs(seg, tmp_path / "out")
    # Markdown escapes the brackets of the segment list (no link syntax).
    assert md_text(warning) in (tmp_path / "out" / "report.md").read_text()
