"""Saved models checked field by field, as an attacker who re-hashes would edit them.

The hashes in a saved model prove only that its files agree with its manifest:
anyone can change an array and re-hash the manifest and the checksum. Each test
here does exactly that, and expects a ModelFileError naming the file (exit code 2
from the command line), never an allocation, a NaN result or an internal error.
Also: a fit that fails half-way leaves the Segmenter as it was, and save() refuses
a Segmenter whose fitted parts come from different fits.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.datasets import make_blobs

import segdiscover as sd
import segdiscover._fit.result
from segdiscover.cli import main
from segdiscover.exceptions import ModelFileError, NotFittedError

HUGE = 10**12  # rows: 8 TB of float64 if anything tried to allocate them


def customers(n: int = 300, seed: int = 2) -> pl.DataFrame:
    X, y = make_blobs(n_samples=n, centers=3, n_features=3, random_state=seed)
    return pl.DataFrame(
        {
            "id": [f"c{i:04d}" for i in range(n)],
            **{f"f{j}": X[:, j] for j in range(3)},
            "plan": np.array(["basic", "plus", "pro"])[y],
        }
    )


def fit(table: pl.DataFrame, **kw: Any) -> sd.Segmenter:
    params = {"clusterer": "kmeans", "n_segments": 3, "id": "id", "random_state": 0}
    params |= {"shap_max_rows": 100, "stability_refits": 0, **kw}
    outcomes = params.pop("outcomes", None)
    exclude = params.pop("exclude", ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fidelity notes are not under test
        return sd.Segmenter(**params).fit(table, outcomes=outcomes, exclude=exclude)


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def seg(table) -> sd.Segmenter:
    return fit(table)


@pytest.fixture(scope="module")
def saved(seg, tmp_path_factory) -> Path:
    return seg.save(tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def model(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


# --------------------------------------------------------- the attacker's tools
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def edit_manifest(folder: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the manifest, then re-hash it into the checksum file."""
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    (folder / "manifest.json").write_bytes(body)
    (folder / "checksum").write_text(f"{_sha(body)}  manifest.json\n")


def replace_array(
    folder: Path,
    name: str,
    data: bytes | np.ndarray,
    *,
    record: dict[str, Any] | None = None,
) -> None:
    """Write new bytes for ``arrays/<name>.npy`` and re-hash everything.

    An array also updates its recorded dtype and shape (a careful attacker);
    raw bytes keep the old record unless ``record`` says otherwise.
    """
    if isinstance(data, np.ndarray):
        record = {"dtype": str(data.dtype), "shape": list(data.shape), **(record or {})}
        data = _npy(data)
    (folder / "arrays" / f"{name}.npy").write_bytes(data)

    def edit(manifest: dict[str, Any]) -> None:
        manifest["arrays"][name].update(record or {}, sha256=_sha(data))

    edit_manifest(folder, edit)


def header_only(shape: tuple[int, ...], descr: str = "<f8", *, fortran=False) -> bytes:
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def centroids(folder: Path) -> np.ndarray:
    return np.load(folder / "arrays" / "clusterer.centroids.npy")


# ------------------------------------------------------------- array headers
def test_a_header_declaring_a_huge_shape_is_refused_before_allocating(model):
    body = (model / "arrays" / "clusterer.centroids.npy").read_bytes()
    c = centroids(model)
    # Same data, a header that promises 10**12 rows; the record left as it was.
    data = header_only((HUGE, c.shape[1])) + c.tobytes()
    replace_array(model, "clusterer.centroids", data)
    with pytest.raises(ModelFileError, match=r"clusterer\.centroids\.npy.*declares"):
        sd.load(model)
    # The record re-written to match the header: the file is far too small for it.
    replace_array(
        model, "clusterer.centroids", data, record={"shape": [HUGE, c.shape[1]]}
    )
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*bytes.*cannot be"):
        sd.load(model)
    replace_array(model, "clusterer.centroids", body, record={"shape": list(c.shape)})
    sd.load(model)  # the original bytes are accepted again


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (lambda s: header_only(s, ">f8"), "declares a >f8"),
        (lambda s: header_only(s, fortran=True), "Fortran order"),
        (lambda s: header_only(s, "|O"), "declares a object"),
        (lambda s: b"\x93NUMPY\x01\x00\x04\x00{}\n" + b" " * 200, "no valid .npy"),
        (lambda s: b"not a numpy file at all " * 10, "no valid .npy"),
    ],
)
def test_headers_that_are_not_what_save_writes_are_refused(model, header, needle):
    c = centroids(model)
    data = header(c.shape) + c.tobytes()
    replace_array(model, "clusterer.centroids", data)
    with pytest.raises(ModelFileError, match=r"centroids\.npy") as info:
        sd.load(model)
    assert needle in str(info.value)


