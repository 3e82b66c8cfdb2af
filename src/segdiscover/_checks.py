"""The door: every table a user passes in is checked and converted here, once.

Past this module the code sees polars DataFrames with a known id column, unique ids and
finite numbers. Every message names the column, the number of rows affected and an
example id, so the user can find the row without a debugger.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from segdiscover.exceptions import ColumnNotFoundError, InputError, SegdiscoverWarning

NUMERIC_KINDS = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
    pl.Float32,
    pl.Float64,
)
# Numbers beyond this are treated as corrupt: squared distances overflow float64 past
# ~1e154, and one such value collapses k-means to a single cluster.
MAX_ABS_VALUE = 1e15
#: Above this share of a raw table's distinct ids missing from the customers table, a
#: warning names them: they become customers with no row of their own.
MAX_UNMATCHED_ID_SHARE = 0.01


def to_polars(frame: Any, name: str = "table") -> pl.DataFrame:
    """Return ``frame`` as a polars DataFrame, converting pandas once.

    The caller's object is never modified: polars frames are immutable, and pandas
    frames are copied by the conversion.

    Examples
    --------
    >>> to_polars(pl.DataFrame({"a": [1]})).shape
    (1, 1)
    """
    if isinstance(frame, pl.LazyFrame):
        return decimals_to_numbers(frame.collect())
    if isinstance(frame, pl.DataFrame):
        return decimals_to_numbers(frame)
    module = type(frame).__module__
    if module.startswith("pandas"):
        _check_pandas(frame, name)
        try:
            if importlib.util.find_spec("pyarrow") is None:
                return decimals_to_numbers(_from_pandas_numpy(frame))
            return decimals_to_numbers(pl.from_pandas(frame, include_index=False))
        except InputError:
            raise
        except Exception as exc:  # pyarrow/pandas conversion errors are opaque
            msg = f"Could not convert the pandas {name} to polars: {exc}"
            raise InputError(msg) from exc
    msg = (
        f"The {name} must be a polars or pandas DataFrame; got {type(frame).__name__}."
    )
    raise InputError(msg)


def decimals_to_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast ``Decimal`` columns (SQL and dbt exports) to numbers the pipeline reads.

    A decimal with a fraction becomes Float64. A whole-number decimal (``NUMERIC(38,
    0)``, often an id) becomes Int64 when every value fits, and text otherwise, so a
    20-digit id is never rounded through a float.

    Examples
    --------
    >>> from decimal import Decimal
    >>> t = pl.DataFrame({"id": [Decimal("7")], "amount": [Decimal("12.50")]})
    >>> decimals_to_numbers(t).schema
    Schema([('id', Int64), ('amount', Float64)])
    """
    casts = []
    for col, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Decimal):
            continue
        s = frame.get_column(col)
        if dtype.scale:
            casts.append(s.cast(pl.Float64))
            continue
        whole = s.cast(pl.Int64, strict=False)
        fits = whole.null_count() == s.null_count()
        casts.append(whole if fits else s.cast(pl.String))
    return frame.with_columns(casts) if casts else frame


def _from_pandas_numpy(frame: Any) -> pl.DataFrame:
    """Convert pandas to polars column by column, without pyarrow.

    polars' own conversion needs pyarrow for text columns, and pyarrow is not a
    dependency of segdiscover. Missing values (NaN, None, NaT) become nulls, as
    ``pl.from_pandas`` makes them.
    """
    cols = {}
    for col in frame.columns:
        s = frame[col]
        kind = s.dtype.kind
        if kind in "biuf":
            cols[str(col)] = pl.Series(str(col), s.to_numpy(), nan_to_null=True)
        elif kind == "M":
            cols[str(col)] = pl.Series(str(col), s.to_numpy())
        else:  # object, string, category: plain Python values, missing -> None
            na = s.isna().to_numpy()
            values = [None if m else v for v, m in zip(s.tolist(), na, strict=True)]
            cols[str(col)] = pl.Series(str(col), values, strict=False)
    return pl.DataFrame(cols)


