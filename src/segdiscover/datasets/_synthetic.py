"""Synthetic customers with planted segments, raw tables and outcomes.

The generator simulates what a business really records: a customer table, orders with
amount, margin, discount, returns, category and channel, and support tickets with
severity, topic, resolution time and reopen flag. Each planted segment is an operating
pattern (see :data:`ARCHETYPES`) that differs from the others on a documented set of
features (``segment_features``). Outcomes (churn, next-period margin, cost-to-serve) are
*measured from the events after* ``as_of``, so they cannot leak into the features.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from segdiscover._params import Interval, validate_params
from segdiscover.exceptions import InvalidParameterError

CHANNELS = ("web", "mobile", "phone", "sales_rep", "marketplace")
CATEGORIES = (
    "office",
    "it",
    "furniture",
    "cleaning",
    "catering",
    "safety",
    "print",
    "packaging",
    "lab",
    "medical",
)
INDUSTRIES = (
    "retail",
    "hospitality",
    "manufacturing",
    "finance",
    "healthcare",
    "government",
    "education",
    "tech",
)
REGIONS = ("north", "south", "east", "west", "central")
SEVERITIES = ("low", "medium", "high", "critical")
TOPICS = ("billing", "delivery", "returns", "technical", "onboarding", "compliance")
TICKET_COST = {"low": 15.0, "medium": 30.0, "high": 60.0, "critical": 120.0}
ORDER_COST = {
    "web": 1.0,
    "mobile": 1.0,
    "phone": 8.0,
    "sales_rep": 25.0,
    "marketplace": 3.0,
}


@dataclass(frozen=True)
class Archetype:
    """One planted operating pattern and the parameters that define it."""

    name: str
    share: float
    orders_per_month: float
    basket: float  # median order amount
    margin_rate: float
    discount_p: float
    return_p: float
    tickets_per_month: float
    high_sev_p: float
    resolution_hours: float
    reopen_p: float
    channels: tuple[float, ...]  # probabilities over CHANNELS
    breadth: float  # mean number of categories bought
    churn_p: float
    company_size: float  # median employees
    industries: tuple[float, ...] | None = None  # probabilities over INDUSTRIES
    topics: tuple[float, ...] = (0.3, 0.3, 0.1, 0.2, 0.05, 0.05)
    lapsed: bool = False  # activity stopped 4-9 months before as_of
    new: bool = False  # signed up in the last 100 days
    features: tuple[tuple[str, str], ...] = field(default=())


#: The planted segments, in the order ``n_segments`` takes them.
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "frequent_small_orders",
        0.22,
        6.0,
        25,
        0.30,
        0.10,
        0.03,
        0.05,
        0.10,
        8,
        0.05,
        (0.55, 0.40, 0.02, 0.0, 0.03),
        3,
        0.08,
        20,
        features=(
            ("orders_per_month", "+"),
            ("avg_basket", "-"),
            ("active_days_90d", "+"),
        ),
    ),
    Archetype(
        "bulk_monthly_buyers",
        0.18,
        1.0,
        900,
        0.22,
        0.05,
        0.02,
        0.10,
        0.10,
        12,
        0.05,
        (0.62, 0.05, 0.25, 0.03, 0.05),
        6,
        0.06,
        200,
        features=(("avg_basket", "+"), ("category_breadth", "+"), ("share_phone", "+")),
    ),
    Archetype(
        "promo_driven_returners",
        0.15,
        2.5,
        60,
        0.12,
        0.75,
        0.30,
        0.60,
        0.15,
        20,
        0.15,
        (0.20, 0.20, 0.05, 0.0, 0.55),
        4,
        0.30,
        15,
        topics=(0.2, 0.2, 0.4, 0.1, 0.05, 0.05),
        features=(
            ("discount_share", "+"),
            ("return_rate", "+"),
            ("share_marketplace", "+"),
            ("margin_rate", "-"),
        ),
    ),
    Archetype(
        "vip_premium",
        0.10,
        2.0,
        400,
        0.48,
        0.03,
        0.03,
        0.50,
        0.45,
        4,
        0.05,
        (0.25, 0.15, 0.50, 0.05, 0.05),
        8,
        0.04,
        300,
        features=(
            ("margin_rate", "+"),
            ("high_severity_share", "+"),
            ("share_phone", "+"),
            ("revenue_365d", "+"),
        ),
    ),
    Archetype(
        "self_serve",
        0.20,
        1.2,
        45,
        0.35,
        0.10,
        0.04,
        0.02,
        0.05,
        6,
        0.02,
        (0.38, 0.57, 0.0, 0.0, 0.05),
        1.5,
        0.12,
        10,
        features=(
            ("tickets_per_month", "-"),
            ("share_mobile", "+"),
            ("category_breadth", "-"),
        ),
    ),
    Archetype(
        "compliance_sales_led",
        0.08,
        0.5,
        3000,
        0.28,
        0.02,
        0.01,
        0.40,
        0.50,
        72,
        0.25,
        (0.05, 0.0, 0.15, 0.80, 0.0),
        5,
        0.03,
        2000,
        industries=(0.02, 0.02, 0.1, 0.3, 0.3, 0.2, 0.04, 0.02),
        topics=(0.15, 0.1, 0.05, 0.2, 0.1, 0.4),
        features=(
            ("share_sales_rep", "+"),
            ("median_resolution_hours", "+"),
            ("avg_basket", "+"),
            ("orders_per_month", "-"),
        ),
    ),
    Archetype(
        "lapsing",
        0.09,
        1.5,
        80,
        0.30,
        0.15,
        0.05,
        0.10,
        0.15,
        10,
        0.05,
        (0.45, 0.35, 0.1, 0.0, 0.10),
        3,
        0.55,
        25,
        lapsed=True,
        features=(
            ("recency_days", "+"),
            ("active_days_90d", "-"),
            ("activity_trend", "-"),
        ),
    ),
    Archetype(
        "new_onboarding",
        0.07,
        3.0,
        120,
        0.30,
        0.10,
        0.03,
        0.90,
        0.15,
        10,
        0.10,
        (0.50, 0.30, 0.15, 0.0, 0.05),
        3,
        0.20,
        40,
        new=True,
        topics=(0.1, 0.1, 0.05, 0.15, 0.55, 0.05),
        features=(("tenure_days", "-"), ("tickets_per_month", "+")),
    ),
)


@dataclass(frozen=True)
class Drift:
    """A change planted in a later period, for testing run history and drift.

    Generate the earlier period without ``drift`` and the later one with it, with the
    same ``seed`` and ``n_customers``: the customers (ids) are the same, and each keeps
    its planted segment except where the drift says otherwise.

    Parameters
    ----------
    split : str or None, default None
        Name of a planted segment that splits in two: ``split_fraction`` of its
        customers take up a new pattern, ``"<name>_offshoot"`` (baskets 6x larger,
        orders 4x rarer, 6x the support tickets, more discounts, mostly via sales
        reps), defined on ``avg_basket``, ``orders_per_month``, ``tickets_per_month``
        and ``share_sales_rep``.
    split_fraction : float, default 0.5
        Share of the split segment's customers that move to the offshoot.
    moves : tuple of (str, str, float), default ()
        ``(from, to, fraction)``: that fraction of one planted segment's customers
        behave like another planted segment (shifted shares).

    Examples
    --------
    >>> d = Drift(split="bulk_monthly_buyers", split_fraction=0.4)
    >>> d.split, d.moves
    ('bulk_monthly_buyers', ())
    """

    split: str | None = None
    split_fraction: float = 0.5
    moves: tuple[tuple[str, str, float], ...] = ()


def _offshoot(a: Archetype) -> Archetype:
    return dataclasses.replace(
        a,
        name=f"{a.name}_offshoot",
        basket=a.basket * 6,
        orders_per_month=a.orders_per_month / 4,
        tickets_per_month=a.tickets_per_month * 6,
        discount_p=max(a.discount_p, 0.45),
        channels=(0.05, 0.05, 0.05, 0.80, 0.05),
        features=(
            ("avg_basket", "+"),
            ("orders_per_month", "-"),
            ("tickets_per_month", "+"),
            ("share_sales_rep", "+"),
        ),
    )


def _apply_drift(
    drift: Drift, arch: tuple[Archetype, ...], seg: np.ndarray, seed: int
) -> tuple[tuple[Archetype, ...], np.ndarray]:
    """Move customers between planted segments as ``drift`` says (own RNG stream)."""
    names = [a.name for a in arch]

    def index(name: str) -> int:
        if name not in names:
            msg = (
                f"The drift names the planted segment {name!r}, which is not among "
                f"the {len(names)} generated: {names}."
            )
            raise InvalidParameterError(msg)
        return names.index(name)

    # A separate stream: the default tables never depend on whether drift exists.
    rng = np.random.default_rng([seed, 7919])
    seg = seg.copy()
    for src, dst, fraction in drift.moves:
        i, j = index(src), index(dst)
        members = np.flatnonzero(seg == i)
        take = rng.choice(members, round(fraction * members.size), replace=False)
        seg[take] = j
    if drift.split is not None:
        i = index(drift.split)
        members = np.flatnonzero(seg == i)
        take = rng.choice(
            members, round(drift.split_fraction * members.size), replace=False
        )
        seg[take] = len(arch)
        arch = (*arch, _offshoot(arch[i]))
    return arch, seg


def _check_drift(drift: Any) -> Drift | None:
    if drift is None or isinstance(drift, Drift):
        out = drift
    elif isinstance(drift, Mapping):
        try:
            out = Drift(**drift)
        except TypeError as exc:
            msg = f"The 'drift' parameter of make_customers has a bad key: {exc}."
            raise InvalidParameterError(msg) from exc
    else:
        msg = (
            "The 'drift' parameter of make_customers must be a Drift, a dict of its "
            f"fields or None. Got {drift!r} instead."
        )
        raise InvalidParameterError(msg)
    if out is None:
        return None
    fractions = [out.split_fraction, *(m[2] for m in out.moves)]
    if not all(0 < float(f) < 1 for f in fractions):
        msg = (
            "Drift fractions (split_fraction and each move's fraction) must be in "
            f"(0, 1). Got {fractions} instead."
        )
        raise InvalidParameterError(msg)
    return out


@dataclass
class CustomerData:
    """What :func:`make_customers` returns.

    Attributes
    ----------
    tables : dict of str to polars.DataFrame
        ``customers``, ``orders`` and ``tickets`` (events run past ``as_of``).
    as_of : datetime.datetime
        Feature cutoff: features may use only events strictly before it.
    outcomes : polars.DataFrame
        ``customer_id``, ``churned``, ``next_margin_90d``, ``cost_to_serve_90d``,
        ``tickets_90d``, measured in the 90 days after ``as_of``.
    truth : polars.DataFrame
        ``customer_id`` and ``segment`` (the planted segment's name).
    segment_features : dict of str to list of (str, str)
        Planted segment -> its defining ``(feature, direction)`` pairs, where the
        feature is a column of ``FeatureSet.default()`` and direction ``"+"``/``"-"``.
    outcome_window_days : int
        Length of the outcome window after ``as_of``.
    """

    tables: dict[str, pl.DataFrame]
    as_of: dt.datetime
    outcomes: pl.DataFrame
    truth: pl.DataFrame
    segment_features: dict[str, list[tuple[str, str]]]
    outcome_window_days: int = 90


def _separate(values: np.ndarray, separation: float, *, kind: str) -> np.ndarray:
    """Move per-segment parameters toward (<1) or away from (>1) their centre.

    Works on the log scale for rates and amounts and the logit scale for
    probabilities, so separation means the same thing for every parameter.
    """
    v = np.asarray(values, dtype=float)
    if kind == "log":
        z = np.log(np.maximum(v, 1e-6))
        return np.exp(z.mean() + separation * (z - z.mean()))
    p = np.clip(v, 1e-3, 1 - 1e-3)
    z = np.log(p / (1 - p))
    z = z.mean() + separation * (z - z.mean())
    return 1 / (1 + np.exp(-z))


def make_customers(
    n_customers: int = 20_000,
    n_segments: int = 6,
    *,
    seed: int = 0,
    separation: float = 1.0,
    noise: float = 1.0,
    history_days: int = 400,
    outcome_days: int = 90,
    as_of: dt.date | dt.datetime = dt.datetime(2025, 7, 1),
    null_rate: float = 0.04,
    drift: Drift | Mapping[str, Any] | None = None,
) -> CustomerData:
    """Generate related customer tables with planted segments and outcomes.

    Parameters
    ----------
    n_customers : int, default 20000
        Number of customers.
    n_segments : int, default 6
        Number of planted segments, 2 to 8; the first ``n_segments`` of
        :data:`ARCHETYPES` are used, with their shares renormalised (imbalanced).
    seed : int, default 0
        Seed; the same seed gives identical tables.
    separation : float, default 1.0
        Scales how far segments' parameters lie from the centre (log/logit scale);
        below 1 is harder, above 1 easier.
    noise : float, default 1.0
        Scales the spread of customers around their segment.
    history_days : int, default 400
        Days of events generated before ``as_of``.
    outcome_days : int, default 90
        Days of events after ``as_of``, used only for outcomes.
    as_of : date or datetime, default 2025-07-01
        Feature cutoff.
    null_rate : float, default 0.04
        Share of nulls in ``company_size`` (and half that in ``industry``).
    drift : Drift, dict or None, default None
        A change planted for a later period (see :class:`Drift`): a segment that
        splits in two, or customers moving between segments. None (the default)
        generates the tables exactly as without it.

    Returns
    -------
    CustomerData

    Examples
    --------
    >>> data = make_customers(n_customers=500, n_segments=4, seed=1)
    >>> sorted(data.tables)
    ['customers', 'orders', 'tickets']
    >>> data.truth["segment"].n_unique()
    4
    >>> later = make_customers(500, 4, seed=1, drift={"split": "vip_premium"})
    >>> later.truth["segment"].n_unique(), later.truth["customer_id"].equals(
    ...     data.truth["customer_id"])
    (5, True)
    """
    validate_params(
        "make_customers",
        {
            "n_customers": n_customers,
            "n_segments": n_segments,
            "separation": separation,
            "noise": noise,
            "history_days": history_days,
            "outcome_days": outcome_days,
            "null_rate": null_rate,
            "seed": seed,
        },
        {
            "n_customers": [Interval(int, 10, None)],
            "n_segments": [Interval(int, 2, len(ARCHETYPES))],
            "separation": [Interval(float, 0, 10, "right")],
            "noise": [Interval(float, 0, 10)],
            "history_days": [Interval(int, 100, 3650)],
            "outcome_days": [Interval(int, 1, 730)],
            "null_rate": [Interval(float, 0, 0.5)],
            "seed": [Interval(int, 0, None)],
        },
    )
    drift = _check_drift(drift)
    rng = np.random.default_rng(seed)
    if not isinstance(as_of, dt.datetime):
        as_of = dt.datetime(as_of.year, as_of.month, as_of.day)
    arch = ARCHETYPES[:n_segments]
    n = n_customers

    shares = np.array([a.share for a in arch])
    shares = shares / shares.sum()
    # Exact sizes, largest remainder: segment sizes are part of the planted truth.
    sizes = np.floor(shares * n).astype(int)
    sizes[np.argsort(-(shares * n - sizes))[: n - sizes.sum()]] += 1
    seg = rng.permutation(np.repeat(np.arange(len(arch)), sizes))
    if drift is not None:
        arch, seg = _apply_drift(drift, arch, seg, seed)

    def param(attr: str, kind: str) -> np.ndarray:
        vals = np.array([getattr(a, attr) for a in arch], dtype=float)
        return _separate(vals, separation, kind=kind)[seg]

    sd = 0.3 * noise
    rate = param("orders_per_month", "log") * np.exp(rng.normal(0, sd, n))
    basket = param("basket", "log") * np.exp(rng.normal(0, sd, n))
    margin_rate = np.clip(
        param("margin_rate", "logit") + rng.normal(0, 0.03 * noise, n), 0.01, 0.9
    )
    discount_p = np.clip(
        param("discount_p", "logit") + rng.normal(0, 0.04 * noise, n), 0, 1
    )
    return_p = np.clip(
        param("return_p", "logit") + rng.normal(0, 0.02 * noise, n), 0, 1
    )
    ticket_rate = param("tickets_per_month", "log") * np.exp(rng.normal(0, sd, n))
    high_p = np.clip(
        param("high_sev_p", "logit") + rng.normal(0, 0.04 * noise, n), 0, 1
    )
    res_hours = param("resolution_hours", "log") * np.exp(rng.normal(0, sd, n))
    reopen_p = np.clip(
        param("reopen_p", "logit") + rng.normal(0, 0.02 * noise, n), 0, 1
    )
    churn_p = param("churn_p", "logit")
    breadth = np.clip(
        1 + rng.poisson(param("breadth", "log") - 1 + 1e-9), 1, len(CATEGORIES)
    )
    size_med = param("company_size", "log")

    # Channel mix: a Dirichlet around the segment's mix; separation acts on the logit
    # of each channel share, so weak separation blurs the mixes too.
    ch = np.array([a.channels for a in arch], dtype=float) + 0.01
    ch = np.exp(np.log(ch).mean(0) + separation * (np.log(ch) - np.log(ch).mean(0)))
    ch = ch / ch.sum(1, keepdims=True)
    alpha = 30.0 / max(noise, 1e-3)
    chan_p = rng.gamma(ch[seg] * alpha + 1e-3)
    chan_p = chan_p / chan_p.sum(1, keepdims=True)

    # Dates, in days relative to as_of (negative = before).
    is_new = np.array([a.new for a in arch])[seg]
    is_lapsed = np.array([a.lapsed for a in arch])[seg]
    signup = np.where(is_new, -rng.uniform(20, 100, n), -rng.uniform(120, 5 * 365, n))
    start = np.maximum(signup, -history_days)
    stop = np.where(is_lapsed, -rng.uniform(120, 270, n), outcome_days)
    churned = rng.random(n) < churn_p
    # A churned customer's activity ends at as_of: the outcome is measured after it.
    stop = np.where(churned, np.minimum(stop, 0.0), stop)
    stop = np.maximum(stop, start)
    months = (stop - start) / 30.44

    ids = np.array([f"C{i:07d}" for i in range(1, n + 1)])
    epoch = np.datetime64(as_of, "ms")

    def at(days: np.ndarray) -> np.ndarray:
        return epoch + (days * 86_400_000).astype("timedelta64[ms]")

    # ---- orders
    n_ord = rng.poisson(rate * months)
    oc = np.repeat(np.arange(n), n_ord)
    m = oc.size
    o_day = start[oc] + rng.random(m) * (stop[oc] - start[oc])
    amount = basket[oc] * np.exp(rng.normal(0, 0.45, m))
    disc = rng.random(m) < discount_p[oc]
    discount = np.where(disc, amount * rng.uniform(0.1, 0.4, m), 0.0)
    margin = amount * (margin_rate[oc] + rng.normal(0, 0.03, m)) - 0.5 * discount
    returned = rng.random(m) < return_p[oc]
    cum = np.cumsum(chan_p, 1)
    channel_idx = (rng.random(m)[:, None] > cum[oc]).sum(1)
    channel_idx = np.minimum(channel_idx, len(CHANNELS) - 1)
    perm = np.argsort(rng.random((n, len(CATEGORIES))), axis=1)
    cat_idx = perm[oc, (rng.random(m) * breadth[oc]).astype(int)]
    order_rank = np.argsort(o_day, kind="stable")
    orders = pl.DataFrame(
        {
            "order_id": np.arange(1, m + 1, dtype=np.int64),
            "customer_id": ids[oc][order_rank],
            "ts": at(o_day)[order_rank],
            "amount": np.round(amount, 2)[order_rank],
            "margin": np.round(margin, 2)[order_rank],
            "discount": np.round(discount, 2)[order_rank],
            "returned": returned[order_rank],
            "category": np.array(CATEGORIES)[cat_idx][order_rank],
            "channel": np.array(CHANNELS)[channel_idx][order_rank],
        }
    )

    # ---- tickets
    n_tix = rng.poisson(ticket_rate * np.maximum(months, 0.1))
    tc = np.repeat(np.arange(n), n_tix)
    t = tc.size
    t_day = start[tc] + rng.random(t) * (
        np.maximum(stop[tc], start[tc] + 3) - start[tc]
    )
    high = rng.random(t) < high_p[tc]
    sev_idx = np.where(
        high, 2 + (rng.random(t) < 0.3), (rng.random(t) < 0.4).astype(int)
    )
    hours = res_hours[tc] * np.exp(rng.normal(0, 0.5, t))
    topic_p = np.array([a.topics for a in arch], dtype=float)
    topic_p = topic_p / topic_p.sum(1, keepdims=True)
    topic_idx = (rng.random(t)[:, None] > np.cumsum(topic_p, 1)[seg[tc]]).sum(1)
    topic_idx = np.minimum(topic_idx, len(TOPICS) - 1)
    resolved_day = t_day + hours / 24
    unresolved = rng.random(t) < 0.02
    tickets = (
        pl.DataFrame(
            {
                "ticket_id": np.arange(1, t + 1, dtype=np.int64),
                "customer_id": ids[tc],
                "opened": at(t_day),
                "resolved": at(resolved_day),
                "severity": np.array(SEVERITIES)[sev_idx],
                "topic": np.array(TOPICS)[topic_idx],
                "reopened": rng.random(t) < reopen_p[tc],
            }
        )
        .with_columns(
            pl.when(pl.Series(unresolved))
            .then(None)
            .otherwise(pl.col("resolved"))
            .alias("resolved")
        )
        .sort("opened", "ticket_id")
    )

    # ---- customers
    ind_p = np.array(
        [a.industries or (1 / len(INDUSTRIES),) * len(INDUSTRIES) for a in arch],
        dtype=float,
    )
    ind_idx = (rng.random(n)[:, None] > np.cumsum(ind_p, 1)[seg]).sum(1)
    ind_idx = np.minimum(ind_idx, len(INDUSTRIES) - 1)
    industry = np.array(INDUSTRIES, dtype=object)[ind_idx]
    industry[rng.random(n) < null_rate / 2] = None
    csize = np.maximum(1, np.round(size_med * np.exp(rng.normal(0, 0.8, n)))).astype(
        float
    )
    csize[rng.random(n) < null_rate] = np.nan
    customers = pl.DataFrame(
        {
            "customer_id": ids,
            "signup_date": at(signup).astype("datetime64[D]"),
            "industry": pl.Series(industry.tolist(), dtype=pl.String),
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), n)],
            "company_size": pl.Series(csize).fill_nan(None).cast(pl.Int64),
        }
    )

    outcomes = _outcomes(customers, orders, tickets, as_of, outcome_days, churned)
    truth = pl.DataFrame(
        {"customer_id": ids, "segment": np.array([a.name for a in arch])[seg]}
    )
    return CustomerData(
        tables={"customers": customers, "orders": orders, "tickets": tickets},
        as_of=as_of,
        outcomes=outcomes,
        truth=truth,
        segment_features={a.name: list(a.features) for a in arch},
        outcome_window_days=outcome_days,
    )


def _outcomes(
    customers: pl.DataFrame,
    orders: pl.DataFrame,
    tickets: pl.DataFrame,
    as_of: dt.datetime,
    days: int,
    churned: np.ndarray,
) -> pl.DataFrame:
    """Measure outcomes from the events in (as_of, as_of + days]."""
    end = as_of + dt.timedelta(days=days)
    o = (
        orders.filter((pl.col("ts") >= as_of) & (pl.col("ts") < end))
        .with_columns(
            pl.col("channel")
            .replace_strict(ORDER_COST, return_dtype=pl.Float64)
            .alias("cost")
        )
        .group_by("customer_id")
        .agg(
            pl.col("margin").sum().alias("next_margin_90d"),
            pl.col("cost").sum().alias("order_cost"),
        )
    )
    t = (
        tickets.filter((pl.col("opened") >= as_of) & (pl.col("opened") < end))
        .with_columns(
            pl.col("severity")
            .replace_strict(TICKET_COST, return_dtype=pl.Float64)
            .alias("cost")
        )
        .group_by("customer_id")
        .agg(pl.len().alias("tickets_90d"), pl.col("cost").sum().alias("ticket_cost"))
    )
    return (
        customers.select("customer_id")
        .with_columns(pl.Series("churned", churned))
        .join(o, on="customer_id", how="left")
        .join(t, on="customer_id", how="left")
        .with_columns(
            pl.col("next_margin_90d").fill_null(0.0).round(2),
            pl.col("tickets_90d").fill_null(0).cast(pl.Int64),
            (pl.col("order_cost").fill_null(0.0) + pl.col("ticket_cost").fill_null(0.0))
            .round(2)
            .alias("cost_to_serve_90d"),
        )
        .select(
            "customer_id",
            "churned",
            "next_margin_90d",
            "cost_to_serve_90d",
            "tickets_90d",
        )
    )
