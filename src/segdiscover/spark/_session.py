"""PySpark on demand, and the type mappings the Spark adapters share."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import polars as pl

from segdiscover.exceptions import ColumnNotFoundError, InputError

INSTALL = "pip install 'segdiscover[spark]'"


def require_pyspark() -> ModuleType:
    """Return ``pyspark.sql.types``, or fail with the install command."""
    try:
        return importlib.import_module("pyspark.sql.types")
    except ImportError as exc:
        msg = f"segdiscover.spark needs PySpark, which is not installed: {INSTALL}."
        raise ImportError(msg) from exc


def functions() -> ModuleType:
    """Return ``pyspark.sql.functions`` (PySpark checked first)."""
    require_pyspark()
    return importlib.import_module("pyspark.sql.functions")


def check_frame(df: Any, what: str) -> None:
    """Refuse anything but a Spark DataFrame, naming what was expected."""
    sql = importlib.import_module("pyspark.sql")
    if not isinstance(df, sql.DataFrame):
        msg = f"{what} must be a Spark DataFrame; got {type(df).__name__}."
        raise InputError(msg)


def require_spark_columns(df: Any, columns: list[str], where: str) -> None:
    """Refuse a Spark DataFrame that lacks columns, naming them and what it has."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = (
            f"The {where} lacks the column(s) {missing}; its columns are "
            f"{df.columns[:20]}."
        )
        raise ColumnNotFoundError(msg)


def is_integral(dtype: Any) -> bool:
    """Whether a Spark type is an integer type (byte, short, int, long)."""
    types = require_pyspark()
    return isinstance(dtype, types.IntegralType)


def spark_type(dtype: pl.DataType) -> Any:
    """Return the Spark type of a polars type the adapters emit."""
    types = require_pyspark()
    if dtype == pl.Boolean:
        return types.BooleanType()
    if dtype.is_integer():
        return types.LongType()
    if dtype.is_float():
        return types.DoubleType()
    if dtype == pl.String:
        return types.StringType()
    msg = f"No Spark type for the polars dtype {dtype}."
    raise InputError(msg)


def arrow_schema(schema: pl.Schema) -> Any:
    """Return the Arrow schema Spark reads back for a polars schema."""
    import pyarrow as pa

    def one(dtype: pl.DataType) -> Any:
        if dtype == pl.Boolean:
            return pa.bool_()
        if dtype.is_integer():
            return pa.int64()
        if dtype.is_float():
            return pa.float64()
        return pa.string()

    return pa.schema([pa.field(c, one(t)) for c, t in schema.items()])


def to_arrow(frame: pl.DataFrame, schema: pl.Schema) -> Any:
    """``frame`` cast to ``schema`` as an Arrow table Spark reads back."""
    table = frame.select(schema.names()).cast(schema).to_arrow()
    return table.cast(arrow_schema(schema))


def struct_type(schema: pl.Schema) -> Any:
    """Return the Spark ``StructType`` of a polars schema."""
    types = require_pyspark()
    return types.StructType(
        [types.StructField(c, spark_type(t), True) for c, t in schema.items()]
    )
