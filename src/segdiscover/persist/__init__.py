"""Saved models that cannot run code: a JSON manifest, numeric arrays and hashes.

A saved model is a folder::

    model/
      manifest.json     every parameter, level, schema, profile and run figure
      checksum          "<sha256 of manifest.json>  manifest.json" (sha256sum format)
      arrays/*.npy      numeric arrays (centroids, centres, reference customers ...)
      result/           the segmentation (profiles, labels, features, outcomes,
                        stability...): Parquet tables and result.json, hashed

Arrays are written with ``np.save(..., allow_pickle=False)`` and read with
``np.load(..., allow_pickle=False)``; their SHA-256, dtype and shape are recorded in
the manifest, and the manifest's own hash in ``checksum``. :func:`load` checks the
format version first (a newer one is refused by number), then the manifest's hash,
then that every array is present, unmodified and of the recorded dtype and shape.
A hash is no signature (anyone can re-hash an edited model), so every field is then
checked on its own (:mod:`segdiscover.persist._checks`): each ``.npy`` header and
file size against the manifest before anything is allocated, array widths against
the feature schema, segment ids across arrays, no NaN or infinity where a fit
writes none; every failure is a :class:`ModelFileError` naming the file.
:func:`save` refuses a Segmenter whose fitted parts come from different fits.
Nothing in the folder is code: the clusterer is rebuilt from a fixed list of
segdiscover's own adapter classes, the feature builders from segdiscover's own
builders. :func:`save` writes into a temporary folder beside the target and renames
it into place, so a crash never leaves half a model.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from segdiscover._atomic import clean_dir_debris, new_dir_beside, replace_dir
from segdiscover._json import plain
from segdiscover._version import __version__
from segdiscover.assign import AssignState, assign
from segdiscover.clusterers import CLUSTERERS, ClusterAdapter, SklearnAdapter
from segdiscover.exceptions import InputError, ModelFileError, SegdiscoverError
from segdiscover.features import BUILDERS, FeatureMeta, FeatureSet
from segdiscover.guide import OutcomeGuide
from segdiscover.outcomes import OutcomeComparison
from segdiscover.persist._checks import (
    array_record,
    check_arrays,
    check_file_size,
    check_fitted_state,
    check_schema,
    parse_npy,
)
from segdiscover.preprocess import Preprocessor
from segdiscover.profiles import SegmentProfile
from segdiscover.result import Segmentation, as_result

if TYPE_CHECKING:
    from segdiscover.segmenter import Segmenter

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHECKSUM = "checksum"
ARRAYS = "arrays"
GUIDE = "guide"
RESULT = "result"
#: Tables of the result saved as Parquet under ``result/`` (hashed in the manifest).
_RESULT_TABLES = ("labels", "features", "merge_tree", "stability", "candidates",
                  "validation")  # fmt: skip
_OUTCOME_TABLES = ("vs_rest", "pairs", "omnibus", "merge_candidates", "answers")
_RESULT_FILE = re.compile(r"^[a-z_]+\.(parquet|json)$")
_RESULT_JSON = "result.json"
_GUIDE_FILE = re.compile(r"^outcome[0-9]+_fold[0-9]+\.txt$")
#: Adapter classes a saved model may name; nothing else is ever instantiated.
ADAPTERS: dict[str, type[ClusterAdapter]] = {
    **{
        s.factory.__name__: s.factory
        for s in CLUSTERERS.values()
        if isinstance(s.factory, type)
    },
    SklearnAdapter.__name__: SklearnAdapter,
}
_BUILDER_CLASSES = {cls.__name__: cls for cls in BUILDERS.values()}
_ARRAY_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_REQUIRED = (
    "id",
    "noise",
    "input_kind",
    "feature_set",
    "feature_levels",
    "feature_schema",
    "feature_meta",
    "preprocessor",
    "clusterer",
    "segments",
    "run",
    "arrays",
    "result",
)


# ------------------------------------------------------------------ helpers
def _plain(value: Any, where: str) -> Any:
    """``value`` as strict JSON; anything else a model file cannot hold is refused."""
    return plain(value, where)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npy_bytes(array: np.ndarray, name: str) -> bytes:
    if array.dtype.kind not in "biuf":
        msg = f"The array {name!r} has dtype {array.dtype}; only numbers are saved."
        raise ModelFileError(msg)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


# ------------------------------------------------------------------------- save
def _feature_set_params(res: Segmentation, fs: FeatureSet | None) -> Any:
    if res.input_kind != "tables":
        return None
    fs = fs or FeatureSet.default(id=res.id)
    return _plain(fs.get_params(), "the FeatureSet parameters")


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def _profile_state(p: SegmentProfile) -> dict[str, Any]:
    """Return a profile card's fields (``meta`` is the manifest's ``feature_meta``)."""
    return {
        f.name: getattr(p, f.name) for f in dataclasses.fields(p) if f.name != "meta"
    }


def _result_state(res: Segmentation) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return the result's manifest entry and its files (``result/``)."""
    tables: dict[str, pl.DataFrame | None] = {
        "labels": res.labels,
        "features": res.features,
        "merge_tree": res.merge_tree,
        "stability": res.stability,
        "candidates": res.candidates,
        "validation": None
        if res.validation_ids is None
        else res.validation_ids.to_frame(res.id),
    }
    comparison = res.outcome_comparison
    state: dict[str, Any] = {
        "profiles": [_profile_state(p) for _, p in sorted(res.profiles.items())],
        "stable": res.stable,
        "outcomes": None,
    }
    if comparison is not None:
        tables |= {f"outcomes_{k}": getattr(comparison, k) for k in _OUTCOME_TABLES}
        state["outcomes"] = {
            k: getattr(comparison, k)
            for k in (
                "groups",
                "thresholds",
                "n_bootstrap",
                "alpha",
                "segments",
                "validated_on",
            )
        }
    state["run"] = res.run
    files = {f"{k}.parquet": _parquet(t) for k, t in tables.items() if t is not None}
    # Its own file, not the manifest (written with sorted keys): the order of
    # card sections, outcomes and run entries is part of what a report shows.
    text = json.dumps(_plain(state, "the segmentation"), allow_nan=False)
    files[_RESULT_JSON] = text.encode()
    return {"sha256": {name: _sha256(data) for name, data in files.items()}}, files


