"""Outcome leakage guard: an outcome must be measured after the feature cutoff.

Four guards, each raising :class:`~segdiscover.exceptions.InputError` with the
column, the count and the fix:

1. an outcome column that is also a feature (same source name);
2. a measurement date of the outcome table before ``as_of``;
3. a feature that is a copy of an outcome: rank correlation of 0.98 or more in
   absolute value, over numeric features and yes/no features (Boolean, 0/1 numbers,
   two-level text, each read as 0/1);
4. a feature recorded after the outcome: constant (or entirely null) for every
   customer of one class of a rate outcome while it varies in the other class, more
   often than chance allows (:func:`post_outcome_features`). It is checked before
   3, since such a column also correlates ~1 with the outcome and its message (which
   class, how many customers) says more; a feature constant in both classes is a
   copy and left to 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from segdiscover.exceptions import InputError

LEAK_RANK_CORRELATION = 0.98

#: Smallest outcome class the post-outcome guard reads: below it a constant
#: feature within the class says little.
MIN_CLASS_SIZE = 30

#: Customers with other values expected in the constant class, were the feature
#: unrelated to the outcome, from which seeing none flags the feature. Seeing none
#: of 20 expected has a chance of at most e^-20 (about 2e-9) under independence, so
#: a table with thousands of features does not trip it by chance; on the shared real
#: tables the legitimate features reach 1.6 at most, the post-outcome ones hundreds.
MIN_EXPECTED_OTHERS = 20.0


def _as_number(s: pl.Series) -> tuple[pl.Series, str] | None:
    """Read a column as Float64 for the rank correlation (with how); None if not.

    Numbers as they are, Booleans as 0/1, two-level text as 0/1 (the sign of the
    correlation does not matter, so which level is 1 does not either).
    """
    if s.dtype.is_numeric():
        return s.cast(pl.Float64), "numeric"
    if s.dtype == pl.Boolean:
        return s.cast(pl.Float64), "Boolean, read as 0/1"
    if s.dtype in (pl.String, pl.Categorical) or isinstance(s.dtype, pl.Enum):
        text = s.cast(pl.String)
        levels = text.drop_nulls().unique().sort()
        if levels.len() == 2:
            return (
                (text == levels[1]).cast(pl.Float64),
                f"text {levels[0]!r}/{levels[1]!r}, read as 0/1",
            )
    return None


def _check_copies(
    out: pl.DataFrame, features: pl.DataFrame, id_col: str, as_of: Any
) -> None:
    """Refuse an outcome whose rank correlation with a feature is 0.98 or more."""
    o_enc = {c: e for c in out.columns if c != id_col and (e := _as_number(out[c]))}
    f_enc = {
        c: e for c in features.columns if c != id_col and (e := _as_number(features[c]))
    }
    if not o_enc or not f_enc:
        return
    names_o, names_f = list(o_enc), list(f_enc)
    # Encoded columns (o0.., f0..), aligned on the customers both frames hold.
    j = pl.DataFrame(
        [features[id_col], *(e[0].alias(f"f{k}") for k, e in enumerate(f_enc.values()))]
    ).join(
        pl.DataFrame(
            [out[id_col], *(e[0].alias(f"o{k}") for k, e in enumerate(o_enc.values()))]
        ),
        on=id_col,
        how="inner",
    )
    if j.height < 3:
        return
    ranks = j.select(
        pl.col(c).rank("average").fill_null(strategy="mean")
        for c in [
            *(f"o{k}" for k in range(len(names_o))),
            *(f"f{k}" for k in range(len(names_f))),
        ]
    ).to_numpy()
    z = ranks - np.nanmean(ranks, 0)
    norm = np.sqrt((z**2).sum(0))
    ok = norm > 0
    z[:, ok] /= norm[ok]
    n_o = len(names_o)
    corr = z[:, :n_o].T @ z[:, n_o:]
    corr[:, ~ok[n_o:]] = 0.0
    corr[~ok[:n_o]] = 0.0
    i, f = np.unravel_index(np.argmax(np.abs(corr)), corr.shape)
    if abs(corr[i, f]) >= LEAK_RANK_CORRELATION:
        when = f" (as_of={as_of:%Y-%m-%d})" if as_of is not None else ""
        how = f_enc[names_f[f]][1]
        msg = (
            f"Outcome {names_o[i]!r} looks computed inside the feature window: its "
            f"rank correlation with feature {names_f[f]!r} ({how}) is "
            f"{corr[i, f]:.3f} (limit {LEAK_RANK_CORRELATION}), i.e. the feature "
            "is a copy of the outcome. Drop the feature, or measure outcomes in a "
            f"window after the feature cutoff{when}."
        )
        raise InputError(msg)


def _class_name(outcome: str, cls: int) -> str:
    """``churned = 1``; for a text outcome read as a rate (``Churn=Yes``) its level."""
    col, eq, level = outcome.rpartition("=")
    if eq and col:
        return f"{col} = {level}" if cls else f"{col} other than {level}"
    return f"{outcome} = {cls}"


def post_outcome_features(
    out: pl.DataFrame, features: pl.DataFrame, id_col: str
) -> list[dict[str, Any]]:
    """Features that look recorded after a rate outcome, most telling first.

    A feature is flagged when, within one class of a 0/1 outcome (at least
    :data:`MIN_CLASS_SIZE` customers), every customer has the same value (or every
    value is null) while the other class varies and ``others`` of its customers
    differ from that value, and that
    many would have put about ``expected`` >= :data:`MIN_EXPECTED_OTHERS` of them in
    the constant class had the feature been unrelated to the outcome: a call
    duration of 0 for every non-converted customer, days since cancellation null for
    every retained one.

    Examples
    --------
    >>> import polars as pl
    >>> out = pl.DataFrame({"id": range(200), "converted": [0.0, 1.0] * 100})
    >>> feats = pl.DataFrame(
    ...     {"id": range(200), "spend": [0.0 if i % 2 == 0 else i for i in range(200)]}
    ... )
    >>> [(f["feature"], f["class"], f["value"], f["n_class"], f["others"])
    ...  for f in post_outcome_features(out, feats, "id")]
    [('spend', 0, 0.0, 100, 100)]
    """
    rates = [
        c
        for c, t in out.schema.items()
        if c != id_col
        and (t.is_numeric() or t == pl.Boolean)
        and set(out[c].drop_nulls().cast(pl.Float64).unique().to_list()) == {0.0, 1.0}
    ]
    cols = [
        c
        for c, t in features.schema.items()
        if c != id_col
        and (
            t.is_numeric()
            or t in (pl.Boolean, pl.String)
            or isinstance(t, pl.Categorical | pl.Enum)
        )
    ]
    if not rates or not cols:
        return []
    found = []
    for o in rates:
        j = features.select(id_col, *cols).join(
            out.select(id_col, pl.col(o).cast(pl.Float64).alias("_y")),
            on=id_col,
            how="inner",
        )
        j = j.filter(pl.col("_y").is_not_null())
        n = j.height
        # One pass: per class, its size, nulls, distinct values and one value.
        g = j.group_by("_y").agg(
            pl.len().alias("_n"),
            *(pl.col(c).null_count().alias(f"{c}\x00null") for c in cols),
            *(pl.col(c).drop_nulls().n_unique().alias(f"{c}\x00nu") for c in cols),
            *(pl.col(c).drop_nulls().first().alias(f"{c}\x00v") for c in cols),
        )
        for row in g.iter_rows(named=True):
            cls, n_a = int(row["_y"]), int(row["_n"])
            if n_a < MIN_CLASS_SIZE or n_a == n:
                continue
            other = j.filter(pl.col("_y") != row["_y"])
            for c in cols:
                nulls, nu, v = row[f"{c}\x00null"], row[f"{c}\x00nu"], row[f"{c}\x00v"]
                if nulls == n_a:
                    differ = other[c].is_not_null()
                    value = None
                elif nulls == 0 and nu == 1:
                    differ = (other[c] != v).fill_null(value=True)
                    value = v
                else:
                    continue
                others = int(differ.sum())
                # Of the `others` customers with another value, this many would fall
                # in this class under independence; seeing none of them is the leak.
                expected = others * n_a / n
                # Constant in both classes is a copy: the correlation guard's case.
                if expected >= MIN_EXPECTED_OTHERS and other[c].n_unique() > 1:
                    found.append(
                        {
                            "outcome": o,
                            "feature": c,
                            "class": cls,
                            "value": value,
                            "n_class": n_a,
                            "others": others,
                            "n_other": other.height,
                            "expected": expected,
                        }
                    )
    return sorted(found, key=lambda f: -f["expected"])


def check_outcome_leakage(
    outcomes: pl.DataFrame,
    features: pl.DataFrame,
    id_col: str,
    *,
    as_of: Any = None,
) -> pl.DataFrame:
    """Refuse outcomes measured inside the feature window; return the outcome columns.

    Four guards, each naming the column (see the module docstring): an outcome that
    is also a feature; a date or datetime column of the outcome table (its
    measurement date) with a value before ``as_of`` (the date columns are then
    dropped); an outcome whose rank correlation with a numeric or yes/no feature is
    0.98 or more in absolute value, i.e. a copy of it; a feature constant within one
    class of a rate outcome and varying in the other (recorded after the outcome).
    Compare source names: a Yes/No text outcome renamed ``churn=Yes`` is checked
    against the features before that renaming (:meth:`Segmenter.fit` does).

    Examples
    --------
    >>> import polars as pl
    >>> feats = pl.DataFrame({"id": [1, 2, 3], "spend": [5.0, 9.0, 1.0]})
    >>> out = pl.DataFrame({"id": [1, 2, 3], "spend_before": [50.0, 90.0, 10.0]})
    >>> check_outcome_leakage(out, feats, "id")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: Outcome 'spend_before' looks computed inside ...
    """
    same = [c for c in outcomes.columns if c != id_col and c in features.columns]
    if same:
        msg = (
            f"Outcome column(s) {same} are also features; an outcome cannot "
            "explain itself. Drop them from the features or rename them."
        )
        raise InputError(msg)
    dates = [c for c, t in outcomes.schema.items() if t.is_temporal() and c != id_col]
    if dates and as_of is None:
        msg = (
            f"Outcome column(s) {dates} hold dates; an outcome must be a number, a "
            "boolean or a two-level text (a measurement date is read only beside raw "
            "tables and as_of). Give the duration as a number, e.g. days to value."
        )
        raise InputError(msg)
    if dates:
        cutoff = pl.lit(as_of).cast(pl.Datetime("us"))
        for c in dates:
            early = outcomes.filter(pl.col(c).cast(pl.Datetime("us")) < cutoff)
            if early.height:
                first = early.sort(c).row(0, named=True)
                msg = (
                    f"Outcome table column {c!r} dates {early.height:,} measurement(s) "
                    f"before as_of={as_of:%Y-%m-%d} (e.g. customer "
                    f"{first[id_col]!r} on {first[c]}); outcomes must be measured "
                    "after the feature cutoff. Measure them in a window after as_of."
                )
                raise InputError(msg)
    out = outcomes.drop(dates)
    # Post-outcome first: a zero-for-one-class column also correlates ~1 with the
    # outcome, and its own message (which class, how many) says more than "copy".
    late = post_outcome_features(out, features, id_col)
    if late:
        f = late[0]
        what = "null" if f["value"] is None else f"{f['value']!r}"
        more = [
            x for x in dict.fromkeys(x["feature"] for x in late) if x != f["feature"]
        ]
        also = f"; so is {', '.join(map(repr, more))}" if more else ""
        drop = [f["feature"], *more]
        msg = (
            f"Feature {f['feature']!r} looks recorded after the outcome "
            f"{f['outcome']!r}: it is {what} for every one of the {f['n_class']:,} "
            f"customers with {_class_name(f['outcome'], f['class'])}, while "
            f"{f['others']:,} of the {f['n_other']:,} with "
            f"{_class_name(f['outcome'], 1 - f['class'])} have another value (were "
            f"it unrelated to the outcome, about {f['expected']:,.0f} customers with "
            f"another value would be in the first group){also}. A column filled "
            "in after the outcome gives it away; drop it from the features "
            f"(exclude={drop!r}, or --exclude {' --exclude '.join(drop)} in the CLI)."
        )
        raise InputError(msg)
    _check_copies(out, features, id_col, as_of)
    return out
