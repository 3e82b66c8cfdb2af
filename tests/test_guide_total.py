"""The guided space's total column: one per outcome, the sum of its block."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover._fit import cluster as fit_cluster
from segdiscover.exceptions import ModelFileError
from segdiscover.guide import OutcomeGuide, holdout_mask

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(700, 3))
    Y = np.c_[
        (X[:, 0] > 0.3) + rng.normal(0, 0.2, 700),
        2 * X[:, 1] + X[:, 2] + rng.normal(0, 0.5, 700),
    ]
    build = ~holdout_mask(700, np.random.RandomState(1), 0.3)
    return X, Y, build


def fit_guide(data: Any, **kw: Any) -> OutcomeGuide:
    X, Y, build = data
    kw.setdefault("total", True)
    return OutcomeGuide(n_folds=3, n_estimators=40, random_state=0, **kw).fit(
        X, [], Y, ["churned", "margin"], [0.05, 0.5], FEATURES, build=build
    )


@pytest.fixture(scope="module")
def guide(data) -> OutcomeGuide:
    return fit_guide(data)


def test_the_total_column_is_the_sum_of_each_block(data, guide):
    X, _, _ = data
    p, m = len(FEATURES), 2
    assert guide.space_.shape == (len(X), m * p + m)
    assert guide.feature_names_out_[m * p :] == [
        "predicted churned (total)",
        "predicted margin (total)",
    ]
    for space in (guide.space_, guide.transform(X[:50])):
        for j in range(m):
            np.testing.assert_allclose(
                space[:, m * p + j], space[:, j * p : (j + 1) * p].sum(1)
            )
        assert np.abs(space[:, m * p :]).any()


def test_the_total_leaves_the_contributions_as_they_were(data, guide):
    X, _, _ = data
    plain = fit_guide(data, total=False)
    p, m = len(FEATURES), 2
    assert plain.space_.shape == (len(X), m * p)
    assert plain.feature_names_out_ == guide.feature_names_out_[: m * p]
    np.testing.assert_array_equal(guide.space_[:, : m * p], plain.space_)
    np.testing.assert_array_equal(
        guide.transform(X[:50])[:, : m * p], plain.transform(X[:50])
    )
    # Drivers are features only, and the total column changes none of them.
    assert guide.driver_shares() == plain.driver_shares()
    for shares in guide.driver_shares().values():
        assert list(shares) == FEATURES
        assert sum(shares.values()) == pytest.approx(1.0)


def test_the_total_is_off_unless_asked(data):
    assert OutcomeGuide().total is False
    X, Y, build = data
    g = OutcomeGuide(n_folds=3, n_estimators=40, random_state=0).fit(
        X, [], Y, ["churned", "margin"], [0.05, 0.5], FEATURES, build=build
    )
    assert g.space_.shape == (len(X), 2 * len(FEATURES))
    state, _ = g.to_state()
    assert state["params"]["total"] is False


def test_the_total_flag_round_trips(data, guide):
    X, _, _ = data
    state, files = guide.to_state()
    assert state["params"]["total"] is True
    back = OutcomeGuide.from_state(json.loads(json.dumps(state)), files)
    assert back.total is True
    assert back.feature_names_out_ == guide.feature_names_out_
    np.testing.assert_array_equal(back.transform(X[:50]), guide.transform(X[:50]))


def test_a_state_saved_before_the_total_column_loads_without_it(data):
    X, _, _ = data
    plain = fit_guide(data, total=False)
    state, files = plain.to_state()
    del state["params"]["total"]  # what a guide saved before the option holds
    old = OutcomeGuide.from_state(state, files)
    assert old.total is False
    assert old.feature_names_out_ == plain.feature_names_out_
    assert not any("(total)" in n for n in old.feature_names_out_)
    np.testing.assert_array_equal(old.transform(X[:50]), plain.transform(X[:50]))


def test_a_total_flag_that_is_not_a_bool_is_refused(guide):
    state, files = guide.to_state()
    state["params"]["total"] = "yes"
    with pytest.raises(ModelFileError, match="malformed"):
        OutcomeGuide.from_state(state, files)


# ------------------------------------------------------------------ whole model


def fit_segmenter(table: pl.DataFrame) -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.Segmenter(
            clusterer="kmeans", n_segments=2, id="id", guide="outcomes",
            random_state=0, stability_refits=0, shap_max_rows=100,
        ).fit(table, outcomes=["churned"])  # fmt: skip


def drop_total_key(folder: Path) -> None:
    """Rewrite the manifest as a save from before the total column (no key)."""
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["guide"]["params"]["total"]
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (folder / "manifest.json").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (folder / "checksum").write_text(f"{digest}  manifest.json\n")


def test_a_guided_model_saved_with_totals_assigns_as_fitted(tmp_path, churn_table):
    # The Segmenter's guided space has the total columns (decision 81).
    table = churn_table()
    seg = fit_segmenter(table)
    assert seg.guide_.total is True
    assert seg.guide_.feature_names_out_[-1] == "predicted churned (total)"
    # Drivers, names and cards read in features, never in the total column.
    drivers = {d["feature"] for s in seg.segments_["drivers"] for d in s}
    assert not any("total" in str(d) for d in drivers)
    folder = seg.save(tmp_path / "model")
    out = sd.load(folder).assign(table.drop("churned"))
    assert out["segment_id"].equals(seg.labels_["segment_id"])


def test_an_old_guided_model_without_the_key_assigns_exactly_as_before(
    tmp_path, monkeypatch, churn_table
):
    # A model fitted and saved before the total column: the guide had none.
    def without_total(**kw):
        return OutcomeGuide(**{**kw, "total": False})

    monkeypatch.setattr(fit_cluster, "OutcomeGuide", without_total)
    table = churn_table(seed=2)
    seg = fit_segmenter(table)
    assert seg.guide_.total is False
    folder = seg.save(tmp_path / "old")
    drop_total_key(folder)
    monkeypatch.undo()
    loaded = sd.load(folder)
    assert loaded.guide_.total is False
    assert len(loaded.guide_.feature_names_out_) == 2  # calls, visits; no total
    out = loaded.assign(table.drop("churned"))
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    assert out.equals(seg.assign(table.drop("churned")))
