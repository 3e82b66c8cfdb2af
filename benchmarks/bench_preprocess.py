"""Preprocessing rules measured on real customer tables with outcomes.

Which weight should a categorical (and a binary fact) get against a numeric feature,
and does folding redundant columns help? For each table below, several encodings of
the same feature columns are clustered with k-means at k = 2..6 and scored on:

* **spread**: max - min outcome rate over the segments (those with >= 2% of rows),
  in percentage points, mean of the seed-0 and seed-1 runs: how far apart the
  segments are on what the business measures;
* **ARI seed**: adjusted Rand index between k-means runs with seeds 0 and 1;
* **ARI half**: the two halves of a random split each fitted, both predicting every
  row; ARI between those predictions (does the split survive other customers?).

Encodings (``old`` is ``src/segdiscover/preprocess.py`` as of commit ``OLD_COMMIT``,
loaded from git; the rule-named ones are today's
:class:`~segdiscover.preprocess.Preprocessor`, redundancy fold on, with its fitted
level weights and binary scales replaced; a binary fact is always the two-level case
of the rule, so its three encodings stay equal):

* ``hand``: scikit-learn StandardScaler on numbers (median-imputed, 0/1 numbers
  included) + OneHotEncoder (0/1) on text, what an analyst writes by hand;
* ``old``: one-hot levels at 1/sqrt(2), two-valued numbers robust-scaled, no fold;
* ``sqrt2``: every level at 1/sqrt(2) (a block's variance is half its Gini index);
* ``unit``: every level 0/1 as OneHotEncoder (variance = Gini index);
* ``block``: a categorical's total variance is one numeric feature's (1);
* ``level``: each level standardised as StandardScaler would, 1/sqrt(p(1-p));
* ``unit.5``, ``unit.25``, ``block.5``, ``block.25``: a categorical with more than
  20 distinct values capped at 0.5 or 0.25 of a numeric feature's variance;
* ``shipped``: the Preprocessor as it is;
* ``nofold``: ``shipped`` with ``fold_rho=None``.

Tables (``/work/shared/data``; outcome columns never among the features): Telco
customer churn (``Churn``), iFood marketing (``Response``), bank marketing
``bank-additional.csv`` (``y``; ``duration`` dropped, it is known only after the
call), Caravan insurance (``Purchase``; ``MOSTYPE`` and ``MOSHOOFD`` are categorical
codes, MOSTYPE has 40 levels), Hillstrom e-mail (``conversion`` and ``visit``; the
randomised e-mail arm ``segment`` and ``spend`` are dropped; 20,000 rows sampled), and
the e-commerce churn workbook (``Churn``; read with the standard library).

Usage::

    uv run python benchmarks/bench_preprocess.py            # all tables, k = 2..6
    uv run python benchmarks/bench_preprocess.py --tables telco bank --ks 3 4
    uv run python benchmarks/bench_preprocess.py --speed    # fold and transform timings

Writes ``benchmarks/_out/preprocess.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import polars as pl
from _provenance import ROOT, describe, provenance
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from segdiscover import preprocess
from segdiscover.preprocess import Preprocessor

OUT = Path(__file__).parent / "_out"
DATA = Path("/work/shared/data")
OLD_COMMIT = "1ef7dd4"
MIN_SHARE = 0.02  # segments smaller than this do not count towards the spread


# ---------------------------------------------------------------- tables
def _read_xlsx(path: Path, sheet: int) -> pl.DataFrame:
    """Read one worksheet of an .xlsx (shared strings and numbers) without openpyxl."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall(
                "m:si", ns
            )
        ]
        root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{sheet}.xml"))
    rows: list[dict[int, object]] = []
    for r in root.iter(f"{{{ns['m']}}}row"):
        row: dict[int, object] = {}
        for c in r.findall("m:c", ns):
            letters = re.match(r"[A-Z]+", c.get("r", "")).group(0)  # type: ignore[union-attr]
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            v = c.find("m:v", ns)
            if v is None or v.text is None:
                row[col] = None
            elif c.get("t") == "s":
                row[col] = strings[int(v.text)]
            else:
                row[col] = float(v.text)
        rows.append(row)
    header = [str(rows[0][j]) for j in sorted(rows[0])]
    cols = sorted(rows[0])
    data = {h: [r.get(j) for r in rows[1:]] for h, j in zip(header, cols, strict=True)}
    return pl.DataFrame(
        {
            h: pl.Series(
                h, v, dtype=pl.String if any(isinstance(x, str) for x in v) else None
            )
            for h, v in data.items()
        }
    )


