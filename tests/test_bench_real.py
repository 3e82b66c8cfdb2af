"""The real-data benchmark's loaders, spread and hand-made baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import _real_tables as real  # noqa: E402
import bench_real  # noqa: E402


def test_ifood_loads_with_its_outcome_and_exclusions():
    folder = real.DEFAULT_DATA / real.TABLES["ifood"][0]
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (shared data not on this machine)")
    t = real.load("ifood")
    table, id_col, outcomes, exclude, _ = t
    assert table.shape == (2240, 30)  # 29 columns of the file + days_enrolled
    assert id_col == "ID"
    assert table[id_col].n_unique() == table.height
    assert outcomes == ["Response"]
    assert int(table["Response"].sum()) == 334  # SOURCE.md: 334 yes / 1,906 no
    # the excluded Z_ columns really are constants, as SOURCE.md says
    assert table["Z_CostContact"].n_unique() == 1
    assert table["Z_Revenue"].n_unique() == 1
    assert set(exclude) <= set(table.columns)
    # enrolment dates span 2012-07-30 .. 2014-06-29: 699 days
    assert table["days_enrolled"].min() == 0
    assert table["days_enrolled"].max() == 699
    # the outcome as 0/1 for the spread, same rows
    y = bench_real.outcome_frame(t)
    assert y.columns == ["ID", "Response"]
    assert y["Response"].sum() == 334


def test_absent_folder_is_skipped_with_a_message(tmp_path, capsys):
    assert real.load("caravan", tmp_path) is None
    assert "caravan-insurance is absent" in capsys.readouterr().out


def test_yes_no_outcome_counts_yes_as_one():
    t = real.RealTable(
        pl.DataFrame({"id": [1, 2, 3, 4], "Churn": ["No", "Yes", "Yes", None]}),
        "id",
        ["Churn"],
        [],
    )
    assert bench_real.outcome_frame(t)["Churn"].to_list() == [0.0, 1.0, 1.0, None]


def test_spread_by_hand():
    labels = np.array([0, 0, 1, 1, 1, 2, -1])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 9.0])
    # segment means 1/2, 2/3, 0; segment -1 (noise) left out
    assert_allclose(bench_real.spread(labels, y), 2 / 3)
    # one segment only: no spread
    assert np.isnan(bench_real.spread(np.zeros(3, int), np.ones(3)))


def test_spread_on_a_subset_of_customers():
    ids = pl.Series("id", [10, 11, 12, 13])
    labels = np.array([0, 0, 1, 1])
    y = pl.DataFrame({"id": [13, 12, 11, 10], "o": [1.0, 0.0, 1.0, 0.0]})
    # all: segment 0 = {10: 0, 11: 1} -> 0.5, segment 1 = {12: 0, 13: 1} -> 0.5
    assert_allclose(bench_real.spread_on(ids, labels, y, None), 0.0)
    # customers 11 and 12 only: 1.0 - 0.0
    keep = pl.Series([11, 12])
    assert_allclose(bench_real.spread_on(ids, labels, y, keep), 1.0)


def test_hand_matrix_by_hand():
    f = pl.DataFrame({"a": [1.0, None, 3.0], "c": ["x", None, "x"]})
    X = bench_real.hand_matrix(f, ["a"], ["c"])
    # median 2 fills the null; (1, 2, 3) standardised: (x - 2) / sqrt(2/3)
    s = np.sqrt(2 / 3)
    assert_allclose(X[:, 0], [-1 / s, 0.0, 1 / s])
    # one-hot, null a level of its own: columns "(missing)", "x"
    assert_allclose(X[:, 1:], [[0, 1], [1, 0], [0, 1]])


def test_hand_baseline_finds_two_obvious_groups():
    # the null spend is filled with the median of (1, 2, 3, 101, 102): 3, so the
    # fourth customer sits with the other basic-plan customers
    f = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "spend": [1.0, 2.0, 3.0, None, 101.0, 102.0],
            "plan": ["basic", "basic", "basic", "basic", "gold", "gold"],
            "churn": [1, 1, 0, 0, 0, 0],
        }
    )
    t = real.RealTable(f, "id", ["churn"], [])
    num, cat = bench_real.hand_features(t)
    assert (num, cat) == (["spend"], ["plan"])
    lab = bench_real.hand_labels(f, num, cat, 2)
    assert len(set(lab[:4])) == 1
    assert len(set(lab[4:])) == 1
    assert lab[0] != lab[4]
    # churn 2/4 in the basic group, 0/2 in the gold group
    y = bench_real.outcome_frame(t)
    assert_allclose(bench_real.spread_on(f["id"], lab, y, None), 0.5)


def test_fp_only_table_pools_the_shuffles():
    def row(name, fp, n):
        return {"table": name, "n": 1000, "outcome": "churn",
                "fp": {"false_positives": fp, "permutations": n, "k": 4}}  # fmt: skip

    prov = {"commit": "abc1234", "src_dirty_files": "none"}
    md = bench_real.render_fp([row("a", 1, 100), row("b", 0, 100)], prov)
    assert "| a | 1,000 | churn | 4 | 1/100 |" in md
    # 1 of 200 pooled; the 95% upper end is Beta(0.975; 2, 199): about 2.8%
    assert md[-1].startswith("Pooled false-positive rate: 1/200 = 0.5% (95% upper 2.")
    assert md[-1].endswith("target <= 5%).")