def _collect(
    model: Segmenter | Segmentation | Any,
) -> tuple[dict[str, Any], dict[str, dict[str, bytes]]]:
    """Return the manifest and the files of each member folder."""
    res = as_result(model)
    # A model that mixes two fits would save without error and assign nothing right.
    check_fitted_state(res)
    adapter, state = res.clusterer, res.assign_state
    arrays = {f"clusterer.{k}": v for k, v in adapter.to_arrays().items()}
    arrays["assign.noise_X"] = state.noise_X
    files = {name: _npy_bytes(np.asarray(a), name) for name, a in arrays.items()}
    guide_state, guide_files = (None, {}) if res.guide is None else res.guide.to_state()
    result_state, result_files = _result_state(res)
    outcomes = res.outcomes  # None when the fit had no outcomes
    manifest = {
        "format": "segdiscover-model",
        "format_version": FORMAT_VERSION,
        "segdiscover_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "id": res.id,
        "noise": res.noise,
        "input_kind": res.input_kind,
        "feature_set": _feature_set_params(res, getattr(model, "features", None)),
        "feature_levels": _plain(res.feature_levels, "feature_levels_"),
        "feature_schema": _plain(state.to_dict(), "the feature schema"),
        "feature_meta": _plain(
            [dataclasses.asdict(m) for m in res.feature_meta], "feature_meta_"
        ),
        "preprocessor": _plain(res.preprocessor.to_dict(), "preprocessor_"),
        # Outcome-guided models: LightGBM text models under guide/, hashed.
        "guide": None if guide_state is None else _plain(guide_state, "guide_"),
        "clusterer": {
            "name": res.clusterer_name,
            "adapter": type(adapter).__name__,
            "native_assign": bool(adapter.native_assign),
            "params": _plain(adapter.saved_params(), "the clusterer parameters"),
        },
        "segments": _plain(res.segments.to_dicts(), "segments_"),
        # The manifest is written with sorted keys: keep the table's column order.
        "segments_columns": list(res.segments.columns),
        "outcomes": None
        if outcomes is None
        else _plain(outcomes.to_dicts(), "outcomes_"),
        "outcomes_columns": None if outcomes is None else list(outcomes.columns),
        "run": _plain(res.run, "run_"),
        # The whole segmentation, so a loaded model renders the same report.
        "result": result_state,
    }
    manifest["arrays"] = {
        name: {
            "file": f"{ARRAYS}/{name}.npy",
            "sha256": _sha256(data),
            "dtype": str(np.asarray(arrays[name]).dtype),
            "shape": list(np.asarray(arrays[name]).shape),
        }
        for name, data in files.items()
    }
    return manifest, {ARRAYS: files, GUIDE: guide_files, RESULT: result_files}


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def check_target(target: Path) -> None:
    """Refuse a model folder that is a file or holds files other than a model's."""
    if target.exists() and not target.is_dir():
        msg = f"Cannot save the model to {str(target)!r}: it is a file, not a folder."
        raise ModelFileError(msg)
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        msg = (
            f"Cannot save the model to {str(target)!r}: the folder holds other "
            "files and no saved model. Pass a new or empty folder (a saved model's "
            "folder is replaced)."
        )
        raise ModelFileError(msg)