def _yes(s: pl.Series) -> np.ndarray:
    return s.cast(pl.String).str.to_lowercase().is_in(["yes", "1", "1.0"]).to_numpy()


def load_tables(names: list[str]) -> list[dict]:
    """Each table: name, features, outcomes {name: 0/1 array}, kinds override."""
    out = []
    if "telco" in names:
        t = pl.read_csv(
            DATA / "telco-customer-churn/WA_Fn-UseC_-Telco-Customer-Churn.csv"
        )
        t = t.with_columns(pl.col("TotalCharges").cast(pl.Float64, strict=False))
        out.append(
            {
                "name": "telco",
                "X": t.drop("customerID", "Churn"),
                "y": {"Churn": _yes(t["Churn"])},
                "kinds": {},
            }
        )
    if "ifood" in names:
        t = pl.read_csv(DATA / "ifood-marketing-campaign/ml_project1_data.csv")
        days = (
            pl.col("Dt_Customer").str.to_date().max()
            - pl.col("Dt_Customer").str.to_date()
        ).dt.total_days()
        t = t.with_columns(days_as_customer=days)
        out.append(
            {
                "name": "ifood",
                "X": t.drop(
                    "ID", "Dt_Customer", "Z_CostContact", "Z_Revenue", "Response"
                ),
                "y": {"Response": t["Response"].to_numpy() == 1},
                "kinds": {},
            }
        )
    if "bank" in names:
        t = pl.read_csv(DATA / "bank-marketing/bank-additional.csv", separator=";")
        out.append(
            {
                "name": "bank",
                "X": t.drop("duration", "y"),
                "y": {"y": _yes(t["y"])},
                "kinds": {},
            }
        )
    if "caravan" in names:
        t = pl.read_csv(DATA / "caravan-insurance/Caravan.csv")
        out.append(
            {
                "name": "caravan",
                "X": t.drop("Purchase"),
                "y": {"Purchase": _yes(t["Purchase"])},
                "kinds": {"MOSTYPE": "categorical", "MOSHOOFD": "categorical"},
            }
        )
    if "hillstrom" in names:
        t = pl.read_csv(
            DATA / "hillstrom-email/hillstrom.csv", infer_schema_length=None
        ).sample(20_000, seed=0, shuffle=True)
        out.append(
            {
                "name": "hillstrom",
                "X": t.drop("visit", "conversion", "spend", "segment"),
                "y": {
                    "conversion": t["conversion"].to_numpy() == 1,
                    "visit": t["visit"].to_numpy() == 1,
                },
                "kinds": {},
            }
        )
    if "ecommerce" in names:
        t = _read_xlsx(DATA / "ecommerce-customer-churn/E Commerce Dataset.xlsx", 2)
        out.append(
            {
                "name": "ecommerce",
                "X": t.drop("CustomerID", "Churn"),
                "y": {"Churn": t["Churn"].to_numpy() == 1},
                "kinds": {},
            }
        )
    return out


# ---------------------------------------------------------------- encodings
def _old_module():
    src = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:src/segdiscover/preprocess.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_preprocess.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_preprocess", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def hand(X: pl.DataFrame, kinds: dict[str, str]) -> np.ndarray:
    num = [
        c
        for c in X.columns
        if kinds.get(c) != "categorical"
        and (X[c].dtype.is_numeric() or X[c].dtype == pl.Boolean)
    ]
    cat = [c for c in X.columns if c not in num]
    blocks = []
    if num:
        A = X.select(num).cast(pl.Float64).to_numpy()
        med = np.nanmedian(A, axis=0)
        A = np.where(np.isnan(A), med, A)
        keep = A.std(0) > 0
        blocks.append(StandardScaler().fit_transform(A[:, keep]))
    if cat:
        C = X.select(pl.col(cat).cast(pl.String).fill_null("missing")).to_numpy()
        blocks.append(OneHotEncoder(sparse_output=False).fit_transform(C))
    return np.hstack(blocks)


