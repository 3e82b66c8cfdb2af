"""Field-by-field checks of a saved model's arrays, and of a model about to be saved.

A saved model's hashes prove that its files agree with its manifest, not who wrote
them: anyone can edit an array and re-hash the manifest and the checksum. So
:func:`read_array` checks each ``.npy`` file's size and header against the
manifest's record *before* it allocates anything (a header that declares a huge
shape is refused, not attempted), and :func:`check_arrays` checks every array
against the model it belongs to: widths against the feature schema (the
preprocessor's output, or the outcome guide's space for a guided model), label
arrays against the segment ids, and no NaN or infinity except the ``inf`` rows
that stand for segment ids no longer in use (see ``ClusterAdapter.renumber``).

:func:`check_fitted_state` is the same idea on the way out: :func:`save` refuses a
Segmenter whose segments, labels and clusterer describe different fits.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segdiscover.exceptions import ModelFileError, NotFittedError

if TYPE_CHECKING:
    from segdiscover.result import Segmentation

#: dtypes a saved array may have (what ``persist._npy_bytes`` writes: numbers).
DTYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
    | {"uint64", "float16", "float32", "float64"}
)
#: numpy's own limit on the header it parses safely, plus magic and length bytes.
MAX_HEADER_BYTES = 10_000 + 12
MAX_NDIM = 3
#: Integer arrays (segment ids and raw labels); every other array is float64.
LABEL_ARRAYS = frozenset(
    {"clusterer.raw_to_label", "clusterer.reference_labels"}
    | {"clusterer.subcluster_labels"}
)
#: Arrays of points in the clusterer's space: (rows, width).
POINT_ARRAYS = frozenset(
    {"clusterer.centroids", "clusterer.cluster_centers", "clusterer.reference_X"}
    | {"clusterer.subcluster_centers", "clusterer.means", "clusterer.pca_components"}
    | {"assign.noise_X"}
)
REQUIRED = ("clusterer.centroids", "clusterer.raw_to_label", "assign.noise_X")
#: Every array a saved model may hold; any other name is not from ``save``.
KNOWN_ARRAYS = (
    LABEL_ARRAYS
    | POINT_ARRAYS
    | {"clusterer.pca_mean", "clusterer.weights", "clusterer.covariances"}
    | {"clusterer.precisions", "clusterer.precisions_cholesky"}
)
#: Largest magnitude of a saved number: ten times the door's bound on input values
#: (``_checks.MAX_ABS_VALUE``), which no fit on data the door lets in exceeds
#: (a scale is at most the data's range). Past it distances overflow to inf/NaN.
MAX_MAGNITUDE = 1e16
#: Count parameters of the clusterer (``n_clusters``, ``n_init``...) lie in [1, this].
MAX_COUNT = 1_000_000
#: Values the manifest's categorical fields take (what ``save`` writes).
TRANSFORMS = ("none", "log1p", "signed_log1p")
KINDS = ("numeric", "categorical")
NOISE_POLICIES = ("assign", "keep")
INPUT_KINDS = ("table", "tables")
#: Shapes of a Gaussian mixture's covariance arrays, by ``covariance_type``.
_GMM_SHAPES = {
    "full": lambda k, d: (k, d, d),
    "tied": lambda k, d: (d, d),
    "diag": lambda k, d: (k, d),
    "spherical": lambda k, d: (k,),
}


def _refuse(folder: Path, member: str, why: str) -> ModelFileError:
    msg = (
        f"The array file {member!r} of the saved model {str(folder)!r} {why}. "
        "Refusing a damaged or altered model (its hashes match, but a hash is no "
        "signature); save the model again."
    )
    return ModelFileError(msg)


def array_record(
    folder: Path, name: str, rec: Any
) -> tuple[np.dtype[Any], tuple[int, ...], str]:
    """Check one ``manifest["arrays"]`` entry; return its dtype, shape and hash."""
    member = f"arrays/{name}.npy"
    if not isinstance(rec, dict):
        raise _refuse(folder, member, "has no valid record in the manifest")
    shape, dtype, sha = rec.get("shape"), rec.get("dtype"), rec.get("sha256")
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_NDIM
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        why = f"has the recorded shape {shape!r}; expected up to {MAX_NDIM} sizes >= 0"
        raise _refuse(folder, member, why)
    if dtype not in DTYPES:
        raise _refuse(folder, member, f"has the recorded dtype {dtype!r}, not a number")
    if not (isinstance(sha, str) and len(sha) == 64):
        raise _refuse(folder, member, f"has no valid SHA-256 in the manifest ({sha!r})")
    return np.dtype(dtype), tuple(shape), sha


def check_file_size(
    folder: Path, member: str, dtype: np.dtype[Any], shape: tuple[int, ...]
) -> None:
    """Refuse a file outside the folder, or whose size cannot hold the array.

    Checked before the file is read. A member that is a symbolic link (or lies in a
    linked ``arrays/`` folder) leading out of the model folder is refused: a model
    folder holds its own files, and a link would let a copied folder read whatever
    file it names (tests/hostile, ``model-symlink-array-outside``).
    """
    path = folder / member
    if not path.is_file():
        return  # the caller's read names the missing member
    if not path.resolve().is_relative_to(folder.resolve()):
        why = f"is a link to {str(path.resolve())!r}, outside the model folder"
        raise _refuse(folder, member, why)
    size = path.stat().st_size
    nbytes = math.prod(shape) * dtype.itemsize
    if not nbytes < size <= nbytes + MAX_HEADER_BYTES:
        why = (
            f"is {size:,} bytes, which cannot be the recorded {dtype} array of "
            f"shape {shape} ({nbytes:,} bytes of data)"
        )
        raise _refuse(folder, member, why)


def parse_npy(
    folder: Path,
    member: str,
    data: bytes,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
) -> np.ndarray:
    """Read a ``.npy`` file's header, check it against the record, then its data.

    Nothing is allocated before the header's dtype and shape equal the manifest's
    and the data's length equals what they imply.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.arange(3.0))
    >>> parse_npy(Path("m"), "a.npy", buf.getvalue(), np.dtype("float64"), (3,))
    array([0., 1., 2.])
    >>> parse_npy(Path("m"), "a.npy", buf.getvalue(), np.dtype("float64"), (4,))
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.ModelFileError: The array file 'a.npy' of the saved ...
    """
    buf = io.BytesIO(data)
    fmt = np.lib.format
    try:
        with warnings.catch_warnings():
            # numpy warns, then re-parses, a header it takes for Python 2's: save
            # never writes one, so it is refused like any other odd header.
            warnings.simplefilter("error")
            version = fmt.read_magic(buf)
            if version == (1, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_1_0(buf)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_2_0(buf)
            else:
                msg = f"unsupported .npy format version {version}"
                raise ValueError(msg)
    except (ValueError, SyntaxError, TypeError, EOFError, RecursionError) as exc:
        raise _refuse(folder, member, f"has no valid .npy header ({exc})") from exc
    except Warning as exc:
        raise _refuse(folder, member, f"has no valid .npy header ({exc})") from exc
    if got_dtype != dtype or tuple(got_shape) != shape or fortran:
        why = (
            f"declares a {got_dtype} array of shape {tuple(got_shape)}"
            f"{' in Fortran order' if fortran else ''}; the manifest records "
            f"{dtype} of shape {shape}"
        )
        raise _refuse(folder, member, why)
    count = math.prod(shape)
    if len(data) - buf.tell() != count * dtype.itemsize:
        why = (
            f"holds {len(data) - buf.tell():,} bytes of data; its header declares "
            f"{count * dtype.itemsize:,}"
        )
        raise _refuse(folder, member, why)
    return np.frombuffer(data, dtype=dtype, count=count, offset=buf.tell()).reshape(
        shape
    )


def _live_ids(folder: Path, manifest: dict[str, Any]) -> list[int]:
    rows = manifest["segments"]
    ids = [r.get("segment_id") if isinstance(r, dict) else None for r in rows]
    live = [i for i in ids if type(i) is int and i >= 0]
    if len(live) != len(ids) or len(set(live)) != len(live):
        msg = (
            f"The manifest of {str(folder)!r} lists invalid segment ids {ids[:10]}; "
            "expected distinct integers >= 0."
        )
        raise ModelFileError(msg)
    return sorted(live)


def _check_centroids(folder: Path, c: np.ndarray, live: list[int], width: int) -> None:
    member = "arrays/clusterer.centroids.npy"
    if c.ndim != 2 or c.shape[1] != width:
        why = f"has shape {c.shape}; the model's space has {width} columns"
        raise _refuse(folder, member, why)
    if live and live[-1] >= c.shape[0]:
        why = f"has {c.shape[0]} rows; the manifest's segments go up to id {live[-1]}"
        raise _refuse(folder, member, why)
    if np.isnan(c).any():
        raise _refuse(folder, member, "holds NaN")
    finite = np.isfinite(c).all(1)
    dead = np.setdiff1d(np.arange(c.shape[0]), live)
    bad_live = [i for i in live if not finite[i]]
    # Ids no longer in use are whole rows of +inf (never nearest); nothing else.
    bad_dead = [int(i) for i in dead if not np.isposinf(c[i]).all()]
    if bad_live:
        raise _refuse(folder, member, f"holds infinity in live segment rows {bad_live}")
    huge = [i for i in live if np.abs(c[i]).max(initial=0.0) > MAX_MAGNITUDE]
    if huge:
        why = f"has values beyond ±{MAX_MAGNITUDE:g} in segment rows {huge}"
        raise _refuse(folder, member, why)
    if bad_dead:
        why = f"has rows {bad_dead} for unused ids that are not rows of +inf"
        raise _refuse(folder, member, why)


def _check_labels(folder: Path, arrays: dict[str, np.ndarray], live: list[int]) -> None:
    pairs = arrays["clusterer.raw_to_label"]
    member = "arrays/clusterer.raw_to_label.npy"
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise _refuse(folder, member, f"has shape {pairs.shape}; expected (n, 2)")
    raw, lab = pairs[:, 0], pairs[:, 1]
    if len(np.unique(raw)) != len(raw) or (raw < 0).any():
        raise _refuse(folder, member, "maps a raw label twice or a negative one")
    if not np.isin(lab, live).all():
        why = f"maps to segment ids {sorted(set(lab.tolist()) - set(live))} that the "
        raise _refuse(folder, member, why + f"model does not have (it has {live})")
    for name, against, what in (
        ("clusterer.reference_labels", live, "segment ids"),
        ("clusterer.subcluster_labels", raw.tolist(), "raw labels"),
    ):
        if name in arrays and not np.isin(arrays[name], against).all():
            why = f"holds values that are not the model's {what}"
            raise _refuse(folder, f"arrays/{name}.npy", why)
    for labels, points in (
        ("clusterer.reference_labels", "clusterer.reference_X"),
        ("clusterer.subcluster_labels", "clusterer.subcluster_centers"),
    ):
        if (labels in arrays) != (points in arrays) or (
            labels in arrays and arrays[labels].shape != arrays[points].shape[:1]
        ):
            why = f"does not have one label per row of {points.split('.')[1]}"
            raise _refuse(folder, f"arrays/{labels}.npy", why)


def _check_mixture(
    folder: Path, arrays: dict[str, np.ndarray], params: dict[str, Any], width: int
) -> None:
    if "clusterer.weights" not in arrays:
        return
    k = arrays["clusterer.weights"].shape[0]
    shape_of = _GMM_SHAPES.get(params.get("covariance_type", "full"))
    if shape_of is None:
        msg = (
            f"The saved model {str(folder)!r} names the covariance type "
            f"{params.get('covariance_type')!r}; expected one of {sorted(_GMM_SHAPES)}."
        )
        raise ModelFileError(msg)
    want = {
        "weights": (k,),
        "means": (k, width),
        **dict.fromkeys(
            ("covariances", "precisions", "precisions_cholesky"), shape_of(k, width)
        ),
    }
    for name, shape in want.items():
        got = arrays.get(f"clusterer.{name}")
        if got is None or got.shape != shape:
            why = f"has shape {None if got is None else got.shape}; expected {shape}"
            raise _refuse(folder, f"arrays/clusterer.{name}.npy", why)


def check_arrays(
    folder: Path,
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    width: int,
) -> None:
    """Check a saved model's arrays against each other and the model's space.

    Parameters
    ----------
    folder : Path
        The model folder (named in every message).
    manifest : dict
        The manifest, checksum checked.
    arrays : dict of str to ndarray
        As read by :func:`parse_npy`.
    width : int
        Columns of the space the clusterer works in: the preprocessor's output, or
        the outcome guide's space for a guided model.

    Raises
    ------
    ModelFileError
        Naming the first array that does not fit, and how.

    Examples
    --------
    >>> m = {"segments": [{"segment_id": 0}], "clusterer": {"params": {}}}
    >>> a = {"clusterer.centroids": np.zeros((1, 2)),
    ...      "clusterer.raw_to_label": np.zeros((1, 2), dtype=np.int64),
    ...      "assign.noise_X": np.zeros((0, 2))}
    >>> check_arrays(Path("m"), m, a, width=2)
    >>> check_arrays(Path("m"), m, a, width=3)
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.ModelFileError: The array file 'arrays/clusterer.centroids...
    """
    for name in REQUIRED:
        if name not in arrays:
            raise _refuse(folder, f"arrays/{name}.npy", "is not in the manifest")
    unknown = sorted(set(arrays) - KNOWN_ARRAYS)
    if unknown:
        why = "is not an array any segdiscover model holds (listed in the manifest)"
        raise _refuse(folder, f"arrays/{unknown[0]}.npy", why)
    for name, a in arrays.items():
        member = f"arrays/{name}.npy"
        want = np.dtype(np.int64 if name in LABEL_ARRAYS else np.float64)
        if a.dtype != want:
            raise _refuse(folder, member, f"has dtype {a.dtype}; expected {want}")
        if name in POINT_ARRAYS and (a.ndim != 2 or a.shape[1] != width):
            why = f"has shape {a.shape}; the model's space has {width} columns"
            raise _refuse(folder, member, why)
        if want.kind == "f" and name != "clusterer.centroids":
            if not np.isfinite(a).all():
                raise _refuse(folder, member, "holds NaN or infinity")
            if np.abs(a).max(initial=0.0) > MAX_MAGNITUDE:
                raise _refuse(folder, member, f"holds values beyond ±{MAX_MAGNITUDE:g}")
    if "clusterer.pca_mean" in arrays and arrays["clusterer.pca_mean"].shape != (
        width,
    ):
        why = f"has shape {arrays['clusterer.pca_mean'].shape}; expected ({width},)"
        raise _refuse(folder, "arrays/clusterer.pca_mean.npy", why)
    live = _live_ids(folder, manifest)
    _check_centroids(folder, arrays["clusterer.centroids"], live, width)
    _check_labels(folder, arrays, live)
    _check_mixture(folder, arrays, manifest["clusterer"]["params"], width)


def cluster_width(res: Segmentation) -> int:
    """Columns of the space a model's clusterer works in (guide or preprocessor)."""
    return len(
        (res.preprocessor if res.guide is None else res.guide).feature_names_out_
    )


