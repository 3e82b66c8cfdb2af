"""Larger than memory on one machine: lazy inputs, hashed samples, streaming assign.

- :func:`scan_tables` opens parquet files, folders and globs (and CSV files) as
  polars ``LazyFrame`` scans, so only the columns the builders read are loaded and
  events on or after ``as_of`` are dropped while reading (predicate pushdown);
- :func:`hashed_sample` picks the fitting sample by a fixed hash of the customer id,
  the same customers :func:`segdiscover.spark.sample` picks on Spark;
- :func:`stream_assign` scores customers bucket by bucket (a hash of the id, so
  every customer's rows from every table are in one bucket and the features of a
  bucket equal those of the whole table), with the model's public ``assign``, and
  writes one parquet file per bucket: memory is bounded by one bucket, whatever
  the row count.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from segdiscover._atomic import polars_write_errors
from segdiscover._log import progress, progress_enabled
from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.features._spec import normalise_as_of, to_datetime_expr

#: Seed of the bucket hash (any fixed value: buckets only need to be disjoint).
BUCKET_SEED = 7


def hashed_sample(
    frame: pl.DataFrame, n: int, *, id: str = "customer_id"
) -> pl.DataFrame:
    """Return the ``n`` customers with the smallest fixed id hash, sorted by id.

    The hash is :func:`segdiscover.guide.customer_hash` (ties broken by id), so the
    sample does not depend on row order, on ``random_state``, or on the engine:
    :func:`segdiscover.spark.sample` returns the same customers from Spark.

    Parameters
    ----------
    frame : polars.DataFrame
        One row per customer.
    n : int
        Sample size (the whole table when it has fewer rows).
    id : str, default "customer_id"

    Returns
    -------
    polars.DataFrame

    Examples
    --------
    >>> frame = pl.DataFrame({"customer_id": list(range(100)), "x": [0.0] * 100})
    >>> a = hashed_sample(frame, 10)
    >>> b = hashed_sample(frame.reverse(), 10)
    >>> a.height, a.equals(b)
    (10, True)
    """
    from segdiscover.spark._sample import sortable_hash

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        msg = f"The 'n' parameter of hashed_sample must be an int >= 1. Got {n!r}."
        raise InvalidParameterError(msg)
    if id not in frame.columns:
        msg = (
            f"The table has no id column {id!r}; its columns are {frame.columns[:20]}."
        )
        raise InputError(msg)
    h = pl.Series("_h", sortable_hash(frame.get_column(id)))
    return frame.with_columns(h).sort(["_h", id]).head(n).drop("_h").sort(id)


# ------------------------------------------------------------------- inputs
def expand(path: str | os.PathLike[str]) -> list[str]:
    """Files of a parquet/CSV path: the file, a folder's files, or a glob's matches.

    Examples
    --------
    >>> expand("no/such/file.parquet")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: No such file, folder or glob match: 'no/such/file.parquet'.
    """  # noqa: E501
    p = str(path)
    if os.path.isdir(p):
        files = sorted(
            str(f)
            for f in Path(p).rglob("*")
            if f.is_file() and f.suffix.lower() in (".parquet", ".pq", ".csv")
        )
    elif any(ch in p for ch in "*?["):
        files = sorted(glob.glob(p, recursive=True))
    else:
        files = [p] if os.path.isfile(p) else []
    if not files:
        msg = f"No such file, folder or glob match: {p!r}."
        raise InputError(msg)
    return files


def scan(path: str | os.PathLike[str], id: str | None = None) -> pl.LazyFrame:
    """Open a parquet file, folder or glob (or CSV files) as one lazy scan.

    A CSV's id column is read as text, as :func:`segdiscover.cli._io.read_table`
    reads it, so ids match the other tables.
    """
    files = expand(path)
    csv = [f for f in files if f.lower().endswith(".csv")]
    if csv and len(csv) != len(files):
        msg = f"{str(path)!r} mixes CSV and parquet files; keep one format per table."
        raise InputError(msg)
    if csv:
        return pl.scan_csv(
            csv,
            infer_schema_length=10_000,
            try_parse_dates=True,
            schema_overrides={id: pl.String} if id else None,
        )
    return pl.scan_parquet(files)


def prune(name: str, lf: pl.LazyFrame, feature_set: Any, as_of: Any) -> pl.LazyFrame:
    """Keep what the builders read from table ``name``: columns and rows before as_of.

    An event table keeps only its builders' input columns (projection pushdown)
    and, when its event time is a date or datetime column, the rows before
    ``as_of`` (predicate pushdown: a parquet reader skips row groups after the
    cutoff); text times are left for the builders to parse and, when they do not
    parse, to refuse naming the value. The customers table and tables no builder
    reads are left whole.

    Examples
    --------
    >>> import datetime as dt
    >>> from segdiscover.features import FeatureSet
    >>> orders = pl.LazyFrame({
    ...     "customer_id": ["a", "b"], "order_id": [1, 2], "amount": [1.0, 2.0],
    ...     "ts": [dt.datetime(2025, 1, 1), dt.datetime(2025, 9, 1)],
    ...     "category": ["x", "y"], "channel": ["web", "web"],
    ...     "margin": [0.1, 0.2], "discount": [0.0, 0.0], "returned": [False, True],
    ... })
    >>> out = prune("orders", orders, FeatureSet.default(), "2025-07-01").collect()
    >>> out.height, "order_id" in out.columns
    (1, False)
    """
    as_of = normalise_as_of(as_of)
    builders = [b for b in feature_set.builders if b.table == name]
    if not builders or name == feature_set.customers_table:
        return lf
    schema = lf.collect_schema()
    cols = list(dict.fromkeys(c for b in builders for c in b.input_columns()))
    if any(c not in schema for c in cols):
        return lf  # the builders' door names the missing columns, as for any table
    lf = lf.select(cols)
    event = {b.time_columns().get("_t") for b in builders}
    t = next(iter(event)) if len(event) == 1 else None
    if t is not None and (schema[t] == pl.Date or isinstance(schema[t], pl.Datetime)):
        lf = lf.filter(to_datetime_expr(t, schema[t]) < pl.lit(as_of))
    return lf


def scan_tables(
    files: Mapping[str, str | os.PathLike[str]],
    feature_set: Any,
    as_of: Any,
    id: str = "customer_id",
) -> dict[str, pl.LazyFrame]:
    """Lazy scans of raw tables, pruned to what the builders read (:func:`prune`).

    Parameters
    ----------
    files : dict of str to path
        Table name -> parquet file, folder or glob (or CSV file).
    feature_set : FeatureSet
    as_of : date, datetime or ISO string
    id : str, default "customer_id"

    Returns
    -------
    dict of str to polars.LazyFrame
    """
    return {
        name: prune(name, scan(path, id), feature_set, as_of)
        for name, path in files.items()
    }


# ------------------------------------------------------------ streaming assign
@dataclass(frozen=True)
class StreamResult:
    """What :func:`stream_assign` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The output folder: ``part-00000.parquet``, ... (one per batch or bucket).
    rows : int
        Customers assigned.
    parts : int
        Files written.
    batches : int
        Batches (customer-level input) or hash buckets (raw tables) read.
    seconds : float
        Wall time.
    """

    path: Path
    rows: int
    parts: int
    batches: int
    seconds: float


def _model(model: Any) -> Any:
    if isinstance(model, str | os.PathLike):
        from segdiscover.persist import load

        return load(model)
    return model


def _id_dtype(schemas: Sequence[pl.Schema], id: str) -> pl.DataType:
    dtypes = [s[id] for s in schemas if id in s]
    integer = bool(dtypes) and all(d.is_integer() for d in dtypes)
    return pl.Int64() if integer else pl.String()


def bucket_of(id: str, dtype: pl.DataType, n: int) -> pl.Expr:
    """Hash bucket ``0..n-1`` of the id (cast to the features' id type first).

    Examples
    --------
    >>> frame = pl.DataFrame({"id": ["a", "b", "c", "a"]})
    >>> b = frame.select(bucket_of("id", pl.String(), 4)).to_series().to_list()
    >>> b[0] == b[3], all(0 <= x < 4 for x in b)
    (True, True)
    """
    return (pl.col(id).cast(dtype).hash(seed=BUCKET_SEED) % n).cast(pl.UInt32)


def _rows(lf: pl.LazyFrame) -> int:
    return int(lf.select(pl.len()).collect().item())


def _write(frame: pl.DataFrame, folder: Path, i: int) -> None:
    from segdiscover._atomic import write_parquet

    write_parquet(frame, folder / f"part-{i:05d}.parquet")


def stream_assign(
    model: Any,
    source: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    as_of: Any = None,
    batch_rows: int = 250_000,
    bucket_rows: int = 4_000_000,
    force: bool = False,
    allow_unassigned: bool = False,
) -> StreamResult:
    """Assign customers from files in bounded memory, writing parquet as it goes.

    Parameters
    ----------
    model : Segmenter, loaded model or path
        Fitted, or a saved model's folder.
    source : path, or dict of str to path
        A customer-level table (parquet file, folder or glob) with the model's
        feature columns: read in batches of ``batch_rows`` rows by polars'
        streaming engine, each assigned with the model's ``assign``. Or raw tables
        by name: every table's rows are first split into hash buckets of the
        customer id (one streaming pass, ``sink_parquet``), so each bucket holds
        all the rows of its customers; a bucket's features are built with the
        model's builders and levels, equal to the whole table's, then assigned.
    out : path
        Output folder, replaced as a whole when done (a killed run leaves the
        earlier output): ``part-00000.parquet``, ... with the columns of
        :func:`segdiscover.assign.assign`, each part sorted by id.
    as_of : date, datetime or str, optional
        Feature cutoff; required with raw tables.
    batch_rows : int, default 250_000
        Customers per batch of a customer-level table.
    bucket_rows : int, default 4_000_000
        Raw event rows per hash bucket (the buckets are ``ceil(rows / this)``).
    force, allow_unassigned : bool, default False
        As for :func:`segdiscover.assign.assign`.

    Returns
    -------
    StreamResult

    Notes
    -----
    Memory holds one batch (or bucket) and its features, never the whole input.
    Ids are checked for duplicates within a batch; a customer-level table whose
    id repeats across batches gets one row per occurrence.

    Examples
    --------
    >>> import tempfile
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> tmp = Path(tempfile.mkdtemp())
    >>> seg.features_.write_parquet(tmp / "features.parquet")
    >>> res = stream_assign(seg, tmp / "features.parquet", tmp / "out", batch_rows=150)
    >>> res.rows, res.parts
    (400, 3)
    """
    from segdiscover._atomic import clean_dir_debris, new_dir_beside, replace_dir

    for name, v in (("batch_rows", batch_rows), ("bucket_rows", bucket_rows)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            msg = (
                f"The {name!r} parameter of stream_assign must be an int >= 1. "
                f"Got {v!r} instead."
            )
            raise InvalidParameterError(msg)
    t0 = time.perf_counter()
    m = _model(model)
    target = Path(out)
    clean_dir_debris(target)
    if target.exists() and not target.is_dir():
        msg = f"Cannot write the assignments to {str(target)!r}: it is a file."
        raise InputError(msg)
    tmp = new_dir_beside(target)
    flags = {"force": force, "allow_unassigned": allow_unassigned}
    try:
        if isinstance(source, Mapping):
            rows, parts, batches = _assign_tables(
                m, source, tmp, as_of, bucket_rows, flags
            )
        else:
            rows, parts, batches = _assign_table(m, source, tmp, batch_rows, flags)
        replace_dir(tmp, target)
    except OSError as exc:  # a full disk, a read-only folder: the path, exit 2
        where = f" ({exc.filename})" if exc.filename else ""
        msg = (
            f"Cannot write the assignments to {str(target)!r}: "
            f"{exc.strerror or exc}{where}. The earlier outputs there are unchanged."
        )
        raise InputError(msg) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return StreamResult(target, rows, parts, batches, time.perf_counter() - t0)


def _assign_table(
    m: Any, source: Any, tmp: Path, batch_rows: int, flags: Mapping[str, bool]
) -> tuple[int, int, int]:
    """Assign a customer-level table in batches of rows (streaming engine)."""
    lf = scan(source, m.id)
    schema = lf.collect_schema()
    needed = [m.id, *(c["name"] for c in m.assign_state_.columns)]
    missing = [c for c in needed if c not in schema]
    if missing:
        from segdiscover.exceptions import SchemaMismatchError

        msg = (
            f"The table {str(source)!r} lacks {len(missing)} column(s) the model was "
            f"fitted on: {missing[:20]}."
        )
        raise SchemaMismatchError(msg)
    rows = parts = batches = 0
    stream: Any = lf.select(needed).collect_batches(chunk_size=batch_rows)
    if progress_enabled():  # counting rows reads a CSV once more: only for a bar
        total = -(-_rows(lf) // batch_rows)
        stream = progress(stream, total=total, desc="assign", unit="batch")
    for batch in stream:
        batches += 1
        if batch.height == 0:
            continue
        got = m.assign(batch, **flags)
        _write(got, tmp, parts)
        rows += got.height
        parts += 1
    return rows, parts, batches


def _assign_tables(
    m: Any,
    files: Mapping[str, Any],
    tmp: Path,
    as_of: Any,
    bucket_rows: int,
    flags: Mapping[str, bool],
) -> tuple[int, int, int]:
    """Assign raw tables by hash bucket of customers: features, then segments."""
    from segdiscover.features import FeatureSet

    if as_of is None:
        msg = "Raw tables need as_of=..., the cutoff date for features."
        raise InputError(msg)
    if m.input_kind_ != "tables":
        msg = (
            "This model was fitted on a customer-level table; pass one table with "
            "its feature columns, not raw tables."
        )
        raise InputError(msg)
    fs = m.features or FeatureSet.default(id=m.id)
    levels = m.feature_levels_
    used = FeatureSet(
        [b for b in fs.builders if b.family in levels],
        id=fs.id,
        customers_table=fs.customers_table,
        signup=fs.signup,
        skip_missing_tables=False,
    )
    missing = sorted({b.table for b in used.builders} - set(files))
    if missing:
        from segdiscover.exceptions import SchemaMismatchError

        msg = f"The model's features need the tables {missing}, which were not given."
        raise SchemaMismatchError(msg)
    scans = scan_tables(files, used, as_of, id=fs.id)
    schemas = {k: lf.collect_schema() for k, lf in scans.items()}
    dtype = _id_dtype(list(schemas.values()), fs.id)
    events = sum(_rows(lf) for k, lf in scans.items() if k != fs.customers_table)
    n = max(1, -(-events // bucket_rows))
    split = tmp / ".buckets"
    if n > 1:
        for name, lf in scans.items():
            with polars_write_errors(split / name):
                lf.with_columns(
                    bucket_of(fs.id, dtype, n).alias("_sd_bucket")
                ).sink_parquet(
                    pl.PartitionBy(split / name, key="_sd_bucket", include_key=False),
                    mkdir=True,
                )
    rows = parts = 0
    for b in progress(range(n), desc="assign", unit="bucket"):
        tables = {}
        for name, lf in scans.items():
            if n == 1:
                tables[name] = lf.collect(engine="streaming")
                continue
            folder = split / name / f"_sd_bucket={b}"
            tables[name] = (
                pl.read_parquet(folder, schema=schemas[name])
                if folder.is_dir()
                else pl.DataFrame(schema=schemas[name])
            )
        built = used.build(tables, as_of, levels=levels, part=True).frame
        del tables
        if built.height == 0:
            continue
        if fs.id != m.id:
            built = built.rename({fs.id: m.id})
        got = m.assign(built, **flags)
        _write(got, tmp, parts)
        rows += got.height
        parts += 1
    shutil.rmtree(split, ignore_errors=True)
    return rows, parts, n
