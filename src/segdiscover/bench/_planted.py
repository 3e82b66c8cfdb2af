"""The ``planted`` suite: scenarios that each make one thing harder than the base.

Two generators written independently of each other:

* ``customers/*``: :func:`segdiscover.datasets.make_customers` (raw orders, tickets
  and customers; features built as of the cutoff): the base, lower separation,
  more spread around each segment, more missing attributes, eight segments.
* ``table/*``: :func:`segdiscover.datasets.make_segments_table` (one customer table
  of a subscription business): the base, lower separation, many irrelevant
  columns, and derived scenarios that change one property of the base table and
  keep its planted segments: background noise customers, heavy tails, missing
  values, signal in categories only, imbalanced sizes, different densities.

Every scenario is generated from the run's seed, so seeds are replicates.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import polars as pl

from segdiscover.bench._data import BenchData, Dataset

#: make_customers scenarios: name -> keyword arguments changed from the base.
CUSTOMER_SCENARIOS: dict[str, dict[str, Any]] = {
    "base": {},
    "separation-0.6": {"separation": 0.6},
    "spread-1.6": {"noise": 1.6},
    "missing-30pct": {"null_rate": 0.3},
    "k8": {"n_segments": 8},
}
#: make_segments_table scenarios: name -> (generator arguments, derived change).
TABLE_SCENARIOS: dict[str, tuple[dict[str, Any], str | None]] = {
    "base": ({}, None),
    "separation-0.5": ({"separation": 0.5}, None),
    "irrelevant-40": ({"n_noise_features": 40}, None),
    "noise-10pct": ({}, "noise"),
    "heavy-tails": ({}, "tails"),
    "missing-25pct": ({}, "missing"),
    "categorical-only": ({}, "categorical"),
    "imbalanced": ({}, "imbalanced"),
    "density": ({}, "density"),
}
#: Segment shares of the ``imbalanced`` scenario (largest first).
IMBALANCED_SHARES = (0.75, 0.15, 0.07, 0.03)
#: Spread factors of the ``density`` scenario, by segment.
DENSITY_FACTORS = (0.5, 1.0, 2.0, 3.0)


def load_customers(
    seed: int, *, n_customers: int, n_segments: int, **kw: Any
) -> BenchData:
    """Load a make_customers scenario as BenchData (raw tables)."""
    from segdiscover.datasets import make_customers

    d = make_customers(n_customers=n_customers, n_segments=n_segments, seed=seed, **kw)
    return BenchData(
        id="customer_id",
        tables=d.tables,
        as_of=d.as_of,
        truth=d.truth,
        outcomes=d.outcomes,
        segment_features=d.segment_features,
    )


def load_table(
    seed: int,
    *,
    n_customers: int,
    n_segments: int,
    change: str | None = None,
    **kw: Any,
) -> BenchData:
    """Load a make_segments_table scenario, with one derived change."""
    from segdiscover.datasets import make_segments_table

    n_gen = n_customers * 3 if change == "imbalanced" else n_customers
    pt = make_segments_table(n_customers=n_gen, n_segments=n_segments, seed=seed, **kw)
    table = pt.table
    truth = pt.truth
    outcomes = pt.outcomes
    planted: dict[Any, list[tuple[str, str]]] = {
        s: list(p) for s, p in pt.segment_features.items()
    }
    rng = np.random.default_rng([seed, 7])
    signal = [c for c in table.columns if c != pt.id and not c.startswith("noise_")]
    numeric = [c for c in signal if table.schema[c].is_numeric()]
    noise_label = None
    if change == "noise":
        table, truth, outcomes = _add_background(table, truth, outcomes, pt.id, rng)
        noise_label = -1
    elif change == "tails":
        table = _heavy_tails(table, numeric, rng)
    elif change == "missing":
        table = table.with_columns(
            pl.when(pl.Series(rng.random(table.height) < 0.25))
            .then(None)
            .otherwise(pl.col(c))
            .alias(c)
            for c in table.columns
            if c != pt.id
        )
    elif change == "categorical":
        table = table.with_columns(_terciles(table.get_column(c)) for c in numeric)
        # Category drivers name the over-represented level with direction "+".
        planted = {s: [(f, "+") for f, _ in p] for s, p in planted.items()}
    elif change == "imbalanced":
        keep = _imbalanced_ids(truth, pt.id, n_customers)
        table, truth, outcomes = (
            f.filter(pl.col(pt.id).is_in(keep)) for f in (table, truth, outcomes)
        )
    elif change == "density":
        table = _density(table, truth, numeric, pt.id)
    return BenchData(
        id=pt.id,
        table=table,
        truth=truth,
        outcomes=outcomes,
        segment_features=planted,
        noise_label=noise_label,
    )


def _add_background(
    table: pl.DataFrame,
    truth: pl.DataFrame,
    outcomes: pl.DataFrame,
    id: str,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """10% more customers whose columns are drawn independently (no segment)."""
    m = table.height // 9
    start = int(table.get_column(id).cast(pl.Int64).max() or 0) + 1  # type: ignore[arg-type]
    ids = pl.Series(id, np.arange(start, start + m), dtype=table.schema[id])
    cols = {id: ids}
    for c in table.columns:
        if c != id:
            cols[c] = table.get_column(c).sample(
                m, with_replacement=True, seed=int(rng.integers(2**31))
            )
    extra = pl.DataFrame(cols).select(table.columns).cast(table.schema)
    out_extra = pl.DataFrame(
        {id: ids}
        | {
            c: outcomes.get_column(c).sample(
                m, with_replacement=True, seed=int(rng.integers(2**31))
            )
            for c in outcomes.columns
            if c != id
        }
    ).cast(outcomes.schema)
    truth_extra = pl.DataFrame({id: ids, "segment": np.full(m, -1)}).cast(truth.schema)
    return (
        pl.concat([table, extra]),
        pl.concat([truth, truth_extra]),
        pl.concat([outcomes, out_extra]),
    )


def _heavy_tails(
    table: pl.DataFrame, numeric: list[str], rng: np.random.Generator
) -> pl.DataFrame:
    """5% of each numeric column's values times a Pareto factor (tail index 1)."""
    out = []
    for c in numeric:
        hit = rng.random(table.height) < 0.05
        factor = np.where(hit, 1.0 + rng.pareto(1.0, table.height), 1.0)
        out.append((pl.col(c).cast(pl.Float64) * pl.Series(factor)).alias(c))
    return table.with_columns(out)


