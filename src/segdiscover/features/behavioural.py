"""Behavioural features: recency, frequency, spend, tenure, activity, basket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from segdiscover.features._spec import (
    DAYS_PER_MONTH,
    Builder,
    FeatureMeta,
    days_before,
    exposure_days,
)


class Behavioural(Builder):
    """Recency, frequency, monetary, tenure, active days, trend, basket and breadth.

    Reads the orders (or usage events) table. Windows count back from ``as_of``;
    only events strictly before ``as_of`` are used.

    Parameters
    ----------
    id : str, default "customer_id"
    ts : str, default "ts"
        Event time column.
    amount : str, default "amount"
    category : str or None, default "category"
        Product category column; None drops ``category_breadth``.
    window_days : int, default 365
        Long window for frequency, spend, basket and breadth.
    recent_days : int, default 90
        Short window for active days and trend.
    table : str, default "orders"

    Notes
    -----
    A customer with no events in the window gets ``recency_days = window_days``
    (recency is capped at the window), 0 for counts and spend, ``activity_trend = 0``
    and a null ``avg_basket`` (undefined; the preprocessor imputes it and adds a
    missing-indicator column). ``orders_per_month`` divides by the months the customer
    could have ordered: ``min(tenure, window)``, at least one month.

    Examples
    --------
    >>> [m.name for m in Behavioural().metadata({})][:3]
    ['recency_days', 'orders_per_month', 'monthly_spend']
    """

    family = "behavioural"

    def __init__(
        self,
        id: str = "customer_id",
        ts: str = "ts",
        amount: str = "amount",
        category: str | None = "category",
        window_days: int = 365,
        recent_days: int = 90,
        table: str = "orders",
    ) -> None:
        self.id = id
        self.ts = ts
        self.amount = amount
        self.category = category
        self.window_days = window_days
        self.recent_days = recent_days
        self.table = table  # type: ignore[misc]
        self.time_column = ts  # type: ignore[misc]

    def columns(self) -> list[str]:  # noqa: D102
        return [self.id, self.ts, self.amount] + (
            [self.category] if self.category else []
        )

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Build this family's features (see the class docstring)."""
        as_of = ctx["as_of"]
        w, r = self.window_days, self.recent_days
        ev = events.with_columns(days_before(as_of).alias("_age"))
        recent = pl.col("_age") <= r
        in_w = pl.col("_age") <= w
        aggs = [
            pl.col("_age").filter(in_w).min().alias("_recency"),
            in_w.sum().alias("_n_w"),
            recent.sum().alias("_n_r"),
            pl.col(self.amount).filter(in_w).sum().alias("_spend"),
            pl.col(self.amount).filter(in_w).mean().alias("avg_basket"),
            pl.col("_t").filter(recent).dt.date().n_unique().alias("active_days_90d"),
        ]
        if self.category:
            aggs.append(
                pl.col(self.category)
                .filter(in_w)
                .drop_nulls()
                .n_unique()
                .alias("category_breadth")
            )
        g = ev.group_by("_id").agg(aggs)
        months = (exposure_days(w) / DAYS_PER_MONTH).clip(lower_bound=1.0)
        rate_w = pl.col("_n_w") / exposure_days(w).clip(lower_bound=1.0)
        out = base.join(g, on="_id", how="left").with_columns(
            pl.col("_recency")
            .fill_null(float(w))
            .clip(upper_bound=float(w))
            .alias("recency_days"),
            (pl.col("_n_w").fill_null(0) / months).alias("orders_per_month"),
            (pl.col("_spend").fill_null(0.0) / months).alias("monthly_spend"),
            pl.col("_tenure_days").alias("tenure_days"),
            pl.col("active_days_90d").fill_null(0).cast(pl.Float64),
            pl.when(pl.col("_n_w").fill_null(0) > 0)
            # Recent rate over the recent exposure, so a customer younger than the
            # recent window reads as steady (1.0), not as declining.
            .then((pl.col("_n_r").cast(pl.Float64) / exposure_days(min(r, w))) / rate_w)
            .otherwise(0.0)
            .alias("activity_trend"),
            pl.col("avg_basket"),
        )
        cols = [
            "recency_days",
            "orders_per_month",
            "monthly_spend",
            "tenure_days",
            "active_days_90d",
            "activity_trend",
            "avg_basket",
        ]
        if self.category:
            out = out.with_columns(
                pl.col("category_breadth").fill_null(0).cast(pl.Float64)
            )
            cols.append("category_breadth")
        return out.select("_id", *cols)

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:  # noqa: D102
        f = self.family
        metas = [
            FeatureMeta(
                "recency_days",
                f,
                "days since last order",
                "days",
                high="lapsed",
                low="recently active",
                fill=str(self.window_days),
            ),
            FeatureMeta(
                "orders_per_month",
                f,
                "orders per month",
                "orders",
                high="frequent",
                low="infrequent",
            ),
            FeatureMeta(
                "monthly_spend",
                f,
                "spend per month",
                "currency",
                high="high-spend",
                low="low-spend",
            ),
            FeatureMeta(
                "tenure_days",
                f,
                "tenure",
                "days",
                high="long-tenured",
                low="new",
                fill="days since first order",
            ),
            FeatureMeta(
                "active_days_90d",
                f,
                f"active days in last {self.recent_days}",
                "days",
                high="highly active",
                low="rarely active",
            ),
            FeatureMeta(
                "activity_trend",
                f,
                "activity trend",
                "ratio",
                high="growing",
                low="declining",
            ),
            FeatureMeta(
                "avg_basket",
                f,
                "average basket",
                "currency",
                high="large-basket",
                low="small-basket",
                fill="null",
            ),
        ]
        if self.category:
            metas.append(
                FeatureMeta(
                    "category_breadth",
                    f,
                    "categories bought",
                    "categories",
                    high="broad-range",
                    low="narrow-range",
                )
            )
        return metas
