"""Loaders for the public customer tables with an outcome in ``shared/data``.

Each loader reads one folder of the shared data directory (see its ``SOURCE.md``) and
returns a :class:`RealTable`: the customer table (with an id column; a row number
when the file has none), the id name, the outcome columns and the columns to keep out
of the features (leaks, constants, experiment arms, duplicates). The files are only
read. The few type fixes each loader makes are the ones its ``SOURCE.md`` asks for,
and each is said in ``note``.

Usage::

    from _real_tables import load, TABLES
    t = load("telco", data_dir)  # RealTable or None when the folder is absent
    table, id_col, outcomes, exclude = t  # a NamedTuple unpacks like the tuple
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
#: Default data directory: ``../shared/data`` relative to the repository root.
DEFAULT_DATA = ROOT.parent / "shared" / "data"


class RealTable(NamedTuple):
    """One customer table with its outcome, as a benchmark reads it."""

    table: pl.DataFrame
    id: str
    outcomes: list[str]
    exclude: list[str]
    note: str = ""


def _with_row_id(df: pl.DataFrame, name: str) -> pl.DataFrame:
    # These files have one row per customer but no key: the 1-based row number is one.
    return df.with_row_index(name, offset=1).with_columns(pl.col(name).cast(pl.Int64))


def telco(folder: Path) -> RealTable:
    """IBM Telco churn: 7,043 customers, ``Churn`` Yes/No.

    ``TotalCharges`` holds 11 blanks (customers with tenure 0); they are read as null
    and the column as a number, as SOURCE.md says.

    Examples
    --------
    >>> t = telco(DEFAULT_DATA / "telco-customer-churn")  # doctest: +SKIP
    >>> t.table.height, t.id, t.outcomes  # doctest: +SKIP
    (7043, 'customerID', ['Churn'])
    """
    df = pl.read_csv(
        folder / "WA_Fn-UseC_-Telco-Customer-Churn.csv",
        schema_overrides={"TotalCharges": pl.String},
    )
    df = df.with_columns(
        pl.col("TotalCharges").str.strip_chars().cast(pl.Float64, strict=False)
    )
    return RealTable(
        df, "customerID", ["Churn"], [], "TotalCharges blanks read as null"
    )


#: Synonyms in the e-commerce workbook (SOURCE.md, "Dirty categories"): one level each.
ECOMMERCE_SYNONYMS = {
    "PreferredLoginDevice": {"Phone": "Mobile Phone"},
    "PreferredPaymentMode": {"CC": "Credit Card", "COD": "Cash on Delivery"},
    "PreferedOrderCat": {"Mobile": "Mobile Phone"},
}


def ecommerce(folder: Path) -> RealTable:
    """E-commerce churn workbook, sheet ``E Comm``: 5,630 customers, ``Churn`` 0/1.

    The three columns SOURCE.md lists with two spellings of one level (``Phone`` /
    ``Mobile Phone``, ``CC`` / ``Credit Card``, ``COD`` / ``Cash on Delivery``,
    ``Mobile`` / ``Mobile Phone``) are read with one spelling, so a category is not
    split in two by a typo.

    Examples
    --------
    >>> t = ecommerce(DEFAULT_DATA / "ecommerce-customer-churn")  # doctest: +SKIP
    >>> t.table.height, t.outcomes  # doctest: +SKIP
    (5630, ['Churn'])
    """
    df = pl.read_excel(folder / "E Commerce Dataset.xlsx", sheet_name="E Comm")
    df = df.with_columns(pl.col(c).replace(m) for c, m in ECOMMERCE_SYNONYMS.items())
    return RealTable(df, "CustomerID", ["Churn"], [], "synonym category levels merged")


def bank(folder: Path) -> RealTable:
    """UCI bank marketing, ``bank-additional.csv`` (4,119 clients), outcome ``y``.

    ``duration`` (the length of the last call) is known only after the call, and
    SOURCE.md says it leaks the outcome: it is excluded. The file has no client key;
    ``client_id`` is the row number.

    Examples
    --------
    >>> t = bank(DEFAULT_DATA / "bank-marketing")  # doctest: +SKIP
    >>> t.table.height, t.outcomes, t.exclude  # doctest: +SKIP
    (4119, ['y'], ['duration'])
    """
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
    """iFood marketing campaign: 2,240 customers, ``Response`` 0/1.

    ``Z_CostContact`` and ``Z_Revenue`` are constants (SOURCE.md): excluded.
    ``AcceptedCmp1..5`` are responses to *earlier* campaigns, known before the pilot
    whose ``Response`` is the outcome, so they stay features. ``Dt_Customer`` (an
    enrolment date, which a segmentation cannot use as such) becomes
    ``days_enrolled``: days from enrolment to the latest enrolment in the file.

    Examples
    --------
    >>> t = ifood(DEFAULT_DATA / "ifood-marketing-campaign")  # doctest: +SKIP
    >>> t.outcomes, t.exclude  # doctest: +SKIP
    (['Response'], ['Z_CostContact', 'Z_Revenue', 'Dt_Customer'])
    """
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
    """Hillstrom e-mail test: 64,000 customers, outcome ``visit`` (0/1).

    ``visit`` rather than ``conversion``: conversion is 0.9% overall, so no segment
    can lie 3 percentage points (the default smallest difference that matters) from
    the rest and every verdict would be "not material"; visits (14.7%) can.
    ``conversion`` and ``spend`` are outcomes of the same two weeks: excluded.
    ``segment`` is the randomised e-mail arm, independent of the customer by design:
    excluded, so segments describe customers, not the arm they were drawn into
    (uplift by segment can be read afterwards). ``history_segment`` is ``history``
    binned: excluded, so spend does not count twice. ``customer_id`` is the row
    number.

    Examples
    --------
    >>> t = hillstrom(DEFAULT_DATA / "hillstrom-email")  # doctest: +SKIP
    >>> t.outcomes  # doctest: +SKIP
    ['visit']
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
    """CoIL 2000 caravan insurance: 5,822 customers, outcome ``Purchase`` Yes/No.

    (``CARAVAN`` in the UCI file; ``Purchase`` in this ISLP copy.) ``MOSTYPE`` and
    ``MOSHOOFD`` are codes of an existing commercial segmentation (40 and 10 levels)
    whose numeric order means nothing: excluded, as SOURCE.md suggests. ``customer_id``
    is the row number.

    Examples
    --------
    >>> t = caravan(DEFAULT_DATA / "caravan-insurance")  # doctest: +SKIP
    >>> t.outcomes, t.exclude  # doctest: +SKIP
    (['Purchase'], ['MOSTYPE', 'MOSHOOFD'])
    """
    df = pl.read_csv(folder / "Caravan.csv", infer_schema_length=None)
    return RealTable(
        _with_row_id(df, "customer_id"),
        "customer_id",
        ["Purchase"],
        ["MOSTYPE", "MOSHOOFD"],
        "commercial segment codes excluded",
    )


#: Benchmark name -> (folder under the data directory, loader).
TABLES: dict[str, tuple[str, Callable[[Path], RealTable]]] = {
    "telco": ("telco-customer-churn", telco),
    "ecommerce": ("ecommerce-customer-churn", ecommerce),
    "bank": ("bank-marketing", bank),
    "ifood": ("ifood-marketing-campaign", ifood),
    "hillstrom": ("hillstrom-email", hillstrom),
    "caravan": ("caravan-insurance", caravan),
}


def load(name: str, data_dir: Path = DEFAULT_DATA) -> RealTable | None:
    """Load one table by benchmark name; None (and a message) when it is absent.

    Examples
    --------
    >>> load("telco", Path("/nonexistent")) is None
    skip telco: /nonexistent/telco-customer-churn is absent
    True
    """
    if name not in TABLES:
        msg = f"Unknown table {name!r}; the tables are {sorted(TABLES)}."
        raise ValueError(msg)
    folder_name, loader = TABLES[name]
    folder = Path(data_dir) / folder_name
    if not folder.is_dir():
        print(f"skip {name}: {folder} is absent")
        return None
    return loader(folder)
