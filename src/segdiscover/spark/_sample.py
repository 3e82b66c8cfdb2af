"""The fitting sample on Spark: the customers with the smallest fixed id hashes."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from segdiscover.exceptions import InvalidParameterError
from segdiscover.spark._session import (
    check_frame,
    functions,
    require_pyspark,
    require_spark_columns,
)

HASH = "_sd_hash"


def sortable_hash(ids: pl.Series) -> np.ndarray:
    """:func:`segdiscover.guide.customer_hash` as int64 that sorts like the uint64.

    Spark has no unsigned 64-bit type; flipping the top bit maps the unsigned order
    onto the signed one, so "smallest hash first" is the same customers everywhere.

    Examples
    --------
    >>> h = sortable_hash(pl.Series([1, 2, 3]))
    >>> h.dtype.name, len(set(h.tolist()))
    ('int64', 3)
    """
    from segdiscover.guide import customer_hash

    flipped: np.ndarray = (customer_hash(ids) ^ np.uint64(1 << 63)).view(np.int64)
    return flipped


def sample(features: Any, n: int, *, id: str = "customer_id") -> pl.DataFrame:
    """Bring ``n`` customers' features to the driver, chosen by a fixed id hash.

    The customers are those with the ``n`` smallest values of
    :func:`segdiscover.guide.customer_hash` (ties by id), computed with the same
    polars code on the executors, so the local
    :func:`segdiscover._stream.hashed_sample` of the same table, and every rerun,
    pick the same customers whatever the partitioning. Only the sample travels to
    the driver: its memory is bounded by ``n``, not by the table.

    Parameters
    ----------
    features : pyspark.sql.DataFrame
        One row per customer (e.g. from :func:`segdiscover.spark.build_features`).
    n : int
        Customers in the sample (all of them when the table has fewer).
    id : str, default "customer_id"

    Returns
    -------
    polars.DataFrame
        The sampled rows, sorted by id: ready for :meth:`segdiscover.Segmenter.fit`.

    Examples
    --------
    >>> from segdiscover.spark import sample
    >>> fit_rows = sample(features, 200_000)  # doctest: +SKIP
    """
    types = require_pyspark()
    F = functions()
    check_frame(features, "features")
    require_spark_columns(features, [id], "features table")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        msg = f"The 'n' parameter of sample must be an int >= 1. Got {n!r} instead."
        raise InvalidParameterError(msg)
    id_type = features.schema[id].dataType
    out = types.StructType(
        [
            types.StructField(id, id_type, True),
            types.StructField(HASH, types.LongType(), False),
        ]
    )

    def hashed(batches: Any) -> Any:
        import pyarrow as pa

        for batch in batches:
            ids = pl.from_arrow(batch.column(0))
            assert isinstance(ids, pl.Series)
            yield pa.RecordBatch.from_arrays(
                [batch.column(0), pa.array(sortable_hash(ids), pa.int64())],
                names=[id, HASH],
            )

    chosen = features.select(id).mapInArrow(hashed, out).orderBy(HASH, id).limit(n)
    rows = features.join(F.broadcast(chosen.select(id)), on=id, how="left_semi")
    frame = pl.from_arrow(rows.toArrow())
    assert isinstance(frame, pl.DataFrame)
    return frame.sort(id)
