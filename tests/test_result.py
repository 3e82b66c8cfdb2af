"""The result object (Segmentation) and the estimator contract of Segmenter.

One immutable result that every output reads: the fitted and the loaded model
render the same profile and report; rename, merge and renumber return new objects;
the run store never renumbers the caller's result. Segmenter is a scikit-learn
estimator: clone, Pipeline, numpy input, fit_predict, set_output.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
import polars as pl
import pytest
from matplotlib.figure import Figure
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline

import segdiscover as sd
from segdiscover.clusterers import CLUSTERERS
from segdiscover.exceptions import InputError, InvalidParameterError, NotFittedError
from segdiscover.features import FeatureSet
from segdiscover.result import Segmentation
from segdiscover.runs import RunStore


@pytest.fixture(scope="module")
def data() -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=500, n_segments=3, seed=0)


@pytest.fixture(scope="module")
def fitted(data) -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        return sd.Segmenter(
            clusterer="kmeans", n_segments=4, random_state=0, stability_refits=3
        ).fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)


def _blobs(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, truth = make_blobs(n_samples=n, centers=3, n_features=3, random_state=seed)
    return X, truth


def _quiet(**kw) -> sd.Segmenter:
    return sd.Segmenter(random_state=0, stability_refits=0, **kw)


# ------------------------------------------------------------ the result object
def test_fit_builds_one_result_and_the_attributes_are_views_of_it(fitted):
    res = fitted.result_
    assert isinstance(res, Segmentation)
    assert fitted.segments_.equals(res.segments)
    assert fitted.labels_.equals(res.labels)
    assert fitted.outcomes_.equals(res.outcomes)
    assert fitted.run_ is res.run
    assert fitted.merge_tree_ is res.merge_tree
    assert fitted.n_segments_ == res.n_segments == 4
    with pytest.raises(AttributeError, match="read-only view of result_"):
        fitted.segments_ = res.segments
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.labels = res.labels  # type: ignore[misc]


def test_renderers_show_the_same_numbers(fitted):
    res = fitted.result_
    assert res.to_polars().equals(res.segments)
    assert res.to_polars("labels").equals(res.labels)
    assert res.to_polars("stability").height == 4
    with pytest.raises(InvalidParameterError, match="no part 'nope'"):
        res.to_polars("nope")
    doc = json.loads(res.to_json())
    assert doc == res.to_dict()
    assert [s["segment_id"] for s in doc["segments"]] == [0, 1, 2, 3]
    assert [s["size"] for s in doc["segments"]] == res.segments["size"].to_list()
    md = res.to_markdown()
    assert md.startswith("# Customer segments")
    for name in res.segments["name"]:
        assert name in md
        assert name in repr(res)
    html = res._repr_html_()
    assert html.startswith("<div class='sd-segmentation'>")
    assert "object at 0x" not in repr(res)
    assert repr(res).startswith("Segmentation(4 segments of 500 customers")


def test_rename_merge_renumber_return_new_objects(fitted):
    res = fitted.result_
    before = res.segments.clone(), res.labels.clone(), res.profile(0).name
    renamed = res.rename({0: "Core"})
    assert renamed is not res
    assert renamed.profile(0).name == "Core"
    assert renamed.labels.filter(pl.col("segment_id") == 0)["segment_name"][0] == (
        "Core"
    )
    moved = res.renumber({0: 7, 1: 1, 2: 2, 3: 3})
    assert sorted(moved.profiles) == [1, 2, 3, 7]
    assert moved.clusterer is not res.clusterer
    merged = res.merge([0, 1])
    assert merged.n_segments == 3
    assert res.n_segments == 4
    # The original is untouched by all three.
    assert res.segments.equals(before[0])
    assert res.labels.equals(before[1])
    assert res.profile(0).name == before[2]
    assert np.isfinite(res.clusterer.centroids_).all()


def test_loaded_model_renders_the_same_profile_and_report(fitted, tmp_path):
    model = sd.load(fitted.save(tmp_path / "model"))
    assert isinstance(model.result_, Segmentation)
    assert model.segments_.equals(fitted.segments_)
    assert model.outcomes_.equals(fitted.outcomes_)
    for s in fitted.profiles_:
        assert str(model.profile(s)) == str(fitted.profile(s))
        assert model.profile(s)._repr_html_() == fitted.profile(s)._repr_html_()
    for suffix in (".html", ".md"):
        a = fitted.report(tmp_path / f"fitted{suffix}").read_text()
        b = model.report(tmp_path / f"loaded{suffix}").read_text()
        assert a == b, suffix
    assert model.result_.to_dict() == fitted.result_.to_dict()
    # A loaded segmentation renames and renumbers; merging needs the fit.
    assert model.result_.rename({1: "Kept"}).profile(1).name == "Kept"
    with pytest.raises(InputError, match="loaded from a saved model"):
        model.result_.merge([0, 1])


def test_run_store_never_renumbers_the_callers_result(data, tmp_path):
    store = RunStore(tmp_path / "runs.duckdb")
    first = _quiet(clusterer="kmeans", n_segments=3).fit(data.tables, as_of=data.as_of)
    store.record(first)
    second = _quiet(clusterer="kmeans", n_segments=3).fit(data.tables, as_of=data.as_of)
    second.renumber({0: 2, 1: 0, 2: 1})
    held = second.result_
    ids_before = held.labels["segment_id"].clone()
    store.record(second)
    # The caller's object is as it was; the model now holds the aligned result.
    assert held.labels["segment_id"].equals(ids_before)
    assert second.result_ is not held
    assert second.labels_["segment_id"].equals(first.labels_["segment_id"])


def test_plots_return_figures_and_keep_the_backend(fitted):
    backend = mpl.get_backend()
    res = fitted.result_
    figs = [
        res.plot_selection if res.candidates is not None else res.plot_sizes,
        res.plot_heatmap,
        res.plot_map,
        res.plot_sizes,
        res.plot_outcomes,
        lambda: res.plot_drivers(0),
    ]
    for make in figs:
        assert isinstance(make(), Figure)
    assert mpl.get_backend() == backend


# ------------------------------------------------------------ the estimator
def test_not_fitted_everywhere():
    seg = sd.Segmenter()
    for call in (
        lambda: seg.segments_,
        lambda: seg.result_,
        lambda: seg.profile(0),
        lambda: seg.report("x.md"),
        lambda: seg.predict(np.zeros((3, 2))),
    ):
        with pytest.raises((NotFittedError, AttributeError)):
            call()
    assert "Not fitted yet" in seg._repr_html_()
    assert not hasattr(seg, "labels_")


def test_clone_get_set_params_and_repr():
    seg = sd.Segmenter(features=FeatureSet.default(), n_segments=3, random_state=1)
    twin = clone(seg)
    assert twin is not seg
    assert twin.features is not seg.features
    assert repr(twin) == repr(seg)
    assert repr(seg).startswith("Segmenter(features=FeatureSet(")
    deep = seg.get_params(deep=True)
    assert "features__builders" in deep
    assert deep["n_segments"] == 3
    assert seg.set_params(n_segments=4) is seg
    assert seg.n_segments == 4
    with pytest.raises(InvalidParameterError, match="not_a_parameter"):
        seg.set_params(not_a_parameter=1)


def test_pipeline_on_a_numpy_matrix():
    X, truth = _blobs()
    X[::17, 1] = np.nan  # the imputer's work
    pipe = make_pipeline(SimpleImputer(), _quiet(clusterer="kmeans", n_segments=3))
    labels = pipe.fit_predict(X)
    assert isinstance(labels, np.ndarray)
    assert labels.shape == (len(X),)
    assert adjusted_rand_score(truth, labels) > 0.9
    seg = pipe[-1]
    assert seg.features_.columns == ["customer_id", "x0", "x1", "x2"]
    assert seg.labels_["customer_id"].to_list() == list(range(len(X)))
    assert np.array_equal(pipe.predict(X), labels)


def test_fit_predict_follows_the_input_row_order():
    X, truth = _blobs()
    order = np.random.default_rng(1).permutation(len(X))
    table = pl.DataFrame(X, schema=["a", "b", "c"]).with_columns(
        pl.Series("customer_id", [f"c{i:03d}" for i in range(len(X))])
    )[order]
    labels = _quiet(clusterer="kmeans", n_segments=3).fit_predict(table)
    assert adjusted_rand_score(truth[order], labels) > 0.9


def test_set_output_pandas(data):
    X, _ = _blobs()
    seg = _quiet(clusterer="kmeans", n_segments=3).set_output(transform="pandas")
    labels = seg.fit_predict(X)
    assert isinstance(labels, pd.Series)
    assert isinstance(seg.labels_, pd.DataFrame)
    assert isinstance(seg.assign(X), pd.DataFrame)
    assert isinstance(clone(seg).set_output().fit(X).labels_, pd.DataFrame)
    assert isinstance(seg.set_output(transform="polars").predict(X), pl.Series)
    with pytest.raises(InvalidParameterError, match="'transform'"):
        seg.set_output(transform="arrow")


def test_a_clusterer_registered_after_import_is_used_by_name(monkeypatch):
    spec = dataclasses.replace(CLUSTERERS["kmeans"], name="kmeans_late")
    monkeypatch.setitem(CLUSTERERS, "kmeans_late", spec)
    X, truth = _blobs()
    seg = _quiet(clusterer="kmeans_late", n_segments=3).fit(X)
    assert seg.clusterer_name_ == "kmeans_late"
    assert adjusted_rand_score(truth, seg.labels_["segment_id"]) > 0.9
    with pytest.raises(InvalidParameterError, match="kmeans_late"):
        _quiet(clusterer="not_registered").fit(X)
