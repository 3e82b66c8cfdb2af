"""Run history: stable ids across runs, lineage, migration and drift (issue 6)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover.cli import main
from segdiscover.drift import migration_matrix, psi
from segdiscover.exceptions import InputError, RunStoreError
from segdiscover.lineage import align_runs
from segdiscover.runs import RunStore

N, K = 1500, 4
SPLIT = "frequent_small_orders"


def _fit(data, k: int = K) -> sd.Segmenter:
    # Lineage of planted behaviour: unsupervised (guided runs: tests/test_guide.py).
    seg = sd.Segmenter(
        clusterer="kmeans", n_segments=k, random_state=0, n_jobs=1, guide="none"
    )
    return seg.fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)


@pytest.fixture(scope="module")
def before():
    return sd.datasets.make_customers(N, K, seed=0)


@pytest.fixture(scope="module")
def after_split():
    return sd.datasets.make_customers(N, K, seed=0, drift={"split": SPLIT})


@pytest.fixture(scope="module")
def split_store(tmp_path_factory, before, after_split):
    store = RunStore(tmp_path_factory.mktemp("split") / "runs.duckdb")
    s1, s2 = _fit(before), _fit(after_split, K + 1)
    store.record(s1, label="July")
    store.record(s2, label="August")
    return store, s1, s2


def _ids_names(seg: sd.Segmenter) -> list[tuple[int, str]]:
    return seg.segments_.select("segment_id", "name").rows()


# ----------------------------------------------------------------- stable ids
def test_identical_rerun_keeps_ids_and_names(tmp_path, before):
    store = RunStore(tmp_path / "runs.duckdb")
    s1, s2 = _fit(before), _fit(before)
    assert store.record(s1) == 1
    assert store.record(s2) == 2
    assert _ids_names(s2) == _ids_names(s1)
    assert s2.labels_.equals(s1.labels_)
    lineage = store.lineage(2)
    assert lineage["kind"].to_list() == ["continued"] * K
    assert all("Jaccard 1.00" in t for t in lineage["text"])
    # The stored segments and assignments are the Segmenter's.
    assert store.segments(2).select("segment_id", "name").rows() == _ids_names(s1)
    got = store.assignments(2)
    assert got["segment_id"].to_list() == s1.labels_["segment_id"].to_list()


def test_permuted_labels_are_aligned_back(tmp_path, before):
    store = RunStore(tmp_path / "runs.duckdb")
    s1 = _fit(before).rename({1: "Big baskets"})
    store.record(s1)
    s2 = _fit(before).renumber({0: 3, 1: 0, 2: 1, 3: 2})
    assert _ids_names(s2) != _ids_names(s1)
    store.record(s2)
    assert _ids_names(s2) == _ids_names(s1)
    assert s2.labels_["segment_id"].equals(s1.labels_["segment_id"])
    # A custom name persists as custom; assign keeps matching the new ids.
    assert s2.segments_.filter(pl.col("segment_id") == 1)["name_source"][0] == "custom"
    out = s2.assign(before.tables, as_of=before.as_of)
    assert out["segment_id"].equals(s2.labels_["segment_id"])


def test_renumber_with_gaps_survives_save_and_load(tmp_path, before):
    seg = _fit(before)
    ref = seg.assign(before.tables, as_of=before.as_of)
    seg.renumber({0: 0, 1: 6, 2: 2, 3: 3})
    assert seg.segments_["segment_id"].to_list() == [0, 2, 3, 6]
    assert np.isinf(seg.clusterer_.centroids_[[1, 4, 5]]).all()
    model = sd.load(seg.save(tmp_path / "model"))
    assert model.n_segments_ == K
    out = model.assign(before.tables, as_of=before.as_of)
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    assert out["is_novel"].equals(ref["is_novel"])
    assert out["confidence"].equals(ref["confidence"])


def test_renumber_refuses_a_bad_mapping(before):
    seg = _fit(before)
    with pytest.raises(InputError, match="distinct ids"):
        seg.renumber({0: 1, 1: 1, 2: 2, 3: 3})
    with pytest.raises(InputError, match="distinct ids"):
        seg.renumber({0: 1})


# ----------------------------------------------------------------- lineage
def _split_parent(s1: sd.Segmenter, data) -> int:
    truth = s1.labels_.join(data.truth, on="customer_id")
    top = truth.filter(pl.col("segment") == SPLIT)["segment_id"].mode()
    return int(top[0])


def test_planted_split_is_reported_with_its_parent(split_store, before, after_split):
    store, s1, s2 = split_store
    parent = _split_parent(s1, before)
    lineage = store.lineage(2)
    splits = lineage.filter(pl.col("kind") == "split")
    assert splits.height == 1
    row = splits.row(0, named=True)
    assert row["before"] == [parent]
    # The larger part keeps the parent's id; the other is a new id after all used.
    assert sorted(row["after"]) == [parent, K]
    assert row["text"].startswith(f"segment {parent} split into ")
    # A 50/50 split ties on overlap: the half that still looks like the parent
    # (feature means) keeps its id, the offshoot is the new segment.
    truth = s2.labels_.join(after_split.truth, on="customer_id")
    new_part = truth.filter(pl.col("segment_id") == K)["segment"].mode()[0]
    assert new_part == f"{SPLIT}_offshoot"
    # Every other segment continued with its id and name.
    others = lineage.filter(pl.col("kind") == "continued")["before"].to_list()
    assert sorted(v[0] for v in others) == sorted(set(range(K)) - {parent})
    names1 = dict(_ids_names(s1))
    for sid, name in _ids_names(s2):
        if sid < K:
            assert name == names1[sid]
    status = dict(store.segments(2).select("segment_id", "status").rows())
    assert status[K] == f"split from {parent}"


def _align(prev, new, **kw):
    new_ids = sorted(set(new) | set(kw.pop("extra", [])))
    return align_runs(
        np.array(prev),
        np.array(new),
        current_ids=new_ids,
        current_sizes={c: new.count(c) for c in new_ids},
        previous_ids=sorted(set(prev)),
        next_id=max(prev) + 1,
        **kw,
    )


def test_lineage_merge_birth_and_death():
    merged = _align([0] * 5 + [1] * 5 + [2] * 5, [7] * 10 + [8] * 5)
    kinds = {e.kind: e for e in merged.events}
    assert kinds["merged"].before in ((0, 1), (1, 0))
    assert kinds["merged"].after == (merged.mapping[7],)
    assert "died" not in kinds
    assert kinds["merged"].text.startswith("segments ")

    # Old 1 spreads over two segments that continue others: it ended. A segment of
    # customers new to the run (9, no overlap) is born with a fresh id.
    al = _align([0] * 10 + [1] * 4 + [2] * 10, [5] * 12 + [6] * 12, extra=[9])
    by_kind = {e.kind: e for e in al.events}
    assert al.mapping == {5: 0, 6: 2, 9: 3}
    assert by_kind["died"].before == (1,)
    assert "50%" in by_kind["died"].text
    assert by_kind["born"].after == (3,)
    assert "new to this run" in by_kind["born"].text


def test_weak_match_does_not_inherit_an_id():
    # Old 0 and 1 merge into 4; 6 holds one of old 1's customers and three of old
    # 2's: old 1's Hungarian partner, but not the same segment.
    prev = [0] * 10 + [1] * 9 + [1] + [2] * 3 + [2] * 7
    new = [4] * 10 + [4] * 9 + [6] + [6] * 3 + [5] * 7
    al = _align(prev, new)
    assert al.mapping[5] == 2
    assert al.mapping[6] == 3  # a fresh id
    # ... and by the rules, old 2 split (70% to 5, 30% to 6, which is 75% old 2).
    events = {e.kind: e for e in al.events}
    assert set(events) == {"merged", "split"}
    assert (events["split"].before, events["split"].after) == ((2,), (2, 3))


def test_migration_rows_sum_to_earlier_sizes(split_store):
    store, s1, s2 = split_store
    report = store.drift()
    m = report.migration
    sizes = dict(s1.segments_.select("segment_id", "size").rows())
    seg_rows = m.filter(pl.col("from_segment") != "new")
    cols = [c for c in m.columns if c not in ("from_segment", "total")]
    assert {int(r[0]): r[-1] for r in seg_rows.rows()} == sizes
    assert seg_rows.select(pl.sum_horizontal(cols)).to_series().to_list() == [
        sizes[int(r)] for r in seg_rows["from_segment"]
    ]
    # Same customers in both runs: nobody left or new; columns sum to new sizes.
    assert report.customers == {"both": N, "left": 0, "new": 0}
    new_sizes = dict(s2.segments_.select("segment_id", "size").rows())
    assert {int(c): int(m[c].sum()) for c in cols if c != "left"} == new_sizes


def test_migration_counts_customers_who_left_or_are_new():
    prev = pl.DataFrame({"customer_id": [1, 2, 3, 4], "segment_id": [0, 0, 1, 1]})
    cur = pl.DataFrame({"customer_id": [1, 3, 4, 9], "segment_id": [1, 1, 1, 0]})
    m = migration_matrix(prev, cur)
    assert m.columns == ["from_segment", "0", "1", "left", "total"]
    assert m.rows() == [("0", 0, 1, 1, 2), ("1", 0, 2, 0, 2), ("new", 1, 0, 0, 1)]


def test_drift_report_shares_psi_and_outcomes(split_store, tmp_path):
    store, s1, _ = split_store
    report = store.drift()
    shares = report.shares
    assert shares.height == K + 1
    assert shares.filter(pl.col("segment_id") == K)["size_before"][0] == 0
    overall = report.psi.filter(pl.col("segment_id").is_null())
    assert overall.height == len(s1.feature_meta_)
    # The offshoot buys 6x bigger baskets: the basket feature drifts overall.
    basket = overall.filter(pl.col("feature") == "avg_basket").row(0, named=True)
    assert basket["psi"] >= 0.1
    assert basket["reading"] in ("moderate shift", "major shift")
    assert report.outcomes.filter(pl.col("segment_id").is_null()).height >= 1
    text = str(report)
    assert "split into" in text
    assert "split into" in report._repr_html_()
    written = report.write(tmp_path / "drift")
    assert sorted(written) == ["drift.json", "drift.md", "drift_flows.png"]
    doc = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert doc["customers"]["both"] == N
    assert (tmp_path / "drift" / "drift_flows.png").read_bytes()[:4] == b"\x89PNG"
    assert "### Migration" in (tmp_path / "drift" / "drift.md").read_text()
    with pytest.raises(sd.exceptions.InvalidParameterError, match="no part"):
        report.to_polars("nope")


# ----------------------------------------------------------------- PSI
def test_psi_by_hand_with_nulls_and_empty_bins():
    # Reference: one value each side of the median 1.5, two nulls -> .25 .25 .5.
    # Current: 1 below, none above (floored at 1e-4), three nulls -> .25 0 .75.
    got = psi([1.0, 2.0, None, None], [1.0, None, None, None], bins=2)
    want = (1e-4 - 0.25) * math.log(1e-4 / 0.25) + 0.25 * math.log(0.75 / 0.5)
    assert got == pytest.approx(want, rel=1e-12)


def test_psi_of_identical_or_shuffled_values_is_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    assert psi(x, rng.permutation(x)) == 0.0
    assert psi(x, x + 10) > 0.25  # everything moved to the top bin


# ----------------------------------------------------------------- store file
def test_store_refuses_files_that_are_not_run_stores(tmp_path, before):
    seg = _fit(before)
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    with pytest.raises(RunStoreError, match="not a segdiscover run store"):
        RunStore(junk).record(seg)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (a INTEGER)")
    con.close()
    with pytest.raises(RunStoreError, match=r"not a segdiscover run store.*sales"):
        RunStore(other).runs()
    with pytest.raises(RunStoreError, match="no run store"):
        RunStore(tmp_path / "missing.duckdb").drift()


def test_store_refuses_a_newer_schema_and_one_run_drift(tmp_path, before):
    path = tmp_path / "runs.duckdb"
    store = RunStore(path)
    store.record(_fit(before))
    with pytest.raises(RunStoreError, match="drift needs two runs"):
        store.drift()
    with pytest.raises(InputError, match="no run 7"):
        store.assignments(7)
    con = duckdb.connect(str(path))
    con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(RunStoreError, match="schema version 99"):
        store.runs()


def hold_store(path: Path, ready: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds the store's write lock for ``seconds``."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, pathlib, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            f"pathlib.Path({str(ready)!r}).write_text('1')\n"
            f"time.sleep({seconds})\n",
        ]
    )
    for _ in range(400):
        if ready.exists():
            break
        time.sleep(0.05)
    return holder


def test_a_second_writer_waits_for_the_first(tmp_path, before):
    path = tmp_path / "runs.duckdb"
    store = RunStore(path, lock_timeout=60)
    seg = _fit(before)
    store.record(seg)
    holder = hold_store(path, tmp_path / "ready", 2)
    try:
        started = time.monotonic()
        assert store.record(seg) == 2  # waited for the lock, then recorded
        assert time.monotonic() - started > 0.5
    finally:
        holder.kill()
        holder.wait()


def test_locked_store_is_a_clear_error(tmp_path, before):
    path = tmp_path / "runs.duckdb"
    store = RunStore(path, lock_timeout=0.5)
    seg = _fit(before)
    store.record(seg)
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, pathlib, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            f"pathlib.Path({str(ready)!r}).write_text('1')\n"
            "time.sleep(60)\n",
        ]
    )
    try:
        for _ in range(200):
            if ready.exists():
                break
            time.sleep(0.05)
        with pytest.raises(RunStoreError, match="locked by another process"):
            store.record(seg)
    finally:
        holder.kill()
        holder.wait()


def test_failed_record_writes_nothing_and_restores_ids(tmp_path, before, monkeypatch):
    store = RunStore(tmp_path / "runs.duckdb")
    store.record(_fit(before))
    s2 = _fit(before).renumber({0: 3, 1: 0, 2: 1, 3: 2})
    ids = _ids_names(s2)

    def boom(*args, **kwargs):
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr("segdiscover.runs.RunStore._write_rows", boom)
    with pytest.raises(OSError, match="disk full"):
        store.record(s2)
    assert store.runs().height == 1
    assert _ids_names(s2) == ids


# ----------------------------------------------------------------- datasets
def test_drift_option_keeps_customers_and_defaults(before):
    again = sd.datasets.make_customers(N, K, seed=0, drift=None)
    assert again.tables["orders"].equals(before.tables["orders"])
    moved = sd.datasets.make_customers(
        N, K, seed=0, drift={"moves": (("vip_premium", "bulk_monthly_buyers", 0.5),)}
    )
    assert moved.truth["customer_id"].equals(before.truth["customer_id"])
    size = before.truth.filter(pl.col("segment") == "vip_premium").height
    left = moved.truth.filter(pl.col("segment") == "vip_premium").height
    assert left == size - round(0.5 * size)
    with pytest.raises(sd.exceptions.InvalidParameterError, match="not among"):
        sd.datasets.make_customers(N, K, seed=0, drift={"split": "lapsing"})
    with pytest.raises(sd.exceptions.InvalidParameterError, match=r"\(0, 1\)"):
        sd.datasets.make_customers(
            N, K, seed=0, drift={"split": SPLIT, "split_fraction": 1.5}
        )


# ----------------------------------------------------------------- CLI
def test_cli_discover_runs_then_drift(tmp_path, before, capsys):
    seg = _fit(before)
    table = seg.features_
    t1, t2 = tmp_path / "m1.parquet", tmp_path / "m2.parquet"
    table.write_parquet(t1)
    # Month two: the first 100 customers left, everyone else unchanged.
    table.slice(100).write_parquet(t2)
    runs = str(tmp_path / "runs.duckdb")
    base = ["discover", "--id", "customer_id", "--clusterer", "kmeans", "--k", "3"]
    assert main([*base, "--table", str(t1), "--out", str(tmp_path / "o1"),
                 "--runs", runs, "--run-label", "m1"]) == 0  # fmt: skip
    assert main([*base, "--table", str(t2), "--out", str(tmp_path / "o2"),
                 "--runs", runs]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Recorded run 2" in out
    assert main(["drift", "--runs", runs, "--out", str(tmp_path / "drift")]) == 0
    out = capsys.readouterr().out
    assert "100 left" in out
    assert (tmp_path / "drift" / "drift.md").is_file()
    a1 = pl.read_parquet(tmp_path / "o1" / "assignments.parquet")
    a2 = pl.read_parquet(tmp_path / "o2" / "assignments.parquet")
    # Outputs carry the aligned ids.
    same = a1.join(a2, on="customer_id", suffix="_2")
    agree = (same["segment_id"] == same["segment_id_2"]).mean()
    assert agree > 0.95
    bad = tmp_path / "bad.duckdb"
    bad.write_text("x")
    assert main(["drift", "--runs", str(bad)]) == 2
    assert "not a segdiscover run store" in capsys.readouterr().err


def test_a_near_even_split_goes_to_the_half_that_looks_like_the_parent():
    # 200 customers: similarity weighs up to 2% of them (4 x similarity), so a
    # 101/99 split goes by the profiles, a 120/80 one by the overlap.
    prev = np.zeros(200, dtype=int)
    like_parent = {(0, 5): 0.1, (0, 6): 0.9}
    near = np.r_[np.full(101, 5), np.full(99, 6)]
    al = align_runs(prev, near, current_ids=[5, 6], current_sizes={5: 101, 6: 99},
                    previous_ids=[0], next_id=1, similarity=like_parent)  # fmt: skip
    assert al.mapping == {6: 0, 5: 1}
    clear = np.r_[np.full(120, 5), np.full(80, 6)]
    al = align_runs(prev, clear, current_ids=[5, 6], current_sizes={5: 120, 6: 80},
                    previous_ids=[0], next_id=1, similarity=like_parent)  # fmt: skip
    assert al.mapping == {5: 0, 6: 1}


def test_store_creation_is_all_or_nothing(tmp_path, before):
    import os

    seg = _fit(before)
    # What a writer killed before DuckDB wrote anything leaves: a 0-byte file.
    torn = tmp_path / "runs.duckdb"
    torn.write_bytes(b"")
    # ... and the temporary of a creation killed an hour ago.
    debris = tmp_path / ".runs.duckdb.creating-old.duckdb"
    debris.write_bytes(b"x")
    os.utime(debris, (time.time() - 7200, time.time() - 7200))
    store = RunStore(torn)
    assert store.record(seg) == 1
    assert store.runs().height == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.duckdb"]
