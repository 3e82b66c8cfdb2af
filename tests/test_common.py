"""One contract, checked over every registered clusterer (and user estimators)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import segdiscover as sd
from segdiscover.clusterers import CLUSTERERS

NAMES = sorted(CLUSTERERS)


def blobs(n: int = 400, seed: int = 0) -> np.ndarray:
    X, _ = make_blobs(
        n_samples=n, centers=4, n_features=5, cluster_std=0.6, random_state=seed
    )
    return X


def make(name: str, k: int = 4, seed: int = 0):
    spec = CLUSTERERS[name]
    return spec.factory(
        n_clusters=k if spec.needs_k else None, random_state=seed, **spec.test_params
    )


def blob_table(n: int = 1200) -> pl.DataFrame:
    X, _ = make_blobs(
        n_samples=n, centers=4, n_features=4, cluster_std=0.7, random_state=3
    )
    return pl.DataFrame({"id": np.arange(n), **{f"f{j}": X[:, j] for j in range(4)}})


@pytest.mark.parametrize("name", NAMES)
def test_labels_shape_and_numbering(name):
    a = make(name).fit(blobs())
    labels = a.labels_
    assert labels.shape == (400,)
    assert labels.dtype == np.int64
    found = np.unique(labels[labels >= 0])
    assert found.tolist() == list(range(a.n_segments_))
    if not CLUSTERERS[name].noise:
        assert (labels >= 0).all()
    sizes = np.bincount(labels[labels >= 0])
    assert (np.diff(sizes) <= 0).all(), "segment 0 is the largest"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_seed(name):
    X = blobs()
    a = make(name, seed=7).fit(X).labels_
    b = make(name, seed=7).fit(X).labels_
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_assign_reproduces_training_labels(name):
    X = blobs()
    a = make(name).fit(X)
    labels, conf = a.assign(X)
    ok = a.labels_ >= 0
    agree = (labels[ok] == a.labels_[ok]).mean()
    assert agree >= (0.99 if CLUSTERERS[name].native_assign else 0.95)
    assert ((conf >= 0) & (conf <= 1)).all()
    assert set(np.unique(labels)) <= set(range(-1, a.n_segments_))


@pytest.mark.parametrize("name", NAMES)
def test_sampled_fit_then_assign_through_segmenter(name):
    table = blob_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = sd.Segmenter(
            clusterer=name,
            n_segments=4,
            id="id",
            max_fit_rows=300,
            shap_max_rows=200,
            random_state=0,
        ).fit(table)
    assert seg.run_["sampled_fit"]
    assert seg.run_["fit_rows"] == 300
    assert seg.labels_.height == table.height
    assert seg.labels_["segment_id"].min() >= 0  # noise assigned by default
    assert seg.labels_["id"].to_list() == table["id"].to_list()


@pytest.mark.parametrize("name", NAMES)
def test_does_not_mutate_input(name):
    X = blobs()
    before = X.copy()
    make(name).fit(X).assign(X)
    assert np.array_equal(X, before)


@pytest.mark.parametrize("name", NAMES)
def test_row_order_does_not_change_partition(name):
    if name in ("birch", "hdbscan", "ward"):
        pytest.skip("order-dependent by construction; the pipeline sorts rows by id")
    X = blobs()
    perm = np.random.default_rng(1).permutation(len(X))
    a = make(name).fit(X).labels_
    b = make(name).fit(X[perm]).labels_
    assert adjusted_rand_score(a[perm], b) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "estimator",
    [KMeans(n_init=2), AgglomerativeClustering()],
    ids=["with-predict", "without-predict"],
)
def test_any_sklearn_estimator_plugs_in(estimator):
    table = blob_table(600)
    seg = sd.Segmenter(clusterer=estimator, n_segments=4, id="id", random_state=0)
    seg.fit(table)
    assert seg.n_segments_ == 4
    assert seg.run_["clusterer"] == type(estimator).__name__
    assert estimator.get_params()["n_clusters"] in (8, 2)  # user's object untouched


def test_estimator_without_fit_is_refused_clearly():
    class NotAnEstimator:
        def get_params(self):
            return {}

    with pytest.raises(sd.exceptions.InvalidParameterError, match="lacks fit"):
        sd.Segmenter(clusterer=NotAnEstimator()).fit(
            blob_table(100),
        )
