"""The first fit step of :class:`segdiscover.Segmenter`: the inputs, checked once.

Raw tables are built into features, a customer-level table is prepared, and the
outcomes are aligned, made numeric and checked for leakage before anything is
fitted, so a bad input fails in seconds with a message that names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from segdiscover._checks import align_id_dtype, check_ids, to_polars
from segdiscover._table import prepare_table
from segdiscover.exceptions import InputError
from segdiscover.features import FeatureMeta, FeatureSet
from segdiscover.features._spec import normalise_as_of
from segdiscover.outcomes import check_outcome_leakage

if TYPE_CHECKING:
    from segdiscover.segmenter import Segmenter

POSITIVE = ("yes", "y", "true", "t", "1", "churned", "churn", "lost", "left")


def binary_outcomes(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Numbers and booleans as they are; two-level text outcomes as 0/1 rates.

    The level that counts as 1 is a "yes"-like word, else the rarer level; the column
    is renamed ``<column>=<level>`` so the report says what the rate is of. Other text
    outcomes are refused: their mean means nothing.

    Examples
    --------
    >>> import polars as pl
    >>> f = pl.DataFrame({"id": [1, 2, 3], "churn": ["Yes", "No", "No"]})
    >>> binary_outcomes(f, "id").columns
    ['id', 'churn=Yes']
    """
    out = [pl.col(id_col)]
    for c in frame.columns:
        if c == id_col:
            continue
        dtype = frame.schema[c]
        if dtype.is_numeric() or dtype == pl.Boolean:
            out.append(pl.col(c).cast(pl.Float64))
            continue
        if dtype.is_temporal():  # a measurement date: the leakage guard reads it
            out.append(pl.col(c))
            continue
        s = frame.get_column(c).cast(pl.String).str.strip_chars()
        levels = s.drop_nulls().value_counts(sort=True)
        if levels.height != 2:
            msg = (
                f"Outcome column {c!r} is text with {levels.height} distinct values; "
                "an outcome must be numeric, boolean or have exactly two levels "
                "(e.g. Yes/No)."
            )
            raise InputError(msg)
        names = levels.get_column(c).to_list()
        yes = [v for v in names if v.lower() in POSITIVE]
        positive = yes[0] if len(yes) == 1 else names[-1]  # else the rarer level
        out.append(
            pl.when(s.is_null())
            .then(None)
            .otherwise((s == positive).cast(pl.Float64))
            .alias(f"{c}={positive}")
        )
    return frame.select(out)


def as_table(X: Any, id_col: str) -> Any:
    """Read a numpy matrix as a customer table: columns ``x0, x1...``, ids 0..n-1.

    Anything else is returned as it is (the door converts it).

    Examples
    --------
    >>> import numpy as np
    >>> as_table(np.zeros((2, 2)), "customer_id").columns
    ['customer_id', 'x0', 'x1']
    """
    if not isinstance(X, np.ndarray):
        return X
    if X.ndim != 2:
        msg = f"A numpy input must be 2-D (customers x features); got shape {X.shape}."
        raise InputError(msg)
    frame = pl.DataFrame(X, schema=[f"x{j}" for j in range(X.shape[1])])
    return frame.with_columns(pl.int_range(X.shape[0]).alias(id_col)).select(
        id_col, *frame.columns
    )


@dataclass(frozen=True)
class Inputs:
    """The fit's inputs after the door: features (id first) and outcomes."""

    id: str
    frame: pl.DataFrame
    meta: list[FeatureMeta]
    outcomes: pl.DataFrame | None
    input_kind: str  # "tables" (raw tables and builders) or "table"
    feature_levels: dict[str, Any]

    @property
    def outcome_cols(self) -> list[str] | None:
        """Outcome column names (None without outcomes)."""
        if self.outcomes is None:
            return None
        return [c for c in self.outcomes.columns if c != self.id]

    def outcome_matrix(self) -> np.ndarray | None:
        """Outcomes aligned with the rows (for the sweep and the guide)."""
        if self.outcomes is None:
            return None
        return (
            self.frame.select(self.id)
            .join(self.outcomes, on=self.id, how="left", maintain_order="left")
            .drop(self.id)
            .to_numpy()
            .astype(float)
        )


def _outcome_source(
    est: Segmenter, outcomes: Any
) -> tuple[list[str], pl.DataFrame | None]:
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    if isinstance(outcomes, Sequence) and not isinstance(outcomes, str):
        return list(outcomes), None
    if outcomes is None:
        return [], None
    frame = to_polars(outcomes, "outcomes table")
    check_ids(frame, est.id, "outcomes table", unique=True)
    return [], frame


def door(
    est: Segmenter, X: Any, as_of: Any, outcomes: Any, exclude: Sequence[str]
) -> Inputs:
    """Check and convert the fit's inputs once (see ``Segmenter.fit``)."""
    outcome_cols, outcome_frame = _outcome_source(est, outcomes)
    if isinstance(X, Mapping):
        if as_of is None:
            msg = (
                "Raw tables need as_of=..., the cutoff date for features "
                "(e.g. as_of='2025-07-01')."
            )
            raise InputError(msg)
        if outcome_cols:
            msg = "With raw tables pass outcomes as a DataFrame keyed by the id."
            raise InputError(msg)
        fs = est.features or FeatureSet.default(id=est.id)
        built = fs.build(X, as_of)
        levels, kind = built.levels, "tables"
        frame = built.frame.rename({fs.id: est.id}) if fs.id != est.id else built.frame
        meta = built.meta
    else:
        frame, table_outcomes, meta = prepare_table(
            X, est.id, outcomes=outcome_cols, exclude=exclude
        )
        levels, kind = {}, "table"
        if table_outcomes is not None:
            outcome_frame = table_outcomes
    if outcome_frame is not None:
        outcome_frame = _checked_outcomes(est, outcome_frame, frame, meta, as_of, kind)
    return Inputs(est.id, frame, meta, outcome_frame, kind, levels)


def _checked_outcomes(
    est: Segmenter,
    outcome_frame: pl.DataFrame,
    frame: pl.DataFrame,
    meta: list[FeatureMeta],
    as_of: Any,
    kind: str,
) -> pl.DataFrame:
    # Source names first: binary_outcomes renames a Yes/No text outcome
    # `churn` to `churn=Yes`, which no feature is called.
    feats = {m.name for m in meta}
    leak = [c for c in outcome_frame.columns if c in feats and c != est.id]
    if leak:
        msg = (
            f"Outcome column(s) {leak} are also features; an outcome cannot "
            "explain itself. Drop them from the features or rename them."
        )
        raise InputError(msg)
    # Text ids "42" join integer ids 42; "00042" is refused, never guessed.
    outcome_frame = align_id_dtype(
        outcome_frame, est.id, frame.schema[est.id], "outcomes table"
    )
    # Fail fast: a bad outcome column is refused before any fitting.
    outcome_frame = binary_outcomes(outcome_frame, est.id)
    # Leakage guard: measurement dates after as_of, no copy of a feature,
    # no feature recorded after the outcome.
    return check_outcome_leakage(
        outcome_frame,
        frame,
        est.id,
        as_of=normalise_as_of(as_of) if kind == "tables" else None,
    )
