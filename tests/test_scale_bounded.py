"""Bounded work at scale: one transform in assign, the map on a sample, SHAP from
LightGBM, the sweep and the fit on hashed samples reported in ``run_``."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover import plots
from segdiscover.assign import (
    NOVELTY_MARGIN,
    NOVELTY_QUANTILE,
    cluster_space,
    nearest_distance,
    novelty_distance,
)
from segdiscover.explain.surrogate import fit_surrogate, shap_values


def _table(n: int = 900, seed: int = 0) -> pl.DataFrame:
    """Three groups, heavy tails (values clipped at 5 scaled units), one text."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 3)) + np.array([[0, 0, 0], [4, 0, 2], [0, 4, -2]])[g]
    x[rng.random(n) < 0.01, 1] *= 1e6  # far out: clipped in the clustering space
    return pl.DataFrame(
        {
            "customer_id": np.arange(n) * 7 + 3,
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
            "plan": np.where(g == 1, "pro", np.where(rng.random(n) < 0.5, "a", "b")),
        }
    )


@pytest.fixture(scope="module")
def model() -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        return sd.Segmenter(
            clusterer="kmeans", n_segments=3, random_state=0, stability_refits=2
        ).fit(_table())


def test_novelty_from_one_transform_equals_the_unclipped_transform(model):
    res = model.result_
    feat = res.features.drop(res.id)
    X = cluster_space(res.preprocessor, None, feat)
    U = cluster_space(res.preprocessor, None, feat, clip=False)
    assert (X != U).any(), "the table must have clipped values to test anything"
    cents = res.clusterer.centroids_
    # The threshold as fit_assign_state computed it from the unclipped transform.
    lab = res.labels["segment_id"].to_numpy()
    own = np.sqrt(((U - cents[lab]) ** 2).sum(1))
    want = float(np.quantile(own, NOVELTY_QUANTILE) * NOVELTY_MARGIN)
    assert res.assign_state.novelty_threshold == want
    got = novelty_distance(res.preprocessor, None, feat, X, cents)
    assert np.array_equal(got, nearest_distance(U, cents))


def test_assign_gives_the_fit_labels_and_the_two_transform_novelty(model):
    table = _table()
    # Ten customers far beyond the fit's own far-out ones: novel.
    far = table.with_columns(
        pl.when(pl.int_range(pl.len()) < 10).then(1e14).otherwise("b").alias("b")
    )
    res = model.result_
    for t in (table, far, table.sample(fraction=1.0, shuffle=True, seed=1)):
        out = model.assign(t)
        frame = t.sort("customer_id")
        feat = frame.drop("customer_id")
        U = cluster_space(res.preprocessor, None, feat, clip=False)
        novel = nearest_distance(U, res.clusterer.centroids_) > (
            res.assign_state.novelty_threshold
        )
        assert out["is_novel"].to_list() == novel.tolist()
    assert model.assign(table)["segment_id"].equals(model.labels_["segment_id"])
    flags = model.assign(far)["is_novel"]
    base = model.assign(table)["is_novel"]
    assert flags.head(10).all()
    assert flags.tail(-10).equals(base.tail(-10))