def check_fitted_state(res: Segmentation) -> None:
    """Refuse to save a segmentation whose parts describe different fits.

    Raises
    ------
    NotFittedError
        Segments, labels, clusterer and feature space that disagree (e.g. parts
        of two fits put together).
    """
    centroids = np.asarray(res.clusterer.centroids_)
    live = np.flatnonzero(np.isfinite(centroids).all(1)).tolist()
    segments = sorted(int(i) for i in res.profiles)
    labels = res.labels.get_column("segment_id")
    placed = sorted(set(labels.filter(labels >= 0).to_list()))
    width = cluster_width(res)
    problems = []
    if segments != live:
        problems.append(f"segments_ lists ids {segments}, the clusterer has {live}")
    if not set(placed) <= set(segments):
        problems.append(f"labels_ uses ids {placed}, segments_ lists {segments}")
    ids = res.features.get_column(res.id)
    if not res.labels.get_column(res.id).equals(ids):
        problems.append("labels_ and features_ hold different customers")
    if centroids.ndim != 2 or centroids.shape[1] != width:
        problems.append(
            f"the clusterer's centres have shape {centroids.shape}, the feature "
            f"space has {width} columns"
        )
    if res.assign_state.noise_X.shape[1:] != (width,):
        problems.append("assign_state_ was computed in another feature space")
    if problems:
        msg = (
            "The model cannot be saved: its fitted state mixes different fits ("
            + "; ".join(problems)
            + "). Call fit(...) again before save."
        )
        raise NotFittedError(msg)


