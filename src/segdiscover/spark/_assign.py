"""Score every customer on Spark with a saved model broadcast to the executors."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from segdiscover.exceptions import InputError, SegdiscoverWarning
from segdiscover.spark._features import build_features
from segdiscover.spark._session import (
    check_frame,
    require_pyspark,
    require_spark_columns,
    struct_type,
    to_arrow,
)

#: Models loaded in this Python worker, by the hash of their files.
_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def model_files(model: Any) -> dict[str, bytes]:
    """Every file of a saved model folder (or of a fitted model, saved first).

    Examples
    --------
    >>> import tempfile
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> files = model_files(seg.fit(data.tables, as_of=data.as_of))
    >>> "manifest.json" in files
    True
    """
    if isinstance(model, str | os.PathLike):
        folder = Path(model)
        if folder.is_symlink():
            folder = folder.resolve()
        if not (folder / "manifest.json").is_file():
            msg = f"There is no saved model at {str(folder)!r} (no manifest.json)."
            raise InputError(msg)
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
    if hasattr(model, "manifest_"):
        msg = (
            "Pass the folder a loaded model was read from (sd.spark.assign(path, "
            "...)): its files are what the executors load."
        )
        raise InputError(msg)
    from segdiscover.persist import save

    with tempfile.TemporaryDirectory() as tmp:
        return model_files(save(model, Path(tmp) / "model"))


def _digest(files: Mapping[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def loaded(files: Mapping[str, bytes]) -> Any:
    """Load a model from its files once per Python worker (checked by ``load``)."""
    key = _digest(files)
    with _LOCK:
        if key not in _LOADED:
            from segdiscover.persist import load

            folder = Path(tempfile.mkdtemp(prefix="segdiscover-model-"))
            for name, data in files.items():
                path = folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            _LOADED[key] = load(folder)
        return _LOADED[key]


def assign(
    model: Any,
    data: Any,
    *,
    as_of: Any = None,
    force: bool = False,
    allow_unassigned: bool = False,
    n_buckets: int | None = None,
) -> Any:
    """Assign every customer on Spark with a saved model, as ``model.assign`` does.

    The model's files are broadcast once; each executor's Python worker loads them
    (hashes checked, nothing executed) and scores its Arrow batches with the model's
    own ``assign``. A customer's assignment reads only its own row, so the result
    equals the local ``sd.load(path).assign(...)`` row for row.

    Parameters
    ----------
    model : str, path-like or Segmenter
        A saved model's folder, or a fitted Segmenter (saved to a temporary
        folder first). Unsupervised and outcome-guided models alike.
    data : pyspark.sql.DataFrame or dict of str to pyspark.sql.DataFrame
        Customer-level features (e.g. :func:`segdiscover.spark.build_features`
        output, or a table with the model's feature columns), or raw tables, whose
        features are then built on Spark with the model's builders and levels.
    as_of : date, datetime or str, optional
        Feature cutoff; required with raw tables.
    force, allow_unassigned : bool, default False
        As for :func:`segdiscover.assign.assign`.
    n_buckets : int, optional
        For raw tables: see :func:`segdiscover.spark.build_features`.

    Returns
    -------
    pyspark.sql.DataFrame
        ``<id>``, ``segment_id`` (long), ``segment_name``, ``confidence``,
        ``is_novel`` and ``is_noise``; one row per customer, in no particular order.

    Examples
    --------
    >>> from segdiscover.spark import assign
    >>> out = assign("model/", features)  # doctest: +SKIP
    >>> out.write.parquet("segments/")  # doctest: +SKIP
    """
    types = require_pyspark()
    files = model_files(model)
    local = loaded(files)
    if isinstance(data, Mapping):
        if local.input_kind_ != "tables":
            msg = (
                "This model was fitted on a customer-level table; pass one Spark "
                "DataFrame with its feature columns, not a dict of raw tables."
            )
            raise InputError(msg)
        data = build_features(
            data,
            local.features,
            as_of,
            levels=local.feature_levels_,
            n_buckets=n_buckets,
        )
        fs_id = local.features.id if local.features is not None else local.id
        if fs_id != local.id:
            data = data.withColumnRenamed(fs_id, local.id)
    check_frame(data, "data")
    needed = [local.id, *(c["name"] for c in local.assign_state_.columns)]
    require_spark_columns(data, needed, "features table")
    frame = data.select(*needed)
    id_type = frame.schema[local.id].dataType
    schema = pl.Schema(
        {
            "segment_id": pl.Int64,
            "segment_name": pl.String,
            "confidence": pl.Float64,
            "is_novel": pl.Boolean,
            "is_noise": pl.Boolean,
        }
    )
    out_type = struct_type(schema)
    out_type = types.StructType(
        [types.StructField(local.id, id_type, True), *out_type.fields]
    )
    shipped = frame.sparkSession.sparkContext.broadcast(files)
    id_col = local.id

    def score(batches: Any) -> Any:
        import pyarrow as pa

        m = loaded(shipped.value)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            part = pl.from_arrow(pa.Table.from_batches([batch]))
            assert isinstance(part, pl.DataFrame)
            with warnings.catch_warnings():
                # New categories are reported per batch on the executors.
                warnings.simplefilter("ignore", SegdiscoverWarning)
                out = m.assign(part, force=force, allow_unassigned=allow_unassigned)
            ids = out.get_column(id_col).to_arrow()
            rest = to_arrow(out.drop(id_col), schema)
            table = pa.Table.from_arrays(
                [ids.cast(batch.schema.field(id_col).type), *rest.columns],
                names=[id_col, *schema.names()],
            )
            yield from table.to_batches()

    return frame.mapInArrow(score, out_type)