def save(model: Segmenter | Segmentation | Any, path: str | os.PathLike[str]) -> Path:
    """Save a fitted model to a folder that holds no code.

    Parameters
    ----------
    model : Segmenter, loaded model or Segmentation
        Fitted.
    path : str or path-like
        Folder to create (or a saved model's folder, replaced).

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ModelFileError
        The clusterer's state cannot be stored as arrays (a user estimator with its
        own ``predict``), or ``path`` is a file or a folder of other files.

    Examples
    --------
    >>> import tempfile
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> folder = save(seg, tempfile.mkdtemp() + "/model")
    >>> sorted(p.name for p in folder.iterdir())
    ['arrays', 'checksum', 'manifest.json', 'result']
    """
    target = Path(path)
    manifest, members = _collect(model)
    if target.is_symlink():
        target = target.resolve()  # a published output's link: save where it points
    clean_dir_debris(target)
    check_target(target)
    try:
        tmp = new_dir_beside(target)
    except OSError as exc:
        msg = f"Cannot save the model to {str(target)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    try:
        tmp.chmod(0o755)
        for sub, files in members.items():
            if files or sub == ARRAYS:
                (tmp / sub).mkdir()
            for name, data in files.items():
                _write(tmp / sub / (f"{name}.npy" if sub == ARRAYS else name), data)
        text = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False)
        body = (text + "\n").encode()
        _write(tmp / MANIFEST, body)
        _write(tmp / CHECKSUM, f"{_sha256(body)}  {MANIFEST}\n".encode())
        # One atomic exchange: the folder is the old model or the new one, always.
        replace_dir(tmp, target)
    except ModelFileError:
        raise
    except OSError as exc:  # full disk, no permission: the environment, not the model
        msg = f"Cannot save the model to {str(target)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _read_member(folder: Path, name: str) -> bytes:
    path = folder / name
    if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
        msg = (
            f"The member {name!r} of the saved model {str(folder)!r} is linked "
            "outside the model folder; a saved model holds its own files."
        )
        raise ModelFileError(msg)
    if not path.is_file():
        msg = (
            f"The saved model {str(folder)!r} lacks its member {name!r}; the folder "
            "is incomplete or was modified. Save the model again."
        )
        raise ModelFileError(msg)
    return path.read_bytes()


def _no_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity, which save() never writes (allow_nan=False).
    msg = f"{name} is not a number a saved model holds"
    raise ValueError(msg)


