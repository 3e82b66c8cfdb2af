"""Channel features: share of activity per channel, dominant channel, channel count."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from segdiscover.features._spec import (
    FeatureMeta,
    GroupedBuilder,
    days_before,
    in_window,
)

if TYPE_CHECKING:
    # The when/then builder types; polars does not re-export them at the top.
    from polars.expr.whenthen import ChainedThen, Then


def _slug(level: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(level)).strip("_").lower() or "blank"


class Channel(GroupedBuilder):
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
        self.table = table

    def time_columns(self) -> dict[str, str]:  # noqa: D102
        return {"_t": self.ts}

    def input_columns(self) -> list[str]:  # noqa: D102
        return [self.id, self.ts, self.channel]

    def numeric_columns(self) -> list[str]:  # noqa: D102
        return []

    def _windowed(self, events: pl.LazyFrame, as_of: Any) -> pl.LazyFrame:
        return events.filter(days_before(as_of) <= self.window_days).with_columns(
            pl.col(self.channel).cast(pl.String).fill_null("unknown").alias("_ch")
        )

    def summarise(  # noqa: D102
        self, events: pl.LazyFrame, as_of: Any = None
    ) -> pl.DataFrame:
        ev = events if as_of is None else self._windowed(events, as_of)
        return ev.group_by("_ch").agg(pl.len().cast(pl.Int64).alias("n")).collect()

    def learn_from(self, summaries: Sequence[pl.DataFrame]) -> dict[str, Any]:  # noqa: D102
        parts = [s for s in summaries if s.height]
        counts = (
            pl.concat(parts).group_by("_ch").agg(pl.col("n").sum())
            if parts
            else pl.DataFrame(
                {"_ch": [], "n": []}, schema={"_ch": pl.String, "n": pl.Int64}
            )
        ).sort(["n", "_ch"], descending=[True, False])
        levels = counts.get_column("_ch").head(self.max_levels).to_list()
        slugs = [_slug(x) for x in levels]
        if len(set(slugs)) < len(slugs):  # "Web" and "web!" must not share a column
            slugs = [f"{s}_{i}" for i, s in enumerate(slugs)]
        return {
            "levels": levels,
            "slugs": slugs,
            "other": counts.height > self.max_levels,
        }

    @staticmethod
    def _candidates(levels: list[str]) -> list[str]:
        """Every value the pooled channel can take, sorted (the mode's tie-break)."""
        return sorted({*levels, "other"})

    def plan(  # noqa: D102
        self, events: pl.LazyFrame, ctx: Mapping[str, Any]
    ) -> tuple[list[pl.Expr], list[pl.Expr]]:
        levels = ctx["levels"][self.family]["levels"]
        cands = self._candidates(levels)
        ch = pl.col(self.channel).cast(pl.String).fill_null("unknown")
        # Index of the pooled channel in the candidates; null outside the window.
        idx = ch.replace_strict(
            levels,
            [cands.index(x) for x in levels],
            default=cands.index("other"),
            return_dtype=pl.UInt16,
        )
        w = self.window_days
        i = pl.col(f"_w{w}__channel_index")
        prep = [in_window(ctx["as_of"], w, "_channel_index", idx)]
        aggs = [i.count().alias("_ch_n")] + [
            (i == k).sum().alias(f"_ch_n{k}") for k in range(len(cands))
        ]
        return prep, aggs

    def finish(self, frame: pl.LazyFrame, ctx: Mapping[str, Any]) -> pl.LazyFrame:  # noqa: D102
        lv = ctx["levels"][self.family]
        levels, slugs = lv["levels"], lv["slugs"]
        cands = self._candidates(levels)
        counts = [pl.col(f"_ch_n{k}") for k in range(len(cands))]
        n = pl.col("_ch_n")
        has = n.fill_null(0) > 0
        shares = [
            pl.when(has)
            .then(counts[cands.index(lv_)] / n)
            .otherwise(0.0)
            .alias(f"share_{s}")
            for lv_, s in zip(levels, slugs, strict=True)
        ]
        if lv["other"]:
            shares.append(
                pl.when(has)
                .then(counts[cands.index("other")] / n)
                .otherwise(0.0)
                .alias("share_other")
            )
        # Mode with a deterministic tie-break: most orders, then alphabetical (the
        # candidates are sorted and arg_max takes the first maximum).
        most = pl.max_horizontal(counts)
        pick: Then | ChainedThen = pl.when(counts[0] == most).then(pl.lit(cands[0]))
        for c, name in zip(counts[1:], cands[1:], strict=True):
            pick = pick.when(c == most).then(pl.lit(name))
        dominant = (
            pl.when(has)
            .then(pick.otherwise(None))
            .otherwise(pl.lit("none"))
            .alias("dominant_channel")
        )
        count = (
            pl.when(has)
            .then(pl.sum_horizontal([(c > 0).cast(pl.Float64) for c in counts]))
            .otherwise(0.0)
            .alias("channel_count")
        )
        return frame.select("_id", *shares, dominant, count)

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
        # The dominant channel is the largest share: clustered beside the shares
        # it would count the channel mix twice (decision 84).
        shares = tuple(m.name for m in metas)
        metas += [
            FeatureMeta(
                "dominant_channel",
                f,
                "channel",
                "",
                kind="categorical",
                fill="none",
                derived_from=shares,
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
