"""Attributes: customer-level columns passed through as features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from segdiscover._checks import NUMERIC_KINDS
from segdiscover.features._spec import Builder, FeatureMeta, binary_words


class Attributes(Builder):
    """Pass customer-level columns (industry, region, company size ...) through.

    Parameters
    ----------
    id : str, default "customer_id"
    columns : sequence of str or None, default None
        Columns to pass; None takes every column except the id, dates and times.
    signup : str or None, default "signup_date"
        Signup date column, used for tenure and never passed through itself.
    table : str, default "customers"

    Notes
    -----
    Numeric columns stay numeric, booleans become 0/1, everything else is
    categorical. Nulls stay null and are imputed (and flagged) by the preprocessor.
    Labels come from the column names as on the customer-level table route
    (``HomeOwner`` reads ``home owner``), and Boolean and 0/1 columns (learned on
    the fit data) read as yes/no facts in the same words (``homeowners`` / ``not
    homeowners``, not ``high home owner``).

    Examples
    --------
    >>> Attributes(columns=["region"]).input_columns()
    ['customer_id', 'region']
    """

    family = "attribute"

    def __init__(
        self,
        id: str = "customer_id",
        columns: Sequence[str] | None = None,
        signup: str | None = "signup_date",
        table: str = "customers",
    ) -> None:
        self.id = id
        self.columns = columns
        self.signup = signup
        self.table = table

    def input_columns(self) -> list[str]:  # noqa: D102
        return [self.id, *(self.columns or [])]

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        return {}

    def _kinds(self, schema: pl.Schema) -> dict[str, str]:
        """Columns passed through (the parameter, or every plain column) and kinds."""
        names = self.columns
        if names is None:
            names = [
                c
                for c, t in schema.items()
                if c not in (self.id, "_id", self.signup)
                and not c.startswith("_")
                and t not in (pl.Date, pl.Time)
                and not isinstance(t, pl.Datetime)
                and not isinstance(t, pl.Duration)
            ]
        return {
            c: (
                "numeric"
                if schema[c] in NUMERIC_KINDS or schema[c] == pl.Boolean
                else "categorical"
            )
            for c in names
        }

    def summarise(  # noqa: D102
        self, events: pl.LazyFrame, as_of: Any = None
    ) -> pl.DataFrame:
        # One row per passed column: its kind and, for numbers, whether every
        # non-null value is 0 or 1 and whether any is set (one pass over the rows;
        # positional aliases, since column names may be anything).
        schema = events.collect_schema()
        kinds = self._kinds(schema)
        nums = [c for c, k in kinds.items() if k == "numeric"]

        def zero_one(c: str) -> pl.Expr:
            x = pl.col(c).cast(pl.Float64)
            return x.is_null() | (x == 0.0) | (x == 1.0)

        row = (
            events.select(
                [zero_one(c).all().alias(f"z{i}") for i, c in enumerate(nums)]
                + [
                    pl.col(c).is_not_null().any().alias(f"n{i}")
                    for i, c in enumerate(nums)
                ]
            )
            .collect()
            .row(0, named=True)
            if nums
            else {}
        )
        at = {c: i for i, c in enumerate(nums)}
        return pl.DataFrame(
            {
                "column": list(kinds),
                "kind": list(kinds.values()),
                "boolean": [schema[c] == pl.Boolean for c in kinds],
                "zero_one": [bool(row.get(f"z{at.get(c)}", False)) for c in kinds],
                "seen": [bool(row.get(f"n{at.get(c)}", False)) for c in kinds],
            },
            schema={
                "column": pl.String,
                "kind": pl.String,
                "boolean": pl.Boolean,
                "zero_one": pl.Boolean,
                "seen": pl.Boolean,
            },
        )

    def learn_from(self, summaries: Sequence[pl.DataFrame]) -> dict[str, Any]:  # noqa: D102
        # Numeric columns that hold a yes/no fact: Booleans and 0/1 numbers, learned
        # once on the fit data (and saved with the levels) so that a later assign
        # names a segment in the same words whatever values it sees.
        parts = [s for s in summaries if s.width]
        if not parts:
            return {"columns": [], "kinds": {}, "yes_no": []}
        merged = (
            pl.concat(parts)
            .group_by("column", maintain_order=True)
            .agg(
                pl.col("kind").first(),
                pl.col("boolean").first(),
                pl.col("zero_one").all(),
                pl.col("seen").any(),
            )
        )
        kinds = dict(
            zip(merged.get_column("column"), merged.get_column("kind"), strict=True)
        )
        yes_no = merged.filter(
            (pl.col("kind") == "numeric")
            & (pl.col("boolean") | (pl.col("zero_one") & pl.col("seen")))
        ).get_column("column")
        return {"columns": list(kinds), "kinds": kinds, "yes_no": yes_no.to_list()}

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Build this family's features (see the class docstring)."""
        lv = ctx["levels"][self.family]
        exprs = [
            pl.col(c).cast(pl.Float64) if k == "numeric" else pl.col(c).cast(pl.String)
            for c, k in lv["kinds"].items()
        ]
        attrs = events.select("_id", *exprs).unique("_id", keep="first")
        return base.join(attrs, on="_id", how="left").select("_id", *lv["columns"])

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:  # noqa: D102
        # Imported here: segdiscover._table imports this package at its top.
        from segdiscover._table import label_of

        # Models saved before yes/no facts were learned lack the key: they keep
        # reading high/low.
        yes_no = set(levels.get("yes_no", ()))
        out = []
        for c, k in levels.get("kinds", {}).items():
            label = label_of(c)
            high, low = (
                binary_words(label)
                if c in yes_no
                else (f"high {label}", f"low {label}")
            )
            out.append(
                FeatureMeta(
                    c, self.family, label, kind=k, high=high, low=low, fill="null"
                )
            )
        return out
