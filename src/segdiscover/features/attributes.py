"""Attributes: customer-level columns passed through as features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from segdiscover._checks import NUMERIC_KINDS
from segdiscover.features._spec import Builder, FeatureMeta


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

    Examples
    --------
    >>> Attributes(columns=["region"]).columns()
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
        self.pass_columns = columns
        self.signup = signup
        self.table = table  # type: ignore[misc]
        self.time_column = ""  # type: ignore[misc]

    def get_params(self) -> dict[str, Any]:  # noqa: D102
        return {
            "id": self.id,
            "columns": self.pass_columns,
            "signup": self.signup,
            "table": self.table,
        }

    def columns(self) -> list[str]:  # noqa: D102
        return [self.id, *(self.pass_columns or [])]

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        return {}

    def learn(self, events: pl.LazyFrame, as_of: Any = None) -> dict[str, Any]:  # noqa: D102
        schema = events.collect_schema()
        names = self.pass_columns
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
        kinds = {
            c: (
                "numeric"
                if schema[c] in NUMERIC_KINDS or schema[c] == pl.Boolean
                else "categorical"
            )
            for c in names
        }
        return {"columns": list(names), "kinds": kinds}

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
        out = []
        for c, k in levels.get("kinds", {}).items():
            label = c.replace("_", " ")
            out.append(
                FeatureMeta(
                    c,
                    self.family,
                    label,
                    kind=k,
                    high=f"high {label}",
                    low=f"low {label}",
                    fill="null",
                )
            )
        return out
