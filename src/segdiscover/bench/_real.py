"""The ``real`` suite: public customer tables with an outcome, read from a folder.

Each loader reads one folder of the shared data directory (see its
``SOURCE.md``); the files are only read. The few type fixes a loader makes are the
ones its ``SOURCE.md`` asks for, and each is said in its note. Outcome columns
become the dataset's outcomes (never features); columns that leak the outcome,
constants, experiment arms and duplicates are excluded. The bundled wholesale
table is always there; its ``Channel`` (which the features never see) is the
reference partition.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import polars as pl

from segdiscover.bench._data import BenchData, Dataset


class RealTable(NamedTuple):
    """One customer table with its outcome, as the benchmark reads it."""

    table: pl.DataFrame
    id: str
    outcomes: list[str]
    exclude: list[str]
    note: str = ""


def _with_row_id(df: pl.DataFrame, name: str) -> pl.DataFrame:
    # These files have one row per customer but no key: the 1-based row number is.
    return df.with_row_index(name, offset=1).with_columns(pl.col(name).cast(pl.Int64))


def telco(folder: Path) -> RealTable:
    """IBM Telco churn: 7,043 customers, ``Churn``; ``TotalCharges`` blanks null."""
    df = pl.read_csv(
        folder / "WA_Fn-UseC_-Telco-Customer-Churn.csv",
        schema_overrides={"TotalCharges": pl.String},
    )
    df = df.with_columns(
        pl.col("TotalCharges").str.strip_chars().cast(pl.Float64, strict=False)
    )
    return RealTable(df, "customerID", ["Churn"], [], "TotalCharges blanks as null")


#: Synonyms in the e-commerce workbook (SOURCE.md, "Dirty categories"): one level each.
ECOMMERCE_SYNONYMS = {
    "PreferredLoginDevice": {"Phone": "Mobile Phone"},
    "PreferredPaymentMode": {"CC": "Credit Card", "COD": "Cash on Delivery"},
    "PreferedOrderCat": {"Mobile": "Mobile Phone"},
}


def ecommerce(folder: Path) -> RealTable:
    """E-commerce churn workbook, sheet ``E Comm``: 5,630 customers, ``Churn`` 0/1."""
    df = pl.read_excel(folder / "E Commerce Dataset.xlsx", sheet_name="E Comm")
    df = df.with_columns(pl.col(c).replace(m) for c, m in ECOMMERCE_SYNONYMS.items())
    return RealTable(df, "CustomerID", ["Churn"], [], "synonym category levels merged")


def bank(folder: Path) -> RealTable:
    """UCI bank marketing (4,119 clients), outcome ``y``; ``duration`` leaks it."""
    df = pl.read_csv(
        folder / "bank-additional.csv", separator=";", infer_schema_length=None
    )
    return RealTable(
        _with_row_id(df, "client_id"),
        "client_id",
        ["y"],
        ["duration"],
        "duration excluded (post-outcome leak)",
    )


def ifood(folder: Path) -> RealTable:
    """Read the iFood campaign: 2,240 customers, ``Response``; enrolment in days."""
    df = pl.read_csv(folder / "ml_project1_data.csv", infer_schema_length=None)
    enrolled = pl.col("Dt_Customer").str.to_date("%Y-%m-%d")
    df = df.with_columns(
        (enrolled.max() - enrolled).dt.total_days().alias("days_enrolled")
    )
    return RealTable(
        df,
        "ID",
        ["Response"],
        ["Z_CostContact", "Z_Revenue", "Dt_Customer"],
        "constants excluded; Dt_Customer as days_enrolled",
    )


def hillstrom(folder: Path) -> RealTable:
    """Hillstrom e-mail test: 64,000 customers, outcome ``visit``.

    ``conversion`` and ``spend`` (outcomes of the same weeks), the randomised arm
    ``segment`` and the binned ``history_segment`` are excluded.
    """
    df = pl.read_csv(
        folder / "hillstrom.csv",
        schema_overrides={"history": pl.Float64, "spend": pl.Float64},
    )
    return RealTable(
        _with_row_id(df, "customer_id"),
        "customer_id",
        ["visit"],
        ["conversion", "spend", "segment", "history_segment"],
        "treatment arm, other outcomes and binned history excluded",
    )


def caravan(folder: Path) -> RealTable:
    """CoIL 2000 caravan insurance: 5,822 customers, ``Purchase``; segment codes out."""
    df = pl.read_csv(folder / "Caravan.csv", infer_schema_length=None)
    return RealTable(
        _with_row_id(df, "customer_id"),
        "customer_id",
        ["Purchase"],
        ["MOSTYPE", "MOSHOOFD"],
        "commercial segment codes excluded",
    )


#: Name -> (folder under the data directory, loader, module the loader needs).
TABLES: dict[str, tuple[str, Callable[[Path], RealTable], str | None]] = {
    "telco": ("telco-customer-churn", telco, None),
    "ecommerce": ("ecommerce-customer-churn", ecommerce, "fastexcel"),
    "bank": ("bank-marketing", bank, None),
    "ifood": ("ifood-marketing-campaign", ifood, None),
    "hillstrom": ("hillstrom-email", hillstrom, None),
    "caravan": ("caravan-insurance", caravan, None),
}


def as_bench_data(t: RealTable, max_rows: int | None = None) -> BenchData:
    """Split a real table into features and outcomes; sample ``max_rows`` by id hash.

    The sample is the customers with the smallest hashes of their ids, so it does
    not depend on the file's row order or on any seed.
    """
    df = t.table
    if max_rows is not None and df.height > max_rows:
        from segdiscover.guide import customer_hash

        order = customer_hash(df.get_column(t.id)).argsort(kind="stable")
        df = df[order[:max_rows]].sort(t.id)
    return BenchData(
        id=t.id,
        table=df.drop(t.outcomes),
        outcomes=df.select(t.id, *t.outcomes),
        exclude=tuple(t.exclude),
    )


def _load_real(seed: int, *, name: str, folder: str, max_rows: int | None) -> BenchData:
    return as_bench_data(TABLES[name][1](Path(folder)), max_rows)


def _load_wholesale(seed: int) -> BenchData:
    from segdiscover.datasets import load_wholesale

    t = load_wholesale()
    return BenchData(
        id="customer_id",
        table=t.drop("Channel", "Region"),
        truth=t.select("customer_id", "Channel"),
    )


def wholesale_dataset(tag: str = "real") -> Dataset:
    """Return the bundled 440 wholesale clients (reference partition: channel)."""
    return Dataset(
        name="real/wholesale",
        loader=_load_wholesale,
        fingerprint="bundled wholesale v1",
        n=440,
        suite=tag,
        description="UCI Wholesale customers (bundled); truth: Channel",
    )


def real_datasets(
    data_dir: str | Path | None = None,
    *,
    max_rows: int | None = 20_000,
    names: list[str] | None = None,
    tag: str = "real",
) -> tuple[list[Dataset], list[str]]:
    """List the real tables under ``data_dir``, and one message per table skipped.

    Tables larger than ``max_rows`` are sampled by id hash (None keeps all).
    """
    from segdiscover.bench._clustbench import default_data_dir

    root = Path(data_dir) if data_dir is not None else default_data_dir()
    out = [wholesale_dataset(tag)] if names is None or "wholesale" in names else []
    skipped = []
    for name, (folder, _, needs) in TABLES.items():
        if names is not None and name not in names:
            continue
        path = root / folder
        if not path.is_dir():
            skipped.append(f"real/{name} skipped: {path} is absent")
            continue
        if needs and importlib.util.find_spec(needs) is None:
            skipped.append(f"real/{name} skipped: reading it needs {needs}")
            continue
        out.append(
            Dataset(
                name=f"real/{name}",
                loader=functools.partial(
                    _load_real, name=name, folder=str(path), max_rows=max_rows
                ),
                fingerprint=f"{folder} v1 max_rows={max_rows}",
                suite=tag,
                description=f"{folder} (shared data)",
            )
        )
    return out, skipped