def test_truncated_or_padded_array_data_is_refused(model):
    c = centroids(model)
    good = _npy(c)
    replace_array(model, "clusterer.centroids", good[:-8])
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*bytes"):
        sd.load(model)
    replace_array(model, "clusterer.centroids", good + b"\0" * 8)
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*bytes"):
        sd.load(model)


@pytest.mark.parametrize(
    "record",
    [
        {"dtype": "object"},
        {"dtype": "float64; rm -rf /"},
        {"shape": [-1, 3]},
        {"shape": [1, 2, 3, 4]},
        {"shape": "3x7"},
        {"shape": [True, 7]},
        {"sha256": None},
    ],
)
def test_malformed_array_records_are_refused(model, record):
    edit_manifest(model, lambda m: m["arrays"]["clusterer.centroids"].update(record))
    with pytest.raises(ModelFileError, match=r"centroids\.npy"):
        sd.load(model)


# --------------------------------------------------- arrays against the model
def test_centroids_of_the_wrong_width_are_refused(model, seg):
    width = len(seg.preprocessor_.feature_names_out_)
    wide = np.hstack([centroids(model), np.zeros((3, 1))])
    replace_array(model, "clusterer.centroids", wide)
    replace_array(model, "clusterer.cluster_centers", wide)
    with pytest.raises(ModelFileError, match=rf"centroids\.npy.*{width} columns"):
        sd.load(model)


@pytest.mark.parametrize(
    "name", ["clusterer.cluster_centers", "assign.noise_X", "clusterer.centroids"]
)
def test_every_point_array_must_have_the_feature_width(model, name):
    a = np.load(model / "arrays" / f"{name}.npy")
    replace_array(model, name, np.zeros((max(a.shape[0], 1), a.shape[1] - 1)))
    with pytest.raises(ModelFileError, match=rf"{name}\.npy.*columns"):
        sd.load(model)


@pytest.mark.parametrize(
    ("fill", "needle"),
    [
        (lambda c: np.full_like(c, np.nan), "NaN"),
        (lambda c: np.where(np.arange(c.shape[1]) == 0, np.inf, c), "live segment"),
        (lambda c: np.vstack([c, np.r_[np.inf, c[0, 1:]]]), "not rows of \\+inf"),
        (lambda c: np.vstack([c, c[:1]]), "not rows of \\+inf"),
        (lambda c: -np.full_like(c, np.inf), "live segment"),
    ],
)
def test_non_finite_centroids_are_refused_except_unused_ids(model, fill, needle):
    replace_array(model, "clusterer.centroids", fill(centroids(model)))
    with pytest.raises(ModelFileError, match=rf"centroids\.npy.*{needle}"):
        sd.load(model)


def test_nan_in_another_array_is_refused(model):
    c = np.load(model / "arrays" / "clusterer.cluster_centers.npy")
    c[1, 0] = np.nan
    replace_array(model, "clusterer.cluster_centers", c)
    with pytest.raises(ModelFileError, match=r"cluster_centers\.npy.*NaN"):
        sd.load(model)


def test_labels_must_name_the_models_segments(model):
    pairs = np.load(model / "arrays" / "clusterer.raw_to_label.npy")
    pairs[0, 1] = 7  # a segment the model does not have
    replace_array(model, "clusterer.raw_to_label", pairs)
    with pytest.raises(ModelFileError, match=r"raw_to_label\.npy.*\[7\]"):
        sd.load(model)
    replace_array(model, "clusterer.raw_to_label", pairs.astype(np.float64))
    with pytest.raises(ModelFileError, match=r"raw_to_label\.npy.*dtype float64"):
        sd.load(model)


def test_a_required_array_may_not_be_dropped_from_the_manifest(model):
    def drop(m):
        del m["arrays"]["assign.noise_X"]

    edit_manifest(model, drop)
    with pytest.raises(ModelFileError, match=r"noise_X\.npy.*not in the manifest"):
        sd.load(model)


def test_renumbered_model_with_inf_rows_still_loads(table, tmp_path):
    seg = fit(table)
    seg.renumber({0: 0, 1: 4, 2: 2})
    folder = seg.save(tmp_path / "model")
    assert np.isposinf(centroids(folder)[[1, 3]]).all()
    out = sd.load(folder).assign(table)
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    # An unused id's row of inf may not come back to life as a live segment.
    edit_manifest(folder, lambda m: m["segments"][0].update(segment_id=3))
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*live segment rows"):
        sd.load(folder)


