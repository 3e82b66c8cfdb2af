"""The benchmark harness: metrics by hand, strategies, cache, failures, suites, CLI."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import polars as pl
import pytest
from numpy.testing import assert_allclose

import segdiscover.bench as bench
from segdiscover.bench import _evaluate, _run
from segdiscover.bench._cli import SUITE_NAMES, add_parser
from segdiscover.clusterers import CLUSTERERS, ClustererSpec
from segdiscover.clusterers.centroid import KMeansAdapter
from segdiscover.exceptions import EXIT_CODES, InputError, SegdiscoverError

nca = bench.normalized_clustering_accuracy


# ------------------------------------------------------------------ NCA by hand
@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        # the same partition under other labels
        ([0, 0, 1, 1, 2], [7, 7, 3, 3, 9], 1.0),
        # each cluster half right: mean recall 0.5 = 1/K -> 0
        ([0, 0, 1, 1], [0, 1, 0, 1], 0.0),
        # recalls 3/4 and 2/2: mean 0.875 -> (0.875 - 0.5) / 0.5
        ([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1], 0.75),
        # everything in one cluster: the padded matching finds 1/3 -> 0
        ([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0], 0.0),
        # an extra predicted cluster matches nothing: recalls 2/4, 2/2
        ([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2], 0.5),
        # sizes 6 and 2: recalls 6/6 and 1/2 -> mean 0.75 -> 0.5
        ([0] * 6 + [1, 1], [0] * 7 + [1], 0.5),
        # the reverse: sizes 7 and 1, recalls 6/7 and 1/1 -> mean 13/14 -> 6/7
        ([0] * 7 + [1], [0] * 6 + [1, 1], 6 / 7),
        # three clusters, the third split over the other two's clusters: matched
        # one to one, it gets the padded empty cluster -> recalls 1, 1, 0 (taking
        # a half instead costs a whole one) -> mean 2/3 -> (2/3 - 1/3) / (2/3)
        ([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 0, 1], 0.5),
    ],
)
def test_nca_against_hand_worked_examples(truth, pred, expected):
    assert_allclose(nca(truth, pred), expected, atol=1e-12)


def test_nca_is_asymmetric_and_checks_its_input():
    a, b = [0] * 6 + [1, 1], [0] * 7 + [1]
    assert nca(a, b) != pytest.approx(nca(b, a))
    with pytest.raises(ValueError, match="two or more clusters"):
        nca([1, 1, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="one length"):
        nca([0, 1], [0, 1, 1])


def test_score_partition_leaves_noise_out_and_takes_the_best_reference():
    pred = np.array([0, 0, 1, 1, 1, 0])
    refs = [np.array([1, 1, 2, 2, 0, 0]), np.array([1, 2, 1, 2, 1, 2])]
    s = bench.score_partition(pred, refs, noise_label=0)
    assert s["ari"] == 1.0
    assert s["nca"] == 1.0
    assert s["true_k"] == 2
    # With the noise points counted the first reference no longer fits perfectly.
    assert bench.score_partition(pred, refs)["nca"] < 1.0


def test_driver_precision_by_hand():
    planted = {"a": [("x", "+"), ("y", "-")], "b": [("z", "+")], "c": []}
    found = {"a": [("x", "+"), ("y", "-"), ("w", "+")], "b": [("z", "-")]}
    # a: 2 of 3 planted; b: the direction is wrong, 0 of 3; c: nothing planted
    assert_allclose(bench.driver_precision(found, planted), (2 / 3 + 0) / 2)


# ------------------------------------------------------------------ published protocol
DATA = bench.clustbench_datasets.__globals__["default_data_dir"]()


def test_protocol_matrix_by_hand():
    X = np.array([[1.0, 3.0, 0.0], [3.0, 3.0, 2.0], [5.0, 3.0, 4.0]])
    Y = bench.protocol_matrix(X)
    # constant column dropped; each column centred; all divided by one factor,
    # the std (ddof 1) of the 6 values 1, 3, 5, 0, 2, 4 around their grand mean
    # 2.5: squares 2.25 + .25 + 6.25 + 6.25 + .25 + 2.25 = 17.5 -> sqrt(17.5 / 5)
    assert Y.shape == (3, 2)
    assert Y.dtype == np.float32
    assert_allclose(Y[:, 0], [-2, 0, 2] / np.sqrt(17.5 / 5), atol=1e-5)
    assert_allclose(Y[:, 1], Y[:, 0], atol=1e-5)


def test_ward_reproduces_the_published_scores_exactly_on_a_tied_dataset():
    # wut/z1 is where another tie-breaking draw moves Ward by 0.18 ARI; the
    # protocol's seeded draw gives the published partition, so NCA and AMI match
    # too (the published NCA is 17/64).
    sets, msg = bench.clustbench_datasets(DATA, names=["wut/z1"])
    if msg:
        pytest.skip(msg)
    ward = next(s for s in bench.protocol_strategies() if s.reference.endswith("ward"))
    row = _evaluate.evaluate(sets[0], ward, 0)
    pub = bench.published_scores(DATA).filter(
        (pl.col("dataset") == "wut/z1") & (pl.col("method") == "fastcluster_ward")
    )
    assert row["status"] == "ok"
    assert_allclose(row["ari"], pub["ari"][0], atol=1e-12)
    assert_allclose(row["ami"], pub["ami"][0], atol=1e-9)
    assert_allclose(row["nca"], 17 / 64, atol=1e-12)
    assert_allclose(pub["nca"][0], 17 / 64, atol=1e-12)


def test_published_scores_sit_beside_ours_and_reproduction_judges_them():
    results = pl.DataFrame(
        {
            "dataset": ["a", "b", "a", "b"],
            "strategy": ["w", "w", "k", "k"],
            "status": ["ok"] * 4,
            "reference": ["m1", "m1", "m2", "m2"],
            "ari": [0.5, 0.9, 0.30, 0.80],
            "n": [10, 20, 10, 20],
        }
    )
    published = pl.DataFrame(
        {
            "dataset": ["a", "a", "b", "b"],
            "method": ["m1", "m2", "m1", "m2"],
            "ari": [0.5, 0.25, 0.95, 0.81],
            "ami": [0.0] * 4,
            "nca": [0.1, 0.2, 0.3, 0.4],
        }
    )
    joined = bench.add_published(results, published)
    assert joined["published_ari"].to_list() == [0.5, 0.95, 0.25, 0.81]
    assert joined["best_published_method"].to_list() == ["m1", "m1", "m1", "m1"]
    rep = bench.reproduction(joined).sort("strategy")
    # k: median 0.55 vs 0.53 (m2 has no target: medians within 0.03) -> met
    # w: medians 0.7 vs 0.725 -> met (unknown methods are judged on medians)
    assert rep["median_difference"].to_list() == pytest.approx([0.02, -0.025])
    assert rep["max_abs_difference"].to_list() == pytest.approx([0.05, 0.05])
    assert rep["met"].to_list() == [True, True]


def test_where_we_stand_compares_our_strategies_with_the_best_published_per_dataset(
    monkeypatch,
):
    from segdiscover.bench import _clustbench, _report

    ours = pl.DataFrame(
        {
            "dataset": ["a", "b", "a", "b"],
            "strategy": ["auto", "auto", "off", "off"],
            "status": ["ok", "ok", "not applicable", "not applicable"],
            "reference": [None, None, None, None],
            "ari": [0.60, 0.90, None, None],
            "n": [10, 20, 10, 20],
            "error": [None, None, "needs k", "needs k"],
        },
        schema_overrides={"reference": pl.String, "ari": pl.Float64},
    )
    published = pl.DataFrame(
        {
            "dataset": ["a", "a", "b", "b"],
            "method": ["m1", "m2", "m1", "m2"],
            "ari": [0.5, 0.7, 0.95, 0.81],
            "ami": [0.0] * 4,
            "nca": [0.1, 0.2, 0.3, 0.4],
        }
    )
    monkeypatch.setattr(_clustbench, "published_scores", lambda *a, **k: published)
    lines = _report.where_we_stand(bench.add_published(ours, published))
    text = "\n".join(lines)
    # m1's median over a, b is 0.725 against m2's 0.755: m2 is the best fixed method.
    assert "`m2`, median ARI 0.755" in text
    # auto: 0.60 vs best 0.70 on a, 0.90 vs 0.95 on b -> gaps -0.10, -0.05.
    row = next(ln for ln in lines if ln.startswith("| auto |"))
    assert row == "| auto | 2 | 0.750 | 0.750 | -0.075 | 0 |"
    assert "`off` did not run on the battery: needs k." in text


# ------------------------------------------------------------------ strategies
def test_strategy_errors_name_the_key(tmp_path):
    with pytest.raises(
        InputError, match=r"preprocess has unknown key\(s\) \['lgo1p'\]"
    ):
        bench.Strategy("s", preprocess={"lgo1p": True})
    with pytest.raises(InputError, match="Preprocessor options need pipeline"):
        bench.Strategy("s", preprocess={"clip": 3.0})
    with pytest.raises(InputError, match="not registered"):
        bench.Strategy("s", clusterer="kmeens")
    with pytest.raises(InputError, match="Segmenter takes"):
        bench.Strategy("s", params={"stabilty_refits": 3})
    f = tmp_path / "s.toml"
    f.write_text('[strategies.fast]\nclusterer = "kmeans"\nclusterr = "gmm"\n')
    with pytest.raises(
        InputError, match=r"\[strategies\.fast\]: unknown key.*clusterr"
    ):
        bench.load_strategies(f)
    f.write_text('[strategies.fast]\nclusterer = "kmeans"\nk = 1\n')
    with pytest.raises(InputError, match=r"s\.toml: \[strategies\.fast\].*k must be"):
        bench.load_strategies(f)
    f.write_text("[strategies\n")
    with pytest.raises(InputError, match="not valid TOML"):
        bench.load_strategies(f)
    assert issubclass(InputError, SegdiscoverError)
    assert EXIT_CODES[SegdiscoverError] == 2  # the CLI's exit code for these


def test_strategy_file_declares_every_field(tmp_path):
    (tmp_path / "rules.py").write_text("def three(candidates):\n    return 3\n")
    f = tmp_path / "s.toml"
    f.write_text(
        textwrap.dedent(
            """
            [strategies.mine]
            clusterer = "gmm"
            k = "rules:three"
            pipeline = "clusterer"
            preprocess = { log1p = true, scale = "segdiscover", clip = 4.0 }
            clusterer_params = { covariance_type = "full" }
            params = { stability_refits = 2 }
            [strategies."seg auto"]
            guide = "auto"
            features = { service = false }
            params = { stability_refits = 3 }
            """
        )
    )
    mine, seg = bench.load_strategies(f)
    assert mine.k(None) == 3
    assert mine.clusterer_params == {"covariance_type": "full"}
    assert seg.name == "seg auto"
    assert seg.guide == "auto"
    assert "Service" not in [type(b).__name__ for b in seg.features.builders]
    # the fingerprint (cache key) moves with every declared value
    other = bench.Strategy("mine", clusterer="gmm", pipeline="clusterer")
    assert mine.fingerprint() != other.fingerprint()


# ------------------------------------------------------------------ tiny data
def _blobs(n: int = 150, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], n // 3)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    xy = centres[group] + rng.normal(size=(len(group), 2))
    return pl.DataFrame(
        {
            "id": np.arange(len(group)),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "group": group,
            "spend": group * 10.0 + rng.normal(size=len(group)),
        }
    )


@pytest.fixture
def blobs() -> bench.Dataset:
    return bench.Dataset.from_table(
        "blobs", _blobs(), id="id", truth="group", outcomes=["spend"]
    )


BARE = {"pipeline": "clusterer", "k": "true", "params": {"stability_refits": 2}}


class Broken(KMeansAdapter):
    """A clusterer that fails, to show the failure is recorded."""

    def _fit_raw(self, X, rng):
        msg = "planted failure"
        raise RuntimeError(msg)


def test_a_failing_strategy_is_recorded_and_the_run_goes_on(blobs):
    good = bench.Strategy("kmeans", clusterer="kmeans", **BARE)
    bad = bench.Strategy("broken", clusterer=Broken(), **BARE)
    out = bench.run([bad, good], blobs)
    assert out["strategy"].to_list() == ["broken", "kmeans"]
    assert out["status"].to_list() == ["error", "ok"]
    assert out["error"][0] == "RuntimeError: planted failure"
    assert out["ari"][0] is None
    assert out["ari"][1] == pytest.approx(1.0)
    # a strategy that does not fit the data says why, without an error
    guided = bench.Strategy("guided", guide="outcomes", k=3)
    plain = bench.Dataset.from_table("plain", _blobs().drop("spend"), id="id")
    row = bench.run(guided, plain).row(0, named=True)
    assert row["status"] == "not applicable"
    assert "needs outcomes" in row["error"]


def test_cache_resumes_a_run_without_work_and_reruns_identically(
    blobs, tmp_path, monkeypatch
):
    strategies = [
        bench.Strategy("kmeans", clusterer="kmeans", **BARE),
        bench.Strategy("ward", clusterer="ward", **BARE),
        bench.Strategy("broken", clusterer=Broken(), **BARE),
    ]
    first = bench.run(strategies, blobs, seeds=2, cache=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.json"))) == 6
    fresh = bench.run(strategies, blobs, seeds=2)  # identical without any cache
    metrics = [c for c in first.columns if c not in _evaluate.MEASURED]
    assert first.select(metrics).equals(fresh.select(metrics))

    def no_work(*args, **kwargs):
        msg = "the cache should have answered"
        raise AssertionError(msg)

    monkeypatch.setattr(_run, "evaluate", no_work)
    again = bench.run(strategies, blobs, seeds=2, cache=tmp_path / "c")
    assert again.equals(first)
    # retry_errors computes only the failed entries again
    with pytest.raises(AssertionError, match="cache should have answered"):
        bench.run(strategies, blobs, seeds=2, cache=tmp_path / "c", retry_errors=True)
    # a torn entry is computed again, never trusted
    monkeypatch.undo()
    entry = next((tmp_path / "c").glob("*.json"))
    entry.write_text('{"dataset": ')
    redone = bench.run(strategies, blobs, seeds=2, cache=tmp_path / "c")
    assert redone.select(metrics).equals(first.select(metrics))
    assert json.loads(entry.read_text())["dataset"] == "blobs"


def test_parallel_jobs_give_the_same_table(blobs):
    strategies = [
        bench.Strategy("kmeans", clusterer="kmeans", **BARE),
        bench.Strategy("gmm", clusterer="gmm", **BARE),
    ]
    one = bench.run(strategies, blobs, seeds=2)
    two = bench.run(strategies, blobs, seeds=2, jobs=2)
    metrics = [c for c in one.columns if c not in _evaluate.MEASURED]
    assert one.select(metrics).equals(two.select(metrics))


def test_a_clusterer_added_to_the_registry_appears_in_bench(blobs, monkeypatch):
    monkeypatch.setitem(
        CLUSTERERS,
        "toy",
        ClustererSpec("toy", KMeansAdapter, description="k-means by another name."),
    )
    names = [s.name for s in bench.default_strategies("planted")]
    assert "toy (baseline)" in names
    toy = next(s for s in bench.baseline_strategies() if s.name == "toy (baseline)")
    row = bench.run(toy, blobs).row(0, named=True)
    assert row["status"] == "ok"
    assert row["clusterer"] == "toy"
    assert row["ari"] == pytest.approx(1.0)
    assert row["stability"] is not None


def test_the_auto_rule_runs_on_the_bare_pipeline(blobs):
    # Regression: the bare pipeline read a field of the sweep's result that did not
    # exist, so every k="auto" strategy was recorded as failed and the run went on.
    s = bench.Strategy(
        "auto k",
        clusterer="kmeans",
        k="auto",
        pipeline="clusterer",
        params={"stability_refits": 0, "k_range": [2, 4]},
    )
    row = bench.run(s, blobs).row(0, named=True)
    assert row["status"] == "ok", row.get("error")
    assert 2 <= row["chosen_k"] <= 4


def test_a_selection_rule_chooses_k(blobs):
    seen = {}

    def two(candidates: pl.DataFrame) -> tuple[str, int]:
        seen["columns"] = candidates.columns
        return "kmeans", 2

    s = bench.Strategy(
        "rule",
        clusterer="kmeans",
        k=two,
        pipeline="clusterer",
        params={"stability_refits": 0, "k_range": [2, 4]},
    )
    row = bench.run(s, blobs).row(0, named=True)
    assert row["status"] == "ok"
    assert row["chosen_k"] == 2
    assert {"clusterer", "n_segments"} <= set(seen["columns"])


def test_user_dataset_registration_and_from_table_checks():
    t = _blobs()
    ds = bench.Dataset.from_table("mine", t, id="id", truth=t["group"].to_numpy())
    try:
        assert bench.register_dataset(ds) is ds
        assert bench.suite_datasets("user")[0] == [ds]
    finally:
        del bench.DATASETS["mine"]
    assert ds.load(0).truth.columns == ["id", "truth"]
    with pytest.raises(InputError, match="not columns of the table"):
        bench.Dataset.from_table("x", t, id="id", outcomes=["churn"])
    with pytest.raises(InputError, match="needs 150 values"):
        bench.Dataset.from_table("x", t, id="id", truth=[1, 2])
    # the content is the cache identity: another table, another key
    other = bench.Dataset.from_table("mine", t.with_columns(pl.col("x") + 1), id="id")
    assert other.fingerprint != bench.Dataset.from_table("mine", t, id="id").fingerprint


# ------------------------------------------------------------------ planted suite
def test_planted_scenarios_change_one_thing_each():
    sets = {d.name: d for d in bench.suite_datasets("planted", planted_n=300)[0]}
    base = sets["table/base"].load(0)
    assert sets["table/base"].load(1).table.equals(base.table) is False  # seeded
    noise = sets["table/noise-10pct"].load(0)
    assert (noise.truth["segment"] == -1).sum() == 300 // 9
    assert noise.noise_label == -1
    missing = sets["table/missing-25pct"].load(0).table.drop("customer_id")
    share = missing.null_count().sum_horizontal()[0] / (missing.height * missing.width)
    assert 0.2 < share < 0.3
    cat = sets["table/categorical-only"].load(0).table
    signal = [
        c for c in cat.columns if c != "customer_id" and not c.startswith("noise")
    ]
    assert all(not cat.schema[c].is_numeric() for c in signal)
    sizes = sets["table/imbalanced"].load(0).truth["segment"].value_counts()["count"]
    assert sorted(sizes.to_list(), reverse=True) == [225, 45, 21, 9]
    assert sets["customers/k8"].load(0).truth["segment"].n_unique() == 8


# ------------------------------------------------------------------ report and charts
def test_leaderboard_ranks_friedman_and_critical_difference_by_hand():
    r = pl.DataFrame(
        {
            "dataset": [d for d in "abcd" for _ in range(3)],
            "strategy": ["x", "y", "z"] * 4,
            "status": ["ok"] * 12,
            "ari": [0.9, 0.5, 0.1, 0.8, 0.7, 0.2, 0.6, 0.9, 0.3, 0.7, 0.6, 0.6],
        }
    )
    lb = bench.leaderboard(r)
    # ranks per dataset: a 1,2,3; b 1,2,3; c 2,1,3; d 1,2.5,2.5
    assert lb["table"]["strategy"].to_list() == ["x", "y", "z"]
    assert_allclose(lb["table"]["mean_rank"].to_numpy(), [1.25, 1.875, 2.875])
    from scipy.stats import friedmanchisquare

    M = r.pivot(on="strategy", index="dataset", values="ari").select("x", "y", "z")
    assert lb["friedman"][0] == pytest.approx(friedmanchisquare(*M.to_numpy().T)[0])
    # Nemenyi: q(0.05, k=3, inf) / sqrt(2) = 2.3437 (Demsar's table: 2.343)
    assert lb["cd"] == pytest.approx(2.3437 * math.sqrt(3 * 4 / (6 * 4)), abs=1e-3)


def test_charts_are_figures_on_agg(blobs, tmp_path):
    out = bench.run(bench.Strategy("kmeans", clusterer="kmeans", **BARE), blobs)
    fig = bench.heatmap(out)
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    paths = bench.save_charts(out, tmp_path)
    assert [p.name for p in paths] == ["heatmap.png", "time_vs_size.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


# ------------------------------------------------------------------ command line
def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segdiscover")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_names_match_the_package_and_import_nothing_heavy():
    assert SUITE_NAMES == bench.SUITES
    code = (
        "import sys, segdiscover.bench._cli as c, argparse;"
        "p = argparse.ArgumentParser(); c.add_parser(p.add_subparsers());"
        "heavy = [m for m in ('polars', 'numpy', 'sklearn') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_cli_benchmarks_a_users_estimator_on_a_users_table(tmp_path, monkeypatch):
    (tmp_path / "my_module.py").write_text(
        textwrap.dedent(
            """
            from sklearn.base import BaseEstimator, ClusterMixin
            from sklearn.cluster import KMeans

            class MyClusterer(ClusterMixin, BaseEstimator):
                def __init__(self, n_clusters=2, random_state=None):
                    self.n_clusters = n_clusters
                    self.random_state = random_state

                def fit(self, X):
                    km = KMeans(self.n_clusters, n_init=2, random_state=0)
                    self.labels_ = km.fit(X).labels_
                    return self
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    _blobs().write_csv(tmp_path / "blobs.csv")
    args = _parse(
        [
            "bench",
            "--suite",
            "user",
            "--table",
            "blobs.csv",
            "--id",
            "id",
            "--truth",
            "group",
            "--outcome",
            "spend",
            "--strategy",
            "my_module:MyClusterer",
            "--strategy",
            "kmeans@3",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert args.func(args) == 0
    res = pl.read_parquet(tmp_path / "out" / "results.parquet")
    assert res["strategy"].to_list() == ["my_module:MyClusterer", "kmeans@3"]
    assert res["status"].to_list() == ["ok", "ok"]
    assert res["clusterer"][0] == "MyClusterer"
    assert res["ari"][0] == pytest.approx(1.0)
    assert pl.read_csv(tmp_path / "out" / "results.csv").height == 2
    assert res["dataset"].unique().to_list() == ["blobs"]
    assert res["n_distinct"].is_not_null().all()  # the outcome column was read
    # a bad strategy file stops before any work, naming the key
    bad = tmp_path / "bad.toml"
    bad.write_text('[strategies.x]\nguide = "maybe"\n')
    args = _parse(["bench", "--suite", "user", "--strategies", str(bad), "--out", "o"])
    with pytest.raises(InputError, match=r"\[strategies\.x\].*guide must be"):
        args.func(args)


def test_quick_suite_runs_with_every_metric_the_data_supports(tmp_path, monkeypatch):
    args = _parse(["bench", "--suite", "quick", "--out", str(tmp_path)])
    assert args.func(args) == 0
    for name in (
        "results.parquet",
        "results.csv",
        "leaderboard.md",
        "heatmap.png",
        "time_vs_size.png",
    ):
        assert (tmp_path / name).is_file(), name
    res = pl.read_parquet(tmp_path / "results.parquet")
    assert set(res["status"]) <= {"ok", "not applicable"}
    datasets = {d.name: d.load(0) for d in bench.suite_datasets("quick")[0]}
    assert set(res["dataset"]) == set(datasets)
    for row in res.filter(pl.col("status") == "ok").iter_rows(named=True):
        data = datasets[row["dataset"]]
        where = f"{row['dataset']} / {row['strategy']}"
        wanted = ["n", "chosen_k", "stability", "fit_seconds", "peak_memory_mb"]
        if data.truth is not None:
            wanted += ["true_k", "ari", "ami", "nca"]
        if data.outcomes is not None:
            wanted += ["n_distinct", "outcome_separation"]
        if row["strategy"] in ("auto", "auto guided", "segdiscover k-means"):
            wanted += ["fidelity"]
            if data.segment_features:
                wanted += ["driver_precision"]
        missing = [c for c in wanted if row[c] is None]
        assert not missing, f"{where}: {missing}"
    board = (tmp_path / "leaderboard.md").read_text()
    assert "mean rank" in board
    assert "Friedman" in board
    # a second run reads the cache and does no work
    monkeypatch.setattr(_run, "evaluate", lambda *a, **k: 1 / 0)
    assert args.func(args) == 0
    assert pl.read_parquet(tmp_path / "results.parquet").equals(res)


def test_true_k_fits_each_reference_k_and_scores_it_on_its_own_references(
    monkeypatch,
):
    t = _blobs().with_columns(
        (pl.col("group") > 0).cast(pl.Int64).alias("halves")  # k = 2: {0} vs {1, 2}
    )
    ds = bench.Dataset.from_table("two refs", t, id="id", truth=["group", "halves"])
    calls = []
    real = _evaluate._clusterer_fit

    def counted(strategy, data, seed, threads, k):
        calls.append(k)
        return real(strategy, data, seed, threads, k)

    monkeypatch.setattr(_evaluate, "_clusterer_fit", counted)
    row = bench.run(bench.Strategy("km", clusterer="kmeans", **BARE), ds).row(
        0, named=True
    )
    assert calls == [2, 3]
    # the 3-cluster fit matches `group` exactly; the 2-cluster fit is only ever
    # scored against `halves`, so the row's k and reference agree
    assert (row["chosen_k"], row["true_k"]) == (3, 3)
    assert row["ari"] == pytest.approx(1.0)
    calls.clear()
    hdb = bench.Strategy(
        "hdb",
        clusterer="hdbscan",
        k="true",
        pipeline="clusterer",
        clusterer_params={"min_cluster_size": 10},
        params={"stability_refits": 0},
    )
    assert bench.run(hdb, ds)["status"][0] == "ok"
    assert len(calls) == 1  # a clusterer that finds its own k is fitted once
