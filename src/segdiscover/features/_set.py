"""FeatureSet: several builders -> one row per customer, as of a cutoff."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sklearn.base import BaseEstimator

from segdiscover._checks import (
    check_event_columns,
    check_id_overlap,
    check_ids,
    check_tables,
    distinct_ids,
    require_columns,
)
from segdiscover.exceptions import (
    InputError,
    InvalidParameterError,
    SegdiscoverWarning,
)
from segdiscover.features._spec import (
    Builder,
    FeatureMeta,
    GroupedBuilder,
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

#: Seed of the bucket hash of :func:`_grouped` (any fixed value).
BUCKET_SEED = 11

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


def _distinct(aggs: list[pl.Expr]) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """Split aggregations into distinct ones and copies of repeats under new names."""
    kept: list[pl.Expr] = []
    copies: list[pl.Expr] = []
    for e in aggs:
        bare = e.meta.undo_aliases()
        same = next((k for k in kept if k.meta.undo_aliases().meta.eq(bare)), None)
        if same is None:
            kept.append(e)
        else:
            copies.append(pl.col(same.meta.output_name()).alias(e.meta.output_name()))
    return kept, copies


def _collected(tables: Any) -> Any:
    """Collect the LazyFrames among ``tables`` with polars' streaming engine.

    A lazy input (e.g. ``pl.scan_parquet``, projected and cut at ``as_of`` as the
    CLI reads it) is loaded here, inside the build, so that the raw tables live
    only as long as the build and not through a whole fit; a read error names
    the table. Anything else is returned as it is (the door converts and checks it).
    """
    if not isinstance(tables, Mapping):
        return tables
    out = dict(tables)
    for name, t in out.items():
        if isinstance(t, pl.LazyFrame):
            try:
                out[name] = t.collect(engine="streaming")
            except pl.exceptions.PolarsError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                msg = (
                    f"Could not read the {name!r} table: {first or type(exc).__name__}"
                )
                raise InputError(msg) from exc
    return out


#: Events per customer bucket of one grouped aggregation (see :func:`_grouped`).
GROUP_ROWS = 1_500_000


def _grouped(
    frame: pl.DataFrame,
    prep: Sequence[pl.Expr],
    aggs: Sequence[pl.Expr],
    copies: Sequence[pl.Expr],
) -> pl.DataFrame:
    """One row per ``_id``: ``prep`` added to the events, then ``aggs`` per customer.

    Over :data:`GROUP_ROWS` events, the customers are split into buckets by a hash
    of the id and each bucket is aggregated on its own (polars' streaming engine),
    so the group_by's state holds one bucket's customers at a time: at 10.6M orders
    (1M customers) the aggregation's peak rose 1.3 GiB over the events in one
    group_by, 0.45 GiB in 4 buckets and 0.3 GiB in 8 (16: no lower), at no cost in
    time (the smaller hash tables make up for the filters: a sum over 8 buckets took
    1.65 s, over one group_by 2.3-2.7 s). Every aggregation is per
    customer and does not depend on row order (exact sums, counts, minima, bit ORs,
    medians), and each customer's events all fall in one bucket, so the values are
    those of one group_by; the rows come out in no set order (the caller sorts by
    ``_id``).
    """
    n = max(1, -(-frame.height // GROUP_ROWS))
    lf = frame.lazy()
    parts = [
        (lf if n == 1 else lf.filter(pl.col("_id").hash(BUCKET_SEED) % n == i))
        .with_columns(prep)
        .group_by("_id")
        .agg(aggs)
        .with_columns(copies)
        .collect(engine="streaming")
        for i in range(n)
    ]
    return parts[0] if n == 1 else pl.concat(parts, rechunk=False)


@dataclass(frozen=True)
class BuiltFeatures:
    """Result of :meth:`FeatureSet.build`: table, metadata and learned levels."""

    frame: pl.DataFrame
    meta: list[FeatureMeta]
    levels: dict[str, Any]
    id: str


class FeatureSet(BaseEstimator):
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
    plus every id with an event before ``as_of`` in any table. A raw table whose ids
    match none of ``customers_table`` is refused, and a warning names the ids that
    are not customers when they are more than 1% of a table's ids. Tenure is the days
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

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: FBT001
        """Return the parameters; with ``deep``, each builder as plain data.

        Parameters
        ----------
        deep : bool, default True
            False: scikit-learn's shallow parameters, the builder objects themselves
            (what :func:`sklearn.base.clone`, ``set_params`` and ``repr`` read).
            True: every builder as ``{"type": class name, **its parameters}``, the
            form a saved model stores and :func:`segdiscover.load` rebuilds, and
            which compares equal between a FeatureSet and its clone.

        Returns
        -------
        dict

        Examples
        --------
        >>> fs = FeatureSet([Value(window_days=180)], id="cid")
        >>> fs.get_params()["builders"][0]["type"], fs.get_params()["id"]
        ('Value', 'cid')
        >>> fs.get_params(deep=False)["builders"]
        [Value(window_days=180)]
        """
        params: dict[str, Any] = super().get_params(deep=False)
        if deep:
            params["builders"] = [
                {"type": type(b).__name__, **b.get_params(deep=True)}
                for b in self.builders
            ]
        return params

    def _check_builders(self) -> None:
        """Refuse builders that are not :class:`Builder` objects, naming the first."""
        items = self.builders
        bad: list[tuple[str, object]]
        if isinstance(items, Sequence) and not isinstance(items, str):
            bad = [(f" at position {i}", b) for i, b in enumerate(items)]
            bad = [(at, b) for at, b in bad if not isinstance(b, Builder)]
        else:
            bad = [("", items)]
        if bad:
            at, b = bad[0]
            msg = (
                "The 'builders' parameter of FeatureSet must be a list of feature "
                f"builders (e.g. [Behavioural(), Value()]). Got {b!r}{at} instead."
            )
            raise InvalidParameterError(msg)

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
        integer = bool(dtypes) and all(d in INT_KINDS for d in dtypes)
        return pl.Int64() if integer else pl.String()

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
        *,
        part: bool = False,
    ) -> BuiltFeatures:
        """Build one row per customer from the raw tables, as of ``as_of``.

        Parameters
        ----------
        tables : dict of str to DataFrame
            Raw tables by name (polars, pandas, or polars LazyFrames such as
            ``pl.scan_parquet(...)``: these are collected inside the build with
            polars' streaming engine and released when it returns; the features
            are the same as from the collected frames).
        as_of : date, datetime or ISO string
            Cutoff; only events strictly before it are used.
        levels : dict, optional
            Levels learned at fit time (channels, attribute kinds); None learns them.
        part : bool, default False
            The tables hold one part of the customers (every row of each of them)
            of a larger job: a Spark bucket, a streaming batch. Then the id overlap
            between tables is not checked (a part may hold no row of the customers
            table while the whole table matches) and a part without customers gives
            an empty frame instead of an error; every other check and every feature
            is as for the whole tables.

        Returns
        -------
        BuiltFeatures
        """
        self._check_builders()
        as_of = normalise_as_of(as_of)
        tables, active = self._checked(tables, part=part)
        id_dtype = self._id_dtype(tables)
        keys, frames = self._cut(tables, active, id_dtype, as_of)
        events = {id(b): frames[keys[id(b)]].lazy() for b in active}
        if levels is None:
            levels = {b.family: b.learn(events[id(b)], as_of) for b in active}
        else:
            missing = [b.family for b in active if b.family not in levels]
            if missing:
                msg = f"The saved feature levels lack the builders {missing}."
                raise InputError(msg)
        meta = [m for b in active for m in b.metadata(levels[b.family])]
        names = [m.name for m in meta]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            msg = f"Two feature builders emit the same column(s) {dup}; rename one."
            raise InputError(msg)
        ctx = {"as_of": as_of, "levels": levels}
        out = self._aggregate(tables, active, keys, frames, events, id_dtype, ctx)
        frame = out.rename({"_id": self.id})
        if frame.height == 0 and not part:
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

    def _checked(
        self, tables: Mapping[str, Any], *, part: bool
    ) -> tuple[dict[str, pl.DataFrame], list[Builder]]:
        """Check the tables for :meth:`build`; return them and the active builders."""
        tables = check_tables(_collected(tables), {})
        active = self._active(tables)
        # Every table's ids checked (null, NaN, blank refused), then each raw table's
        # ids against the customers: unmatched ids would become phantom customers.
        # Distinct ids once per raw table, shared by both id checks below.
        distinct = {
            name: distinct_ids(t.get_column(self.id))
            for name, t in tables.items()
            if name != self.customers_table
            and self.id in t.columns
            and t.schema[self.id] != pl.Object  # refused by check_ids
        }
        for name, t in tables.items():
            if self.id in t.columns or name == self.customers_table:
                check_ids(
                    t,
                    self.id,
                    f"{name!r} table",
                    unique=name == self.customers_table,
                    distinct=distinct.get(name),
                )
        for b in active:
            t = tables[b.table]
            require_columns(t, b.input_columns(), f"{b.table!r} table")
            for c in b.time_columns().values():
                check_time_column(t, c, b.table)
            # Text numbers parsed, NaN/inf refused (tests/hostile: *-raw-amount).
            tables[b.table] = check_event_columns(
                t, b.numeric_columns(), self.id, b.table
            )
        if not part:
            check_id_overlap(tables, self.id, self.customers_table, distinct)
        return tables, active

    def _cut(
        self,
        tables: Mapping[str, pl.DataFrame],
        active: list[Builder],
        id_dtype: Any,
        as_of: Any,
    ) -> tuple[dict[int, Any], dict[Any, pl.DataFrame]]:
        """Cut each source table's events at ``as_of`` once, keyed by table and times.

        The events of every builder that reads the same table with the same time
        columns are cut once. String ids stay strings: polars' streaming group_by
        on them costs less than encoding them as integers first (measured at 10.6M
        orders: encoding took 6.9 s and the group_by saved none of it).
        """
        keys = {id(b): (b.table, tuple(b.time_columns().items())) for b in active}
        frames: dict[Any, pl.DataFrame] = {}
        for b in active:
            key = keys[id(b)]
            if key not in frames:
                lf = self._events(tables[b.table], b, id_dtype, as_of)
                if key[1]:
                    # Event tables: only the columns their builders read are cut
                    # at as_of and kept (the filter copies every column it keeps).
                    cols = {"_id", *b.time_columns()}
                    cols |= {
                        c
                        for o in active
                        if keys[id(o)] == key
                        for c in o.input_columns()
                    }
                    lf = lf.select(
                        [c for c in lf.collect_schema().names() if c in cols]
                    )
                frames[key] = lf.collect()
        return keys, frames

    def _aggregate(
        self,
        tables: dict[str, pl.DataFrame],
        active: list[Builder],
        keys: Mapping[int, Any],
        frames: dict[Any, pl.DataFrame],
        events: dict[int, pl.LazyFrame],
        id_dtype: Any,
        ctx: dict[str, Any],
    ) -> pl.DataFrame:
        """Return every builder's columns, one row per customer, sorted by ``_id``.

        Empties ``tables`` and drops from ``frames`` and ``events`` what no builder
        reads after the grouped aggregations (the build's own dicts).
        """
        as_of = ctx["as_of"]
        groups = self._groups(active, keys, events, ctx)
        # Each group's aggregations, with the first event time for the universe.
        # An aggregation that two builders share (e.g. the windowed amount sum of
        # spend and revenue) is computed once and copied under the second name.
        grouped = [
            _grouped(
                frames[key],
                prep,
                [
                    *_distinct(aggs)[0],
                    *([pl.col("_t").min().alias("_first")] if key[1] else []),
                ],
                _distinct(aggs)[1],
            )
            for key, _, prep, aggs in groups
        ]
        covered = {key for key, *_ in groups}
        firsts = [g.lazy().select("_id", "_first") for g in grouped if "_first" in g]
        firsts += [
            frames[key].lazy().group_by("_id").agg(pl.col("_t").min().alias("_first"))
            for key in dict.fromkeys(keys.values())
            if key[1] and key not in covered
        ]
        in_group = {id(b) for _, members, _, _ in groups for b in members}
        # Only the other builders read events from here on, and the universe below
        # only the first times of sources no group covered: the grouped builders'
        # events are released (these dicts are the build's own) before the universe
        # is collected, so neither it nor the finish holds them next to the
        # aggregations.
        needed = {keys[id(b)] for b in active if id(b) not in in_group}
        for b in active:
            if id(b) in in_group:
                del events[id(b)]
        for key in [k for k in frames if k not in needed and k in covered]:
            del frames[key]
        # Sorted here, on two columns, so that the features come out sorted (every
        # finish keeps its frame's rows; the other builders are joined in this
        # order), not the whole feature table afterwards (a copy of every column).
        base = self._base(tables, firsts, id_dtype, as_of).collect().sort("_id")
        del firsts
        for key in [k for k in frames if k not in needed]:
            del frames[key]
        tables.clear()
        parts = []
        for (_, members, _, _), g in zip(groups, grouped, strict=True):
            joined = base.join(g, on="_id", how="left", maintain_order="left").lazy()
            parts += [b.finish(joined, ctx).drop("_id") for b in members]
        others = [
            b.build(events[id(b)], base.lazy(), ctx)
            for b in active
            if id(b) not in in_group
        ]
        done = pl.collect_all(parts + others)
        ids = base.select("_id")
        cols = [c for f in done[: len(parts)] for c in f.get_columns()]
        for f in done[len(parts) :]:  # only the other builders' columns are joined
            got = ids.join(f, on="_id", how="left", maintain_order="left")
            cols += got.drop("_id").get_columns()
        return ids.hstack(cols)

    def summarise(
        self, tables: Mapping[str, Any], as_of: Any
    ) -> dict[str, pl.DataFrame]:
        """Return each builder's level summary of one part of the raw tables.

        The summaries of disjoint parts (each customer's rows may even be split
        between parts), handed to :meth:`learn_levels` together, give the levels
        :meth:`build` learns on the whole tables; engines that never hold the whole
        tables (Spark) learn levels this way.

        Parameters
        ----------
        tables : dict of str to DataFrame
            Part of the raw tables (every table of the builders, possibly empty).
        as_of : date, datetime or ISO string

        Returns
        -------
        dict of str to polars.DataFrame
            By builder family.

        Examples
        --------
        >>> from segdiscover.datasets import make_customers
        >>> data = make_customers(n_customers=300, seed=0)
        >>> fs = FeatureSet.default()
        >>> t = data.tables
        >>> half = {k: v.head(v.height // 2) for k, v in t.items()}
        >>> rest = {k: v.tail(v.height - v.height // 2) for k, v in t.items()}
        >>> parts = [fs.summarise(half, data.as_of), fs.summarise(rest, data.as_of)]
        >>> levels = fs.learn_levels(
        ...     {f: [p[f] for p in parts] for f in parts[0]}
        ... )
        >>> levels == fs.build(t, as_of=data.as_of).levels
        True
        """
        self._check_builders()
        as_of = normalise_as_of(as_of)
        tables = check_tables(_collected(tables), {})
        active = self._active(tables)
        id_dtype = self._id_dtype(tables)
        return {
            b.family: b.summarise(
                self._events(tables[b.table], b, id_dtype, as_of), as_of
            )
            for b in active
        }

    def learn_levels(
        self, summaries: Mapping[str, Sequence[pl.DataFrame]]
    ) -> dict[str, Any]:
        """Return the levels from :meth:`summarise` outputs, by builder family.

        Parameters
        ----------
        summaries : dict of str to list of polars.DataFrame
            For each family, the summaries of every part.

        Returns
        -------
        dict
            The ``levels`` argument of :meth:`build`.
        """
        self._check_builders()
        return {
            b.family: b.learn_from(list(summaries[b.family]))
            for b in self.builders
            if b.family in summaries
        }

    def _groups(
        self,
        active: list[Builder],
        keys: Mapping[int, Any],
        events: Mapping[int, pl.LazyFrame],
        ctx: Mapping[str, Any],
    ) -> list[tuple[Any, list[GroupedBuilder], list[pl.Expr], list[pl.Expr]]]:
        """Builders whose aggregations share one group_by: (key, builders, prep, aggs).

        Only builders that keep :class:`GroupedBuilder`'s own ``build`` join a group
        (a subclass overriding ``build`` runs on its own). A builder whose column
        names clash with the group's starts another group on the same events.
        """
        groups: list[tuple[Any, list[GroupedBuilder], list[pl.Expr], list[pl.Expr]]]
        groups = []
        for b in active:
            if not (
                isinstance(b, GroupedBuilder) and type(b).build is GroupedBuilder.build
            ):
                continue
            prep, aggs = b.plan(events[id(b)], ctx)
            for key, members, gprep, gaggs in groups:
                if key != keys[id(b)]:
                    continue
                have = {e.meta.output_name(): e for e in gprep}
                if any(
                    e.meta.output_name() in have
                    and not e.meta.eq(have[e.meta.output_name()])
                    for e in prep
                ):
                    continue
                names = {e.meta.output_name() for e in gaggs}
                if any(e.meta.output_name() in names for e in aggs):
                    continue
                members.append(b)
                gprep += [e for e in prep if e.meta.output_name() not in have]
                gaggs += aggs
                break
            else:
                groups.append((keys[id(b)], [b], list(prep), list(aggs)))
        return groups

    def _base(
        self,
        tables: Mapping[str, pl.DataFrame],
        firsts: list[pl.LazyFrame],
        id_dtype: pl.DataType,
        as_of: Any,
    ) -> pl.LazyFrame:
        """Return the customer universe with ``_tenure_days`` (never null).

        ``firsts`` hold each event source's first event time (``_first``) per
        ``_id``.
        """
        seen = (
            pl.concat(firsts).group_by("_id").agg(pl.col("_first").min())
            if len(firsts) > 1
            else firsts[0]
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
        elif seen is None:
            # Attribute tables alone do not say who the customers are (see Notes).
            msg = (
                "No customer list to build features for: give a "
                f"{self.customers_table!r} table with the {self.id!r} column, or a "
                "builder that reads dated events (attribute tables alone do not "
                "list the customers)."
            )
            raise InputError(msg)
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
