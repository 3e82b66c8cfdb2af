"""Value features: revenue, margin, margin rate, discount dependency, returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from segdiscover.features._spec import (
    FeatureMeta,
    GroupedBuilder,
    exact_sum,
    in_window,
)


class Value(GroupedBuilder):
    """Revenue, margin, margin rate, discount dependency and return rate.

    Parameters
    ----------
    id, ts, amount : str
        Id, event time and order amount columns.
    margin : str or None, default "margin"
        Margin per order; None drops the margin features.
    discount : str or None, default "discount"
        Discount amount per order (> 0 means discounted); None drops it.
    returned : str or None, default "returned"
        Boolean returned flag; None drops ``return_rate``.
    window_days : int, default 365
    table : str, default "orders"

    Notes
    -----
    With no orders in the window, revenue and margin are 0; ``margin_rate``,
    ``discount_share`` and ``return_rate`` are null (a rate over zero orders is
    undefined; the preprocessor imputes it and flags it).

    Examples
    --------
    >>> [m.name for m in Value().metadata({})]
    ['revenue_365d', 'margin_365d', 'margin_rate', 'discount_share', 'return_rate']
    """

    family = "value"

    def __init__(
        self,
        id: str = "customer_id",
        ts: str = "ts",
        amount: str = "amount",
        margin: str | None = "margin",
        discount: str | None = "discount",
        returned: str | None = "returned",
        window_days: int = 365,
        table: str = "orders",
    ) -> None:
        self.id = id
        self.ts = ts
        self.amount = amount
        self.margin = margin
        self.discount = discount
        self.returned = returned
        self.window_days = window_days
        self.table = table

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        return {"_t": self.ts}

    def input_columns(self) -> list[str]:  # noqa: D102
        return [
            c
            for c in (
                self.id,
                self.ts,
                self.amount,
                self.margin,
                self.discount,
                self.returned,
            )
            if c
        ]

    def _names(self) -> tuple[str, str]:
        return f"revenue_{self.window_days}d", f"margin_{self.window_days}d"

    def plan(  # noqa: D102
        self, events: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        as_of, w = ctx["as_of"], self.window_days
        prep = [in_window(as_of, w, self.amount)]
        aggs = [exact_sum(pl.col(f"_w{w}_{self.amount}")).alias("_va_rev")]
        if self.margin:
            prep.append(in_window(as_of, w, self.margin))
            aggs.append(exact_sum(pl.col(f"_w{w}_{self.margin}")).alias("_va_mar"))
        if self.discount:
            prep.append(
                in_window(
                    as_of, w, "_discounted", pl.col(self.discount).fill_null(0) > 0
                )
            )
            aggs.append(pl.col(f"_w{w}__discounted").mean().alias("_va_discount"))
        if self.returned:
            prep.append(
                in_window(as_of, w, "_returned", pl.col(self.returned).cast(pl.Float64))
            )
            aggs.append(pl.col(f"_w{w}__returned").mean().alias("_va_return"))
        return prep, aggs

    def finish(self, frame: pl.LazyFrame, ctx: Mapping[str, Any]) -> pl.LazyFrame:  # noqa: D102
        rev, mar = self._names()
        # No order in the window: a sum over no rows is 0 and a mean is null, as for
        # a customer with no order at all.
        exprs = [pl.col("_va_rev").fill_null(0.0).cast(pl.Float64).alias(rev)]
        if self.margin:
            r = pl.col("_va_rev").fill_null(0.0).cast(pl.Float64)
            m = pl.col("_va_mar").fill_null(0.0).cast(pl.Float64)
            exprs += [
                m.alias(mar),
                pl.when(r > 0).then(m / r).otherwise(None).alias("margin_rate"),
            ]
        if self.discount:
            exprs.append(pl.col("_va_discount").alias("discount_share"))
        if self.returned:
            exprs.append(pl.col("_va_return").alias("return_rate"))
        return frame.select("_id", *exprs)

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:  # noqa: D102
        rev, mar = self._names()
        f, w = self.family, self.window_days
        metas = [
            FeatureMeta(
                rev,
                f,
                f"revenue, last {w} days",
                "currency",
                high="high-revenue",
                low="low-revenue",
            )
        ]
        if self.margin:
            metas += [
                FeatureMeta(
                    mar,
                    f,
                    f"margin, last {w} days",
                    "currency",
                    high="high-profit",
                    low="low-profit",
                ),
                FeatureMeta(
                    "margin_rate",
                    f,
                    "margin rate",
                    "share",
                    high="premium-margin",
                    low="thin-margin",
                    fill="null",
                ),
            ]
        if self.discount:
            metas.append(
                FeatureMeta(
                    "discount_share",
                    f,
                    "share of orders discounted",
                    "share",
                    high="promo-driven",
                    low="full-price",
                    fill="null",
                )
            )
        if self.returned:
            metas.append(
                FeatureMeta(
                    "return_rate",
                    f,
                    "return rate",
                    "share",
                    high="high-return",
                    low="low-return",
                    fill="null",
                )
            )
        return metas