def _parse_manifest(folder: Path, body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        msg = f"The manifest of {str(folder)!r} is not valid JSON ({exc})."
        raise ModelFileError(msg) from exc
    if not isinstance(manifest, dict):
        msg = f"The manifest of {str(folder)!r} is not a JSON object."
        raise ModelFileError(msg)
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        msg = (
            f"The manifest of {str(folder)!r} has no valid format_version "
            f"(got {version!r}); it is not a segdiscover model."
        )
        raise ModelFileError(msg)
    if version > FORMAT_VERSION:
        msg = (
            f"The model in {str(folder)!r} has format version {version}, written by "
            f"segdiscover {manifest.get('segdiscover_version', '?')}; this "
            f"segdiscover ({__version__}) reads format version {FORMAT_VERSION} "
            "and older. Upgrade segdiscover to load it."
        )
        raise ModelFileError(msg)
    return manifest


_CHECKSUM_LINE = re.compile(rb"\A([0-9a-f]{64})  manifest\.json\n?\Z")


def _check_checksum(folder: Path, body: bytes) -> None:
    raw = _read_member(folder, CHECKSUM)
    m = _CHECKSUM_LINE.match(raw)
    if m is None:
        # Quoted with repr: bytes from a file never reach the terminal raw.
        msg = (
            f"The manifest of {str(folder)!r} was modified or its checksum file is "
            f"damaged: it must read '<sha256>  manifest.json' (got {raw[:80]!r}). "
            "Refusing a tampered or corrupted model."
        )
        raise ModelFileError(msg)
    expected = m.group(1).decode()
    got = _sha256(body)
    if got != expected:
        msg = (
            f"The manifest of {str(folder)!r} was modified: its SHA-256 is "
            f"{got[:12]}..., the checksum file records {expected[:12]}.... "
            "Refusing a tampered or corrupted model."
        )
        raise ModelFileError(msg)


def _check_members(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse array or guide files no manifest names: a folder mixing two saves.

    Only ``arrays/``, ``guide/`` and ``result/`` are checked, where segdiscover
    alone writes;
    a file a user keeps beside the manifest (notes, a run store) is left alone, as
    are hidden files (a file manager's ``.DS_Store``).
    """
    arrays = manifest.get("arrays")
    guide = manifest.get("guide")
    known = {MANIFEST, CHECKSUM}
    if isinstance(arrays, dict):
        known |= {f"{ARRAYS}/{name}.npy" for name in arrays}
    if isinstance(guide, dict) and isinstance(guide.get("sha256"), dict):
        known |= {f"{GUIDE}/{name}" for name in guide["sha256"]}
    result = manifest.get("result")
    if isinstance(result, dict) and isinstance(result.get("sha256"), dict):
        known |= {f"{RESULT}/{name}" for name in result["sha256"]}
    ends = {ARRAYS: (".npy",), GUIDE: (".txt",), RESULT: (".parquet", ".json")}
    extra = []
    for sub, end in ends.items():
        if not (folder / sub).is_dir():
            continue
        for root, dirs, files in os.walk(folder / sub):
            rel = Path(root).relative_to(folder)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            # Only names a save writes (arrays/*.npy, guide/*.txt...): another
            # file may be what a member links to inside the folder.
            extra += [
                (rel / name).as_posix()
                for name in [*files, *dirs]
                if not name.startswith(".")
                and name.endswith(end)
                and (rel / name).as_posix() not in known
            ]
    if extra:
        msg = (
            f"The saved model {str(folder)!r} holds files its manifest does not "
            f"name: {sorted(extra)[:5]}; the folder mixes two saves or was modified. "
            "Save the model again."
        )
        raise ModelFileError(msg)


def _read_arrays(folder: Path, records: Any) -> dict[str, np.ndarray]:
    """Read every array, each checked against its record before it is allocated."""
    if not isinstance(records, dict):
        msg = f"The manifest of {str(folder)!r} has no valid table of arrays."
        raise ModelFileError(msg)
    out = {}
    for name, rec in records.items():
        if not _ARRAY_NAME.match(name):
            msg = f"The manifest names an invalid array {name!r}."
            raise ModelFileError(msg)
        member = f"{ARRAYS}/{name}.npy"
        dtype, shape, sha = array_record(folder, name, rec)
        check_file_size(folder, member, dtype, shape)
        data = _read_member(folder, member)
        if _sha256(data) != sha:
            msg = (
                f"The array file {member!r} of {str(folder)!r} was modified: its "
                "SHA-256 differs from the one in the manifest. Refusing a tampered "
                "or corrupted model."
            )
            raise ModelFileError(msg)
        out[name] = parse_npy(folder, member, data, dtype, shape)
    return out


def _read_guide(folder: Path, state: Any) -> OutcomeGuide | None:
    """Rebuild the outcome guide of a guided model (None for an unsupervised one)."""
    if state is None:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("sha256"), dict):
        msg = f"The outcome guide in the manifest of {str(folder)!r} is malformed."
        raise ModelFileError(msg)
    names = list(state["sha256"])
    bad = [n for n in names if not isinstance(n, str) or not _GUIDE_FILE.match(n)]
    if bad:
        msg = f"The manifest of {str(folder)!r} names unexpected guide files {bad}."
        raise ModelFileError(msg)
    files = {n: _read_member(folder, f"{GUIDE}/{n}") for n in names}
    return OutcomeGuide.from_state(state, files)


def _feature_set(params: dict[str, Any]) -> FeatureSet:
    """Rebuild a FeatureSet from its saved parameters (segdiscover builders only)."""
    builders = []
    for p in params["builders"]:
        cls = _BUILDER_CLASSES.get(p["type"])
        if cls is None:
            msg = (
                f"The model's features come from the builder {p['type']!r}, which is "
                "not part of segdiscover; a saved model holds no code. Build the "
                "features yourself (FeatureSet.build(..., levels=model."
                "feature_levels_)) and assign that customer-level table."
            )
            raise ModelFileError(msg)
        # Files saved before builders derived their time column carry it as
        # "time_column" (the ts/opened column again); it is not a parameter.
        p = {k: v for k, v in p.items() if k != "time_column"}
        names = cls().get_params(deep=False)
        builder = cls(**{k: v for k, v in p.items() if k in names})
        again = _plain({"type": p["type"], **builder.get_params()}, "a builder")
        if again != p:
            msg = f"The saved builder {p['type']!r} cannot be rebuilt exactly: {p}."
            raise ModelFileError(msg)
        builders.append(builder)
    return FeatureSet(
        builders,
        id=params["id"],
        customers_table=params["customers_table"],
        signup=params["signup"],
    )


def _read_result(
    folder: Path, state: Any
) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """Read the result's JSON part and tables, each checked against its hash first."""
    if not isinstance(state, dict) or not isinstance(state.get("sha256"), dict):
        msg = f"The segmentation in the manifest of {str(folder)!r} is malformed."
        raise ModelFileError(msg)
    out = {}
    for name, sha in state["sha256"].items():
        if not isinstance(name, str) or not _RESULT_FILE.match(name):
            msg = f"The manifest of {str(folder)!r} names an unexpected file {name!r}."
            raise ModelFileError(msg)
        data = _read_member(folder, f"{RESULT}/{name}")
        if _sha256(data) != sha:
            msg = (
                f"The file {RESULT}/{name!r} of {str(folder)!r} was modified: its "
                "SHA-256 differs from the one in the manifest. Refusing a tampered "
                "or corrupted model."
            )
            raise ModelFileError(msg)
        if name != _RESULT_JSON:
            out[name.removesuffix(".parquet")] = pl.read_parquet(io.BytesIO(data))
    if _RESULT_JSON not in state["sha256"]:
        msg = f"The manifest of {str(folder)!r} names no {RESULT}/{_RESULT_JSON}."
        raise ModelFileError(msg)
    text = _read_member(folder, f"{RESULT}/{_RESULT_JSON}")
    return json.loads(text, parse_constant=_no_constant), out


def _comparison(
    tables: Mapping[str, pl.DataFrame], state: dict[str, Any] | None
) -> OutcomeComparison | None:
    if state is None:
        return None
    frame = {k: tables[f"outcomes_{k}"] for k in _OUTCOME_TABLES}
    return OutcomeComparison(
        vs_rest=frame["vs_rest"],
        pairs=frame["pairs"],
        omnibus=frame["omnibus"],
        merge_candidates=frame["merge_candidates"],
        answers=frame["answers"],
        groups=[[int(s) for s in g] for g in state["groups"]],
        thresholds=dict(state["thresholds"]),
        n_bootstrap=int(state["n_bootstrap"]),
        alpha=float(state["alpha"]),
        segments=[int(s) for s in state["segments"]],
        validated_on=state["validated_on"],
    )


def _segmentation(
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    guide: OutcomeGuide | None,
    state: dict[str, Any],
    tables: Mapping[str, pl.DataFrame],
) -> Segmentation:
    """Rebuild the saved segmentation from the manifest and the result's files."""
    spec = manifest["clusterer"]
    cls = ADAPTERS.get(spec["adapter"])
    if cls is None:
        msg = f"The model names an unknown clusterer adapter {spec['adapter']!r}."
        raise ModelFileError(msg)
    prefix = "clusterer."
    clusterer = cls.from_arrays(
        spec["params"],
        {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
        native_assign=bool(spec["native_assign"]),
    )
    meta = tuple(FeatureMeta(**m) for m in manifest["feature_meta"])
    by_name = {m.name: m for m in meta}
    profiles = {
        int(p["segment_id"]): SegmentProfile(**p, meta=by_name)
        for p in state["profiles"]
    }
    validation = tables.get("validation")
    return Segmentation(
        id=str(manifest["id"]),
        profiles=profiles,
        labels=tables["labels"],
        features=tables["features"],
        feature_meta=meta,
        run=state["run"],
        merge_tree=tables["merge_tree"],
        clusterer=clusterer,
        clusterer_name=str(spec["name"]),
        preprocessor=Preprocessor.from_dict(manifest["preprocessor"]),
        assign_state=AssignState.from_dict(
            manifest["feature_schema"], arrays["assign.noise_X"]
        ),
        noise=str(manifest["noise"]),
        input_kind=str(manifest["input_kind"]),
        feature_levels=manifest["feature_levels"],
        guide=guide,
        candidates=tables.get("candidates"),
        stability=tables.get("stability"),
        outcome_comparison=_comparison(tables, state["outcomes"]),
        stable=state["stable"],
        validation_ids=None if validation is None else validation.to_series(),
    )


class LoadedModel:
    """A saved segmentation read back: it assigns exactly as the fitted model did.

    Built by :func:`load`; not fitted again. ``result_`` is the same
    :class:`~segdiscover.result.Segmentation` the fitted model held, so
    :meth:`profile` and :meth:`report` render as they did; ``assign`` has the
    signature of :func:`segdiscover.assign.assign`.

    Attributes
    ----------
    result_ : Segmentation
    id : str
        Customer id column.
    noise : str
        The fitted model's noise policy.
    manifest_ : dict
        The manifest as read.

    ``input_kind_``, ``feature_levels_``, ``feature_meta_``, ``preprocessor_``,
    ``guide_``, ``clusterer_``, ``clusterer_name_``, ``n_segments_``,
    ``segments_``, ``labels_``, ``outcomes_``, ``run_`` and ``assign_state_``
    read ``result_``, as on a fitted Segmenter.
    """

    def __init__(self, manifest: dict[str, Any], result: Segmentation) -> None:
        self.manifest_ = manifest
        self.result_ = result
        self.id = result.id
        self.noise = result.noise

    input_kind_ = property(lambda self: self.result_.input_kind)
    feature_levels_ = property(lambda self: self.result_.feature_levels)
    feature_meta_ = property(lambda self: list(self.result_.feature_meta))
    preprocessor_ = property(lambda self: self.result_.preprocessor)
    guide_ = property(lambda self: self.result_.guide)
    clusterer_ = property(lambda self: self.result_.clusterer)
    clusterer_name_ = property(lambda self: self.result_.clusterer_name)
    n_segments_ = property(lambda self: int(self.result_.clusterer.n_segments_))
    segments_ = property(lambda self: self.result_.segments)
    labels_ = property(lambda self: self.result_.labels)
    outcomes_ = property(lambda self: self.result_.outcomes)
    run_ = property(lambda self: self.result_.run)
    assign_state_ = property(lambda self: self.result_.assign_state)

    @property
    def features(self) -> FeatureSet | None:
        """The feature builders (None for a model fitted on a customer table)."""
        params = self.manifest_["feature_set"]
        return None if params is None else _feature_set(params)

    def assign(
        self,
        X: Any,
        *,
        as_of: Any = None,
        force: bool = False,
        allow_unassigned: bool = False,
    ) -> pl.DataFrame:
        """Assign customers; see :func:`segdiscover.assign.assign`."""
        return assign(
            self, X, as_of=as_of, force=force, allow_unassigned=allow_unassigned
        )

    def profile(self, segment_id: int) -> SegmentProfile:
        """Return one segment's profile card, as the fitted model showed it."""
        return self.result_.profile(segment_id)

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the report (``.html`` or ``.md``), as the fitted model wrote it."""
        return self.result_.report(path)

    def __repr__(self) -> str:
        return (
            f"LoadedModel({self.clusterer_name_}, {self.n_segments_} segments, "
            f"id={self.id!r}, input={self.input_kind_})"
        )

    def _repr_html_(self) -> str:
        return self.result_._repr_html_()


def load(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a model saved by :func:`save`, checking version and hashes.

    Parameters
    ----------
    path : str or path-like
        The model folder.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelFileError
        Not a model folder, a member missing, a hash that does not match (tampered
        or corrupted), or a format version newer than this segdiscover reads.

    Examples
    --------
    >>> import tempfile
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> model = load(save(seg, tempfile.mkdtemp() + "/model"))
    >>> out = model.assign(data.tables, as_of=data.as_of)
    >>> out["segment_id"].equals(seg.labels_["segment_id"])
    True
    """
    folder = Path(path)
    clean_dir_debris(folder)  # a swap killed half-way is rolled back first
    if folder.is_symlink():
        # A published output: every member is read from the one generation the
        # link names now, even if a new run is published while this one reads.
        folder = folder.resolve()
    if not folder.is_dir():
        msg = f"There is no saved model at {str(folder)!r} (not a folder)."
        raise ModelFileError(msg)
    body = _read_member(folder, MANIFEST)
    manifest = _parse_manifest(folder, body)
    _check_checksum(folder, body)
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing == ["result"]:
        msg = (
            f"The model in {str(folder)!r} was saved by segdiscover "
            f"{manifest.get('segdiscover_version', '?')} without its segmentation "
            "(result/), which a loaded model renders its profiles and report from. "
            "Fit and save it again with this segdiscover."
        )
        raise ModelFileError(msg)
    if missing:
        msg = f"The manifest of {str(folder)!r} lacks the entries {missing}."
        raise ModelFileError(msg)
    try:
        arrays = _read_arrays(folder, manifest["arrays"])
        guide = _read_guide(folder, manifest.get("guide"))
        pre = Preprocessor.from_dict(manifest["preprocessor"])
        width = len((pre if guide is None else guide).feature_names_out_)
        check_arrays(folder, manifest, arrays, width)
        check_schema(folder, manifest)
        _check_members(folder, manifest)
        state, tables = _read_result(folder, manifest["result"])
        result = _segmentation(manifest, arrays, guide, state, tables)
        return LoadedModel(manifest, result)
    except ModelFileError:
        raise
    # Whatever a malformed field makes the rebuilding code raise is a file error.
    except (
        SegdiscoverError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        OverflowError,
        pl.exceptions.PolarsError,
    ) as exc:
        msg = f"The manifest of {str(folder)!r} is malformed: {exc!r}."
        raise ModelFileError(msg) from exc
