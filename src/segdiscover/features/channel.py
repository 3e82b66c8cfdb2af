"""Channel features: share of activity per channel, dominant channel, channel count."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from segdiscover.features._spec import Builder, FeatureMeta, days_before


def _slug(level: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(level)).strip("_").lower() or "blank"


class Channel(Builder):
    """Share of orders per channel, the dominant channel and the number of channels.

    The channel levels are learned on the training data (the ``max_levels`` most
    frequent; rarer ones pool into ``other``) and reused when assigning, so a new or
    vanished channel never changes the columns.

    Parameters
    ----------
    id, ts : str
    channel : str, default "channel"
    window_days : int, default 365
    max_levels : int, default 8
    table : str, default "orders"

    Notes
    -----
    A customer with no orders in the window gets 0 for every share and the count,
    and ``dominant_channel = "none"``.

    Examples
    --------
    >>> [m.name for m in Channel().metadata({"levels": ["web", "phone"]})]
    ['share_web', 'share_phone', 'dominant_channel', 'channel_count']
    """

    family = "channel"

    def __init__(
        self,
        id: str = "customer_id",
        ts: str = "ts",
        channel: str = "channel",
        window_days: int = 365,
        max_levels: int = 8,
        table: str = "orders",
    ) -> None:
        self.id = id
        self.ts = ts
        self.channel = channel
        self.window_days = window_days
        self.max_levels = max_levels
        self.table = table  # type: ignore[misc]
        self.time_column = ts  # type: ignore[misc]

    def columns(self) -> list[str]:  # noqa: D102
        return [self.id, self.ts, self.channel]

    def _windowed(self, events: pl.LazyFrame, as_of: Any) -> pl.LazyFrame:
        return events.filter(days_before(as_of) <= self.window_days).with_columns(
            pl.col(self.channel).cast(pl.String).fill_null("unknown").alias("_ch")
        )

    def learn(self, events: pl.LazyFrame, as_of: Any = None) -> dict[str, Any]:  # noqa: D102
        ev = events if as_of is None else self._windowed(events, as_of)
        counts = (
            ev.group_by("_ch")
            .agg(pl.len().alias("n"))
            .sort(["n", "_ch"], descending=[True, False])
            .collect()
        )
        levels = counts.get_column("_ch").head(self.max_levels).to_list()
        slugs = [_slug(x) for x in levels]
        if len(set(slugs)) < len(slugs):  # "Web" and "web!" must not share a column
            slugs = [f"{s}_{i}" for i, s in enumerate(slugs)]
        return {
            "levels": levels,
            "slugs": slugs,
            "other": counts.height > self.max_levels,
        }

    def build(
        self, events: pl.LazyFrame, base: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> pl.LazyFrame:
        """Build this family's features (see the class docstring)."""
        lv = ctx["levels"][self.family]
        levels, slugs = lv["levels"], lv["slugs"]
        ev = self._windowed(events, ctx["as_of"]).with_columns(
            pl.when(pl.col("_ch").is_in(levels))
            .then(pl.col("_ch"))
            .otherwise(pl.lit("other"))
            .alias("_ch")
        )
        shares = [
            (pl.col("_ch") == lv_).mean().alias(f"share_{s}")
            for lv_, s in zip(levels, slugs, strict=True)
        ]
        if lv["other"]:
            shares.append((pl.col("_ch") == "other").mean().alias("share_other"))
        # Mode with a deterministic tie-break: most orders, then alphabetical.
        dominant = (
            ev.group_by("_id", "_ch")
            .agg(pl.len().alias("_n"))
            .sort(["_id", "_n", "_ch"], descending=[False, True, False])
            .group_by("_id")
            .agg(pl.col("_ch").first().alias("dominant_channel"))
        )
        g = ev.group_by("_id").agg(
            *shares, pl.col("_ch").n_unique().alias("channel_count")
        )
        share_cols = [s.meta.output_name() for s in shares]
        out = (
            base.join(g, on="_id", how="left")
            .join(dominant, on="_id", how="left")
            .with_columns(
                *[pl.col(c).fill_null(0.0) for c in share_cols],
                pl.col("dominant_channel").fill_null("none"),
                pl.col("channel_count").fill_null(0).cast(pl.Float64),
            )
        )
        return out.select("_id", *share_cols, "dominant_channel", "channel_count")

    def metadata(self, levels: Mapping[str, Any]) -> list[FeatureMeta]:  # noqa: D102
        lv = levels.get("levels", [])
        slugs = levels.get("slugs", [_slug(x) for x in lv])
        f = self.family
        words = [str(x).replace("_", " ") for x in lv]
        metas = [
            FeatureMeta(
                f"share_{s}",
                f,
                f"share of orders via {w}",
                "share",
                high=f"{w}-led",
                low=f"little {w}",
            )
            for w, s in zip(words, slugs, strict=True)
        ]
        if levels.get("other"):
            metas.append(
                FeatureMeta(
                    "share_other",
                    f,
                    "share of orders via other channels",
                    "share",
                    high="other-channel",
                    low="few other-channel",
                )
            )
        metas += [
            FeatureMeta(
                "dominant_channel", f, "channel", "", kind="categorical", fill="none"
            ),
            FeatureMeta(
                "channel_count",
                f,
                "channels used",
                "channels",
                high="omnichannel",
                low="single-channel",
            ),
        ]
        return metas