def test_mixture_arrays_are_checked_against_the_covariance_type(table, tmp_path):
    folder = fit(table, clusterer="gmm").save(tmp_path / "model")
    sd.load(folder)
    cov = np.load(folder / "arrays" / "clusterer.covariances.npy")
    replace_array(folder, "clusterer.covariances", cov[:, :-1])
    with pytest.raises(ModelFileError, match=r"covariances\.npy.*expected"):
        sd.load(folder)


def test_guided_model_width_is_the_guides(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    calls, visits = rng.uniform(0, 10, n), rng.normal(10, 3, n)
    guided_table = pl.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "calls": calls,
            "visits": visits,
            "churned": rng.random(n) < np.where(calls > 7, 0.6, 0.05),
            "spend": visits * 3 + rng.normal(0, 8, n),
        }
    )
    seg = fit(
        guided_table, n_segments=2, guide="outcomes", outcomes=["churned", "spend"]
    )
    folder = seg.save(tmp_path / "model")
    width = len(seg.guide_.feature_names_out_)
    assert width != len(seg.preprocessor_.feature_names_out_)
    assert centroids(folder).shape[1] == width
    out = sd.load(folder).assign(guided_table.drop("churned", "spend"))
    assert out["segment_id"].equals(seg.labels_["segment_id"])
    narrow = centroids(folder)[:, : len(seg.preprocessor_.feature_names_out_)]
    replace_array(folder, "clusterer.centroids", narrow)
    replace_array(folder, "clusterer.cluster_centers", narrow)
    with pytest.raises(ModelFileError, match=rf"centroids\.npy.*{width} columns"):
        sd.load(folder)


# ------------------------------------------------------- the manifest's numbers
@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda m: m["preprocessor"]["columns"][0].update(scale=0.0), "scale"),
        (lambda m: m["preprocessor"]["columns"][0].update(center="1"), "center"),
        (lambda m: m["preprocessor"]["columns"][0].update(scale=None), "scale"),
        (lambda m: m["feature_schema"]["novelty"].update(threshold=-1), "novelty"),
        (lambda m: m["feature_schema"]["columns"].reverse(), "feature schema"),
        (lambda m: m["segments"][0].update(segment_id="0"), "segment ids"),
        (lambda m: m.update(arrays=[1, 2]), "table of arrays"),
    ],
)
def test_manifest_fields_that_no_fit_writes_are_refused(model, edit, needle):
    edit_manifest(model, edit)
    with pytest.raises(ModelFileError, match=needle):
        sd.load(model)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        # Counts of the clusterer: negative, absurd, or text where a number was.
        (lambda m: m["clusterer"]["params"].update(n_clusters=-3), "'n_clusters' -3"),
        (lambda m: m["clusterer"]["params"].update(n_clusters=HUGE), "'n_clusters'"),
        (lambda m: m["clusterer"]["params"].update(n_init="4"), "'n_init' '4'"),
        (lambda m: m["clusterer"]["params"].update(max_iter=True), "'max_iter'"),
        (lambda m: m["clusterer"]["params"].update(tol=[1]), "parameter 'tol'"),
        (lambda m: m["clusterer"].update(params=[1]), "clusterer parameters"),
        # Fields read as text or choices: a list id, unknown policies.
        (lambda m: m.update(id=["id"]), "id column"),
        (lambda m: m.update(id=" "), "id column"),
        (lambda m: m.update(noise="explode"), "noise policy 'explode'"),
        (lambda m: m.update(input_kind="sql"), "input kind 'sql'"),
        # Preprocessor records: an unknown transform (read as none before), a kind
        # no fit writes, numbers far beyond any data the door lets in.
        (
            lambda m: m["preprocessor"]["columns"][0].update(transform="eval"),
            "transform of column 'f0' 'eval'",
        ),
        (
            lambda m: m["preprocessor"]["columns"][0].update(
                kind="script", levels=["a"]
            ),
            "kind of column 'f0' 'script'",
        ),
        (lambda m: m["preprocessor"]["columns"][0].update(center=1e308), "center"),
        (lambda m: m["preprocessor"]["columns"][0].update(scale=1e300), "scale"),
        (lambda m: m["feature_schema"]["novelty"].update(margin=1e20), "margin"),
    ],
)
def test_manifest_fields_of_the_wrong_kind_are_refused(model, table, edit, needle):
    # Each of these loaded before and assigned without an error (a 1e308 centre put
    # every customer in one segment; an unknown transform was read as none).
    edit_manifest(model, edit)
    with pytest.raises(ModelFileError, match=re.escape(needle)):
        sd.load(model)


