"""Synthetic customers with planted segments, raw tables and outcomes.

The generator simulates what a business really records: a customer table, orders with
amount, margin, discount, returns, category and channel, and support tickets with
severity, topic, resolution time and reopen flag. Each planted segment is an operating
pattern (see :data:`ARCHETYPES`) that sets a few parameters away from the typical
customer and keeps the rest, so it differs from the others only on the features those
parameters move; :attr:`Archetype.features` derives that list (``segment_features``).
Outcomes (churn, next-period margin, cost-to-serve) are
*measured from the events after* ``as_of``, so they cannot leak into the features.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
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
    """One planted operating pattern.

    Every parameter defaults to the typical customer's value; an archetype sets only
    the parameters that define it, so segments differ from each other *only* where
    they are documented to. :attr:`features` derives, from those settings, every
    feature of ``FeatureSet.default()`` they move and in which direction
    (``make_customers`` returns it as ``segment_features``).

    Examples
    --------
    >>> a = Archetype("big_baskets", 0.2, basket=300.0)
    >>> a.changes
    {'basket': 300.0}
    >>> dict(a.features)
    {'avg_basket': '+', 'monthly_spend': '+', 'revenue_365d': '+', 'margin_365d': '+'}
    >>> a.direct_features
    (('avg_basket', '+'),)
    """

    name: str
    share: float
    churn_p: float = 0.10  # an outcome, not a feature: free to differ
    orders_per_month: float = 1.5
    basket: float = 90.0  # median order amount
    margin_rate: float = 0.30
    discount_p: float = 0.10
    return_p: float = 0.04
    tickets_per_month: float = 0.15
    high_sev_p: float = 0.12
    resolution_hours: float = 10.0
    reopen_p: float = 0.05
    channels: tuple[float, ...] = (0.45, 0.30, 0.10, 0.05, 0.10)  # over CHANNELS
    breadth: float = 3.0  # mean number of categories bought
    company_size: float = 40.0  # median employees
    industries: tuple[float, ...] | None = None  # over INDUSTRIES; None = uniform
    topics: tuple[float, ...] = (0.3, 0.3, 0.1, 0.2, 0.05, 0.05)  # not a feature
    lapsed: bool = False  # activity stopped 4-9 months before as_of
    new: bool = False  # signed up in the last 100 days

    @property
    def changes(self) -> dict[str, Any]:
        """The parameters this archetype sets away from the typical customer."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("name", "share", "churn_p", "topics")
            and getattr(self, f.name) != f.default
        }

    @property
    def features(self) -> tuple[tuple[str, str], ...]:
        """Every default feature the archetype's settings move, with its direction."""
        return _moved_features(self)

    @property
    def direct_features(self) -> tuple[tuple[str, str], ...]:
        """The part of :attr:`features` that reads a setting directly.

        Leaves out what only moves in combination (monthly spend, 365-day revenue and
        margin) and the dominant channel, for a stricter reading of driver precision.
        """
        return _moved_features(self, direct_only=True)


#: A planted parameter moves a feature when it changes by at least this factor
#: (on the odds scale for probabilities).
_MOVE_FACTOR = 1.5
#: ... or, for a channel, when its share changes by at least this much.
_MOVE_SHARE = 0.10
#: Parameter -> the features that read it directly (sign of the dependence).
_READS: dict[str, tuple[tuple[str, int], ...]] = {
    "orders_per_month": (
        ("orders_per_month", 1),
        ("active_days_90d", 1),
        ("recency_days", -1),
    ),
    "basket": (("avg_basket", 1),),
    "discount_p": (("discount_share", 1),),
    "return_p": (("return_rate", 1),),
    "tickets_per_month": (("tickets_per_month", 1),),
    "high_sev_p": (("high_severity_share", 1),),
    "resolution_hours": (("median_resolution_hours", 1),),
    "reopen_p": (("reopen_rate", 1),),
    "breadth": (("category_breadth", 1),),
    "company_size": (("company_size", 1),),
}
_LOGIT = {"discount_p", "return_p", "high_sev_p", "reopen_p"}
#: ... or, for the number of categories bought, when it changes by this many.
_MOVE_COUNT = 0.5


def _effective_count(p: tuple[float, ...]) -> float:
    """exp(entropy): how many channels a mix spreads over."""
    q = np.asarray(p, dtype=float)
    q = q[q > 0] / q.sum()
    return float(np.exp(-(q * np.log(q)).sum()))


def _categories_seen(breadth: float, n_orders: float) -> float:
    """Return the expected distinct categories in ``n_orders`` over ``breadth``."""
    return breadth * (1 - (1 - 1 / breadth) ** n_orders) if breadth > 1 else 1.0


def _effective_margin(a: Archetype) -> float:
    # Orders lose half their discount (10-40% of the amount, 25% on average).
    return a.margin_rate - 0.5 * a.discount_p * 0.25