def reweighted(rule: Callable[[list[float], int], list[float]]):
    """Today's Preprocessor with level weights, and binary scales, from ``rule``.

    A binary fact is the two-level case of the rule: its one column puts the two
    values ``sqrt(w0**2 + w1**2)`` apart, as the two one-hot columns would.
    """

    def bscale(p: float) -> float:
        w = rule([1.0 - p, p], 2)
        return 1.0 / math.sqrt(w[0] ** 2 + w[1] ** 2)

    def build(X: pl.DataFrame, kinds: dict[str, str]) -> np.ndarray:
        state = Preprocessor().fit(X, kinds).to_dict()
        for c in state["columns"]:
            if c.get("encoding") == "onehot":
                c["weights"] = rule(c["shares"], c["n_distinct"])
            elif c.get("encoding") == "binary":
                c["scale"] = bscale(c["center"])
            elif c.get("binary"):
                lo, hi = c["values"]
                c["scale"] = (hi - lo) * bscale(c["share"])
        return Preprocessor.from_dict(state).transform(X)

    return build


def capped(rule, cap: float | None):
    """``rule``, with a > 20-level categorical's block variance at most ``cap``."""

    def out(shares, n):
        w = rule(shares, n)
        var = sum(wi**2 * p * (1 - p) for wi, p in zip(w, shares, strict=True))
        if cap is not None and n > preprocess.HIGH_CARDINALITY and var > cap:
            w = [wi * math.sqrt(cap / var) for wi in w]
        return w

    return out


def _unit(shares, n):  # OneHotEncoder's 0/1
    return [1.0] * len(shares)


def _sqrt2(shares, n):
    return [1 / math.sqrt(2)] * len(shares)


def _level(shares, n):  # StandardScaler on every one-hot column
    return [1 / math.sqrt(max(p * (1 - p), 1e-6)) for p in shares]


def _block(shares, n):  # the block carries one numeric feature's variance
    gini = sum(p * (1 - p) for p in shares)
    return [1 / math.sqrt(gini)] * len(shares)


def encodings(old) -> dict[str, Callable]:
    return {
        "hand": hand,
        "old": lambda X, k: old.Preprocessor().fit_transform(X, k),
        "sqrt2": reweighted(_sqrt2),
        "unit": reweighted(_unit),
        "block": reweighted(_block),
        "level": reweighted(_level),
        "unit.5": reweighted(capped(_unit, 0.5)),
        "unit.25": reweighted(capped(_unit, 0.25)),
        "block.5": reweighted(capped(_block, 0.5)),
        "block.25": reweighted(capped(_block, 0.25)),
        "shipped": lambda X, k: Preprocessor().fit_transform(X, k),
        "nofold": lambda X, k: Preprocessor(fold_rho=None).fit_transform(X, k),
    }


# ---------------------------------------------------------------- scores
def spread(labels: np.ndarray, y: np.ndarray) -> float:
    rates = [
        y[labels == s].mean()
        for s in np.unique(labels)
        if (labels == s).mean() >= MIN_SHARE
    ]
    return float(max(rates) - min(rates)) * 100 if len(rates) > 1 else 0.0


