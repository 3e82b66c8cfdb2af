"""k-means split-merge refinement (`centroid.split_merge`)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segdiscover.clusterers.centroid import KMeansAdapter, split_merge


def _one_large_two_small(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    groups = [((0.0, 0.0), 400), ((6.0, 0.0), 60), ((6.0, 2.0), 60)]
    X = np.vstack([rng.normal(c, 0.3, (n, 2)) for c, n in groups])
    return X, np.repeat([0, 1, 2], [n for _, n in groups])


def test_a_centre_on_two_small_groups_moves_to_them():
    # The optimum restarts keep returning on groups of unequal size: two centres
    # cut the large group, one holds both small groups.
    X, truth = _one_large_two_small()
    bad = KMeans(3, init=np.array([[-0.5, 0], [0.5, 0], [6, 1]]), n_init=1).fit(X)
    assert adjusted_rand_score(truth, bad.labels_) < 0.7
    good = split_merge(X, bad, np.random.RandomState(0))
    assert adjusted_rand_score(truth, good.labels_) == 1.0
    assert good.inertia_ < bad.inertia_


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), n=st.integers(8, 80))
def test_never_worse_than_the_fit_it_starts_from(seed, k, n):
    rng = np.random.RandomState(seed)
    centres = rng.normal(0, 4, (4, 3))
    X = centres[rng.randint(0, 4, n)] + rng.normal(0, rng.uniform(0.1, 2), (n, 3))
    k = min(k, n)
    start = KMeans(k, n_init=1, random_state=seed).fit(X)
    out = split_merge(X, start, np.random.RandomState(seed))
    assert out.inertia_ <= start.inertia_
    assert out.labels_.shape == (n,)
    assert out.labels_.max() < k


def test_same_seed_same_partition():
    X, _ = _one_large_two_small(1)
    runs = [
        KMeansAdapter(n_clusters=3, n_init=1, random_state=7, split_merge=True)
        .fit(X)
        .labels_
        for _ in range(2)
    ]
    assert np.array_equal(*runs)


def test_off_it_is_scikit_learn_kmeans():
    X, _ = _one_large_two_small(2)
    ours = KMeansAdapter(n_clusters=3, random_state=0, split_merge=False).fit(X)
    plain = KMeans(3, n_init=10, random_state=np.random.RandomState(0)).fit(X)
    assert adjusted_rand_score(plain.labels_, ours.labels_) == 1.0


def test_identical_rows_are_left_alone():
    # A cluster of one repeated point has nothing to split (no warning, no move).
    X = np.repeat([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]], 10, axis=0)
    start = KMeans(4, n_init=1, random_state=0).fit(X)
    out = split_merge(X, start, np.random.RandomState(0))
    assert out.inertia_ == start.inertia_ == 0.0
