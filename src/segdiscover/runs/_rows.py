"""Rows in and out of the run store: JSON, samples, outcomes, similarity.

Helpers of :mod:`segdiscover.runs` that turn a fitted Segmenter into table rows and
query results into polars, kept apart so the store's logic reads on one screen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from segdiscover._json import plain
from segdiscover.exceptions import RunStoreError
from segdiscover.lineage import Alignment

if TYPE_CHECKING:
    from segdiscover.result import Segmentation


def to_json(value: Any) -> str:
    # Strict JSON (no NaN), so any SQL engine can parse the column.
    return json.dumps(plain(value), sort_keys=True, allow_nan=False)


def frame(con: Any, sql: str, params: Any, schema: dict[str, Any]) -> pl.DataFrame:
    """Run a query into polars without pyarrow (DuckDB's numpy fetch)."""
    data = con.execute(sql, params).fetchnumpy()
    return pl.DataFrame(
        {c: pl.Series(c, data[c].tolist(), dtype=t) for c, t in schema.items()},
        schema=schema,
    )


def store_error(path: Path, exc: Exception) -> RunStoreError:
    text = str(exc)
    if "lock" in text.lower():
        msg = (
            f"The run store {str(path)!r} is locked by another process (DuckDB "
            "allows one writer at a time). Close the other program (or its "
            "connection) and try again."
        )
    elif "not a valid DuckDB database" in text or "unable to open" in text.lower():
        msg = (
            f"{str(path)!r} is not a segdiscover run store (not a DuckDB database "
            "file). Pass a new file name or a run store written by segdiscover."
        )
    else:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        msg = f"The run store {str(path)!r} could not be used: {first}"
    return RunStoreError(msg)


SEGMENT_SCHEMA = {
    "run_id": pl.Int64,
    "segment_id": pl.Int64,
    "name": pl.String,
    "name_source": pl.String,
    "size": pl.Int64,
    "share": pl.Float64,
    "status": pl.String,
    "outcomes": pl.String,
}


def similarity(con: Any, prev: int, seg: Segmentation) -> dict[tuple[int, int], float]:
    """Profile similarity of old and new segments: numeric feature means.

    ``1 / (1 + d)``, with ``d`` the root mean square difference of segment means in
    units of the previous run's standard deviation; used to break overlap ties.
    """
    old: dict[int, dict[str, float]] = {}
    for s, f, mean in con.execute(
        "SELECT segment_id, feature, avg(value_num) FROM feature_sample "
        "WHERE run_id = ? AND value_num IS NOT NULL GROUP BY segment_id, feature",
        [prev],
    ).fetchall():
        old.setdefault(int(s), {})[f] = float(mean)
    sd = dict(
        con.execute(
            "SELECT feature, stddev_pop(value_num) FROM feature_sample "
            "WHERE run_id = ? AND value_num IS NOT NULL GROUP BY feature",
            [prev],
        ).fetchall()
    )
    feats = [f for f, v in sd.items() if v and f in seg.features.columns]
    if not feats:
        return {}
    means = (
        seg.features.select(seg.id, *feats)
        .join(seg.labels.select(seg.id, "segment_id"), on=seg.id)
        .group_by("segment_id")
        .agg(pl.col(f).cast(pl.Float64).mean() for f in feats)
    )
    out = {}
    for r in means.iter_rows(named=True):
        for o, m in old.items():
            d = [
                ((m[f] - r[f]) / sd[f]) ** 2
                for f in feats
                if f in m and r[f] is not None
            ]
            if d:
                out[(o, int(r["segment_id"]))] = 1 / (1 + float(np.sqrt(np.mean(d))))
    return out


def status(alignment: Alignment | None) -> dict[int, str]:
    if alignment is None:
        return {}
    out: dict[int, str] = {}
    for e in alignment.events:
        for s in e.after:
            if e.kind == "split":
                out[s] = "split from " + str(e.before[0])
            elif e.kind == "merged":
                out[s] = "merged from " + ", ".join(str(b) for b in e.before)
            else:
                out.setdefault(s, e.kind)
    return out


def outcome_values(
    seg: Segmentation,
) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
    """Per-segment and overall outcome values, when the fit had outcomes."""
    table = seg.outcomes
    if not isinstance(table, pl.DataFrame) or not {
        "segment_id",
        "outcome",
        "value",
    } <= set(table.columns):
        return {}, {}
    per: dict[int, dict[str, float]] = {}
    overall: dict[str, float] = {}
    for r in table.iter_rows(named=True):
        per.setdefault(int(r["segment_id"]), {})[r["outcome"]] = r["value"]
        if r.get("overall") is not None:
            overall[r["outcome"]] = r["overall"]
    return per, overall


def sample(seg: Segmentation, schema: list[dict[str, Any]], rows: int) -> pl.DataFrame:
    """Return feature values of at most ``rows`` customers, long (for PSI)."""
    table = seg.features.join(
        seg.labels.select(seg.id, "segment_id"), on=seg.id, how="left"
    )
    if table.height > rows:
        # Seeded on the data, not the clock: the same run stores the same sample.
        idx = np.sort(
            np.random.default_rng(0).choice(table.height, rows, replace=False)
        )
        table = table[idx]
    key = [
        pl.col(seg.id).cast(pl.String).alias("customer_id"),
        pl.col("segment_id").cast(pl.Int32),
    ]
    parts = []
    for c in schema:
        if c["name"] not in table.columns:
            continue
        numeric = c["dtype_class"] == "numeric"
        col = pl.col(c["name"])
        parts.append(
            table.select(
                *key,
                pl.lit(c["name"]).alias("feature"),
                (col.cast(pl.Float64) if numeric else pl.lit(None, pl.Float64)).alias(
                    "value_num"
                ),
                (pl.lit(None, pl.String) if numeric else col.cast(pl.String)).alias(
                    "value_text"
                ),
            )
        )
    empty = pl.DataFrame(
        schema={
            "customer_id": pl.String,
            "segment_id": pl.Int32,
            "feature": pl.String,
            "value_num": pl.Float64,
            "value_text": pl.String,
        }
    )
    return pl.concat(parts) if parts else empty
