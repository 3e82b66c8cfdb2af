"""Reading and writing tables for the CLI: the door that keeps data exactly.

Kept apart from :mod:`segdiscover.cli` so that ``--help``, ``--version`` and usage
errors answer before polars is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from segdiscover._checks import align_id_dtype
from segdiscover.exceptions import InputError


def _separator(path: Path) -> str:
    """Return the header's separator: ``;`` or tab when it has more than commas.

    European exports (Excel in a locale with decimal commas) write ``;``; read with
    ``,`` they would arrive as one column of text.
    """
    with path.open("rb") as f:
        header = f.readline(1 << 16).decode("utf-8", errors="replace")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _check_header(path: Path, sep: str) -> None:
    """Refuse a CSV whose header names a column twice.

    polars reads the second one as ``<name>_duplicated_0`` without a word, so a
    segment could be explained by a column the user never named.
    """
    import csv
    from collections import Counter

    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        header = next(csv.reader(f, delimiter=sep), [])
    twice = [name for name, n in Counter(header).items() if n > 1]
    if twice:
        where = [i + 1 for i, name in enumerate(header) if name == twice[0]]
        msg = (
            f"The header of {str(path)!r} names column {twice[0]!r} "
            f"{len(where)} times (columns {', '.join(map(str, where))})"
            + (
                f" and {len(twice) - 1} other column(s) more than once"
                if twice[1:]
                else ""
            )
            + "; rename them so each column has one name."
        )
        raise InputError(msg)


#: A number written with a decimal comma, optionally with dots grouping thousands:
#: ``12,5``, ``-0,75``, ``1.234,5``.
DECIMAL_COMMA = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$"


def read_table(path: str, id: str | None = None) -> pl.DataFrame:
    """Read a CSV or parquet file, with an error that names the file.

    The ``id`` column of a CSV is read as text, never type-guessed: ``00042`` stays
    ``'00042'``, so ids match the other tables and the run store exactly. In a
    ``;``- or tab-separated CSV, numbers written with decimal commas are read as
    numbers (see :func:`_decimal_commas`).
    """
    p = Path(path)
    if p.is_dir() or (not p.is_file() and any(ch in path for ch in "*?[")):
        return _read_many(path, id)
    if not p.is_file():
        msg = f"No such file: {path!r}."
        raise InputError(msg)
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(p)
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else _separator(p)
            _check_header(p, sep)
            frame = pl.read_csv(
                p,
                separator=sep,
                infer_schema_length=10_000,
                try_parse_dates=True,
                schema_overrides={id: pl.String} if id else None,
            )
    except InputError:
        raise
    except Exception as exc:  # polars' parse errors are long and internal
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        msg = f"Could not read {path!r}: {first}"
        raise InputError(msg) from exc
    else:
        if suffix in (".csv", ".txt", ".tsv"):
            return frame if sep == "," else _decimal_commas(frame, path, id)
    msg = f"Unsupported file type {suffix!r} for {path!r}; use .csv or .parquet."
    raise InputError(msg)


def _is_parquet(path: str) -> bool:
    """Whether ``path`` (a file, folder or glob) names parquet files only."""
    from segdiscover._stream import expand

    p = Path(path)
    if p.is_file():
        return p.suffix.lower() in (".parquet", ".pq")
    try:
        files = expand(path)
    except InputError:
        return False
    return all(f.lower().endswith((".parquet", ".pq")) for f in files)


def _read_many(path: str, id: str | None) -> pl.DataFrame:
    """Read a folder or glob: parquet files as one scan, CSV files one by one."""
    from segdiscover._stream import expand, scan

    if _is_parquet(path):
        try:
            return scan(path, id).collect()
        except pl.exceptions.PolarsError as exc:
            msg = f"Could not read {path!r}: {str(exc).strip().splitlines()[0]}"
            raise InputError(msg) from exc
    files = expand(path)
    frames = [read_table(f, id) for f in files]
    try:
        return pl.concat(frames, how="vertical_relaxed")
    except pl.exceptions.PolarsError as exc:
        msg = (
            f"The files of {path!r} do not share their columns and types: "
            f"{str(exc).strip().splitlines()[0]}"
        )
        raise InputError(msg) from exc


def _decimal_commas(frame: pl.DataFrame, path: str, id: str | None) -> pl.DataFrame:
    """Read text columns of decimal-comma numbers (``12,5``) as numbers.

    Exports in locales with decimal commas separate fields with ``;``; polars reads
    their numbers as text, which the door then took for categories. A column is
    converted when at least one value has a decimal comma and every value is a
    number in that notation (dots group thousands only when a value such as
    ``1.234,5`` shows it); when 95% are, the rest is refused with the column, the
    count and an example row, as the door refuses junk in numeric columns.
    """
    out = []
    for col, dtype in frame.schema.items():
        if col == id or dtype != pl.String:
            continue
        v = frame.get_column(col).str.strip_chars()
        comma = v.str.contains(DECIMAL_COMMA).fill_null(value=False)
        if not comma.any():
            continue
        text = v
        given = v.is_not_null() & (v != "")
        grouped = bool(v.str.contains(r"\d\.\d{3},").any())  # dots group thousands
        # A dot with no comma reads two ways ('1.5' or 1.234 = 1234): refused
        # unless the column shows dots grouping thousands and the value fits that.
        dotted = given & v.str.contains(".", literal=True) & ~v.str.contains(",")
        if grouped:
            dotted &= ~v.str.contains(r"^[+-]?\d{1,3}(?:\.\d{3})+$")
        if dotted.any():
            row = int(dotted.arg_true()[0]) + 1
            msg = (
                f"Column {col!r} of {path!r} mixes number notations: decimal commas "
                f"(e.g. {v.filter(comma)[0]!r}) and a dot (e.g. {v[row - 1]!r} on "
                f"data row {row}). Write every value of the column one way."
            )
            raise InputError(msg)
        if grouped:
            text = text.str.replace_all(".", "", literal=True)
        parsed = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        bad = given & parsed.is_null()
        n_bad, n = int(bad.sum()), int(given.sum())
        if n_bad == 0:
            out.append(parsed.alias(col))
        elif n_bad <= 0.05 * n:
            row = int(bad.arg_true()[0]) + 1
            msg = (
                f"Column {col!r} of {path!r} holds numbers with decimal commas "
                f"(e.g. {v.filter(comma)[0]!r}), but {n_bad} of {n} values are not "
                f"numbers (e.g. {v[row - 1]!r} on data row {row}). Clean them or "
                "leave them empty."
            )
            raise InputError(msg)
    return frame.with_columns(out) if out else frame


ROW_ID = "row_id"


def _customer_table(path: str, id: str, *, row_ids: bool) -> pl.DataFrame:
    """Read a customer-level table; with ``row_ids``, number its rows 1..n as the id."""
    frame = read_table(path, None if row_ids else id)
    if not row_ids:
        return frame
    if ROW_ID in frame.columns:
        msg = (
            f"--row-ids adds a column {ROW_ID!r}, but {path!r} already has one; "
            f"pass --id {ROW_ID} to use it."
        )
        raise InputError(msg)
    return frame.with_row_index(ROW_ID, offset=1).with_columns(
        pl.col(ROW_ID).cast(pl.Int64)
    )


def _table_files(items: Sequence[str]) -> dict[str, str]:
    """Parse ``--tables NAME=FILE`` options."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            msg = (
                f"--tables takes NAME=FILE (e.g. orders=orders.parquet); got {item!r}."
            )
            raise InputError(msg)
        if name.strip() in out:
            msg = f"--tables names the table {name.strip()!r} twice."
            raise InputError(msg)
        out[name.strip()] = path.strip()
    return out


