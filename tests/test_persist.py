"""Assigning new customers and safe saved models, over every registered clusterer."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs

import segdiscover as sd
from segdiscover.assign import assign
from segdiscover.clusterers import CLUSTERERS
from segdiscover.exceptions import (
    InputError,
    InvalidParameterError,
    ModelFileError,
    SchemaMismatchError,
    SegdiscoverWarning,
)
from segdiscover.persist import load, save

NAMES = sorted(CLUSTERERS)
SRC = Path(sd.__file__).parent


def fit(X, name="kmeans", **kw):
    k = None if name == "hdbscan" else 4
    params = {"n_segments": k, "random_state": 0, "shap_max_rows": 200, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fidelity notes etc. are not under test
        return sd.Segmenter(clusterer=name, **params).fit(X[0], **X[1])


def customer_table(n: int = 600) -> pl.DataFrame:
    X, y = make_blobs(
        n_samples=n, centers=4, n_features=4, cluster_std=0.8, random_state=2
    )
    plans = np.array(["basic", "plus", "pro", "team"])[y]
    return pl.DataFrame(
        {
            "id": [f"c{i:04d}" for i in range(n)],
            **{f"f{j}": X[:, j] for j in range(4)},
            "seats": (np.abs(X[:, 0]) * 3).astype(np.int64),
            "plan": plans,
        }
    )


@pytest.fixture(scope="module")
def raw(small_data):
    return small_data.tables, {"as_of": small_data.as_of}


@pytest.fixture(scope="module")
def models(raw):
    cache: dict[str, sd.Segmenter] = {}

    def get(name: str) -> sd.Segmenter:
        if name not in cache:
            cache[name] = fit(raw, name)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def saved_kmeans(models, tmp_path_factory) -> Path:
    return save(models("kmeans"), tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def model_copy(saved_kmeans, tmp_path) -> Path:
    return Path(shutil.copytree(saved_kmeans, tmp_path / "model"))


def far_rows(seg: sd.Segmenter, n: int = 5) -> pl.DataFrame:
    """Customers whose numbers are a million times the largest seen at fit."""
    numeric = [c for c, t in seg.features_.schema.items() if t.is_numeric()]
    top = seg.features_.select(pl.col(numeric).abs().max()).row(0, named=True)
    return seg.features_.head(n).with_columns(
        pl.lit((top[c] or 1.0) * 1e6).alias(c) for c in numeric
    )


# ----------------------------------------------------------- assign, per clusterer
@pytest.mark.parametrize("name", NAMES)
def test_assign_reproduces_training_labels(models, raw, name):
    seg = models(name)
    out = assign(seg, raw[0], as_of=raw[1]["as_of"])
    assert out[seg.id].equals(seg.labels_[seg.id])
    agree = (out["segment_id"] == seg.labels_["segment_id"]).mean()
    assert agree >= (0.99 if CLUSTERERS[name].native_assign else 0.95)
    assert set(out["segment_id"]) <= set(seg.segments_["segment_id"])
    assert out["confidence"].is_between(0, 1).all()
    assert out["is_noise"].equals(seg.labels_["is_noise"])
    assert out["is_novel"].mean() <= 0.01
    # The same customers as a customer-level table give the same result.
    assert assign(seg, seg.features_).equals(out)


@pytest.mark.parametrize("name", NAMES)
def test_far_away_customers_are_novel(models, name):
    seg = models(name)
    far = far_rows(seg)
    out = assign(seg, far)
    assert out["is_novel"].all()
    assert set(out["segment_id"]) <= set(seg.segments_["segment_id"])
    unassigned = assign(seg, far, allow_unassigned=True)
    assert (unassigned["segment_id"] == -1).all()
    assert (unassigned["segment_name"] == "no segment").all()
    assert (unassigned["confidence"] == 0).all()
    forced = assign(seg, far, allow_unassigned=True, force=True)
    assert forced["segment_id"].equals(out["segment_id"])


@pytest.mark.parametrize("name", NAMES)
def test_save_load_assign_is_bit_identical(models, raw, tmp_path, name):
    seg = models(name)
    model = load(save(seg, tmp_path / "model"))
    out = model.assign(raw[0], as_of=raw[1]["as_of"])
    assert out.equals(assign(seg, raw[0], as_of=raw[1]["as_of"]))
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    assert out["confidence"].equals(seg.labels_["confidence"])
    assert model.segments_["name"].equals(seg.segments_["name"])
    assert model.run_["clusterer"] == name
    assert model.assign(far_rows(seg))["is_novel"].all()


def test_noise_kept_at_fit_is_unassigned_when_allowed(raw):
    seg = fit(raw, "hdbscan", noise="keep")
    assert (seg.labels_["segment_id"] == -1).any()
    out = assign(seg, raw[0], as_of=raw[1]["as_of"], allow_unassigned=True)
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    placed = assign(seg, raw[0], as_of=raw[1]["as_of"])
    assert (placed["segment_id"] >= 0).all()
    assert (placed.filter("is_noise")["confidence"] == 0).all()


def test_raw_tables_at_a_later_cutoff(models, raw):
    seg = models("kmeans")
    later = raw[1]["as_of"] + dt.timedelta(days=30)
    out = assign(seg, raw[0], as_of=later)
    assert out.height >= seg.labels_.height
    assert set(out["segment_id"]) <= set(seg.segments_["segment_id"])
    moved = out.join(seg.labels_, on=seg.id).filter(
        pl.col("segment_id") != pl.col("segment_id_right")
    )
    assert moved.height < out.height  # a month later most customers stay


def test_raw_tables_need_as_of(models, raw):
    with pytest.raises(InputError, match="as_of"):
        assign(models("kmeans"), raw[0])


def test_flags_must_be_bool(models):
    seg = models("kmeans")
    with pytest.raises(InvalidParameterError, match="'force'"):
        assign(seg, seg.features_, force="yes")


# ------------------------------------------------------------------- the door
def test_missing_column_is_named(models, saved_kmeans):
    seg = models("kmeans")
    table = seg.features_.drop("recency_days", "industry")
    for model in (seg, load(saved_kmeans)):
        with pytest.raises(SchemaMismatchError, match="'recency_days', 'industry'"):
            assign(model, table)


def test_missing_raw_column_and_table_are_named(models, raw):
    tables, as_of = raw[0], raw[1]["as_of"]
    seg = models("kmeans")
    no_amount = {**tables, "orders": tables["orders"].drop("amount")}
    with pytest.raises(SchemaMismatchError, match="amount"):
        assign(seg, no_amount, as_of=as_of)
    no_tickets = {k: v for k, v in tables.items() if k != "tickets"}
    with pytest.raises(SchemaMismatchError, match="'tickets'"):
        assign(seg, no_tickets, as_of=as_of)


def test_text_where_numbers_were_is_refused(models):
    seg = models("kmeans")
    bad = seg.features_.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("lots"))
        .otherwise(pl.col("monthly_spend").cast(pl.String))
        .alias("monthly_spend")
    )
    with pytest.raises(SchemaMismatchError, match=r"'monthly_spend' has dtype String"):
        assign(seg, bad)
    numbers_as_text = seg.features_.with_columns(pl.col("monthly_spend").cast(str))
    assert assign(seg, numbers_as_text).equals(assign(seg, seg.features_))


def test_numbers_where_text_was_is_refused(models):
    seg = models("kmeans")
    bad = seg.features_.with_columns(pl.lit(3).alias("region"))
    with pytest.raises(SchemaMismatchError, match=r"'region' has dtype Int32"):
        assign(seg, bad)


def test_new_category_is_allowed_and_reported(models):
    seg = models("kmeans")
    new = seg.features_.with_columns(
        pl.when(pl.int_range(pl.len()) < 7)
        .then(pl.lit("space travel"))
        .otherwise(pl.col("industry"))
        .alias("industry")
    )
    with pytest.warns(SegdiscoverWarning, match=r"'industry'.*'space travel'"):
        out = assign(seg, new)
    assert set(out["segment_id"]) <= set(seg.segments_["segment_id"])


def test_customer_table_model_round_trip(tmp_path):
    table = customer_table()
    seg = fit((table, {}), "gmm", id="id")
    model = load(save(seg, tmp_path / "model"))
    out = model.assign(table.sample(fraction=1.0, shuffle=True, seed=1))
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    assert out.equals(assign(seg, table))
    with pytest.raises(InputError, match="customer-level table"):
        model.assign({"orders": table}, as_of="2025-01-01")


# ------------------------------------------------------------ safe model files
def test_flipped_byte_in_an_array_is_refused(model_copy):
    path = model_copy / "arrays" / "clusterer.cluster_centers.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"cluster_centers\.npy.*modified"):
        load(model_copy)


def test_removed_file_is_refused(model_copy):
    (model_copy / "arrays" / "clusterer.centroids.npy").unlink()
    with pytest.raises(ModelFileError, match=r"lacks its member.*centroids\.npy"):
        load(model_copy)
    (model_copy / "checksum").unlink()
    with pytest.raises(ModelFileError, match="'checksum'"):
        load(model_copy)


def test_edited_manifest_is_refused(model_copy):
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["novelty_threshold_override"] = 1e9
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match=r"manifest.*was modified"):
        load(model_copy)


def test_future_format_version_is_refused_by_number(model_copy):
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 999
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="format version 999"):
        load(model_copy)


def test_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="not a folder"):
        load(tmp_path / "nothing")
    with pytest.raises(ModelFileError, match=r"manifest\.json"):
        load(tmp_path)


def test_manifest_records_what_is_stored(saved_kmeans, models):
    seg = models("kmeans")
    manifest = json.loads((saved_kmeans / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["segdiscover_version"] == sd.__version__
    assert manifest["feature_levels"] == seg.feature_levels_
    assert manifest["preprocessor"] == seg.preprocessor_.to_dict()
    default = json.loads(json.dumps(sd.FeatureSet.default().get_params()))
    assert manifest["feature_set"] == default
    cols = {c["name"]: c for c in manifest["feature_schema"]["columns"]}
    assert cols["industry"]["categories"] == sorted(
        seg.features_["industry"].drop_nulls().unique()
    )
    assert manifest["feature_schema"]["novelty"]["threshold"] > 0
    for rec in manifest["arrays"].values():
        assert (saved_kmeans / rec["file"]).is_file()
        assert len(rec["sha256"]) == 64


def test_save_replaces_a_model_and_leaves_nothing_behind(models, tmp_path):
    target = tmp_path / "model"
    save(models("kmeans"), target)
    save(models("gmm"), target)
    assert load(target).clusterer_name_ == "gmm"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_save_refuses_a_folder_of_other_files(models, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="other files"):
        save(models("kmeans"), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_user_estimator_with_predict_is_refused_without_predict_saved(tmp_path):
    table = customer_table(300)
    seg = fit((table, {}), KMeans(n_init=2), id="id")
    with pytest.raises(ModelFileError, match=r"KMeans.*cannot be saved safely"):
        save(seg, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    seg = fit((table, {}), AgglomerativeClustering(), id="id")
    out = load(save(seg, tmp_path / "b")).assign(table)
    assert out["segment_id"].equals(seg.labels_["segment_id"])


def test_no_pickle_in_the_persistence_path():
    banned = {"pickle", "cPickle", "joblib", "cloudpickle", "dill", "shelve"}
    for module in ("persist/__init__.py", "persist/_checks.py", "assign.py"):
        source = (SRC / module).read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & banned, (module, names)
        assert "allow_pickle=True" not in source


def test_saved_model_keeps_outcomes_and_column_order(tmp_path):
    data = sd.datasets.make_customers(n_customers=1500, n_segments=3, seed=4)
    seg = sd.Segmenter(
        clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
    ).fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)
    seg.save(tmp_path / "m")
    model = sd.load(tmp_path / "m")
    assert model.segments_.columns == seg.segments_.columns
    assert model.outcomes_.columns == seg.outcomes_.columns
    assert model.outcomes_.select("segment_id", "outcome", "value", "verdict").equals(
        seg.outcomes_.select("segment_id", "outcome", "value", "verdict")
    )


def test_a_model_saved_before_builders_derived_their_time_column(
    models, raw, model_copy
):
    """Older manifests store each builder's ``time_column``; they still assign."""
    manifest = json.loads((model_copy / "manifest.json").read_text())
    for b in manifest["feature_set"]["builders"]:
        if "ts" in b or "opened" in b:
            b["time_column"] = b.get("ts", b.get("opened"))
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (model_copy / "manifest.json").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (model_copy / "checksum").write_text(f"{digest}  manifest.json\n")
    assert any("time_column" in b for b in manifest["feature_set"]["builders"])
    tables, kw = raw
    out = load(model_copy).assign(tables, **kw)
    assert out["segment_id"].equals(models("kmeans").labels_["segment_id"])