def test_a_saved_model_of_every_clusterer_passes_the_field_checks(table, tmp_path):
    for name in ("kmeans", "minibatch_kmeans", "gmm", "ward", "birch"):
        folder = fit(table, clusterer=name).save(tmp_path / name)
        assert sd.load(folder).n_segments_ >= 2
    folder = fit(table, clusterer="hdbscan", n_segments=None).save(tmp_path / "hdb")
    assert sd.load(folder).n_segments_ >= 2


def test_absurd_magnitudes_in_arrays_are_refused(model):
    # Finite, so the NaN checks passed them; the distances then overflowed to inf
    # (a dependency's RuntimeWarning) and the assignment was arbitrary.
    c = centroids(model)
    c[1, 0] = 1e308
    replace_array(model, "clusterer.centroids", c)
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*beyond.*rows \[1\]"):
        sd.load(model)


def test_absurd_magnitudes_in_other_arrays_are_refused(model):
    name = "clusterer.cluster_centers"
    c = np.load(model / "arrays" / f"{name}.npy")
    c[0, 0] = -1e200
    replace_array(model, name, c)
    with pytest.raises(ModelFileError, match=r"cluster_centers\.npy.*beyond"):
        sd.load(model)


def test_an_array_no_model_holds_is_refused(model):
    data = (model / "arrays" / "clusterer.centroids.npy").read_bytes()
    (model / "arrays" / "clusterer.extra.npy").write_bytes(data)

    def add(m: dict[str, Any]) -> None:
        rec = m["arrays"]["clusterer.centroids"]
        m["arrays"]["clusterer.extra"] = {**rec, "file": "arrays/clusterer.extra.npy"}

    edit_manifest(model, add)
    with pytest.raises(ModelFileError, match=r"clusterer\.extra\.npy.*not an array"):
        sd.load(model)


def test_array_members_linked_outside_the_folder_are_refused(model, tmp_path):
    # The same bytes, so every hash matches: only where the file lies is wrong.
    member = model / "arrays" / "clusterer.centroids.npy"
    outside = tmp_path / "elsewhere.npy"
    shutil.move(member, outside)
    member.symlink_to(outside)
    with pytest.raises(ModelFileError, match=r"centroids\.npy.*outside the model"):
        sd.load(model)
    member.unlink()
    shutil.move(outside, member)
    shutil.move(model / "arrays", tmp_path / "arrays")
    (model / "arrays").symlink_to(tmp_path / "arrays")
    with pytest.raises(ModelFileError, match=r"outside the model folder"):
        sd.load(model)


def test_a_linked_model_folder_and_links_inside_it_still_load(model, tmp_path):
    alias = tmp_path / "alias"
    alias.symlink_to(model)
    assert sd.load(alias).n_segments_ == 3
    member = model / "arrays" / "clusterer.centroids.npy"
    kept = model / "arrays" / "kept.bin"
    shutil.move(member, kept)
    member.symlink_to(kept)
    assert sd.load(model).n_segments_ == 3


def test_guide_scales_that_no_fit_writes_are_refused(tmp_path, churn_table):
    guided_table = churn_table(300, seed=1)
    seg = fit(guided_table, n_segments=2, guide="outcomes", outcomes=["churned"])
    saved = seg.save(tmp_path / "model")
    for i, scales in enumerate(([0.0], [-1.0], [1e300], ["1"])):
        folder = Path(shutil.copytree(saved, tmp_path / f"m{i}"))
        edit_manifest(folder, lambda m, s=scales: m["guide"].update(scales=s))
        # Before: loaded, and every customer fell in one segment.
        with pytest.raises(ModelFileError, match="outcome guide scales"):
            sd.load(folder)


def test_a_guide_with_an_unpredictable_outcome_round_trips(tmp_path, churn_table):
    # Regression: an outcome the features do not predict gets scale 0 in the guide
    # (its block would be noise); load refused every such model ("no fit writes").
    table = churn_table(400, seed=2)
    table = table.with_columns(
        noise=pl.Series(np.random.default_rng(2).normal(0, 1, table.height))
    )
    seg = fit(table, n_segments=2, guide="outcomes", outcomes=["churned", "noise"])
    assert seg.guide_.scales_[1] == 0.0
    assert seg.guide_.scales_[0] > 0
    model = sd.load(seg.save(tmp_path / "model"))
    customers = table.drop("churned", "noise")
    assert model.assign(customers).equals(seg.assign(customers))