def _terciles(s: pl.Series) -> pl.Series:
    """Cut a numeric column into three ordered text levels (low / mid / high)."""
    lo, hi = s.quantile(1 / 3), s.quantile(2 / 3)
    return (
        pl.select(
            pl.when(s.is_null())
            .then(None)
            .when(s <= lo)
            .then(pl.lit("low"))
            .when(s <= hi)
            .then(pl.lit("mid"))
            .otherwise(pl.lit("high"))
        )
        .to_series()
        .alias(s.name)
    )


def _imbalanced_ids(truth: pl.DataFrame, id: str, n: int) -> pl.Series:
    """Ids giving the largest segment 75%, then 15%, 7%, 3% (of ``n``)."""
    sizes = truth.group_by("segment").len().sort(["len", "segment"], descending=True)
    shares = list(IMBALANCED_SHARES) + [0.05] * max(0, sizes.height - 4)
    keep = []
    for (segment, size), share in zip(sizes.iter_rows(), shares, strict=False):
        want = min(round(share * n), size)
        rows = truth.filter(pl.col("segment") == segment).sort(id).head(want)
        keep.append(rows.get_column(id))
    return pl.concat(keep)


def _density(
    table: pl.DataFrame, truth: pl.DataFrame, numeric: list[str], id: str
) -> pl.DataFrame:
    """Each segment's numeric columns spread by its factor around its median."""
    seg = table.select(id).join(truth, on=id, how="left", maintain_order="left")
    codes = seg.get_column("segment").to_numpy()
    factors = np.asarray(DENSITY_FACTORS)[np.asarray(codes) % len(DENSITY_FACTORS)]
    out = []
    for c in numeric:
        x = table.get_column(c).cast(pl.Float64).to_numpy()
        med = np.zeros_like(x)
        for s in np.unique(codes):
            m = codes == s
            med[m] = np.nanmedian(x[m])
        y = med + (x - med) * factors
        lo = np.nanmin(x)
        out.append(pl.Series(c, np.where(np.isnan(x), np.nan, np.maximum(y, lo))))
    return table.with_columns(s.fill_nan(None) for s in out)


def planted_datasets(
    n_customers: int = 2000, n_segments: int = 4, tag: str = "planted"
) -> list[Dataset]:
    """Return the planted scenarios, ``n_customers`` rows each (``tag``: suite)."""
    out = []
    for name, kw in CUSTOMER_SCENARIOS.items():
        params = {"n_customers": n_customers, "n_segments": n_segments, **kw}
        out.append(
            Dataset(
                name=f"customers/{name}",
                loader=functools.partial(load_customers, **params),
                seeded=True,
                fingerprint=f"make_customers v1 {sorted(params.items())}",
                n=n_customers,
                suite=tag,
                description=f"make_customers({_args(params)})",
            )
        )
    for name, (kw, change) in TABLE_SCENARIOS.items():
        params = {"n_customers": n_customers, "n_segments": n_segments, **kw}
        out.append(
            Dataset(
                name=f"table/{name}",
                loader=functools.partial(load_table, change=change, **params),
                seeded=True,
                fingerprint=f"make_segments_table v1 {sorted(params.items())} {change}",
                n=n_customers,
                suite=tag,
                description=f"make_segments_table({_args(params)})"
                + (f" + {change}" if change else ""),
            )
        )
    return out


def _args(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())
