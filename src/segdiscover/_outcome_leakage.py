"""Outcome leakage guard: an outcome must be measured after the feature cutoff."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from segdiscover.exceptions import InputError

LEAK_RANK_CORRELATION = 0.98


def check_outcome_leakage(
    outcomes: pl.DataFrame,
    features: pl.DataFrame,
    id_col: str,
    *,
    as_of: Any = None,
) -> pl.DataFrame:
    """Refuse outcomes measured inside the feature window; return the outcome columns.

    Three guards, each naming the column: an outcome that is also a feature; a date
    or datetime column of the outcome table (its measurement date) with a value
    before ``as_of`` (the date columns are then dropped); an outcome whose rank
    correlation with a numeric feature is 0.98 or more in absolute value, i.e. the
    same quantity computed from the feature window.

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
    num_out = [c for c, t in out.schema.items() if c != id_col and t.is_numeric()]
    num_feat = [c for c, t in features.schema.items() if c != id_col and t.is_numeric()]
    if not num_out or not num_feat:
        return out
    j = features.select(id_col, *num_feat).join(
        out.select(id_col, *num_out), on=id_col, how="inner"
    )
    if j.height < 3:
        return out
    ranks = j.select(
        pl.col(c).cast(pl.Float64).rank("average").fill_null(strategy="mean")
        for c in [*num_out, *num_feat]
    ).to_numpy()
    z = ranks - np.nanmean(ranks, 0)
    norm = np.sqrt((z**2).sum(0))
    ok = norm > 0
    z[:, ok] /= norm[ok]
    corr = z[:, : len(num_out)].T @ z[:, len(num_out) :]
    corr[:, ~ok[len(num_out) :]] = 0.0
    corr[~ok[: len(num_out)]] = 0.0
    i, f = np.unravel_index(np.argmax(np.abs(corr)), corr.shape)
    if abs(corr[i, f]) >= LEAK_RANK_CORRELATION:
        when = f" (as_of={as_of:%Y-%m-%d})" if as_of is not None else ""
        msg = (
            f"Outcome {num_out[i]!r} looks computed inside the feature window: its "
            f"rank correlation with feature {num_feat[f]!r} is {corr[i, f]:.3f} "
            f"(limit {LEAK_RANK_CORRELATION}). Measure outcomes in a window after "
            f"the feature cutoff{when}, or drop the column."
        )
        raise InputError(msg)
    return out
