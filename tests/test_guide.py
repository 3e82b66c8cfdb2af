"""Outcome-guided segmentation: cross-fitting, honest hold-out, auto, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover.exceptions import InputError, ModelFileError
from segdiscover.guide import OutcomeGuide, holdout_mask


def churn_by_hidden_trait(n: int = 1500, seed: int = 0) -> pl.DataFrame:
    """Two clear behavioural groups (``visits``) that churn alike, and a plain
    feature (``calls``) above whose 70th percentile churn is 55% instead of 8%."""
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.5
    visits = np.where(group, rng.normal(20, 2, n), rng.normal(5, 1, n))
    calls = rng.uniform(0, 10, n)
    churn = rng.random(n) < np.where(calls > 7, 0.55, 0.08)
    return pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "visits": visits,
            "calls": calls,
            "churned": churn,
        }
    )


def fit(frame: pl.DataFrame, **kw) -> sd.Segmenter:
    kw.setdefault("random_state", 0)
    kw.setdefault("stability_refits", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.Segmenter(**kw).fit(frame, outcomes=["churned"])


def spread(seg: sd.Segmenter) -> float:
    o = seg.outcomes_.filter(pl.col("outcome").str.starts_with("churned"))
    return float(o["value"].max() - o["value"].min())


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return churn_by_hidden_trait()


@pytest.fixture(scope="module")
def guided(table) -> sd.Segmenter:
    return fit(table, clusterer="kmeans", n_segments=2, guide="outcomes")


# ------------------------------------------------------------------ the guide
def test_contributions_equal_shap_tree_explainer():
    shap = pytest.importorskip("shap")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = X[:, 0] + 0.5 * (X[:, 1] > 0)
    g = OutcomeGuide(n_folds=2, n_estimators=30, random_state=0).fit(
        X, [], y[:, None], ["m"], [1.0], ["a", "b", "c"]
    )
    booster = g.boosters_[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = shap.TreeExplainer(booster).shap_values(X[:50])
    got = np.asarray(booster.predict(X[:50], pred_contrib=True))[:, :-1]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_a_customers_own_outcome_never_shapes_its_coordinates():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(600, 2))
    y = (X[:, 0] > 0).astype(float) + rng.normal(0, 0.1, 600)
    build = ~holdout_mask(600, np.random.RandomState(2), 0.3)

    def space(y_: np.ndarray) -> np.ndarray:
        return (
            OutcomeGuide(n_folds=3, n_estimators=40, random_state=0)
            .fit(X, [], y_[:, None], ["y"], [0.1], ["a", "b"], build=build)
            .space_
        )

    base = space(y)
    # A build customer: its coordinates come from the one fold model that did not
    # see it, so changing its outcome leaves them as they were.
    i = int(np.flatnonzero(build)[0])
    flipped = y.copy()
    flipped[i] += 5.0
    np.testing.assert_array_equal(space(flipped)[i], base[i])
    # A held-out customer's outcome trains nothing: nothing changes at all.
    h = int(np.flatnonzero(~build)[0])
    flipped = y.copy()
    flipped[h] += 5.0
    np.testing.assert_array_equal(space(flipped), base)


def test_an_unpredictable_outcome_does_not_shape_the_space():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(800, 2))
    Y = np.c_[X[:, 0] * 3 + rng.normal(0, 0.1, 800), rng.normal(size=800)]
    g = OutcomeGuide(n_folds=3, n_estimators=50, random_state=0, total=True).fit(
        X, [], Y, ["signal", "noise"], [0.1, 0.1], ["a", "b"]
    )
    assert g.r2_[0] > 0.9
    assert g.r2_[1] <= 0
    assert g.scales_[1] == 0.0
    # Columns: signal:a, signal:b, noise:a, noise:b, then the totals (signal, noise).
    assert not np.abs(g.space_[:, 2:4]).any()
    assert g.feature_names_out_[5] == "predicted noise (total)"
    assert not np.abs(g.space_[:, 5]).any()
    assert np.abs(g.space_[:, 4]).any()


# ------------------------------------------------------------------ Segmenter
def test_guided_segments_differ_where_unsupervised_ones_do_not(table, guided):
    plain = fit(table, clusterer="kmeans", n_segments=2, guide="none")
    # Unsupervised k-means splits the two visit groups, which churn alike.
    assert spread(plain) < 0.05
    # Guided segments split on calls: churn 55% vs 8% planted, on held-out customers.
    assert spread(guided) > 0.3
    drivers = {d["feature"] for s in guided.segments_["drivers"] for d in s[:1]}
    assert drivers == {"calls"}
    assert guided.outcome_comparison_.n_distinct == 2


def test_guided_verdicts_come_from_held_out_customers(table, guided):
    held = set(guided.validation_ids_.to_list())
    # 30% by a hash of the id: the same customers whatever the seed or row order.
    assert abs(len(held) - 0.3 * table.height) < 0.05 * table.height
    n_compared = guided.outcomes_.filter(pl.col("outcome").str.starts_with("churned"))[
        "n"
    ].sum()
    assert n_compared == len(held)
    run = guided.run_["guide"]
    assert run["mode"] == "outcomes"
    assert run["validated_on"] == "held-out customers"
    assert "held-out customers" in guided.outcome_comparison_.summary()
    assert "held-out" in guided.run_["outcomes"]["validated_on"]


def test_auto_compares_both_and_picks_the_guided_segments_here(table):
    seg = fit(table, clusterer="kmeans", n_segments=2)
    comp = seg.run_["guide"]["comparison"]
    assert [c["space"] for c in comp] == ["features", "outcomes"]
    assert [c["chosen"] for c in comp] == [False, True]
    assert comp[1]["distinct_segments"] > comp[0]["distinct_segments"] == 0
    assert seg.guide_ is not None


def test_auto_without_outcomes_is_unsupervised(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(clusterer="kmeans", n_segments=2, random_state=0).fit(
            table.drop("churned")
        )
    assert seg.guide_ is None
    assert seg.run_["guide"]["mode"] == "features"
    assert seg.validation_ids_.len() == table.height


def test_guide_outcomes_needs_outcomes(table):
    seg = sd.Segmenter(guide="outcomes", random_state=0)
    with pytest.raises(InputError, match="guide='outcomes'"):
        seg.fit(table.drop("churned"))


def test_guided_assign_round_trip_and_tampered_model(guided, table, tmp_path):
    folder = guided.save(tmp_path / "model")
    model = sd.load(folder)
    out = model.assign(table.drop("churned"))
    assert out["segment_id"].equals(guided.labels_["segment_id"])
    assert not out["is_novel"].any()
    again = guided.assign(table.drop("churned"))
    assert again["segment_id"].equals(guided.labels_["segment_id"])
    first = sorted((folder / "guide").iterdir())[0]
    first.write_text(first.read_text().replace("tree", "Tree", 1))
    with pytest.raises(ModelFileError, match="modified"):
        sd.load(folder)


def test_guided_hold_out_does_not_move_with_the_seed(table, guided):
    other = fit(table, clusterer="kmeans", n_segments=2, guide="outcomes",
                random_state=7)  # fmt: skip
    assert other.validation_ids_.sort().equals(guided.validation_ids_.sort())
    np.testing.assert_array_equal(other.guide_.space_, guided.guide_.space_)


def test_guided_fit_is_deterministic_and_row_order_free(table, guided):
    shuffled = table.sample(fraction=1.0, shuffle=True, seed=5)
    again = fit(shuffled, clusterer="kmeans", n_segments=2, guide="outcomes")
    a = guided.labels_.sort("customer_id")["segment_id"]
    b = again.labels_.sort("customer_id")["segment_id"]
    assert a.equals(b)


def test_guide_weights_are_validated(table):
    seg = sd.Segmenter(guide="outcomes", guide_weights={"churned": -1})
    with pytest.raises(sd.exceptions.InvalidParameterError, match="guide_weights"):
        seg.fit(table, outcomes=["churned"])


# ------------------------------------------------------------------ no stable
def test_structureless_data_says_no_stable_segmentation(tmp_path):
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "customer_id": np.arange(800),
            **{f"x{i}": rng.normal(size=800) for i in range(6)},
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = sd.Segmenter(random_state=0, stability_refits=0).fit(frame)
    assert seg.stable_ is False
    assert seg.run_["stable_segmentation"] is False
    assert any("No stable segmentation" in str(w.message) for w in caught)
    text = seg.report(tmp_path / "r.md").read_text()
    assert text.splitlines()[2].startswith("**No stable segmentation")


def test_guided_runs_keep_ids_in_the_run_store_and_drift(guided, table, tmp_path):
    from segdiscover.runs import RunStore

    store = RunStore(tmp_path / "runs.duckdb")
    store.record(guided, label="one")
    again = fit(table, clusterer="kmeans", n_segments=2, guide="outcomes")
    again.renumber({0: 1, 1: 0})
    store.record(again, label="two")
    assert again.labels_["segment_id"].equals(guided.labels_["segment_id"])
    assert store.lineage(2)["kind"].to_list() == ["continued", "continued"]
    report = store.drift()
    assert report.summary()


def test_a_small_table_falls_back_to_unsupervised_with_the_reason(table):
    small = table.head(60)
    seg = fit(small, clusterer="kmeans", n_segments=2)
    comp = seg.run_["guide"]["comparison"]
    assert seg.guide_ is None
    assert comp[0]["chosen"]
    assert not comp[1]["chosen"]
    assert "guiding segments by it needs at least" in comp[1]["error"]
    with pytest.raises(InputError, match="needs at least"):
        fit(small, clusterer="kmeans", n_segments=2, guide="outcomes")


def test_the_report_shows_both_candidates_and_where_verdicts_come_from(table, tmp_path):
    seg = fit(table, clusterer="kmeans", n_segments=2)
    md = seg.report(tmp_path / "r.md").read_text()
    assert "Segments guided by outcomes" in md
    assert "| behaviour (unsupervised) | kmeans | 2 |" in md
    assert "| guided by outcomes | kmeans | 2 |" in md
    assert "held-out customers whose outcomes built nothing" in md
    html = seg.report(tmp_path / "r.html").read_text()
    assert "guided by outcomes" in html


def test_a_guide_weight_for_no_outcome_is_refused_not_ignored(table):
    # In auto mode a failing guided fit falls back to unsupervised segments; a typo
    # in guide_weights must not silently do that.
    seg = sd.Segmenter(guide_weights={"churn": 2.0}, random_state=0)
    with pytest.raises(InputError, match=r"guide_weights names \['churn'\]"):
        seg.fit(table, outcomes=["churned"])


def test_guided_stability_compares_refits_with_the_partition_fitted(table, monkeypatch):
    # The clusterer is fitted on build customers' out-of-fold contributions
    # (guide_.space_), while every customer is placed from fold-mean ones; the
    # stability refits run in the fitted space, so they must be compared with the
    # labels of that space, not with the placement (which differs for customers
    # whose fold models saw their outcome).
    import segdiscover._fit.result as fit_result

    seen = {}
    real = fit_result.stability

    def spy(estimator, X, labels, **kw):
        seen["X"], seen["labels"] = X, labels
        return real(estimator, X, labels, **kw)

    monkeypatch.setattr(fit_result, "stability", spy)
    seg = fit(table, clusterer="kmeans", n_segments=4, guide="outcomes",
              stability_refits=3)  # fmt: skip
    build = ~np.isin(
        seg.labels_["customer_id"].to_numpy(), seg.validation_ids_.to_numpy()
    )
    X = seg.guide_.space_[build]
    np.testing.assert_array_equal(seen["X"], X)
    fitted, _ = seg.clusterer_.assign(X)
    np.testing.assert_array_equal(seen["labels"], fitted)
    placed = seg.labels_["segment_id"].to_numpy()[build]
    assert (placed != fitted).any()  # the two views do differ here