def _number(value: Any) -> bool:
    """Return whether ``value`` is a finite JSON number within MAX_MAGNITUDE."""
    return (
        type(value) in (int, float)
        and math.isfinite(value)
        and abs(value) <= MAX_MAGNITUDE
    )


def _count(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_COUNT


def check_schema(folder: Path, manifest: dict[str, Any]) -> None:
    """Check the fields and numbers assignment reads from the manifest.

    The id column must be a name and the noise policy and input kind ones that
    ``save`` writes; the clusterer's parameters must be plain values, its counts
    (``n_clusters``, ``n_init``...) integers in [1, :data:`MAX_COUNT`]; each
    preprocessor column must have a known kind and transform, and finite centres,
    scales and imputed values (scales > 0); the feature schema must list the
    preprocessor's input columns; the novelty rule's numbers and an outcome
    guide's scales (> 0) must be finite. Every number is bounded by
    :data:`MAX_MAGNITUDE`. Each would otherwise turn into NaN distances, a rule
    that marks no customer novel, or a field read as something else, without an
    error.

    Raises
    ------
    ModelFileError
        Naming the field and the value found.

    Examples
    --------
    >>> pre = {"columns": [{"name": "a", "kind": "numeric", "transform": "none",
    ...        "center": 0.0, "scale": 0.0}]}
    >>> fields = {"id": "id", "noise": "assign", "input_kind": "table",
    ...           "clusterer": {"params": {"n_clusters": 2}}}
    >>> check_schema(Path("m"), {**fields, "preprocessor": pre, "feature_schema": {}})
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.ModelFileError: The saved model 'm' has the preprocessor ...
    """
    bad = next(_schema_problems(manifest), None)
    if bad is not None:
        msg = (
            f"The saved model {str(folder)!r} has the {bad[0]} {bad[1]!r}, which no "
            "fit produces; refusing a damaged or altered model. Save it again."
        )
        raise ModelFileError(msg)


def _field_problems(manifest: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Yield (field, value) for top-level and clusterer fields of the wrong kind."""
    if not isinstance(manifest["id"], str) or not manifest["id"].strip():
        yield "id column", manifest["id"]
    if manifest["noise"] not in NOISE_POLICIES:
        yield "noise policy", manifest["noise"]
    if manifest["input_kind"] not in INPUT_KINDS:
        yield "input kind", manifest["input_kind"]
    params = manifest["clusterer"]["params"]
    if not isinstance(params, dict):
        yield "clusterer parameters", params
        return
    for key, value in params.items():
        if key.startswith(("n_", "max_", "min_")) or key in ("batch_size",):
            if value is not None and not _count(value):
                yield f"clusterer parameter {key!r}", value
        elif not (value is None or isinstance(value, bool | str) or _number(value)):
            yield f"clusterer parameter {key!r}", value


def _guide_problems(guide: Any) -> Iterator[tuple[str, Any]]:
    """Yield (field, value) for outcome-guide numbers no fit writes."""
    if not isinstance(guide, dict):
        return  # None (unsupervised); a malformed guide is refused when it is read
    scales = guide.get("scales")
    # An outcome the features do not predict gets scale 0 (its block is noise);
    # a fit with no scale above 0 is refused, so at least one is.
    if (
        not isinstance(scales, list)
        or not all(_number(v) and v >= 0 for v in scales)
        or not any(v > 0 for v in scales)
    ):
        yield "outcome guide scales", scales
    r2 = guide.get("r2")
    if not isinstance(r2, list) or not all(_number(v) for v in r2):
        yield "outcome guide R²", r2


def _schema_problems(manifest: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Yield (field, value) for each manifest field assignment could not use."""
    yield from _field_problems(manifest)
    yield from _guide_problems(manifest.get("guide"))
    columns = manifest["preprocessor"]["columns"]
    for c in columns:
        where = f"column {c.get('name')!r}"
        if c.get("kind") not in KINDS:
            yield f"preprocessor kind of {where}", c.get("kind")
        if c.get("kind") == "numeric" and c.get("transform") not in TRANSFORMS:
            yield f"preprocessor transform of {where}", c.get("transform")
        for key in ("center", "scale", "impute"):
            if key in c and not _number(c[key]):
                yield f"preprocessor {key} of {where}", c[key]
        if "scale" in c and c["scale"] <= 0:
            yield f"preprocessor scale of {where}", c["scale"]
        weights = c.get("weights")
        if weights is not None and not all(_number(w) for w in weights):
            yield f"level weights of {where}", weights
    schema = manifest["feature_schema"]
    names = [c.get("name") for c in schema["columns"]]
    if names != [c["name"] for c in columns]:
        yield "feature schema (not the preprocessor's columns)", names[:10]
    classes = ("numeric", "text", "null", "other")
    for c in schema["columns"]:
        cats = c.get("categories")
        if not isinstance(c.get("dtype"), str) or c.get("dtype_class") not in classes:
            yield f"schema record of column {c.get('name')!r}", c
        if cats is not None and not all(isinstance(v, str) for v in cats):
            yield f"categories of column {c.get('name')!r}", cats[:5]
    nov = schema["novelty"]
    for key in ("threshold", "quantile", "margin"):
        if not _number(nov.get(key)) or nov[key] < 0:
            yield f"novelty {key}", nov.get(key)
