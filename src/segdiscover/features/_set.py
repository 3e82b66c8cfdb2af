"""FeatureSet: several builders -> one row per customer, as of a cutoff."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from segdiscover._checks import check_tables, require_columns
from segdiscover.exceptions import InputError, SegdiscoverWarning
from segdiscover.features._spec import (
    Builder,
    FeatureMeta,
    check_time_column,
    days_before,
    normalise_as_of,
    to_datetime_expr,
)
from segdiscover.features.attributes import Attributes
from segdiscover.features.behavioural import Behavioural
from segdiscover.features.channel import Channel
from segdiscover.features.service import Service
from segdiscover.features.value import Value

INT_KINDS = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


@dataclass(frozen=True)
class BuiltFeatures:
    """Result of :meth:`FeatureSet.build`: table, metadata and learned levels."""

    frame: pl.DataFrame
    meta: list[FeatureMeta]
    levels: dict[str, Any]
    id: str


class FeatureSet:
    """A list of feature builders that together give one row per customer.

    Parameters
    ----------
    builders : sequence of Builder
        The builders; their output columns must not collide.
    id : str, default "customer_id"
        Customer id column, the same name in every table.
    customers_table : str, default "customers"
        Table that lists customers and (optionally) their signup date; customers who
        signed up at or after ``as_of`` are left out.
    signup : str or None, default "signup_date"
        Signup column of ``customers_table``, for tenure.
    skip_missing_tables : bool, default True
        Skip (with a warning) builders whose table is not given, instead of failing.

    Notes
    -----
    The customers are every id in ``customers_table`` (signed up before ``as_of``)
    plus every id with an event before ``as_of`` in any table. Tenure is the days
    since signup, or since the first event before ``as_of`` when no signup is given.
    Rows come out sorted by id, so the input's row order never matters.

    Examples
    --------
    >>> from segdiscover.datasets import make_customers
    >>> data = make_customers(n_customers=300, seed=0)
    >>> built = FeatureSet.default().build(data.tables, as_of=data.as_of)
    >>> built.frame.height, built.frame.columns[1]
    (300, 'recency_days')
    """

    def __init__(
        self,
        builders: Sequence[Builder],
        *,
        id: str = "customer_id",
        customers_table: str = "customers",
        signup: str | None = "signup_date",
        skip_missing_tables: bool = True,
    ) -> None:
        self.builders = builders
        self.id = id
        self.customers_table = customers_table
        self.signup = signup
        self.skip_missing_tables = skip_missing_tables

    @classmethod
    def default(
        cls, *, id: str = "customer_id", window_days: int = 365, recent_days: int = 90
    ) -> FeatureSet:
        """Behavioural, value, service, channel and attribute features with defaults.

        Column names match :func:`segdiscover.datasets.make_customers`; pass builders
        yourself to read other names.
        """
        return cls(
            [
                Behavioural(id=id, window_days=window_days, recent_days=recent_days),
                Value(id=id, window_days=window_days),
                Service(id=id, window_days=window_days),
                Channel(id=id, window_days=window_days),
                Attributes(id=id),
            ],
            id=id,
        )

    def get_params(self) -> dict[str, Any]:
        """Parameters, with each builder's, for reports and saved models."""
        return {
            "id": self.id,
            "customers_table": self.customers_table,
            "signup": self.signup,
            "builders": [
                {"type": type(b).__name__, **b.get_params()} for b in self.builders
            ],
        }

    # ------------------------------------------------------------------ build
    def _active(self, tables: Mapping[str, pl.DataFrame]) -> list[Builder]:
        active = []
        for b in self.builders:
            if b.table in tables:
                active.append(b)
            elif self.skip_missing_tables:
                warnings.warn(
                    f"No {b.table!r} table was given: the {b.family} features "
                    f"({type(b).__name__}) are skipped.",
                    SegdiscoverWarning,
                    stacklevel=4,
                )
            else:
                msg = f"The {type(b).__name__} builder needs a table named {b.table!r}."
                raise InputError(msg)
        if not active:
            msg = (
                f"None of the feature builders' tables were given "
                f"(need one of {sorted({b.table for b in self.builders})}; "
                f"got {sorted(tables)})."
            )
            raise InputError(msg)
        return active

    def _id_dtype(self, tables: Mapping[str, pl.DataFrame]) -> pl.DataType:
        dtypes = {
            tables[t].schema[self.id] for t in tables if self.id in tables[t].columns
        }
        return pl.Int64 if dtypes and all(d in INT_KINDS for d in dtypes) else pl.String

    def _events(
        self, frame: pl.DataFrame, b: Builder, id_dtype: pl.DataType, as_of: Any
    ) -> pl.LazyFrame:
        lf = frame.lazy().with_columns(pl.col(self.id).cast(id_dtype).alias("_id"))
        tcols = b.time_columns()
        if tcols:
            lf = lf.with_columns(
                to_datetime_expr(c, frame.schema[c]).alias(a) for a, c in tcols.items()
            )
            lf = lf.filter(pl.col("_t").is_not_null() & (pl.col("_t") < pl.lit(as_of)))
        return lf

    def build(
        self,
        tables: Mapping[str, Any],
        as_of: Any,
        levels: Mapping[str, Any] | None = None,
    ) -> BuiltFeatures:
        """Build one row per customer from the raw tables, as of ``as_of``.

        Parameters
        ----------
        tables : dict of str to DataFrame
            Raw tables by name (polars or pandas).
        as_of : date, datetime or ISO string
            Cutoff; only events strictly before it are used.
        levels : dict, optional
            Levels learned at fit time (channels, attribute kinds); None learns them.

        Returns
        -------
        BuiltFeatures
        """
        as_of = normalise_as_of(as_of)
        tables = check_tables(tables, {})
        active = self._active(tables)
        for b in active:
            t = tables[b.table]
            require_columns(t, b.columns(), f"{b.table!r} table")
            for c in b.time_columns().values():
                check_time_column(t, c, b.table)
        id_dtype = self._id_dtype(tables)
        events = {
            id(b): self._events(tables[b.table], b, id_dtype, as_of) for b in active
        }
        if levels is None:
            levels = {b.family: b.learn(events[id(b)], as_of) for b in active}
        else:
            missing = [b.family for b in active if b.family not in levels]
            if missing:
                msg = f"The saved feature levels lack the builders {missing}."
                raise InputError(msg)
        base = self._base(tables, active, events, id_dtype, as_of).cache()
        ctx = {"as_of": as_of, "levels": levels}
        out = base.select("_id")
        for b in active:
            out = out.join(b.build(events[id(b)], base, ctx), on="_id", how="left")
        frame = out.sort("_id").collect().rename({"_id": self.id})
        meta = [m for b in active for m in b.metadata(levels[b.family])]
        names = [m.name for m in meta]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            msg = f"Two feature builders emit the same column(s) {dup}; rename one."
            raise InputError(msg)
        if frame.height == 0:
            msg = (
                f"No customer has any event before as_of={as_of:%Y-%m-%d %H:%M} "
                "in the tables given; check as_of and the time columns."
            )
            raise InputError(msg)
        return BuiltFeatures(
            frame=frame.select(self.id, *names),
            meta=meta,
            levels=dict(levels),
            id=self.id,
        )

    def _base(
        self,
        tables: Mapping[str, pl.DataFrame],
        active: list[Builder],
        events: Mapping[int, pl.LazyFrame],
        id_dtype: pl.DataType,
        as_of: Any,
    ) -> pl.LazyFrame:
        """Return the customer universe with ``_tenure_days`` (never null)."""
        firsts = [
            events[id(b)].group_by("_id").agg(pl.col("_t").min().alias("_first"))
            for b in active
            if b.time_columns()
        ]
        seen = (
            pl.concat(firsts).group_by("_id").agg(pl.col("_first").min())
            if firsts
            else None
        )
        cust = tables.get(self.customers_table)
        if cust is not None and self.id in cust.columns:
            c = cust.lazy().select(
                pl.col(self.id).cast(id_dtype).alias("_id"),
                *(
                    [
                        to_datetime_expr(self.signup, cust.schema[self.signup]).alias(
                            "_signup"
                        )
                    ]
                    if self.signup and self.signup in cust.columns
                    else []
                ),
            )
            if "_signup" in c.collect_schema():
                c = c.filter(pl.col("_signup").is_null() | (pl.col("_signup") < as_of))
            else:
                c = c.with_columns(pl.lit(None, pl.Datetime("us")).alias("_signup"))
            c = c.unique("_id", keep="first")
            base = (
                c if seen is None else c.join(seen, on="_id", how="full", coalesce=True)
            )
        else:
            base = seen.with_columns(pl.lit(None, pl.Datetime("us")).alias("_signup"))
        if "_first" not in base.collect_schema():
            base = base.with_columns(pl.lit(None, pl.Datetime("us")).alias("_first"))
        start = pl.coalesce("_signup", "_first")
        return base.with_columns(start.alias("_start")).select(
            "_id",
            days_before(as_of, "_start")
            .fill_null(0.0)
            .clip(lower_bound=0.0)
            .alias("_tenure_days"),
        )