def _moved_features(
    a: Archetype, *, direct_only: bool = False
) -> tuple[tuple[str, str], ...]:
    """Derive the planted (feature, direction) pairs from the archetype's settings.

    The rules follow how :func:`make_customers` simulates events and how the default
    builders read them: a parameter moves the features that read it; spend and
    365-day revenue move with orders x basket, 365-day margin also with the margin
    rate; a channel share moves when it changes by ``_MOVE_SHARE``; a lapsed customer
    is less recent, less active and declining; a new one has a short tenure and
    small 365-day totals.
    """
    base = Archetype("base", 0.0)
    step = np.log(_MOVE_FACTOR)
    out: dict[str, str] = {}

    def put(feature: str, delta: float) -> None:
        out.setdefault(feature, "+" if delta > 0 else "-")

    def change(attr: str) -> float:
        x, b = float(getattr(a, attr)), float(getattr(base, attr))
        if attr in _LOGIT:
            x, b = (np.clip(v, 1e-3, 1 - 1e-3) for v in (x, b))
            return float(np.log(x / (1 - x)) - np.log(b / (1 - b)))
        return float(np.log(x / b))

    for attr, reads in _READS.items():
        d = change(attr)
        if abs(d) >= step:
            for feature, sign in reads:
                put(feature, sign * d)
    if a.lapsed:
        for feature, sign in (
            ("recency_days", 1),
            ("active_days_90d", -1),
            ("activity_trend", -1),
            ("orders_per_month", -1),
            ("tickets_per_month", -1),  # tickets stop with the orders
        ):
            put(feature, sign)
    if a.new:
        put("tenure_days", -1)
    # A lapsed customer stopped 120-270 days (195 on average) before as_of, so it
    # bought in about 47% of the year the window covers.
    active = 1 - 195 / 365 if a.lapsed else 1.0
    spend = change("orders_per_month") + np.log(active) + change("basket")
    # 365-day totals are not per month of exposure: a new customer (60 days on
    # average) has about a sixth of a year's revenue.
    exposed = 60 / 365 if a.new else 1.0
    total = spend + np.log(exposed)
    margin = np.log(max(_effective_margin(a), 1e-3) / _effective_margin(base))
    if abs(margin) >= step:
        put("margin_rate", margin)
    if not direct_only:
        for feature, d in (
            ("monthly_spend", spend),
            ("revenue_365d", total),
            ("margin_365d", total + margin),
        ):
            if abs(d) >= step:
                put(feature, d)
    for c, x, b in zip(CHANNELS, a.channels, base.channels, strict=True):
        if abs(x - b) >= _MOVE_SHARE:
            put(f"share_{c}", x - b)
    # Counts of distinct things seen grow with the number of orders in the window:
    # channels also with how spread the mix is, categories saturate at the breadth.
    n_orders = 12 * a.orders_per_month * exposed * active
    n_base = 12 * base.orders_per_month
    spread = _effective_count(a.channels) / _effective_count(base.channels)
    count = np.log(n_orders / n_base) + np.log(spread)
    if abs(count) >= step and not direct_only:
        put("channel_count", count)
    seen = _categories_seen(a.breadth, n_orders)
    seen -= _categories_seen(base.breadth, n_base)
    if abs(seen) >= _MOVE_COUNT:
        put("category_breadth", seen)
    if not direct_only and int(np.argmax(a.channels)) != int(np.argmax(base.channels)):
        put("dominant_channel", 1)
    if a.industries is not None:
        put("industry", 1)
    return tuple(out.items())


#: The planted segments, in the order ``n_segments`` takes them. Each sets only the
#: parameters that define it; the rest stay at the typical customer's values.
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("frequent_small_orders", 0.22, 0.08, orders_per_month=6.0, basket=22.0),
    Archetype(
        "bulk_monthly_buyers",
        0.18,
        0.06,
        basket=900.0,
        breadth=6.0,
        channels=(0.42, 0.08, 0.40, 0.05, 0.05),
    ),
    Archetype(
        "promo_driven_returners",
        0.15,
        0.30,
        margin_rate=0.15,
        discount_p=0.75,
        return_p=0.30,
        channels=(0.25, 0.15, 0.05, 0.0, 0.55),
        topics=(0.2, 0.2, 0.4, 0.1, 0.05, 0.05),
    ),
    Archetype(
        "vip_premium",
        0.10,
        0.04,
        margin_rate=0.48,
        high_sev_p=0.45,
        channels=(0.25, 0.15, 0.50, 0.05, 0.05),
    ),
    Archetype(
        "self_serve",
        0.20,
        0.12,
        tickets_per_month=0.03,
        breadth=1.5,
        channels=(0.35, 0.60, 0.0, 0.0, 0.05),
    ),
    Archetype(
        "compliance_sales_led",
        0.08,
        0.03,
        resolution_hours=72.0,
        channels=(0.05, 0.0, 0.15, 0.80, 0.0),
        company_size=2000.0,
        industries=(0.02, 0.02, 0.1, 0.3, 0.3, 0.2, 0.04, 0.02),
        topics=(0.15, 0.1, 0.05, 0.2, 0.1, 0.4),
    ),
    Archetype("lapsing", 0.09, 0.55, lapsed=True),
    Archetype(
        "new_onboarding",
        0.07,
        0.20,
        tickets_per_month=1.2,
        reopen_p=0.25,
        new=True,
        topics=(0.1, 0.1, 0.05, 0.15, 0.55, 0.05),
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
        reps); its defining features are derived like every archetype's
        (:attr:`Archetype.features`).
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
        feature is a column of ``FeatureSet.default()`` and direction ``"+"``/``"-"``:
        every feature the archetype's settings move (:attr:`Archetype.features`;
        ``separation`` scales how far they move, not which ones or which way).
        Features not listed have the same distribution as in the segments that do
        not list them either, up to count effects: a share or rate estimated from
        fewer orders is more often exactly 0 or 1.
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


# Long on purpose (~180 lines): the generative story in the order it happens
# (segments, customers, their orders and tickets, then the truth), so a
# researcher can read what a planted segment is from one place.
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