def test_nan_and_infinity_tokens_in_the_manifest_are_refused(model):
    body = (model / "manifest.json").read_text()
    threshold = json.loads(body)["feature_schema"]["novelty"]["threshold"]
    for token in ("NaN", "Infinity"):
        text = body.replace(f'"threshold": {threshold!r}', f'"threshold": {token}', 1)
        assert text != body
        (model / "manifest.json").write_text(text)
        (model / "checksum").write_text(f"{_sha(text.encode())}  manifest.json\n")
        with pytest.raises(ModelFileError, match=token):
            sd.load(model)


def test_the_command_line_exits_2_naming_the_file(model, table, tmp_path, capsys):
    path = tmp_path / "t.parquet"
    table.write_parquet(path)
    c = centroids(model)
    replace_array(model, "clusterer.centroids", header_only((HUGE, 7)) + c.tobytes())
    out = tmp_path / "out.parquet"
    argv = ["assign", "--model", str(model), "--table", str(path), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "clusterer.centroids.npy" in err
    assert str(model) in err
    assert not out.exists()


# ----------------------------------------------------------- transactional fits
@pytest.mark.filterwarnings("ignore::segdiscover.exceptions.SegdiscoverWarning")
def test_a_fit_failing_half_way_leaves_the_previous_fit_whole(
    table, tmp_path, monkeypatch
):
    # Needs Segmenter.fit to restore its __dict__ when _fit raises (segmenter.py).
    seg = fit(table)
    before = dict(seg.__dict__)
    labels = seg.labels_.clone()

    def fail(*args: Any, **kwargs: Any) -> None:
        # Called after the new clusterer_, segments_ and labels_ are set.
        msg = "disk on fire"
        raise RuntimeError(msg)

    monkeypatch.setattr(segdiscover._fit.result, "compare_outcomes", fail)
    seg.set_params(n_segments=4)
    with pytest.raises(RuntimeError, match="disk on fire"):
        seg.fit(customers(n=240, seed=5))
    after = {k: v for k, v in seg.__dict__.items() if k != "n_segments"}
    assert after.keys() == {k for k in before if k != "n_segments"}
    assert all(after[k] is before[k] for k in after)
    assert seg.labels_.equals(labels)
    model = sd.load(seg.save(tmp_path / "model"))
    assert model.assign(table)["segment_id"].equals(labels["segment_id"])

    fresh = sd.Segmenter(clusterer="kmeans", n_segments=3, id="id", random_state=0)
    with pytest.raises(RuntimeError):
        fresh.fit(table)
    assert not hasattr(fresh, "clusterer_")
    with pytest.raises(NotFittedError):
        fresh.save(tmp_path / "fresh")


def _mixed(seg: sd.Segmenter, **parts: Any) -> sd.Segmenter:
    """A copy of ``seg`` whose result holds parts of another fit."""
    mixed = copy.copy(seg)
    mixed.result_ = dataclasses.replace(seg.result_, **parts)
    return mixed


def test_save_refuses_a_model_that_mixes_two_fits(seg, table, tmp_path):
    other = fit(table, n_segments=4)
    mixed = _mixed(seg, clusterer=other.clusterer_)
    with pytest.raises(NotFittedError, match=r"mixes different fits.*\[0, 1, 2, 3\]"):
        mixed.save(tmp_path / "a")
    narrower = fit(table, exclude=["plan"])
    mixed = _mixed(seg, preprocessor=narrower.preprocessor_)
    with pytest.raises(NotFittedError, match="feature space"):
        mixed.save(tmp_path / "b")
    mixed = _mixed(seg, labels=other.labels_.head(10))
    with pytest.raises(NotFittedError, match="different customers"):
        mixed.save(tmp_path / "c")
    # The fitted attributes are views of one result: they cannot be set apart.
    with pytest.raises(AttributeError, match="read-only view of result_"):
        copy.copy(seg).clusterer_ = other.clusterer_
    mixed = copy.copy(seg)
    del mixed.__dict__["result_"]
    with pytest.raises(NotFittedError, match="not fitted"):
        mixed.save(tmp_path / "d")
    assert not any(tmp_path.iterdir())


def test_a_model_saved_without_its_segmentation_is_refused_by_name(model):
    # Saved before the result object: no result/ and no manifest entry for it.
    shutil.rmtree(model / "result")
    edit_manifest(model, lambda m: m.pop("result"))
    with pytest.raises(ModelFileError, match=r"without its segmentation \(result/\)"):
        sd.load(model)


def test_a_tampered_result_file_is_refused(model):
    (model / "result" / "labels.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(ModelFileError, match=r"labels.parquet.*was modified"):
        sd.load(model)
