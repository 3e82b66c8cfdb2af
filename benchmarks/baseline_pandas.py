"""Plain-pandas baseline for ``FeatureSet.default().build``.

Computes the same customer-level feature table as segdiscover's default feature set
(behavioural, value, service, channel and attribute features; see
``src/segdiscover/features/``) with ordinary pandas ``groupby`` code, so that
``bench_scale.py`` can time the two side by side and check that they agree.

Semantics replicated from segdiscover:

* only events strictly before ``as_of`` (and with a non-null time) are used;
* the customer universe is every customer who signed up before ``as_of`` (or has no
  signup date) plus every id with an event before ``as_of`` in orders or tickets;
* tenure is the days from the signup date (or, without one, the first event before
  ``as_of``) to ``as_of``, 0 when unknown, never negative;
* the long window is 365 days, the recent window 90 days (``age <= window``);
* rates divide by the months the customer could have been active,
  ``max(1, min(tenure, window) / 30.44)``;
* channel levels are learned from the windowed orders (the 8 most frequent, rarer
  ones pooled into ``other``); the dominant channel breaks ties by name.

Run on its own for a small smoke test::

    uv run python benchmarks/baseline_pandas.py
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import polars as pl

DAYS_PER_MONTH = 30.44
DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """``frame.to_pandas()``, or a numpy-based conversion when pyarrow is missing.

    polars needs pyarrow for ``to_pandas``; the benchmark environment does not ship it,
    so fall back to building the pandas frame from each column's numpy array (strings
    become object/str columns, times ``datetime64``, nullable ints float with NaN).
    """
    try:
        return frame.to_pandas()
    except ModuleNotFoundError:
        return pd.DataFrame({c: frame.get_column(c).to_numpy() for c in frame.columns})


def tables_to_pandas(tables: Mapping[str, pl.DataFrame]) -> dict[str, pd.DataFrame]:
    """Convert every polars table to pandas (done before timing)."""
    return {name: to_pandas(t) for name, t in tables.items()}


def _slug(level: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(level)).strip("_").lower() or "blank"


def _months(exposure: pd.Series) -> pd.Series:
    return (exposure / DAYS_PER_MONTH).clip(lower=1.0)


def build_features(
    tables: Mapping[str, pd.DataFrame],
    as_of: dt.datetime,
    *,
    id_col: str = "customer_id",
    window_days: int = 365,
    recent_days: int = 90,
    max_levels: int = 8,
) -> pd.DataFrame:
    """Return one row per customer (sorted by id) with segdiscover's default features.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        ``customers``, ``orders`` and ``tickets`` as made by ``make_customers``.
    as_of : datetime
        Cutoff; only events strictly before it are used.
    """
    as_of = pd.Timestamp(as_of)
    w, r = float(window_days), float(recent_days)
    customers, orders, tickets = (
        tables["customers"],
        tables["orders"],
        tables["tickets"],
    )

    # ---- events strictly before as_of
    o = orders.loc[orders["ts"].notna() & (orders["ts"] < as_of)]
    t = tickets.loc[tickets["opened"].notna() & (tickets["opened"] < as_of)]

    # ---- customer universe and tenure
    c = customers.loc[
        customers["signup_date"].isna() | (customers["signup_date"] < as_of)
    ]
    c = c.drop_duplicates(id_col, keep="first").set_index(id_col)
    first = pd.concat(
        [
            o.groupby(id_col, sort=False)["ts"].min(),
            t.groupby(id_col, sort=False)["opened"].min(),
        ]
    )
    first = first.groupby(level=0, sort=False).min()
    ids = c.index.union(first.index).sort_values()
    start = c["signup_date"].reindex(ids).astype("datetime64[us]")
    start = start.fillna(first.reindex(ids).astype("datetime64[us]"))
    tenure = ((as_of - start) / DAY).fillna(0.0).clip(lower=0.0)
    exp_w = tenure.clip(lower=1.0, upper=w)
    exp_r = tenure.clip(lower=1.0, upper=min(r, w))
    months = _months(exp_w)
    out = pd.DataFrame(index=ids)

    # ---- behavioural
    age = (as_of - o["ts"]) / DAY
    ow = o.loc[age <= w].assign(_age=age[age <= w])
    g = ow.groupby(id_col, sort=False).agg(
        _recency=("_age", "min"),
        _n_w=("_age", "size"),
        _spend=("amount", "sum"),
        avg_basket=("amount", "mean"),
        category_breadth=("category", "nunique"),
    )
    orc = o.loc[age <= r]
    gr = orc.groupby(id_col, sort=False).agg(_n_r=("ts", "size"))
    gr["active_days_90d"] = (
        orc.assign(_day=orc["ts"].dt.floor("D"))
        .groupby(id_col, sort=False)["_day"]
        .nunique()
    )
    g = g.reindex(ids)
    gr = gr.reindex(ids)
    n_w = g["_n_w"].fillna(0.0)
    n_r = gr["_n_r"].fillna(0.0)
    out["recency_days"] = g["_recency"].fillna(w).clip(upper=w)
    out["orders_per_month"] = n_w / months
    out["monthly_spend"] = g["_spend"].fillna(0.0) / months
    out["tenure_days"] = tenure
    out["active_days_90d"] = gr["active_days_90d"].fillna(0.0).astype(float)
    rate_w = n_w / exp_w
    out["activity_trend"] = np.where(n_w > 0, (n_r / exp_r) / rate_w, 0.0)
    out["avg_basket"] = g["avg_basket"]
    out["category_breadth"] = g["category_breadth"].fillna(0.0).astype(float)

    # ---- value (same 365-day window of orders)
    v = ow.assign(
        _disc=ow["discount"].fillna(0.0) > 0, _ret=ow["returned"].astype(float)
    )
    gv = (
        v.groupby(id_col, sort=False)
        .agg(
            rev=("amount", "sum"),
            mar=("margin", "sum"),
            discount_share=("_disc", "mean"),
            return_rate=("_ret", "mean"),
        )
        .reindex(ids)
    )
    rev = gv["rev"].fillna(0.0)
    out[f"revenue_{window_days}d"] = rev
    out[f"margin_{window_days}d"] = gv["mar"].fillna(0.0)
    out["margin_rate"] = (gv["mar"] / rev).where(rev > 0)
    out["discount_share"] = gv["discount_share"]
    out["return_rate"] = gv["return_rate"]

    # ---- service (tickets opened in the 365-day window)
    t_age = (as_of - t["opened"]) / DAY
    tw = t.loc[t_age <= w]
    done = tw["resolved"].notna() & (tw["resolved"] < as_of)
    tw = tw.assign(
        _high=tw["severity"].isin(["high", "critical"]),
        _hours=((tw["resolved"] - tw["opened"]) / HOUR).where(done),
        _reo=tw["reopened"].astype(float),
    )
    gs = (
        tw.groupby(id_col, sort=False)
        .agg(
            _n=("opened", "size"),
            high_severity_share=("_high", "mean"),
            median_resolution_hours=("_hours", "median"),
            reopen_rate=("_reo", "mean"),
        )
        .reindex(ids)
    )
    out["tickets_per_month"] = gs["_n"].fillna(0.0) / months
    out["high_severity_share"] = gs["high_severity_share"].fillna(0.0)
    out["median_resolution_hours"] = gs["median_resolution_hours"]
    out["reopen_rate"] = gs["reopen_rate"].fillna(0.0)

    # ---- channel (windowed orders; levels learned here, as at fit time)
    ch = ow["channel"].astype(object).fillna("unknown")
    counts = ch.value_counts()
    counts = (
        counts.rename_axis("ch")
        .reset_index(name="n")
        .sort_values(["n", "ch"], ascending=[False, True])
    )
    levels = counts["ch"].head(max_levels).tolist()
    has_other = len(counts) > max_levels
    slugs = [_slug(x) for x in levels]
    if len(set(slugs)) < len(slugs):
        slugs = [f"{s}_{i}" for i, s in enumerate(slugs)]
    if has_other:
        ch = ch.where(ch.isin(levels), "other")
    per = (
        pd.DataFrame({id_col: ow[id_col], "ch": ch})
        .groupby([id_col, "ch"], sort=False)
        .size()
        .rename("n")
    )
    wide = per.unstack("ch", fill_value=0)
    total = wide.sum(axis=1)
    share_levels = levels + (["other"] if has_other else [])
    share_names = [f"share_{s}" for s in slugs] + (["share_other"] if has_other else [])
    for lv, name in zip(share_levels, share_names, strict=True):
        col = wide[lv] if lv in wide.columns else 0
        out[name] = (col / total).reindex(ids).fillna(0.0)
    dom = (
        per.reset_index()
        .sort_values([id_col, "n", "ch"], ascending=[True, False, True])
        .drop_duplicates(id_col)
        .set_index(id_col)["ch"]
    )
    out["dominant_channel"] = dom.reindex(ids).fillna("none").astype(object)
    out["channel_count"] = (wide > 0).sum(axis=1).reindex(ids).fillna(0).astype(float)

    # ---- attributes: customer columns passed through (not id, signup or times)
    attrs = customers.drop_duplicates(id_col, keep="first").set_index(id_col)
    for col in attrs.columns:
        s = attrs[col]
        if col == "signup_date" or pd.api.types.is_datetime64_any_dtype(s):
            continue
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(float).reindex(ids)
        else:
            out[col] = s.reindex(ids).astype(object)

    return out.rename_axis(id_col).reset_index()


def read_tables(folder: str) -> dict[str, pd.DataFrame]:
    """Read ``customers``, ``orders`` and ``tickets`` parquet files with pandas.

    Only the columns the features read are loaded (``columns=``), and the events
    on or after ``as_of`` are filtered after reading, as a competent pandas job
    would write it.
    """
    from pathlib import Path

    base = Path(folder)
    orders_cols = [
        "customer_id",
        "ts",
        "amount",
        "margin",
        "discount",
        "returned",
        "category",
        "channel",
    ]
    tickets_cols = ["customer_id", "opened", "resolved", "severity", "reopened"]
    customers = pd.read_parquet(base / "customers.parquet")
    # parquet dates arrive as Python dates (object); compare them as timestamps.
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    return {
        "customers": customers,
        "orders": pd.read_parquet(base / "orders.parquet", columns=orders_cols),
        "tickets": pd.read_parquet(base / "tickets.parquet", columns=tickets_cols),
    }


def plain_job(
    folder: str, as_of: dt.datetime, out: str, *, k: int = 6, seed: int = 0
) -> dict[str, float]:
    """The segmentation job written plainly: what segdiscover's fixed-k run does.

    pandas features (:func:`build_features`), median imputation + missing flags,
    ``StandardScaler`` on the numbers and one-hot categories, ``KMeans(k,
    n_init=4)``, a LightGBM surrogate of the labels on 50k customers (fidelity on
    held-out customers), SHAP on 2,000 customers, per-segment medians, and the
    assignments written to parquet. Returns the stage times.
    """
    import time

    import lightgbm as lgb
    import shap
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    tables = read_tables(folder)
    times["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = build_features(tables, as_of)
    del tables
    times["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = feats.drop(columns="customer_id")
    cats = [c for c in X.columns if X[c].dtype == object]
    nums = [c for c in X.columns if c not in cats]
    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True),
                    StandardScaler(),
                ),
                nums,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                cats,
            ),
        ]
    )
    Z = pre.fit_transform(X)
    times["preprocess"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    labels = KMeans(k, n_init=4, random_state=seed).fit_predict(Z)
    times["kmeans"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Xs = X.copy()
    for c in cats:
        Xs[c] = Xs[c].astype("category")
    rng = np.random.RandomState(seed)
    idx = rng.choice(len(Xs), size=min(len(Xs), 60_000), replace=False)
    tr, te = train_test_split(idx, test_size=10_000, random_state=seed)
    model = lgb.LGBMClassifier(n_estimators=200, num_leaves=31, verbose=-1)
    model.fit(Xs.iloc[tr], labels[tr])
    fidelity = float((model.predict(Xs.iloc[te]) == labels[te]).mean())
    times["surrogate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sample = rng.choice(len(Xs), size=min(len(Xs), 2_000), replace=False)
    explainer = shap.TreeExplainer(model)
    sv = explainer.shap_values(Xs.iloc[sample])
    times["shap"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    medians = X[nums].groupby(labels).median()
    out_frame = pd.DataFrame(
        {"customer_id": feats["customer_id"], "segment_id": labels.astype("int64")}
    )
    out_frame.to_parquet(out)
    times["medians_write"] = time.perf_counter() - t0
    times["fidelity"] = fidelity
    times["segments"] = float(medians.shape[0])
    times["shap_cells"] = float(np.asarray(sv).size)
    return times


def main() -> None:
    import time

    import segdiscover as sd
    from segdiscover.features import FeatureSet

    data = sd.datasets.make_customers(n_customers=2_000, seed=0)
    pdt = tables_to_pandas(data.tables)
    t0 = time.perf_counter()
    frame = build_features(pdt, data.as_of)
    secs = time.perf_counter() - t0
    ref = FeatureSet.default().build(data.tables, as_of=data.as_of).frame
    assert list(frame.columns) == ref.columns, (list(frame.columns), ref.columns)
    print(f"pandas baseline: {frame.shape} in {secs:.3f} s; columns match segdiscover")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 5 and sys.argv[1] == "--job":
        # ``--job FOLDER AS_OF OUT``: the whole plain job, one process.
        got = plain_job(
            sys.argv[2], dt.datetime.fromisoformat(sys.argv[3]), sys.argv[4]
        )
        print({k: round(v, 3) for k, v in got.items()})
    else:
        main()
