"""Features on Spark: each hash bucket of customers goes through ``FeatureSet.build``.

The raw tables are packed into one frame (a table tag plus every table's columns
under positional names, null outside their own table), grouped by a hash bucket of
the customer id, and each bucket, all of its customers' rows from every table, is
handed to the polars builders as one Arrow table (``groupBy(...).applyInArrow``).
A customer's features read only that customer's rows and the levels, and the levels
are learned beforehand from per-partition summaries that merge exactly
(:meth:`~segdiscover.FeatureSet.summarise`), so the result equals
``FeatureSet.build`` on the whole tables by construction.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.features import Builder, FeatureSet
from segdiscover.features._spec import normalise_as_of
from segdiscover.spark._session import (
    check_frame,
    functions,
    is_integral,
    require_pyspark,
    require_spark_columns,
    struct_type,
    to_arrow,
)

BUCKET = "_sd_bucket"
TABLE = "_sd_table"


@dataclass(frozen=True)
class Layout:
    """Which packed column holds which column of which table."""

    tables: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

    def unpack(self, frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """Split a packed bucket back into the raw tables (empty ones included)."""
        out = {}
        for i, (name, cols) in enumerate(self.tables):
            rows = frame.filter(pl.col(TABLE) == i)
            out[name] = rows.select([pl.col(p).alias(c) for c, p in cols])
        return out


def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf)
    return buf.getvalue()


def _from_ipc(data: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(bytes(data)))


def _learns(b: Builder) -> bool:
    """Whether a builder learns levels (overrides ``learn_from``)."""
    return type(b).learn_from is not Builder.learn_from


def _subset(fs: FeatureSet, builders: list[Builder]) -> FeatureSet:
    return FeatureSet(
        builders,
        id=fs.id,
        customers_table=fs.customers_table,
        signup=fs.signup,
        skip_missing_tables=False,
    )


def _columns(fs: FeatureSet, tables: Mapping[str, Any], builders: list[Builder]) -> Any:
    """Columns read from each table: the builders' inputs, all of the customers'."""
    out: dict[str, list[str]] = {}
    for name in sorted({b.table for b in builders} | {fs.customers_table}):
        if name not in tables:
            continue
        df = tables[name]
        if name == fs.customers_table:
            cols = list(df.columns)  # attributes may pass every column through
        else:
            cols = list(
                dict.fromkeys(
                    c for b in builders if b.table == name for c in b.input_columns()
                )
            )
        require_spark_columns(df, cols, f"{name!r} table")
        out[name] = cols
    if any(fs.id not in tables[t].columns for t in out if t != fs.customers_table):
        bad = next(t for t in out if fs.id not in tables[t].columns)
        require_spark_columns(tables[bad], [fs.id], f"{bad!r} table")
    return out


def learn_levels(
    fs: FeatureSet, tables: Mapping[str, Any], builders: list[Builder], as_of: Any
) -> dict[str, Any]:
    """Learn the builders' levels on Spark from per-partition summaries.

    Each partition of a table summarises its rows (``FeatureSet.summarise``); the
    summaries come to the driver as Arrow IPC bytes, with one of an empty frame of
    the table's schema (so an empty table learns what it learns locally), and
    ``learn_levels`` merges them. Builders that learn nothing are not read.
    """
    types = require_pyspark()
    summaries: dict[str, list[pl.DataFrame]] = {b.family: [] for b in builders}
    out_schema = types.StructType(
        [
            types.StructField("family", types.StringType(), False),
            types.StructField("summary", types.BinaryType(), False),
        ]
    )
    for name in sorted({b.table for b in builders if _learns(b)}):
        sub = _subset(fs, [b for b in builders if b.table == name and _learns(b)])
        cols = _columns(sub, {name: tables[name]}, list(sub.builders))[name]
        df = tables[name].select(*cols)
        empty = pl.from_arrow(df.limit(0).toArrow())
        assert isinstance(empty, pl.DataFrame)
        for fam, s in sub.summarise({name: empty}, as_of).items():
            summaries[fam].append(s)

        def summarise(batches: Any, sub: FeatureSet = sub, name: str = name) -> Any:
            import pyarrow as pa

            parts: dict[str, list[pl.DataFrame]] = {}
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                frame = pl.from_arrow(pa.Table.from_batches([batch]))
                assert isinstance(frame, pl.DataFrame)
                for fam, s in sub.summarise({name: frame}, as_of).items():
                    parts.setdefault(fam, []).append(s)
            if parts:
                fams = list(parts)
                blobs = [
                    _ipc(pl.concat(parts[f], how="vertical_relaxed")) for f in fams
                ]
                yield pa.RecordBatch.from_arrays(
                    [pa.array(fams, pa.string()), pa.array(blobs, pa.binary())],
                    names=["family", "summary"],
                )

        for row in df.mapInArrow(summarise, out_schema).collect():
            summaries[row["family"]].append(_from_ipc(row["summary"]))
    return _subset(fs, builders).learn_levels(summaries)


def build_features(
    spark_tables: Mapping[str, Any],
    feature_set: FeatureSet | None = None,
    as_of: Any = None,
    *,
    levels: Mapping[str, Any] | None = None,
    n_buckets: int | None = None,
) -> Any:
    """Build one row per customer on Spark with the same polars feature code.

    Parameters
    ----------
    spark_tables : dict of str to pyspark.sql.DataFrame
        Raw tables by name, as for :meth:`segdiscover.FeatureSet.build`.
    feature_set : FeatureSet, optional
        The builders; default :meth:`segdiscover.FeatureSet.default`. Pass the
        model's (``model.features``) to build what a saved model reads.
    as_of : date, datetime or ISO string
        Cutoff; only events strictly before it are used. Spark timestamps (with a
        time zone) are converted to UTC, as locally.
    levels : dict, optional
        Levels learned at fit (``model.feature_levels_``); None learns them on
        these tables, from per-partition summaries, exactly as locally.
    n_buckets : int, optional
        Hash buckets of customers, each built in one call of the polars code (its
        rows must fit in an executor's Python worker); default
        ``spark.sql.shuffle.partitions``.

    Returns
    -------
    pyspark.sql.DataFrame
        The id column (long when every table's id is an integer, else string)
        and one column per feature (double, or string for categorical ones), in
        the order :meth:`~segdiscover.FeatureSet.build` gives; rows in no
        particular order.

    Notes
    -----
    Every check of the local door runs on each bucket except the overlap of ids
    between tables (a bucket may hold no row of the customers table while the
    whole table matches). Warnings raised on executors stay in their logs.

    Examples
    --------
    >>> import segdiscover as sd
    >>> from segdiscover.spark import build_features
    >>> data = sd.datasets.make_customers(n_customers=300, seed=0)
    >>> tables = {
    ...     k: spark.createDataFrame(v.to_arrow()) for k, v in data.tables.items()
    ... }  # doctest: +SKIP
    >>> features = build_features(tables, as_of=data.as_of)  # doctest: +SKIP
    >>> features.count()  # doctest: +SKIP
    300
    """
    types = require_pyspark()
    F = functions()
    if not isinstance(spark_tables, Mapping) or not spark_tables:
        msg = (
            "spark_tables must be a non-empty dict of table name -> Spark DataFrame "
            f"(e.g. {{'orders': ..., 'customers': ...}}); got {spark_tables!r}."
        )
        raise InputError(msg)
    for name, df in spark_tables.items():
        check_frame(df, f"The {name!r} table")
    if as_of is None:
        msg = "Raw tables need as_of=..., the cutoff date for features."
        raise InputError(msg)
    as_of = normalise_as_of(as_of)
    fs = feature_set if feature_set is not None else FeatureSet.default()
    fs._check_builders()
    active = fs._active(spark_tables)
    used = _subset(fs, active)
    columns = _columns(fs, spark_tables, active)
    if levels is None:
        levels = learn_levels(fs, spark_tables, active, as_of)
    missing = [b.family for b in active if b.family not in levels]
    if missing:
        msg = f"The levels given lack the builders {missing}."
        raise InputError(msg)
    levels = {b.family: levels[b.family] for b in active}
    spark = next(iter(spark_tables.values())).sparkSession
    n = n_buckets or int(spark.conf.get("spark.sql.shuffle.partitions"))
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        msg = f"The 'n_buckets' parameter must be an int >= 1. Got {n_buckets!r}."
        raise InvalidParameterError(msg)
    id_types = [
        spark_tables[t].schema[fs.id].dataType
        for t in columns
        if fs.id in spark_tables[t].columns
    ]
    integral = bool(id_types) and all(is_integral(d) for d in id_types)
    key_type = types.LongType() if integral else types.StringType()
    # Packed layout: table i's column j travels as "c{i}_{j}", null elsewhere.
    fields = {
        f"c{i}_{j}": spark_tables[t].schema[c].dataType
        for i, t in enumerate(columns)
        for j, c in enumerate(columns[t])
    }
    layout = Layout(
        tuple(
            (t, tuple((c, f"c{i}_{j}") for j, c in enumerate(columns[t])))
            for i, t in enumerate(columns)
        )
    )
    packed = None
    for i, t in enumerate(columns):
        df = spark_tables[t]
        own = {f"c{i}_{j}": c for j, c in enumerate(columns[t])}
        bucket = F.pmod(F.xxhash64(F.col(fs.id).cast(key_type)), F.lit(n))
        part = df.select(
            bucket.alias(BUCKET),
            F.lit(i).cast(types.IntegerType()).alias(TABLE),
            *[
                (F.col(own[p]) if p in own else F.lit(None).cast(d)).alias(p)
                for p, d in fields.items()
            ],
        )
        packed = part if packed is None else packed.unionByName(part)
    meta = [m for b in active for m in b.metadata(levels[b.family])]
    schema = pl.Schema(
        {
            fs.id: pl.Int64 if integral else pl.String,
            **{
                m.name: pl.String if m.kind == "categorical" else pl.Float64
                for m in meta
            },
        }
    )
    frozen = dict(levels)

    def build(table: Any) -> Any:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        built = used.build(layout.unpack(frame), as_of, levels=frozen, part=True)
        return to_arrow(built.frame, schema)

    assert packed is not None
    return packed.groupBy(BUCKET).applyInArrow(build, struct_type(schema))
