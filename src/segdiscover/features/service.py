"""Service features: ticket load, severity mix, resolution time, reopen rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from segdiscover.features._spec import (
    DAYS_PER_MONTH,
    MS_PER_DAY,
    FeatureMeta,
    GroupedBuilder,
    days_before,
    exposure_days,
    in_window,
)


class Service(GroupedBuilder):
    """Tickets per month, high-severity share, resolution hours and reopen rate.

    Parameters
    ----------
    id : str, default "customer_id"
    opened : str, default "opened"
        Ticket open time (the event time).
    resolved : str or None, default "resolved"
        Resolution time; a ticket resolved at or after ``as_of`` counts as still open,
        so no future information leaks in. None drops the resolution feature.
    severity : str or None, default "severity"
    high_severities : sequence of str, default ("high", "critical")
    reopened : str or None, default "reopened"
    window_days : int, default 365
    table : str, default "tickets"

    Notes
    -----
    A customer with no tickets gets 0 tickets, 0 high-severity share and 0 reopen rate
    (no load), and a null ``median_resolution_hours`` (undefined; imputed and flagged).

    Examples
    --------
    >>> [m.name for m in Service().metadata({})][:2]
    ['tickets_per_month', 'high_severity_share']
    """

    family = "service"

    def __init__(
        self,
        id: str = "customer_id",
        opened: str = "opened",
        resolved: str | None = "resolved",
        severity: str | None = "severity",
        high_severities: Sequence[str] = ("high", "critical"),
        reopened: str | None = "reopened",
        window_days: int = 365,
        table: str = "tickets",
    ) -> None:
        self.id = id
        self.opened = opened
        self.resolved = resolved
        self.severity = severity
        self.high_severities = high_severities
        self.reopened = reopened
        self.window_days = window_days
        self.table = table

    def input_columns(self) -> list[str]:  # noqa: D102
        return [
            c
            for c in (self.id, self.opened, self.resolved, self.severity, self.reopened)
            if c
        ]

    def numeric_columns(self) -> list[str]:  # noqa: D102
        return [self.reopened] if self.reopened else []

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        cols = {"_t": self.opened}
        if self.resolved:
            cols["_resolved"] = self.resolved
        return cols

    def plan(  # noqa: D102
        self, events: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        as_of, w = ctx["as_of"], self.window_days
        prep = [in_window(as_of, w, "_age", days_before(as_of))]
        aggs = [pl.col(f"_w{w}__age").count().alias("_sv_n")]
        if self.severity:
            high = (
                pl.col(self.severity).cast(pl.String).is_in(list(self.high_severities))
            )
            prep.append(in_window(as_of, w, "_high", high))
            aggs.append(pl.col(f"_w{w}__high").mean().alias("_sv_high"))
        if self.resolved:
            res = pl.col("_resolved")
            # Times the reciprocal: see days_before.
            ms = (res - pl.col("_t")).dt.total_milliseconds()
            hours = ms * (1.0 / (MS_PER_DAY / 24))
            done = res.is_not_null() & (res < pl.lit(as_of))
            prep.append(
                in_window(as_of, w, "_hours", pl.when(done).then(hours).otherwise(None))
            )
            aggs.append(pl.col(f"_w{w}__hours").median().alias("_sv_hours"))
        if self.reopened:
            prep.append(
                in_window(as_of, w, "_reopened", pl.col(self.reopened).cast(pl.Float64))
            )
            aggs.append(pl.col(f"_w{w}__reopened").mean().alias("_sv_reopen"))
        return prep, aggs

    def finish(self, frame: pl.LazyFrame, ctx: Mapping[str, Any]) -> pl.LazyFrame:  # noqa: D102
        w = self.window_days
        months = (exposure_days(w) * (1.0 / DAYS_PER_MONTH)).clip(lower_bound=1.0)
        exprs = [(pl.col("_sv_n").fill_null(0) / months).alias("tickets_per_month")]
        if self.severity:
            exprs.append(pl.col("_sv_high").fill_null(0.0).alias("high_severity_share"))
        if self.resolved:
            exprs.append(pl.col("_sv_hours").alias("median_resolution_hours"))
        if self.reopened:
            exprs.append(pl.col("_sv_reopen").fill_null(0.0).alias("reopen_rate"))
        return frame.select("_id", *exprs)

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:  # noqa: D102
        f = self.family
        metas = [
            FeatureMeta(
                "tickets_per_month",
                f,
                "tickets per month",
                "tickets",
                high="high-support",
                low="low-support",
            )
        ]
        if self.severity:
            metas.append(
                FeatureMeta(
                    "high_severity_share",
                    f,
                    "high-severity ticket share",
                    "share",
                    high="escalation-prone",
                    low="low-severity",
                )
            )
        if self.resolved:
            metas.append(
                FeatureMeta(
                    "median_resolution_hours",
                    f,
                    "median hours to resolve",
                    "hours",
                    high="slow-to-resolve",
                    low="quick-to-resolve",
                    fill="null",
                )
            )
        if self.reopened:
            metas.append(
                FeatureMeta(
                    "reopen_rate",
                    f,
                    "ticket reopen rate",
                    "share",
                    high="reopen-prone",
                    low="first-time-fix",
                )
            )
        return metas
