"""A second planted-truth generator: one customer table of a subscription business.

Written independently of :func:`segdiscover.datasets.make_customers` (retail orders,
hand-designed archetypes) so that a method tuned on one generator can be checked on
the other. Here nothing about a segment is hand-written:

1. Six latent traits (:data:`TRAITS`: usage, data, friction, payment, spend,
   loyalty). Each segment's centre in that space is drawn from the seed: two or
   three traits set to ``+-U(1, 1.5)``, the rest 0, redrawn until it lies at least
   ``1.5`` from every earlier centre; then all centres are scaled by
   ``4 * separation``. A customer's traits are the centre plus normal noise of
   standard deviation 0.6 (the latent unit is that of the centres).
2. Segment sizes are imbalanced: ``0.05 + (1 - 0.05 k) * Dirichlet(1.5)``, so the
   smallest holds at least 5% of customers.
3. Each observed column reads one trait through a link (:data:`COLUMNS`): counts are
   Poisson or negative binomial on a log link, amounts gamma or lognormal, shares
   beta on a logit link, flags and yes/no text Bernoulli on a logit link, ordered
   categories (plan, contract) are cut from a logistic latent. Columns that read no
   trait (a 40-level ``area_code``, the sales channel and ``noise_*``) carry no
   signal. A few columns get nulls completely at random.
4. Truth follows from the parameters: a segment *moves* a column when its centre on
   the column's trait differs from the size-weighted mean of the centres by at least
   ``MOVE_AT`` (1 latent unit); the direction is the sign of that
   difference times the column's loading (``effects`` holds every shift).
5. Outcomes (churn, margin, support cost) depend on the segment's unscaled centre
   plus customer noise, not on the observed columns or on ``separation``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from segdiscover._params import Interval, validate_params
from segdiscover.exceptions import InputError

#: The latent traits, in the order of the centres' coordinates.
TRAITS = ("usage", "data", "friction", "payment", "spend", "loyalty")

#: A segment moves a column when its centre on the column's trait sits this many
#: latent units from the size-weighted mean of the centres.
MOVE_AT = 1.0

_SCALE = 4.0  # latent distance per unit of ``separation`` (min pair distance 6)
_MIN_GAP = 1.5  # minimum distance between two unscaled centres
# Spread of a customer's traits around the centre. The three columns of a trait share
# it, so within a segment they correlate; a larger spread makes elongated segments
# that k-means cuts in two instead of separating the segments.
_SPREAD = 0.6


@dataclass(frozen=True)
class Column:
    """How one observed column is generated from one latent trait.

    ``kind`` is the distribution (``poisson``, ``negbin``, ``gamma``, ``lognormal``,
    ``beta``, ``bool``, ``yesno``, ``ordinal``); ``base`` the typical customer's mean
    (the share of the first level's complement for ``bool``/``yesno``/``beta``);
    ``loading`` the change of the linear predictor per latent unit;
    ``shape`` the dispersion (negative binomial size, gamma shape, lognormal sigma,
    beta concentration); ``levels`` and ``shares`` the ordered categories and their
    shares for the typical customer.
    """

    name: str
    kind: str
    trait: str
    loading: float
    base: float = 0.0
    shape: float = 1.0
    levels: tuple[str, ...] = ()
    shares: tuple[float, ...] = ()


#: The signal columns, three per trait.
COLUMNS = (
    Column("monthly_minutes", "gamma", "usage", 0.4, base=320.0, shape=10.0),
    Column("calls_per_week", "poisson", "usage", 0.35, base=20.0),
    Column("sms_per_week", "negbin", "usage", 0.4, base=15.0, shape=10.0),
    Column("data_gb", "lognormal", "data", 0.45, base=6.0, shape=0.25),
    Column("streaming_share", "beta", "data", 0.5, base=0.35, shape=60.0),
    Column("uses_app", "yesno", "data", 1.0, base=0.55),
    Column("support_calls_90d", "negbin", "friction", 0.4, base=3.0, shape=8.0),
    Column("dropped_call_share", "beta", "friction", 0.45, base=0.08, shape=150.0),
    Column("complaints_12m", "poisson", "friction", 0.4, base=2.5),
    Column("late_payments_12m", "negbin", "payment", 0.45, base=2.0, shape=6.0),
    Column("autopay", "bool", "payment", -1.0, base=0.6),
    Column("paperless_billing", "yesno", "payment", -0.9, base=0.65),
    Column("monthly_charge", "gamma", "spend", 0.3, base=45.0, shape=20.0),
    Column(
        "plan",
        "ordinal",
        "spend",
        1.0,
        levels=("basic", "standard", "premium", "unlimited"),
        shares=(0.3, 0.35, 0.2, 0.15),
    ),
    Column("add_ons", "poisson", "spend", 0.4, base=3.0),
    Column("tenure_months", "negbin", "loyalty", 0.35, base=26.0, shape=10.0),
    Column(
        "contract",
        "ordinal",
        "loyalty",
        1.0,
        levels=("month-to-month", "one year", "two year"),
        shares=(0.5, 0.3, 0.2),
    ),
    Column("family_plan", "bool", "loyalty", 0.9, base=0.35),
)

#: Columns that get nulls (completely at random) at ``null_rate``.
NULLABLE = ("data_gb", "monthly_minutes", "paperless_billing", "area_code")


@dataclass(frozen=True, eq=False)
class PlantedTable:
    """What :func:`make_segments_table` returns.

    Attributes
    ----------
    table : polars.DataFrame
        ``customer_id`` and one row per customer: the columns of :data:`COLUMNS`,
        ``area_code`` and ``signup_channel`` (no signal) and ``noise_1..`` (no signal).
    truth : polars.DataFrame
        ``customer_id`` and ``segment`` (int, ``0..n_segments-1``).
    outcomes : polars.DataFrame
        ``customer_id``, ``churned`` (bool), ``margin`` and ``support_cost`` (float).
    id : str
        The id column, ``"customer_id"``.
    n_segments : int
    segment_features : dict of int to list of (str, str)
        Segment -> the ``(column, direction)`` pairs it moves (``"+"``/``"-"``),
        derived from the centres (module docstring, step 4).
    centres : ndarray, shape (n_segments, len(TRAITS))
        The scaled segment centres in the latent space.
    effects : polars.DataFrame
        ``segment``, ``column``, ``trait``, ``shift`` (centre minus the weighted mean
        of the centres on the column's trait, in latent units, times
        the sign of the loading) for every segment and signal column.
    """

    table: pl.DataFrame
    truth: pl.DataFrame
    outcomes: pl.DataFrame
    id: str
    n_segments: int
    segment_features: dict[int, list[tuple[str, str]]]
    centres: np.ndarray = field(repr=False)
    effects: pl.DataFrame = field(repr=False)


def _centres(rng: np.random.Generator, k: int) -> np.ndarray:
    d = len(TRAITS)
    out: list[np.ndarray] = []
    for _ in range(2000 * k):
        if len(out) == k:
            break
        c = np.zeros(d)
        dims = rng.choice(d, int(rng.integers(2, 4)), replace=False)
        c[dims] = rng.choice([-1.0, 1.0], len(dims)) * rng.uniform(1.0, 1.5, len(dims))
        if all(np.linalg.norm(c - o) >= _MIN_GAP for o in out):
            out.append(c)
    if len(out) < k:  # cannot happen for k <= 12; kept as a clear failure
        msg = f"Could not place {k} segment centres {_MIN_GAP} apart in 6 traits."
        raise InputError(msg)
    return np.vstack(out)


def _sizes(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    w = 0.05 + (1 - 0.05 * k) * rng.dirichlet(np.full(k, 1.5))
    counts = np.floor(w * n).astype(int)
    # Largest remainders take the customers the floors left over.
    counts[np.argsort(-(w * n - counts))[: n - counts.sum()]] += 1
    return counts


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _draw(col: Column, eta: np.ndarray, rng: np.random.Generator) -> pl.Series:
    n = len(eta)
    if col.kind == "poisson":
        return pl.Series(col.name, rng.poisson(col.base * np.exp(eta)), pl.Int64)
    if col.kind == "negbin":
        mu = col.base * np.exp(eta)
        vals = rng.negative_binomial(col.shape, col.shape / (col.shape + mu))
        return pl.Series(col.name, vals, pl.Int64)
    if col.kind == "gamma":
        mean = col.base * np.exp(eta)
        vals = rng.gamma(col.shape, mean / col.shape)
        return pl.Series(col.name, np.round(vals, 2), pl.Float64)
    if col.kind == "lognormal":
        vals = np.exp(np.log(col.base) + eta + col.shape * rng.standard_normal(n))
        return pl.Series(col.name, np.round(vals, 3), pl.Float64)
    if col.kind == "beta":
        m = _expit(_logit(col.base) + eta)
        vals = rng.beta(m * col.shape, (1 - m) * col.shape)
        # Rounded like a report would, but kept strictly inside (0, 1).
        vals = np.clip(np.round(vals, 4), 1e-4, 1 - 1e-4)
        return pl.Series(col.name, vals, pl.Float64)
    if col.kind in ("bool", "yesno"):
        yes = rng.random(n) < _expit(_logit(col.base) + eta)
        if col.kind == "bool":
            return pl.Series(col.name, yes, pl.Boolean)
        return pl.Series(col.name, np.where(yes, "Yes", "No"), pl.String)
    # Ordinal: a logistic latent cut where the typical customer has ``shares``.
    cuts = [_logit(p) for p in np.cumsum(col.shares)[:-1]]
    latent = eta + rng.logistic(size=n)
    codes = np.searchsorted(np.asarray(cuts), latent)
    return pl.Series(col.name, np.asarray(col.levels)[codes], pl.String)


def make_segments_table(
    n_customers: int = 5000,
    n_segments: int = 4,
    *,
    seed: int = 0,
    separation: float = 1.0,
    n_noise_features: int = 3,
    null_rate: float = 0.02,
) -> PlantedTable:
    """Generate one customer table of a telecom-like subscription business.

    Segments are drawn in a latent trait space (module docstring); the table's
    columns read those traits through count, amount, share, flag, text and ordered
    category distributions. Same arguments, same table.

    Parameters
    ----------
    n_customers : int, default 5000
    n_segments : int, default 4
        Planted segments, 2 to 12.
    seed : int, default 0
    separation : float, default 1.0
        Scales the distances between segment centres: at 1.0 the closest two
        centres are at least 6 latent units (10 within-segment standard
        deviations) apart; at 0.5 the observed columns overlap noticeably.
    n_noise_features : int, default 3
        Columns ``noise_1..`` of pure noise (normal, gamma, Poisson in turn).
    null_rate : float, default 0.02
        Share of nulls in each column of :data:`NULLABLE`.

    Returns
    -------
    PlantedTable

    Examples
    --------
    >>> pt = make_segments_table(1000, 3, seed=1)
    >>> pt.table.height, pt.truth["segment"].n_unique(), pt.id
    (1000, 3, 'customer_id')
    >>> pt.table.equals(make_segments_table(1000, 3, seed=1).table)
    True
    >>> sorted(pt.segment_features) == [0, 1, 2]
    True
    """
    validate_params(
        "make_segments_table",
        {
            "n_customers": n_customers,
            "n_segments": n_segments,
            "seed": seed,
            "separation": separation,
            "n_noise_features": n_noise_features,
            "null_rate": null_rate,
        },
        {
            "n_customers": [Interval(int, 20, None)],
            "n_segments": [Interval(int, 2, 12)],
            "seed": [Interval(int, 0, None)],
            "separation": [Interval(float, 0, 10, "right")],
            "n_noise_features": [Interval(int, 0, 50)],
            "null_rate": [Interval(float, 0, 0.5)],
        },
    )
    rng = np.random.default_rng(seed)
    k, n = n_segments, n_customers
    raw = _centres(rng, k)
    centres = raw * (_SCALE * separation)
    counts = _sizes(rng, n, k)
    seg = rng.permutation(np.repeat(np.arange(k), counts))
    z = centres[seg] + _SPREAD * rng.standard_normal((n, len(TRAITS)))

    ids = pl.Series("customer_id", np.arange(1, n + 1), pl.Int64)
    cols = [ids]
    for col in COLUMNS:
        cols.append(_draw(col, col.loading * z[:, TRAITS.index(col.trait)], rng))
    # No-signal columns: a many-level code with Zipf-like shares, a channel, noise.
    n_codes = 40
    code_p = 1.0 / np.arange(1, n_codes + 1)
    areas = rng.choice(n_codes, n, p=code_p / code_p.sum())
    cols.append(pl.Series("area_code", [f"A{200 + a}" for a in areas], pl.String))
    channel = rng.choice(["store", "web", "partner"], n, p=[0.45, 0.4, 0.15])
    cols.append(pl.Series("signup_channel", channel, pl.String))
    for i in range(n_noise_features):
        name = f"noise_{i + 1}"
        if i % 3 == 0:
            cols.append(pl.Series(name, rng.normal(50, 10, n), pl.Float64))
        elif i % 3 == 1:
            cols.append(pl.Series(name, rng.gamma(2.0, 5.0, n), pl.Float64))
        else:
            cols.append(pl.Series(name, rng.poisson(4.0, n), pl.Int64))
    table = pl.DataFrame(cols)
    nulls = {c: rng.random(n) < null_rate for c in NULLABLE}
    table = table.with_columns(
        pl.when(pl.Series(m)).then(None).otherwise(pl.col(c)).alias(c)
        for c, m in nulls.items()
    )

    # Outcomes read the segment's unscaled centre (not the observed columns) plus
    # noise, so segments differ on them by the same amount at any separation.
    t = {name: raw[seg, i] for i, name in enumerate(TRAITS)}
    churn_logit = (
        -1.6 + 0.6 * t["friction"] + 0.5 * t["payment"] - 0.6 * t["loyalty"]
    ) + 0.3 * rng.standard_normal(n)
    churned = rng.random(n) < _expit(churn_logit)
    margin = 22 + 6 * t["spend"] - 3 * t["friction"] + rng.normal(0, 6, n)
    support = rng.gamma(3.0, 12 * np.exp(0.5 * t["friction"]) / 3.0)
    outcomes = pl.DataFrame(
        [
            ids,
            pl.Series("churned", churned, pl.Boolean),
            pl.Series("margin", np.round(margin, 2), pl.Float64),
            pl.Series("support_cost", np.round(support, 2), pl.Float64),
        ]
    )
    truth = pl.DataFrame([ids, pl.Series("segment", seg, pl.Int64)])

    weights = counts / n
    mean = weights @ centres
    rows = []
    features: dict[int, list[tuple[str, str]]] = {s: [] for s in range(k)}
    for s in range(k):
        for col in COLUMNS:
            j = TRAITS.index(col.trait)
            shift = float((centres[s, j] - mean[j]) * np.sign(col.loading))
            rows.append((s, col.name, col.trait, shift))
            if abs(shift) >= MOVE_AT:
                features[s].append((col.name, "+" if shift > 0 else "-"))
    effects = pl.DataFrame(
        rows,
        schema={
            "segment": pl.Int64,
            "column": pl.String,
            "trait": pl.String,
            "shift": pl.Float64,
        },
        orient="row",
    )
    return PlantedTable(
        table=table,
        truth=truth,
        outcomes=outcomes,
        id="customer_id",
        n_segments=k,
        segment_features=features,
        centres=centres,
        effects=effects,
    )