@pytest.mark.parametrize("k", [2, 4])
def test_shap_values_are_shap_treeexplainers(k):
    shap = pytest.importorskip("shap")
    rng = np.random.default_rng(k)
    X = rng.normal(size=(1200, 5))
    X[:, 4] = rng.integers(0, 3, 1200)
    y = np.digitize(X[:, 0] + 0.5 * X[:, 4], np.linspace(-1, 2, k - 1))
    sur = fit_surrogate(X, y, [4], random_state=0)
    Xe = X[:300].copy()
    Xe[5, 1] = np.nan
    got = shap_values(sur, Xe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = np.asarray(shap.TreeExplainer(sur.model).shap_values(Xe))
    if want.ndim == 2:
        want = np.stack([-want, want], axis=-1)
    if want.shape[0] != Xe.shape[0]:
        want = np.moveaxis(want, 0, -1)
    assert got.shape == (300, 5, k)
    assert np.array_equal(got, want)


def test_map_embeds_only_a_stratified_hashed_sample(model, monkeypatch):
    seen = []
    real = plots.clustering_space

    def spy(src, rows=None):
        seen.append(None if rows is None else len(rows))
        return real(src, rows)

    monkeypatch.setattr(plots, "clustering_space", spy)
    monkeypatch.setattr(plots, "MAP_POINTS", 200)
    fig = plots.plot_map(model)
    assert seen == [200]  # only the drawn customers were transformed
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 200
    rows = plots.map_rows(model, cap=200)
    lab = model.labels_["segment_id"].to_numpy()
    # Every segment drawn, in proportion (each at least its share, floored).
    share = np.bincount(lab[rows]) / 200
    assert np.all(np.abs(share - np.bincount(lab) / lab.size) < 0.02)
    # The same customers whatever the row order of the labels.
    ids = set(model.labels_["customer_id"].to_numpy()[rows].tolist())
    res = model.result_
    order = np.random.default_rng(0).permutation(res.labels.height)
    shuffled = dataclasses.replace(
        res, labels=res.labels[order], features=res.features[order]
    )
    got = plots.map_rows(shuffled, cap=200)
    assert set(shuffled.labels["customer_id"].to_numpy()[got].tolist()) == ids


def _labels_by_id(seg: sd.Segmenter) -> dict[int, int]:
    lab = seg.labels_
    return dict(lab.select("customer_id", "segment_id").rows())


def test_sampled_fit_is_hashed_reported_and_independent_of_row_order():
    table = _table()
    kw = {"clusterer": "kmeans", "n_segments": 3, "stability_refits": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        a = sd.Segmenter(max_fit_rows=300, random_state=0, **kw).fit(table)
        shuffled = table.sample(fraction=1.0, shuffle=True, seed=3)
        b = sd.Segmenter(max_fit_rows=300, random_state=0, **kw).fit(shuffled)
    assert a.run_["fit_rows"] == 300
    assert a.run_["sampled_fit"]
    assert "hash" in a.run_["fit_sample"]
    assert a.run_["sweep_rows"] is None  # k given: nothing swept
    assert _labels_by_id(a) == _labels_by_id(b)
    assert np.allclose(
        a.clusterer_.centroids_, b.clusterer_.centroids_, rtol=0, atol=1e-12
    )


def test_default_fit_cap_applies_to_kmeans_not_to_a_users_estimator(monkeypatch):
    from sklearn.cluster import KMeans

    from segdiscover._fit import cluster as _fit_cluster

    monkeypatch.setattr(_fit_cluster, "DEFAULT_FIT_ROWS", 400)
    table = _table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        km = sd.Segmenter(
            clusterer="kmeans", n_segments=3, stability_refits=0, random_state=0
        ).fit(table)
        own = sd.Segmenter(
            clusterer=KMeans(3, n_init=2), stability_refits=0, random_state=0
        ).fit(table)
    assert km.run_["fit_rows"] == 400
    assert own.run_["fit_rows"] == table.height
    assert not own.run_["sampled_fit"]
    assert own.run_["fit_sample"] is None


def test_auto_sweep_runs_on_a_hashed_sample_reported_in_run(monkeypatch):
    from segdiscover._fit import cluster as _fit_cluster

    monkeypatch.setattr(_fit_cluster, "SWEEP_ROWS", 300)
    table = _table()
    kw = {"k_range": (2, 4), "stability_refits": 0, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        a = sd.Segmenter(**kw).fit(table)
        b = sd.Segmenter(**kw).fit(table.sample(fraction=1.0, shuffle=True, seed=5))
    assert a.run_["sweep_rows"] == 300
    cols = ["clusterer", "n_segments", "stability_min", "silhouette", "chosen"]
    assert a.candidates_.select(cols).equals(b.candidates_.select(cols))
    assert a.run_["selection"] == b.run_["selection"]
