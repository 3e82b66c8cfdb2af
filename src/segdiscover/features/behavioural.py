"""Behavioural features: recency, frequency, spend, tenure, activity, basket."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from segdiscover.features._spec import (
    DAYS_PER_MONTH,
    MAX_BITS,
    FeatureMeta,
    GroupedBuilder,
    bit_words,
    days_before,
    exact_mean,
    exact_sum,
    exposure_days,
    in_window,
    popcount,
)


class Behavioural(GroupedBuilder):
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
        self.table = table

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        return {"_t": self.ts}

    def input_columns(self) -> list[str]:  # noqa: D102
        return [self.id, self.ts, self.amount] + (
            [self.category] if self.category else []
        )

    def numeric_columns(self) -> list[str]:  # noqa: D102
        return [self.amount]

    def _bits(self, events: pl.LazyFrame, as_of: Any) -> tuple[list[pl.Expr], Any]:
        """Bit words for the distinct recent days and (if few) categories."""
        w, r = self.window_days, self.recent_days
        recent = days_before(as_of) <= r
        # Day offsets 0..r+1 (date of as_of minus the event's date) of recent events.
        day = (pl.lit(as_of).dt.date() - pl.col("_t").dt.date()).dt.total_days()
        n_days = int(r) + 2
        exprs = bit_words(
            pl.when(recent).then(day).otherwise(None), n_days, f"_bh_day{r}"
        )
        cats = None
        if self.category:
            dtype = events.collect_schema()[self.category]
            src = pl.col(self.category)
            is_cat = isinstance(dtype, (pl.Categorical, pl.Enum))
            if is_cat:
                src = src.cast(pl.String)  # same distinct values
            if dtype == pl.String or dtype.is_integer() or is_cat:
                cats = (
                    events.select(src.drop_nulls().unique())
                    .collect()
                    .get_column(self.category)
                )
                if 0 < cats.len() <= MAX_BITS:
                    in_w = days_before(as_of) <= w
                    levels = cats.to_list()
                    for j in range(0, len(levels), 64):
                        part = levels[j : j + 64]
                        bit = src.replace_strict(
                            part,
                            pl.Series(
                                [1 << k for k in range(len(part))], dtype=pl.UInt64
                            ),
                            default=None,
                            return_dtype=pl.UInt64,
                        )
                        exprs.append(
                            pl.when(in_w)
                            .then(bit)
                            .otherwise(None)
                            .alias(f"_bh_cat{w}_{j // 64}")
                        )
                else:
                    cats = None
        return exprs, cats

    def plan(  # noqa: D102
        self, events: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        as_of = ctx["as_of"]
        w, r = self.window_days, self.recent_days
        bits, cats = self._bits(events, as_of)
        prep = [
            in_window(as_of, w, "_age", days_before(as_of)),
            (days_before(as_of) <= r).alias(f"_r{r}"),
            in_window(as_of, w, self.amount),
            *bits,
            *(
                [in_window(as_of, w, self.category)]
                if self.category and cats is None
                else []
            ),
        ]
        age = pl.col(f"_w{w}__age")
        amount = pl.col(f"_w{w}_{self.amount}")
        aggs = [
            age.min().alias("_bh_recency"),
            age.count().alias("_bh_n_w"),
            pl.col(f"_r{r}").sum().alias("_bh_n_r"),
            exact_sum(amount).alias("_bh_spend"),
            exact_mean(amount).alias("_bh_basket"),
            *[
                pl.col(f"_bh_day{r}_{j}").bitwise_or()
                for j in range((int(r) + 2 + 63) // 64)
            ],
        ]
        if self.category and cats is not None:
            aggs += [
                pl.col(f"_bh_cat{w}_{j}").bitwise_or()
                for j in range((max(cats.len(), 1) + 63) // 64)
            ]
        elif self.category:
            aggs.append(
                pl.col(f"_w{w}_{self.category}")
                .drop_nulls()
                .n_unique()
                .alias("_bh_breadth")
            )
        return prep, aggs

    def finish(self, frame: pl.LazyFrame, ctx: Mapping[str, Any]) -> pl.LazyFrame:  # noqa: D102
        w, r = self.window_days, self.recent_days
        months = (exposure_days(w) * (1.0 / DAYS_PER_MONTH)).clip(lower_bound=1.0)
        rate_w = pl.col("_bh_n_w") / exposure_days(w).clip(lower_bound=1.0)
        exprs = [
            pl.col("_bh_recency")
            .fill_null(float(w))
            .clip(upper_bound=float(w))
            .alias("recency_days"),
            (pl.col("_bh_n_w").fill_null(0) / months).alias("orders_per_month"),
            (pl.col("_bh_spend").fill_null(0.0) / months).alias("monthly_spend"),
            pl.col("_tenure_days").alias("tenure_days"),
            popcount([f"_bh_day{r}_{j}" for j in range((int(r) + 2 + 63) // 64)])
            .cast(pl.Float64)
            .alias("active_days_90d"),
            pl.when(pl.col("_bh_n_w").fill_null(0) > 0)
            # Recent rate over the recent exposure, so a customer younger than the
            # recent window reads as steady (1.0), not as declining.
            .then(
                (pl.col("_bh_n_r").cast(pl.Float64) / exposure_days(min(r, w))) / rate_w
            )
            .otherwise(0.0)
            .alias("activity_trend"),
            pl.col("_bh_basket").alias("avg_basket"),
        ]
        if self.category:
            names = frame.collect_schema().names()
            bits = sorted(c for c in names if c.startswith(f"_bh_cat{w}_"))
            breadth = popcount(bits) if bits else pl.col("_bh_breadth").fill_null(0)
            exprs.append(breadth.cast(pl.Float64).alias("category_breadth"))
        return frame.select("_id", *exprs)

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