def score(M: np.ndarray, ys: dict[str, np.ndarray], k: int) -> dict:
    def km(seed: int, rows: np.ndarray | None = None) -> KMeans:
        A = M if rows is None else M[rows]
        return KMeans(k, n_init=3, random_state=seed).fit(A)

    a = km(0)
    b = km(1)
    half = np.random.RandomState(k).permutation(M.shape[0])
    h1 = km(0, half[: M.shape[0] // 2]).predict(M)
    h2 = km(0, half[M.shape[0] // 2 :]).predict(M)
    out = {
        f"spread_{n}": (spread(a.labels_, y) + spread(b.labels_, y)) / 2
        for n, y in ys.items()
    }
    out["ari_seed"] = float(adjusted_rand_score(a.labels_, b.labels_))
    out["ari_half"] = float(adjusted_rand_score(h1, h2))
    return out


def run(args: argparse.Namespace) -> list[dict]:
    old = _old_module()
    encs = encodings(old)
    rows = []
    for tab in load_tables(args.tables):
        for enc, build in encs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                M = build(tab["X"], tab["kinds"])
                secs = time.perf_counter() - t0
            for k in args.ks:
                r = score(M, tab["y"], k)
                for name in tab["y"]:
                    rows.append(
                        {
                            "table": f"{tab['name']}:{name}",
                            "encoding": enc,
                            "k": k,
                            "width": M.shape[1],
                            "encode_s": round(secs, 3),
                            "spread": r[f"spread_{name}"],
                            "ari_seed": r["ari_seed"],
                            "ari_half": r["ari_half"],
                        }
                    )
            print(f"{tab['name']:10s} {enc:8s} width {M.shape[1]:4d}", flush=True)
    return rows


def table_md(rows: list[dict]) -> str:
    df = pl.DataFrame(rows)
    encs = list(dict.fromkeys(df["encoding"].to_list()))
    per = df.group_by("table", "encoding").agg(
        pl.col("spread").mean(), pl.col("ari_seed").mean(), pl.col("ari_half").mean()
    )
    hand_spread = per.filter(pl.col("encoding") == "hand").select(
        "table", hand=pl.col("spread")
    )
    per = per.join(hand_spread, on="table").with_columns(
        ratio=pl.col("spread") / pl.col("hand")
    )
    lines = [
        "Mean over k of the outcome spread (pp), ARI between seeds, ARI between "
        "half-sample fits; last block: means over tables, and the spread as a "
        "multiple of hand-made's on the same table.",
        "",
        "| table | " + " | ".join(encs) + " |",
        "|---|" + "---|" * len(encs),
    ]
    for t in list(dict.fromkeys(df["table"].to_list())):
        cells = []
        for e in encs:
            r = per.filter((pl.col("table") == t) & (pl.col("encoding") == e)).row(
                0, named=True
            )
            cells.append(
                f"{r['spread']:.1f} / {r['ari_seed']:.2f} / {r['ari_half']:.2f}"
            )
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    for label, col, fmt in [
        ("mean spread (pp)", "spread", "{:.2f}"),
        ("mean spread / hand", "ratio", "{:.2f}"),
        ("median spread / hand", "ratio_median", "{:.2f}"),
        ("mean ARI seed", "ari_seed", "{:.3f}"),
        ("mean ARI half", "ari_half", "{:.3f}"),
        ("min ARI half", "ari_half_min", "{:.3f}"),
    ]:
        cells = []
        for e in encs:
            sub = per.filter(pl.col("encoding") == e)
            if col == "ratio_median":
                v = sub["ratio"].median()
            elif col == "ari_half_min":
                v = sub["ari_half"].min()
            else:
                v = sub[col].mean()
            cells.append(fmt.format(v))
        lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed() -> str:
    rng = np.random.default_rng(0)
    lines = ["| case | seconds |", "|---|---|"]
    base = rng.normal(size=(300, 1000))
    wide = np.hstack([base, base * 3.0 + 1.0])  # 2,000 columns, 1,000 exact twins
    frame = pl.DataFrame(wide, schema=[f"c{i}" for i in range(2000)])
    t0 = time.perf_counter()
    pre = Preprocessor().fit(frame)
    lines.append(
        f"| fit, 2,000 columns x 300 rows ({sum(len(g['folded']) for g in pre.folded_)}"
        f" folded) | {time.perf_counter() - t0:.2f} |"
    )
    n = 1_000_000
    cols = {f"x{i}": rng.lognormal(size=n) for i in range(30)}
    cols |= {f"b{i}": rng.random(n) < 0.3 for i in range(5)}
    cols |= {f"c{i}": rng.choice(["a", "b", "c", "d", "e"], n) for i in range(5)}
    big = pl.DataFrame(cols)
    t0 = time.perf_counter()
    pre = Preprocessor().fit(big)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pre.transform(big)
    lines.append(f"| fit, 1,000,000 rows x 40 columns | {fit_s:.2f} |")
    lines.append(
        f"| transform, 1,000,000 rows x 40 columns | {time.perf_counter() - t0:.2f} |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tables",
        nargs="+",
        default=["telco", "ifood", "bank", "caravan", "hillstrom", "ecommerce"],
    )
    ap.add_argument("--ks", nargs="+", type=int, default=[2, 3, 4, 5, 6])
    ap.add_argument("--speed", action="store_true", help="time fold and transform only")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    prov = describe(provenance())
    with threadpool_limits(1):
        if args.speed:
            md = speed()
            print(md)
            (OUT / "preprocess_speed.md").write_text(f"{prov}\n\n{md}\n")
            return
        rows = run(args)
    md = table_md(rows)
    print(md)
    (OUT / "preprocess.md").write_text(
        f"# Preprocessing rules on real tables\n\n{prov}; high-cardinality weight "
        f"{preprocess.HIGH_CARDINALITY_WEIGHT}\n\n{md}\n"
    )
    (OUT / "preprocess.json").write_text(
        json.dumps({"provenance": prov, "rows": rows}, indent=1)
    )


if __name__ == "__main__":
    sys.exit(main())
