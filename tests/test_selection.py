"""The auto sweep: stability interval, adaptive refits and the honest stable flag."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from segdiscover.clusterers import CLUSTERERS
from segdiscover.selection import (
    attribute_cut,
    jaccard_interval,
    point_masses,
    reference_fit,
    sweep,
    two_valued,
)

KM = [CLUSTERERS["kmeans"]]


def test_interval_brackets_the_smallest_mean():
    rng = np.random.default_rng(0)
    jac = np.clip(rng.normal([0.95, 0.82, 0.9], 0.05, (12, 3)), 0, 1)
    jmin, lo, hi = jaccard_interval(jac, 0.9)
    assert jmin == pytest.approx(jac.mean(0).min())
    assert lo < jmin <= hi
    # More confidence, wider interval; the point estimate does not move.
    j2, lo2, hi2 = jaccard_interval(jac, 0.99)
    assert j2 == jmin
    assert lo2 < lo
    assert hi2 >= hi
    # By hand, one segment: mean 0.8, sd 0.1, 4 refits, t(0.95, 3) = 2.353.
    one = np.array([[0.7], [0.8], [0.9], [0.8]])
    sd = np.std(one, ddof=1)
    assert jaccard_interval(one)[1] == pytest.approx(0.8 - 2.3534 * sd / 2, abs=1e-3)


def test_clear_structure_is_stable_with_bounds_in_the_table():
    X, _ = make_blobs(900, centers=4, cluster_std=1.0, random_state=2)
    sel = sweep(X, KM, [2, 3, 4, 5, 6], random_state=0)
    assert sel.stable
    assert sel.n_segments == 4
    t = sel.candidates
    for c in ("stability_lo", "stability_hi", "stability_refits", "stable"):
        assert c in t.columns
    assert (t["stability_lo"] <= t["stability_min"]).all()
    assert (t["stability_min"] <= t["stability_hi"] + 1e-12).all()
    chosen = t.filter(t["chosen"])
    assert chosen["stable"][0]
    assert chosen["stability_lo"][0] >= 0.8


def test_same_k_for_several_seeds_on_structured_data():
    X, _ = make_blobs(700, centers=5, cluster_std=1.2, random_state=7)
    ks = {sweep(X, KM, range(3, 8), random_state=r).n_segments for r in (0, 1, 2)}
    assert ks == {5}


def test_no_structure_is_not_called_stable():
    X = np.random.default_rng(0).normal(size=(600, 6))
    sel = sweep(X, KM, [3, 4, 5, 6], random_state=0)
    assert not sel.stable
    assert sel.reason.startswith("no stable segmentation: ")
    # It still names the least unstable candidate, which is the pick.
    t = sel.candidates
    best = t.sort("stability_lo", descending=True).row(0, named=True)
    assert sel.n_segments == best["n_segments"]
    assert f"{best['n_segments']} segments" in sel.reason


def test_straddling_candidates_get_more_refits_and_are_not_stable():
    X = np.random.default_rng(1).normal(size=(600, 2))
    sel = sweep(X, KM, [2, 3, 4, 5], random_state=0, n_refits=4, max_refits=12)
    t = sel.candidates
    assert t["stability_refits"].is_in([4, 8, 12]).all()
    straddle = (t["stability_lo"] < 0.8) & (t["stability_hi"] >= 0.8)
    # Whoever still straddles after the extra refits used all of them.
    assert (t.filter(straddle)["stability_refits"] == 12).all()
    assert not t.filter(straddle)["stable"].any()
    assert (t.filter(t["stable"])["stability_lo"] >= 0.8).all()


def test_no_refits_means_not_measured_and_not_stable():
    X, _ = make_blobs(300, centers=3, random_state=0)
    sel = sweep(X, KM, [2, 3, 4], random_state=0, n_refits=0)
    assert not sel.stable
    assert sel.reason.startswith("no stable segmentation: stability could not")
    assert sel.candidates["stable"].is_null().all()


def _blobs_and_a_flag() -> tuple[np.ndarray, np.ndarray]:
    # Three behaviour groups and a yes/no fact (standardised: -1/+1) unrelated to
    # them: k-means at k = 6 cuts each group by the flag, stably and across a gap.
    X, y = make_blobs(
        900,
        n_features=4,
        centers=3,
        cluster_std=0.6,
        center_box=(-10, 10),
        random_state=3,
    )
    X = (X - X.mean(0)) / X.std(0)
    flag = np.random.default_rng(0).random(900) < 0.5
    return np.c_[X, np.where(flag, 1.0, -1.0)], y


def test_a_group_cut_by_one_flag_is_not_two_segments():
    X, _ = _blobs_and_a_flag()
    ks = [2, 3, 4, 5, 6, 7]
    off = sweep(X, KM, ks, random_state=0, max_cut=1.01)
    on = sweep(X, KM, ks, random_state=0)
    t = on.candidates
    six = t.filter(t["n_segments"] == 6).row(0, named=True)
    # The cut passes every other test: stable, and a valley between the halves.
    assert six["stable"]
    assert six["valley_max"] < 0.5
    assert six["attribute_cut"] > 0.99
    assert off.n_segments == 6
    assert on.n_segments == 3
    assert "yes/no column" in on.reason


def test_attribute_cut_by_hand():
    # Two segments whose centres differ by 2 on the flag and by 1 on a number:
    # the flag carries 4 / (4 + 1) of the squared distance.
    X = np.array([[0.0, 0.0], [1.0, 2.0]] * 10)
    assert two_valued(X).tolist() == [True, True]
    # An imputed null adds a third value on one row in 20: still a yes/no fact.
    X[0, 1] = 0.7
    assert two_valued(X).tolist() == [True, True]
    num = np.r_[np.zeros(10), np.ones(10)] + np.tile([0.0, 0.01], 10)
    flag = np.r_[np.zeros(10), np.full(10, 2.0)]
    Z = np.c_[num, flag]
    assert two_valued(Z).tolist() == [False, True]
    labels = np.r_[np.zeros(10, int), np.ones(10, int)]
    # centre gap: 1.0 on the number, 2.0 on the flag -> 4 / 5
    assert attribute_cut(Z, labels) == pytest.approx(4 / 5)
    assert np.isnan(attribute_cut(Z, np.zeros(20, int)))


def test_the_pick_refits_to_the_partition_that_was_measured():
    from sklearn.metrics import silhouette_score

    X, _ = make_blobs(600, centers=5, cluster_std=2.5, random_state=7)
    sel = sweep(X, KM, [2, 3, 4, 5, 6], random_state=11)
    assert isinstance(sel.seed, int)
    labels = (
        CLUSTERERS["kmeans"]
        .factory(n_clusters=sel.n_segments, random_state=sel.seed)
        .fit(X)
        .labels_
    )
    chosen = sel.candidates.filter(sel.candidates["chosen"]).row(0, named=True)
    # n <= score_rows: the silhouette was computed on every row, so it identifies
    # the partition.
    assert silhouette_score(X, labels) == pytest.approx(chosen["silhouette"], rel=1e-8)


def test_a_fixed_k_is_not_called_the_largest_stable_one():
    X, _ = make_blobs(600, centers=4, cluster_std=1.0, random_state=2)
    sel = sweep(X, [CLUSTERERS["kmeans"], CLUSTERERS["gmm"]], [4], random_state=0)
    assert sel.reason.startswith("4 segments as given")
    assert "largest number" not in sel.reason


def _split_fit(bad_seeds: set[int]):
    # Two groups on x; a "clusterer" that cuts along y (a worse optimum) from some
    # seeds and along x from the others, recording the seeds it was fitted with.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (150, 2)), rng.normal([6, 0], 1, (150, 2))]
    good = (X[:, 0] > 3).astype(int)
    seen: list[int] = []

    def fit(s: int) -> tuple[int, np.ndarray]:
        seen.append(s)
        if s in bad_seeds:
            return s, (X[:, 1] > 0).astype(int)
        return s, good

    return fit, good, seen


def test_reference_fit_keeps_the_partition_two_starts_agree_on():
    fit, good, seen = _split_fit({5})
    s, adapter, labels, n = reference_fit(fit, 5, most=4)
    # The first seed landed in the worse split; the next two agreed on the other.
    assert n == 3
    assert seen[0] == 5
    assert s == seen[1] != 5
    assert adapter == s
    assert (labels == good).all()
    # The seed's own fit is kept when the second start agrees with it.
    fit, good, seen = _split_fit(set())
    s, _, labels, n = reference_fit(fit, 5, most=4)
    assert (s, n, len(seen)) == (5, 2, 2)
    # most=1: one fit from the seed, whatever it found.
    fit, good, seen = _split_fit({5})
    s, _, labels, n = reference_fit(fit, 5, most=1)
    assert (s, n) == (5, 1)
    assert not (labels == good).all()


def test_reference_fit_reuses_a_first_fit_it_is_given():
    fit, good, seen = _split_fit({5})
    bad = (5, fit(5)[1])
    seen.clear()
    s, _, labels, n = reference_fit(fit, 5, most=4, first=bad)
    # The same answer as fitting seed 5 itself, without that fit.
    assert (n, 5 not in seen) == (3, True)
    assert s == seen[0] != 5
    assert (labels == good).all()


def test_reference_fit_without_agreement_keeps_the_most_central_partition():
    base = np.repeat([0, 1, 2, 3], 50)
    rng = np.random.default_rng(1)
    parts = {}
    for i, flips in enumerate([60, 5, 40, 70]):  # fit 1 is nearest to them all
        lab = base.copy()
        idx = rng.choice(200, flips, replace=False)
        lab[idx] = rng.integers(0, 4, flips)
        parts[i] = lab

    order: list[int] = []

    def fit(s: int) -> tuple[None, np.ndarray]:
        order.append(s)
        return None, parts[len(order) - 1]

    s, _, labels, n = reference_fit(fit, 9, most=4, same=0.999)
    assert n == 4
    assert s == order[1]
    assert (labels == parts[1]).all()


def test_the_sweep_records_its_reference_fits_and_the_picks_seed():
    X, _ = make_blobs(500, centers=3, random_state=4)
    sel = sweep(X, KM, [2, 3, 4], random_state=0)
    t = sel.candidates
    made = t["stable"] | (t["refit_agreement"] >= 0.7)
    assert t.filter(made)["reference_fits"].is_between(2, 4).all()
    assert (t.filter(~made)["reference_fits"] == 1).all()  # k = 4 on 3 blobs
    chosen = t.filter(t["chosen"]).row(0, named=True)
    assert sel.seed == chosen["fit_seed"]
    # One fit each: every candidate from the same seed, as before reference fits.
    one = sweep(X, KM, [2, 3, 4], random_state=0, reference_fits=1)
    assert (one.candidates["reference_fits"] == 1).all()
    assert one.candidates["fit_seed"].n_unique() == 1


def test_reference_fits_are_skipped_only_where_the_refits_disagree():
    rng = np.random.default_rng(0)
    noise = rng.uniform(size=(700, 2))
    sel = sweep(noise, KM, [8, 9], random_state=0)
    t = sel.candidates
    # Nothing to reproduce: unstable, and no extra fits were spent on it.
    assert not t["stable"].any()
    assert (t["refit_agreement"] < 0.7).all()
    assert (t["reference_fits"] == 1).all()
    every = sweep(noise, KM, [8, 9], random_state=0, min_agreement=0.0)
    assert (every.candidates["reference_fits"] >= 2).all()
    assert not every.candidates["stable"].any()


def test_skipping_reference_fits_changes_no_verdict_on_structure():
    X, _ = make_blobs(800, centers=4, cluster_std=1.2, random_state=3)
    ks = [2, 3, 4, 5, 6, 7]
    gated = sweep(X, KM, ks, random_state=1)
    every = sweep(X, KM, ks, random_state=1, min_agreement=0.0)
    cols = ["n_segments", "stable", "stability_lo", "stability_refits", "silhouette"]
    g, e = gated.candidates, every.candidates
    stable = g["stable"].to_numpy()
    assert stable.any()
    # Candidates stable against their first fit are measured exactly as before.
    assert g.filter(stable).select(cols).equals(e.filter(stable).select(cols))
    assert (gated.n_segments, gated.seed) == (every.n_segments, every.seed)
    assert g["refit_agreement"].equals(e["refit_agreement"])


def test_refits_side_by_side_give_the_same_table():
    X, _ = make_blobs(600, centers=3, cluster_std=1.5, random_state=7)
    specs = [CLUSTERERS["kmeans"], CLUSTERERS["gmm"]]
    one = sweep(X, specs, [2, 3, 4], random_state=0)
    two = sweep(X, specs, [2, 3, 4], random_state=0, n_jobs=2)
    assert one.candidates.drop("fit_seconds").equals(two.candidates.drop("fit_seconds"))
    assert (one.clusterer, one.n_segments, one.seed) == (
        two.clusterer, two.n_segments, two.seed,
    )  # fmt: skip


def test_a_group_cut_at_a_zero_inflated_amount_is_not_two_segments():
    # Three behaviour groups and an amount that is 0 for 60% of customers (the share
    # of severe tickets: most have none), unrelated to the groups. Its mass at 0 has
    # the built-in gap of a flag, so k-means cuts each group at it reproducibly.
    X, _ = _blobs_and_a_flag()
    rng = np.random.default_rng(1)
    amount = np.where(rng.random(900) < 0.6, 0.0, rng.uniform(1.5, 3.0, 900))
    X = np.c_[X[:, :4], (amount - amount.mean()) / amount.std()]
    assert not two_valued(X)[4]
    ks = [2, 3, 4, 5, 6, 7]
    off = sweep(X, KM, ks, random_state=0, max_cut=1.01)
    on = sweep(X, KM, ks, random_state=0, mass_cut=True)
    six = on.candidates.filter(on.candidates["n_segments"] == 6).row(0, named=True)
    assert six["stable"]
    assert six["attribute_cut"] > 0.8
    assert off.n_segments > 3
    assert on.n_segments == 3


def test_point_mass_cut_by_hand():
    # Segment 0 sits at the mass (0) of column 1, segment 1 never does: a cut.
    mass = np.r_[np.zeros(50), np.linspace(2.0, 3.0, 50)]
    Z = np.c_[np.r_[np.linspace(0, 0.1, 50), np.linspace(1, 1.1, 50)], mass]
    cols, values = point_masses(Z)
    assert cols.tolist() == [1]
    assert values.tolist() == [0.0]
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    gap = np.array([1.0, 2.5]) ** 2
    assert attribute_cut(Z, labels, masses=(cols, values)) == pytest.approx(
        gap[1] / gap.sum()
    )
    assert attribute_cut(Z, labels) == 0.0  # masses not asked for
    # Half of each segment at the mass: not a cut at it.
    Z[:, 1] = np.r_[np.zeros(25), np.linspace(2, 3, 25), np.zeros(25), np.ones(25) * 4]
    assert attribute_cut(Z, labels, masses=point_masses(Z)) == 0.0