def _check_pandas(frame: Any, name: str) -> None:
    """Name the pandas columns polars cannot hold: duplicated or of mixed types.

    Without this the user gets pyarrow's "Expected bytes, got a 'int' object", which
    names no column (regression: tests/hostile, ``mixed-type-ids``).
    """
    columns = [str(c) for c in frame.columns]
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        msg = (
            f"The {name} has duplicated column names "
            f"{', '.join(repr(c) for c in dup)}; rename them."
        )
        raise InputError(msg)
    for col in frame.columns:
        s = frame[col]
        if s.dtype != object:
            continue
        kinds = {type(v).__name__ for v in s.dropna().head(100_000)}
        kinds.discard("NAType")
        if len(kinds) > 1:
            msg = (
                f"Column {str(col)!r} of the {name} mixes value types "
                f"({', '.join(sorted(kinds))}); give it one type (e.g. "
                f"df[{str(col)!r}].astype(str))."
            )
            raise InputError(msg)


def require_columns(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise :class:`ColumnNotFoundError` naming every missing column.

    Examples
    --------
    >>> require_columns(pl.DataFrame({"a": [1]}), ["a"], "orders")
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(frame.columns[:12]) + (" ..." if frame.width > 12 else "")
        msg = (
            f"The {name} has no column {', '.join(repr(m) for m in missing)}; "
            f"its columns are: {shown}. Pass the right name (e.g. id=...) or rename it."
        )
        raise ColumnNotFoundError(msg)


def _example(values: pl.Series, k: int = 3) -> str:
    return ", ".join(repr(v) for v in values.head(k).to_list())


#: Text that exports write for a missing value (pandas' default ``na_values`` and SQL
#: clients' ``NULL``), compared in lower case after stripping blanks. As an id it
#: names nobody: a CSV of orders whose unknown customers read ``NULL`` would make
#: them one customer "NULL" (tests/hostile, ``csv-null-marker-ids``).
NULL_ID_MARKERS = ("nan", "-nan", "null", "none", "nat", "na", "n/a", "#n/a", "<na>")


def _missing_ids(ids: pl.Series) -> pl.Series:
    """Mask of ids that name nobody: null, NaN, empty or blank text, or a null marker.

    Examples
    --------
    >>> _missing_ids(pl.Series(["a", " ", "NULL", "n/a", "Nancy"])).to_list()
    [False, True, True, True, False]
    """
    missing = ids.is_null()
    if ids.dtype in (pl.Float32, pl.Float64):
        missing = missing | ids.is_nan()
    elif ids.dtype == pl.String or isinstance(ids.dtype, pl.Categorical | pl.Enum):
        text = ids.cast(pl.String).str.strip_chars()
        marker = text.str.to_lowercase().is_in(NULL_ID_MARKERS)
        missing = missing | (text == "") | marker
    return missing.fill_null(value=True)


def distinct_ids(ids: pl.Series) -> pl.Series:
    """Distinct non-null values of an id column, in no particular order.

    Polars' lazy ``unique`` runs in parallel and keeps no order: 0.8 s on 17.7M text
    order ids, where ``Series.unique`` took 2.4-2.7 s (with or without
    ``maintain_order``). Sort the result before showing examples from it.

    Examples
    --------
    >>> distinct_ids(pl.Series(["b", "a", None, "b"])).sort().to_list()
    ['a', 'b']
    """
    lf = pl.LazyFrame({"v": ids})
    return lf.select(pl.col("v").drop_nulls().unique()).collect().to_series()


def _is_text(dtype: Any) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def check_ids(
    frame: pl.DataFrame,
    id_col: str,
    name: str,
    *,
    unique: bool,
    distinct: pl.Series | None = None,
) -> None:
    """Check the id column: present, no missing ids, and unique when ``unique``.

    Null, NaN, empty (or blank) text ids and null markers such as ``'NULL'`` or
    ``'NaN'`` (:data:`NULL_ID_MARKERS`) are refused with their count and the first
    row that has one (counting data rows from 1): each would otherwise become one
    "customer" that stands for many.

    Examples
    --------
    >>> check_ids(pl.DataFrame({"id": ["a", "b"]}), "id", "table", unique=True)
    >>> check_ids(pl.DataFrame({"id": ["a", ""]}), "id", "table", unique=True)
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: The table has 1 rows with a null 'id' \
(missing, NaN, empty text or a null marker such as 'NULL'; e.g. '' on row 2, \
counting data rows from 1); every row needs an id.

    ``distinct`` (text ids: :func:`distinct_ids` of the column, if already at hand)
    lets the text tests run on each id once instead of on every row; the rows are
    searched only when an id fails.
    """
    require_columns(frame, [id_col], name)
    ids = frame.get_column(id_col)
    suspect = ids.dtype != pl.Object
    values: pl.Series | None = None
    if suspect and _is_text(ids.dtype):
        # A table of events repeats each id many times: test the distinct ids
        # (0.04 s against 0.9 s on 17.7M order rows), the rows only on a hit.
        values = distinct_ids(ids) if distinct is None else distinct
        suspect = ids.null_count() > 0 or bool(_missing_ids(values).any())
    if suspect:
        missing = _missing_ids(ids)
        n_missing = int(missing.sum())
        if n_missing:
            first = int(missing.arg_true()[0])
            value = ids[first]
            shown = "" if value is None or value != value else f" {value!r} on"
            msg = (
                f"The {name} has {n_missing} rows with a null {id_col!r} (missing, "
                f"NaN, empty text or a null marker such as 'NULL'; e.g.{shown} row "
                f"{first + 1}, counting data rows from 1); every row needs an id."
            )
            raise InputError(msg)
    if ids.dtype == pl.Object:
        msg = (
            f"The id column {id_col!r} of the {name} holds Python objects; "
            "use str or int ids."
        )
        raise InputError(msg)
    # Here no id is null, so the distinct ids (when at hand) count the unique ones.
    n_unique = ids.n_unique() if values is None else values.len()
    if unique and n_unique != frame.height:
        dup = ids.filter(ids.is_duplicated()).unique(maintain_order=True)
        msg = (
            f"The {name} has {dup.len()} duplicated ids in {id_col!r} "
            f"(e.g. {_example(dup)}); a customer-level table needs one row per "
            "customer."
        )
        raise InputError(msg)


def check_not_empty(frame: pl.DataFrame, name: str, minimum: int = 1) -> None:
    """Raise when the table has fewer than ``minimum`` rows."""
    if frame.height < minimum:
        msg = f"The {name} has {frame.height} rows; at least {minimum} are needed."
        raise InputError(msg)


#: A number whose commas group thousands: ``1,234``, ``-12,345,678.9``.
THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
#: A number with a decimal comma, dots optionally grouping thousands: ``12,5``,
#: ``-0,75``, ``1.234,5``.
DECIMAL_COMMA = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$"


def parse_number_text(text: pl.Series) -> tuple[pl.Series, str | None]:
    """Parse text numbers written plainly, with thousands commas or decimal commas.

    Spreadsheet and BI exports write ``1,234.50`` (commas grouping thousands) or
    ``1.234,50`` and ``12,5`` (decimal commas); read plainly, such a column was
    taken for categories or dropped as an identifier. One notation holds for a whole
    column, and it is taken only when a value shows it: ``1,234.5`` or
    ``1,234,567`` for thousands commas, ``12,5`` for decimal commas. A column whose
    only commas could mean either (``1,234``, ``10,000``) or that mixes both is not
    guessed: the second item names the problem.

    Parameters
    ----------
    text : polars.Series
        String values, blanks stripped.

    Returns
    -------
    parsed : polars.Series
        Float64; null where a value is not a number in the column's notation.
    problem : str or None
        Why the commas could not be read (ambiguous or mixed notation), else None.

    Examples
    --------
    >>> s = pl.Series(["1,234.5", "12", "2,000"])
    >>> parse_number_text(s)[0].to_list()
    [1234.5, 12.0, 2000.0]
    >>> parse_number_text(pl.Series(["12,5", "3"]))[0].to_list()
    [12.5, 3.0]
    >>> parse_number_text(pl.Series(["1,234", "10,000"]))[1]
    "commas that read as thousands or as decimals (e.g. '1,234')"
    """
    plain = text.cast(pl.Float64, strict=False)
    rest = text.is_not_null() & (text != "") & plain.is_null()
    if not rest.any():
        return plain, None
    grouped = text.str.contains(THOUSANDS).fill_null(value=False)
    comma = text.str.contains(DECIMAL_COMMA).fill_null(value=False)
    dotted = (plain.is_not_null() & text.str.contains(".", literal=True)).any()
    only_grouped, only_comma = grouped & ~comma, comma & ~grouped
    if only_grouped.any() and only_comma.any():
        example = f"{text.filter(only_grouped)[0]!r} and {text.filter(only_comma)[0]!r}"
        return plain, f"thousands commas and decimal commas mixed (e.g. {example})"
    if only_grouped.any() or (grouped.any() and dotted):
        digits = text.str.replace_all(",", "", literal=True).cast(pl.Float64)
        return pl.select(
            pl.when(grouped).then(digits).otherwise(plain)
        ).to_series(), None
    if only_comma.any() and dotted:
        example = f"{text.filter(only_comma)[0]!r} and "
        example += repr(
            text.filter(plain.is_not_null() & text.str.contains(".", literal=True))[0]
        )
        return plain, f"decimal commas and decimal dots mixed (e.g. {example})"
    if only_comma.any():
        digits = (
            text.str.replace_all(".", "", literal=True)
            .str.replace(",", ".", literal=True)
            .cast(pl.Float64, strict=False)
        )
        return pl.select(pl.when(comma).then(digits).otherwise(plain)).to_series(), None
    if grouped.any():
        example = text.filter(grouped)[0]
        return plain, f"commas that read as thousands or as decimals (e.g. {example!r})"
    return plain, None


def coerce_numeric_strings(
    frame: pl.DataFrame, columns: Sequence[str], id_col: str, name: str
) -> pl.DataFrame:
    """Turn string columns that hold numbers into floats; reject mixed junk.

    A string column is numeric when at least 95% of its non-null values parse as
    numbers (plainly, or with thousands or decimal commas: :func:`parse_number_text`).
    Then the rest is junk, and the message names the column, the count and an
    example id. Below that share the column stays categorical, unless its commas are
    ambiguous or mixed: that is refused, not guessed.
    """
    out = []
    for col in columns:
        s = frame.get_column(col)
        if s.dtype not in (pl.String, pl.Categorical):
            continue
        s = s.cast(pl.String)
        stripped = s.str.strip_chars()
        parsed, problem = parse_number_text(stripped)
        nonnull = stripped.is_not_null() & (stripped != "")
        n = int(nonnull.sum())
        if n == 0:
            continue
        ok = int((parsed.is_not_null() & nonnull).sum())
        if ok == n:
            out.append(parsed.alias(col))
        elif ok >= 0.95 * n:
            bad = nonnull & parsed.is_null()
            ids = frame.get_column(id_col).filter(bad)
            vals = s.filter(bad)
            msg = (
                f"Column {col!r} of the {name} is numeric but {int(bad.sum())} of "
                f"{n} values are not numbers (e.g. {_example(vals, 2)} for id "
                f"{_example(ids, 2)}). Clean them or set them to null."
            )
            raise InputError(msg)
        elif problem is not None and _numberish(stripped, parsed) >= 0.95 * n:
            msg = (
                f"Column {col!r} of the {name} holds numbers with {problem}; "
                "segdiscover does not guess which. Write them without grouping "
                "and with a decimal dot (1234.5)."
            )
            raise InputError(msg)
    return frame.with_columns(out) if out else frame


def _numberish(text: pl.Series, parsed: pl.Series) -> int:
    """Count values that are numbers in some notation (plain or with commas)."""
    commas = text.str.contains(THOUSANDS) | text.str.contains(DECIMAL_COMMA)
    return int((parsed.is_not_null() | commas.fill_null(value=False)).sum())


def check_finite(
    frame: pl.DataFrame, columns: Sequence[str], id_col: str, name: str
) -> None:
    """Reject inf, NaN and absurd magnitudes in numeric columns, naming rows."""
    for col in columns:
        s = frame.get_column(col)
        if s.dtype not in NUMERIC_KINDS:
            continue
        if s.dtype in (pl.Float32, pl.Float64):
            bad = s.is_infinite() | s.is_nan() | (s.abs() > MAX_ABS_VALUE)
        else:
            bad = s.cast(pl.Float64).abs() > MAX_ABS_VALUE
        bad = bad.fill_null(value=False)
        n_bad = int(bad.sum())
        if n_bad:
            ids = frame.get_column(id_col).filter(bad)
            vals = s.filter(bad)
            msg = (
                f"Column {col!r} of the {name} has {n_bad} values that are NaN, "
                f"infinite or beyond ±{MAX_ABS_VALUE:g} (e.g. {_example(vals, 2)} "
                f"for id {_example(ids, 2)}). Fix them or set them to null."
            )
            raise InputError(msg)


def check_event_columns(
    frame: pl.DataFrame, columns: Sequence[str], id_col: str, table: str
) -> pl.DataFrame:
    """Check the columns a feature builder reads from a raw table.

    Numbers stored as text are parsed (junk refused), and NaN, inf and absurd
    magnitudes are refused with the column, table, count and an example id; the
    builders would otherwise fail inside polars or hide them in a mean.
    """
    name = f"{table!r} table"
    cols = [c for c in columns if c != id_col and c in frame.columns]
    frame = coerce_numeric_strings(frame, cols, id_col, name)
    check_finite(frame, cols, id_col, name)
    return frame


def check_id_overlap(
    tables: Mapping[str, pl.DataFrame],
    id_col: str,
    customers: str,
    distinct: Mapping[str, pl.Series] | None = None,
) -> None:
    """Refuse a raw table whose ids match no customer; warn when many do not match.

    Without this check the ids of such a table become customers of their own: an
    orders table keyed by another id (or by ``42`` where the customers say
    ``'00042'``) turned a 200-row customers table into 400 "customers" (tests/hostile,
    ``order-ids-of-another-type``). Ids of different types are compared as text.
    When more than :data:`MAX_UNMATCHED_ID_SHARE` of a table's distinct ids are not
    customers, a :class:`SegdiscoverWarning` names the count and examples (the
    smallest ids, so the message does not move with the row order). ``distinct``
    maps table names to :func:`distinct_ids` of their id column, where already at
    hand.

    Examples
    --------
    >>> cust = pl.DataFrame({"id": ["a", "b"]})
    >>> check_id_overlap({"customers": cust, "orders": cust}, "id", "customers")
    >>> orders = pl.DataFrame({"id": ["x"]})
    >>> check_id_overlap({"customers": cust, "orders": orders}, "id", "customers")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: None of the 1 distinct 'id' values of the \
'orders' table (str, e.g. 'x') is an id of the 'customers' table (2 ids, str, e.g. \
'a', 'b'). Give the id columns one type and format (zero padding included).
    """
    if customers not in tables or id_col not in tables[customers].columns:
        return
    own = tables[customers].get_column(id_col).drop_nulls()
    for name, t in tables.items():
        if name == customers or id_col not in t.columns:
            continue
        given = (distinct or {}).get(name)
        ids = distinct_ids(t.get_column(id_col)) if given is None else given
        if ids.len() == 0:
            continue
        if ids.dtype == own.dtype:
            known = ids.is_in(own.implode())
        else:
            known = ids.cast(pl.String).is_in(own.cast(pl.String).implode())
        unmatched = ids.filter(~known)
        if unmatched.len() == ids.len():
            shown = _example(ids.sort(), 2)
            msg = (
                f"None of the {ids.len()} distinct {id_col!r} values of the {name!r} "
                f"table ({_dtype(ids)}, e.g. {shown}) is an id of the "
                f"{customers!r} table ({own.len()} ids, {_dtype(own)}, e.g. "
                f"{_example(own, 2)}). Give the id columns one type and format "
                "(zero padding included)."
            )
            raise InputError(msg)
        if unmatched.len() > MAX_UNMATCHED_ID_SHARE * ids.len():
            shown = _example(unmatched.sort(), 2)
            warnings.warn(
                f"{unmatched.len()} of the {ids.len()} distinct {id_col!r} values of "
                f"the {name!r} table ({unmatched.len() / ids.len():.1%}, e.g. "
                f"{shown}) are not in the {customers!r} table; they "
                "are counted as customers of their own. Add them to the customers "
                "table or drop their rows.",
                SegdiscoverWarning,
                stacklevel=4,
            )


def _dtype(values: pl.Series) -> str:
    """Return a short type name for messages: ``str`` for text, else polars'."""
    return "str" if values.dtype == pl.String else str(values.dtype)


def check_column_names(frame: pl.DataFrame, name: str) -> None:
    r"""Reject blank column names and names holding NUL characters.

    A blank name cannot be referenced in rules or reports. A NUL character is what
    a UTF-16 file (Excel's "Unicode text") read as UTF-8 leaves between the letters
    of every name and value: the columns are garbage, so the file is refused rather
    than segmented (tests/hostile, ``csv-utf16-row-ids``).

    Examples
    --------
    >>> check_column_names(pl.DataFrame({"\x00a\x00": [1]}), "table")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: The table has 1 column name(s) with NUL ...
    """
    blank = [c for c in frame.columns if not c.strip()]
    if blank:
        msg = (
            f"The {name} has {len(blank)} column(s) with a blank name; "
            "name every column."
        )
        raise InputError(msg)
    nul = [c for c in frame.columns if "\x00" in c]
    if nul:
        msg = (
            f"The {name} has {len(nul)} column name(s) with NUL characters (e.g. "
            f"{nul[0][:40]!r}): the file is not UTF-8 text (UTF-16?). Save it as "
            "UTF-8."
        )
        raise InputError(msg)


def check_tables(
    tables: Any, required: Mapping[str, Sequence[str]]
) -> dict[str, pl.DataFrame]:
    """Convert a dict of raw tables and check that each required one is present."""
    if not isinstance(tables, Mapping):
        msg = (
            "Raw tables must be a dict of table name -> DataFrame "
            f"(e.g. {{'orders': ..., 'customers': ...}}); got {type(tables).__name__}."
        )
        raise InputError(msg)
    out = {str(k): to_polars(v, f"{k!r} table") for k, v in tables.items()}
    for tname, cols in required.items():
        if tname not in out:
            msg = (
                f"The feature set needs a table named {tname!r}; the tables given are "
                f"{sorted(out)}. Pass it, or drop the builders that use it."
            )
            raise InputError(msg)
        require_columns(out[tname], cols, f"{tname!r} table")
    return out


def align_id_dtype(
    frame: pl.DataFrame, id_col: str, dtype: pl.DataType, name: str
) -> pl.DataFrame:
    """Give ``frame``'s id column the id type of the table it will be joined to.

    Text ids become integers only when every one is an integer written plainly, so
    ``'42'`` joins ``42`` but ``'00042'`` is refused rather than silently matched
    to ``42``; integer ids joined to text ids become text.

    Examples
    --------
    >>> out = pl.DataFrame({"id": ["1", "2"], "churned": [0, 1]})
    >>> align_id_dtype(out, "id", pl.Int64, "outcomes table").schema["id"]
    Int64
    """
    if id_col not in frame.columns or frame.schema[id_col] == dtype:
        return frame
    ids = frame.get_column(id_col)
    if dtype.is_integer() and ids.dtype == pl.String:
        whole = ids.cast(dtype, strict=False)
        plain = (whole.cast(pl.String) == ids).fill_null(value=False) | ids.is_null()
        if not plain.all():
            bad = ids.filter(~plain)
            msg = (
                f"The {name} has text ids in {id_col!r} that are not plain integers "
                f"({bad.len()} of {ids.len()}, e.g. {_example(bad, 2)}), but the "
                f"customer table's ids are integers ({dtype}). Give both tables ids "
                "of one type and format (zero padding included)."
            )
            raise InputError(msg)
        return frame.with_columns(whole)
    if dtype.is_integer() and ids.dtype.is_integer():
        return frame.with_columns(ids.cast(dtype))
    if dtype == pl.String:
        return frame.with_columns(ids.cast(pl.String))
    return frame
