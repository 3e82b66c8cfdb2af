"""Service features: ticket load, severity mix, resolution time, reopen rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from segdiscover.features._spec import (
    DAYS_PER_MONTH,
    MS_PER_DAY,
    Builder,
    FeatureMeta,
    days_before,
    exposure_days,
)


class Service(Builder):
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
        self.table = table  # type: ignore[misc]
        self.time_column = opened  # type: ignore[misc]

    def columns(self) -> list[str]:  # noqa: D102
        return [
            c
            for c in (self.id, self.opened, self.resolved, self.severity, self.reopened)
            if c
        ]

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        cols = {"_t": self.opened}
        if self.resolved:
            cols["_resolved"] = self.resolved
        return cols

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Build this family's features (see the class docstring)."""
        as_of = ctx["as_of"]
        ev = events.filter(days_before(as_of) <= self.window_days)
        aggs = [pl.len().alias("_n")]
        if self.severity:
            aggs.append(
                pl.col(self.severity)
                .cast(pl.String)
                .is_in(list(self.high_severities))
                .mean()
                .alias("high_severity_share")
            )
        if self.resolved:
            res = pl.col("_resolved")
            hours = (res - pl.col("_t")).dt.total_milliseconds() / (MS_PER_DAY / 24)
            done = res.is_not_null() & (res < pl.lit(as_of))
            aggs.append(hours.filter(done).median().alias("median_resolution_hours"))
        if self.reopened:
            aggs.append(
                pl.col(self.reopened).cast(pl.Float64).mean().alias("reopen_rate")
            )
        g = ev.group_by("_id").agg(aggs)
        w = self.window_days
        months = (exposure_days(w) / DAYS_PER_MONTH).clip(lower_bound=1.0)
        out = base.join(g, on="_id", how="left").with_columns(
            (pl.col("_n").fill_null(0) / months).alias("tickets_per_month")
        )
        cols = ["tickets_per_month"]
        if self.severity:
            out = out.with_columns(pl.col("high_severity_share").fill_null(0.0))
            cols.append("high_severity_share")
        if self.resolved:
            cols.append("median_resolution_hours")
        if self.reopened:
            out = out.with_columns(pl.col("reopen_rate").fill_null(0.0))
            cols.append("reopen_rate")
        return out.select("_id", *cols)

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
