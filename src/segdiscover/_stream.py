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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

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

    A CSV's id column is read as text, as :func:`segdiscover._cli_io.read_table`
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


def scan_tables(
    files: Mapping[str, str | os.PathLike[str]],
    feature_set: Any,
    as_of: Any,
    id: str = "customer_id",
) -> dict[str, pl.LazyFrame]:
    """Lazy scans of raw tables, pruned to what the builders read before ``as_of``.

    Each event table keeps only the columns its builders read (projection
    pushdown) and the rows whose event time is before ``as_of`` (predicate
    pushdown into the parquet reader: row groups after the cutoff are skipped);
    the customers table keeps every column (attributes may pass any through).

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
    as_of = normalise_as_of(as_of)
    out: dict[str, pl.LazyFrame] = {}
    for name, path in files.items():
        lf = scan(path, id)
        builders = [b for b in feature_set.builders if b.table == name]
        if builders and name != feature_set.customers_table:
            schema = lf.collect_schema()
            cols = list(dict.fromkeys(c for b in builders for c in b.input_columns()))
            missing = [c for c in cols if c not in schema]
            if missing:
                msg = (
                    f"The {name!r} table ({str(path)!r}) lacks the column(s) "
                    f"{missing}; its columns are {schema.names()[:20]}."
                )
                raise InputError(msg)
            lf = lf.select(cols)
            event = {b.time_columns().get("_t") for b in builders}
            (t,) = event if len(event) == 1 else (None,)
            # Only real time columns are cut while reading: text times are parsed
            # (and unparseable ones refused, naming the value) by the builders.
            if t is not None and (
                schema[t] == pl.Date or isinstance(schema[t], pl.Datetime)
            ):
                lf = lf.filter(to_datetime_expr(t, schema[t]) < pl.lit(as_of))
        out[name] = lf
    return out
