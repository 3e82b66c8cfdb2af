"""Customer-level tables at the door: checks, outcome split, metadata for features."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import polars as pl

from segdiscover._checks import (
    NUMERIC_KINDS,
    check_column_names,
    check_finite,
    check_ids,
    check_not_empty,
    coerce_numeric_strings,
    require_columns,
    to_polars,
)
from segdiscover.exceptions import InputError, SegdiscoverWarning
from segdiscover.features import FeatureMeta
from segdiscover.features._spec import binary_words

#: A text column with more distinct values than this share of rows is an identifier
#: or free text (names, e-mails), not a segment-defining feature.
MAX_CATEGORICAL_UNIQUE_SHARE = 0.5


def label_of(column: str) -> str:
    """Make a readable label: ``SeniorCitizen`` -> ``senior citizen``.

    Examples
    --------
    >>> label_of("SeniorCitizen"), label_of("avg_basket_EUR"), label_of("tenure")
    ('senior citizen', 'avg basket EUR', 'tenure')
    >>> label_of("CASH_ADVANCE_TRX"), label_of("BALANCE"), label_of("ARPU")
    ('cash advance trx', 'balance', 'ARPU')
    """
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", " ", column)
    words = re.sub(r"[_\s]+", " ", s).strip().split(" ")
    # An all-caps name (CASH_ADVANCE_TRX) is shouting, not acronyms: unless it is a
    # single short word (ARPU), read it in lower case.
    if not any(c.islower() for c in column) and (len(words) > 1 or len(words[0]) > 4):
        return " ".join(w.lower() for w in words)
    # Keep acronyms (EUR, ID) upper case; lower-case ordinary words.
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)


def table_meta(frame: pl.DataFrame, columns: Sequence[str]) -> list[FeatureMeta]:
    """Metadata for the columns of a ready-made table (labels from the column names).

    Boolean and 0/1 columns read as a yes/no fact (:func:`binary_words`:
    ``senior citizens`` / ``not senior citizens``, ``has a partner`` / ``no
    partner``), in the same words a Yes/No text column gets for its levels; other
    numbers read as ``high``/``low`` of their label.

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"SeniorCitizen": [0, 1], "Partner": [True, False]})
    >>> [(m.high, m.low) for m in table_meta(t, t.columns)]
    [('senior citizens', 'not senior citizens'), ('has a partner', 'no partner')]
    """
    out = []
    schema = frame.schema  # once: each .schema call costs O(width)
    for c in columns:
        dtype = schema[c]
        kind = (
            "numeric"
            if dtype in NUMERIC_KINDS or dtype == pl.Boolean
            else "categorical"
        )
        label = label_of(c)
        high, low = f"high {label}", f"low {label}"
        if kind == "numeric":
            values = set(
                frame.get_column(c)
                .drop_nulls()
                .cast(pl.Float64)
                .unique()
                .head(3)
                .to_list()
            )
            if values <= {0.0, 1.0}:
                high, low = binary_words(label)
        out.append(
            FeatureMeta(c, "table", label, kind=kind, high=high, low=low, fill="null")
        )
    return out


def prepare_table(
    frame: Any,
    id_col: str,
    *,
    outcomes: Sequence[str] = (),
    exclude: Sequence[str] = (),
    min_rows: int = 1,
) -> tuple[pl.DataFrame, pl.DataFrame | None, list[FeatureMeta]]:
    """Check a customer-level table; split off outcome columns; describe features.

    Returns the feature frame (id first, sorted by id), the outcome frame (or None)
    and the metadata of the feature columns.
    """
    df = to_polars(frame, "table")
    check_column_names(df, "table")
    if len(set(df.columns)) != df.width:
        msg = "The table has duplicated column names; rename them."
        raise InputError(msg)
    check_ids(df, id_col, "table", unique=True)
    check_not_empty(df, "table", min_rows)
    require_columns(df, [*outcomes, *exclude], "table")
    leak = [c for c in outcomes if c == id_col]
    if leak:
        msg = f"The id column {id_col!r} cannot be an outcome."
        raise InputError(msg)
    candidates = [
        c for c in df.columns if c != id_col and c not in outcomes and c not in exclude
    ]
    df = coerce_numeric_strings(df, candidates, id_col, "table")
    # Read the schema once: df.schema rebuilds it (O(width)) on every access, which
    # made checking a 2,000-column table quadratic (29 s for 300 rows).
    schema = df.schema
    time_like = [
        c
        for c in candidates
        if schema[c] in (pl.Date, pl.Time)
        or isinstance(schema[c], pl.Datetime | pl.Duration)
    ]
    nested = [
        c
        for c in candidates
        if isinstance(schema[c], pl.List | pl.Struct | pl.Array)
        or schema[c] == pl.Object
    ]
    ident = []
    for c in candidates:
        if (
            c in time_like
            or c in nested
            or schema[c] in NUMERIC_KINDS
            or schema[c] == pl.Boolean
        ):
            continue
        nun = df.get_column(c).n_unique()
        if df.height >= 20 and nun > MAX_CATEGORICAL_UNIQUE_SHARE * df.height:
            ident.append(c)
    skipped = time_like + nested + ident
    if skipped:
        warnings.warn(
            f"Not used as features: {', '.join(skipped)} (dates, nested values, or "
            "text with mostly distinct values such as names or e-mails). Derive "
            "numbers from them, or pass exclude=[...] to silence this.",
            SegdiscoverWarning,
            stacklevel=3,
        )
    features = [c for c in candidates if c not in skipped]
    if not features:
        msg = (
            f"The table has no usable feature columns besides {id_col!r} "
            f"(columns: {df.columns})."
        )
        raise InputError(msg)
    check_finite(df, features, id_col, "table")
    df = df.sort(id_col)
    out = df.select(*outcomes, id_col) if outcomes else None
    return df.select(id_col, *features), out, table_meta(df, features)