def _read_tables(
    files: dict[str, str],
    id: str,
    features: Any = None,
    as_of: Any = None,
    *,
    lazy: bool = False,
) -> dict[str, Any]:
    """Read raw tables, each ``id`` column as text when it comes from a CSV.

    With ``as_of``, parquet inputs (files, folders, globs) are read lazily and
    only what the builders of ``features`` (default: the default feature set) read
    is loaded: their columns, and the events before ``as_of`` (see
    :func:`segdiscover._stream.prune`), through polars' streaming engine. With
    ``lazy`` too, they are returned as those LazyFrames (their schema checked
    here), for the feature build to collect: the raw tables then live only as long
    as the build, not through the whole fit or assignment (at 1M customers, the
    1.1 GiB they held stayed referenced by the command until it ended).
    """
    if as_of is None:
        return {name: read_table(path, id) for name, path in files.items()}
    from segdiscover._stream import prune, scan
    from segdiscover.features import FeatureSet

    fs = features if features is not None else FeatureSet.default(id=id)
    out: dict[str, Any] = {}
    for name, path in files.items():
        if _is_parquet(path):
            lf = prune(name, scan(path, id), fs, as_of)
            try:
                if lazy:
                    lf.collect_schema()
                    out[name] = lf
                else:
                    out[name] = lf.collect(engine="streaming")
            except pl.exceptions.PolarsError as exc:
                msg = f"Could not read {path!r}: {str(exc).strip().splitlines()[0]}"
                raise InputError(msg) from exc
        else:
            out[name] = prune(name, read_table(path, id).lazy(), fs, as_of).collect()
    return out


def _id_dtype(X: Any, id: str) -> pl.DataType:
    """Return the id type the features get: integer only when every table's is.

    ``X`` is a table or a dict of raw tables (DataFrames or LazyFrames).
    """
    frames = X.values() if isinstance(X, dict) else [X]
    schemas = [
        f.collect_schema() if isinstance(f, pl.LazyFrame) else f.schema for f in frames
    ]
    dtypes = [s[id] for s in schemas if id in s]
    if dtypes and all(d.is_integer() for d in dtypes):
        return pl.Int64()
    return pl.String()


def _outcome_table(
    path: str, id: str, columns: Sequence[str] | None, X: Any = None
) -> pl.DataFrame:
    """Read a customer-level outcome table: the id and the outcome columns.

    Its id column gets the type of the ids of ``X`` (the table or raw tables read),
    so the outcomes join the customers whatever file type each came from.
    """
    frame = read_table(path, id)
    if X is not None and id in frame.columns:
        frame = align_id_dtype(frame, id, _id_dtype(X, id), f"outcomes file {path!r}")
    if id not in frame.columns:
        msg = (
            f"The outcomes file {path!r} has no column {id!r} (the customer id); "
            f"its columns are {frame.columns[:20]}."
        )
        raise InputError(msg)
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            msg = (
                f"The outcomes file {path!r} has no column {missing[0]!r}; its "
                f"columns are {frame.columns[:20]}."
            )
            raise InputError(msg)
        return frame.select(id, *columns)
    return frame


def _write_table(frame: pl.DataFrame, path: Path) -> None:
    """Write parquet (or CSV by suffix) atomically: a temporary file, then a rename."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        msg = (
            f"Unsupported output type {suffix!r} for {str(path)!r}; use .parquet "
            "or .csv."
        )
        raise InputError(msg)
    if path.is_dir():
        msg = f"--out {str(path)!r} is a folder; give a file name (.parquet or .csv)."
        raise InputError(msg)
    from segdiscover._atomic import write_file, write_parquet

    write_file(
        path,
        frame.write_csv if suffix == ".csv" else lambda tmp: write_parquet(frame, tmp),
    )
