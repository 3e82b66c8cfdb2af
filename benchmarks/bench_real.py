"""Segments that matter on real data: the default against a hand-made k-means.

Six public customer tables with an outcome (``benchmarks/_real_tables.py``; telco,
ecommerce, bank, ifood, hillstrom, caravan). Per table:

1. **default**: ``Segmenter(id=..., random_state=r).fit(table, outcomes=[...],
   exclude=[...])`` for each seed ``r`` (``--seeds``, default 0,1,2): the chosen
   number of segments per seed; at the first seed, the outcome **spread** (largest
   minus smallest segment mean of the outcome: a rate for 0/1 outcomes) on the
   customers the verdict comes from (``seg.validation_ids_`` when the Segmenter has
   it, else all customers), and the number of operationally distinct segments
   (``seg.outcome_comparison_.n_distinct``).
2. **hand**: what an analyst would write first: median-imputed, standardised numbers
   and one-hot categories (nulls a level of their own), then
   ``KMeans(n_clusters=<default's k>, n_init=10, random_state=0)``; its spread on
   the same customers.
3. **guided**: ``Segmenter(..., random_state=0, guide="outcomes")`` when the
   parameter exists (else n/a): its spread on its held-out customers, compared with
   the hand-made partition's spread on those same customers.
4. **false positives**: labels of one unsupervised default fit (``guide="none"``
   when the parameter exists, else the first default fit: its labels do not depend
   on a shuffled outcome either way); for each of ``--permutations`` shuffles of the
   outcome across customers, ``compare_segments(labels, shuffled, n_bootstrap=200,
   random_state=p)``. A shuffle is a false positive when any segment-vs-rest row is
   material. Target: at most 5% pooled over the tables.

Binary text outcomes (Yes/No) become 0/1 with the positive level segdiscover's
``binary_outcomes`` picks (a yes-like word, else the rarer level).

Usage::

    uv run python benchmarks/bench_real.py [--tables telco,bank] [--seeds 0,1,2]
        [--permutations 40] [--quick] [--fp-only] [--data DIR] [--name real]

``--quick``: one seed and 10 permutations. ``--fp-only``: step 4 alone (one fit per
table), for the many shuffles the false-positive target needs. Writes
``benchmarks/_out/<name>.md`` and ``benchmarks/_out/<name>.json`` (default name
``real``, ``real_quick`` with --quick, ``real_fp`` with --fp-only).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _provenance import describe, provenance
from _real_tables import DEFAULT_DATA, TABLES, RealTable, load
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import segdiscover as sd
from segdiscover.outcomes import compare_segments
from segdiscover.segmenter import binary_outcomes

OUT = Path(__file__).parent / "_out"
#: The largest table (Hillstrom, 64,000 customers) last, so the others finish first.
ORDER = sorted(TABLES, key=lambda t: t == "hillstrom")
FP_TARGET = 0.05
MISSING = "(missing)"


# ------------------------------------------------------------------ helpers
def outcome_frame(t: RealTable) -> pl.DataFrame:
    """Id and the outcome(s) as floats (Yes/No text as 0/1), named as in ``t``.

    Examples
    --------
    >>> t = RealTable(pl.DataFrame({"i": [1, 2, 3], "o": ["No", "Yes", "No"]}),
    ...               "i", ["o"], [])
    >>> outcome_frame(t)["o"].to_list()
    [0.0, 1.0, 0.0]
    """
    b = binary_outcomes(t.table.select(t.id, *t.outcomes), t.id)
    # binary_outcomes renames text outcomes "<col>=<level>"; keep the plain names.
    return b.rename(dict(zip(b.columns[1:], t.outcomes, strict=True)))


def spread(labels: np.ndarray, y: np.ndarray) -> float:
    """Largest minus smallest segment mean of ``y`` (nulls and segment -1 left out).

    NaN when fewer than two segments have a value.

    Examples
    --------
    >>> spread(np.array([0, 0, 1, 1, 2]), np.array([1.0, 0.0, 0.0, 0.0, 1.0]))
    1.0
    >>> spread(np.array([0, 0, 1, -1]), np.array([1.0, np.nan, 0.0, 5.0]))
    1.0
    """
    labels = np.asarray(labels)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y) & (labels >= 0)
    segs = np.unique(labels[ok])
    if segs.size < 2:
        return float("nan")
    means = [y[ok & (labels == s)].mean() for s in segs]
    return float(max(means) - min(means))


def hand_features(t: RealTable) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature columns: all but id, outcomes and excluded."""
    drop = {t.id, *t.outcomes, *t.exclude}
    cols = [c for c in t.table.columns if c not in drop]
    num = [
        c
        for c in cols
        if t.table.schema[c].is_numeric() or t.table.schema[c] == pl.Boolean
    ]
    return num, [c for c in cols if c not in num]


def hand_matrix(frame: pl.DataFrame, numeric: list[str], categorical: list[str]):
    """Median-imputed standardised numbers beside one-hot categories (nulls a level).

    Examples
    --------
    >>> f = pl.DataFrame({"a": [1.0, None, 3.0], "c": ["x", None, "x"]})
    >>> hand_matrix(f, ["a"], ["c"]).round(3).tolist()
    [[-1.225, 0.0, 1.0], [0.0, 1.0, 0.0], [1.225, 0.0, 1.0]]
    """
    parts = []
    if numeric:
        X = frame.select(pl.col(c).cast(pl.Float64) for c in numeric).to_numpy()
        X = SimpleImputer(strategy="median").fit_transform(X)
        parts.append(StandardScaler().fit_transform(X))
    if categorical:
        C = frame.select(
            pl.col(c).cast(pl.String).fill_null(MISSING) for c in categorical
        ).to_numpy()
        parts.append(OneHotEncoder(sparse_output=False).fit_transform(C))
    return np.hstack(parts)


def hand_labels(
    frame: pl.DataFrame, numeric: list[str], categorical: list[str], k: int
) -> np.ndarray:
    """The hand-made baseline: ``KMeans(k, n_init=10, random_state=0)``.

    Examples
    --------
    >>> f = pl.DataFrame({"a": [0.0, 0.1, 10.0, 10.1], "c": ["x", "x", "y", "y"]})
    >>> hand_labels(f, ["a"], ["c"], 2).tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    True
    """
    X = hand_matrix(frame, numeric, categorical)
    km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
    return km.labels_.astype(np.int64)


def spread_on(
    ids: pl.Series, labels: np.ndarray, y: pl.DataFrame, keep: pl.Series | None
) -> float:
    """Spread of the first outcome in ``y`` over the customers in ``keep``.

    ``ids``/``labels`` are aligned; ``y`` has the id column first; ``keep`` None
    means all customers.
    """
    id_col = y.columns[0]
    lab = pl.DataFrame({id_col: ids, "_seg": labels})
    j = lab.join(y, on=id_col, how="left", maintain_order="left")
    if keep is not None:
        j = j.filter(pl.col(id_col).is_in(keep.implode()))
    return spread(j["_seg"].to_numpy(), j[y.columns[1]].to_numpy())


def has_guide() -> bool:
    return "guide" in sd.Segmenter().get_params()


def fit(t: RealTable, **params: Any) -> tuple[sd.Segmenter, float, list[str]]:
    """Fit a Segmenter on the table; seconds and the warnings it gave."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg = sd.Segmenter(id=t.id, **params).fit(
            t.table, outcomes=t.outcomes, exclude=t.exclude
        )
    return seg, time.perf_counter() - t0, sorted({str(w.message)[:120] for w in caught})


def labels_of(seg: sd.Segmenter) -> tuple[pl.Series, np.ndarray]:
    lab = seg.labels_
    return lab.get_column(seg.id), lab.get_column("segment_id").to_numpy()


def eval_ids(seg: sd.Segmenter) -> pl.Series | None:
    """Customers the verdict comes from; None (all customers) before the API exists."""
    v = getattr(seg, "validation_ids_", None)
    return None if v is None else pl.Series(v)


def false_positives(
    ids: pl.Series, labels: np.ndarray, y: pl.DataFrame, permutations: int
) -> dict[str, Any]:
    """Shuffle the outcomes across customers; count shuffles with a material row."""
    id_col = y.columns[0]
    j = pl.DataFrame({id_col: ids, "_seg": labels}).join(
        y, on=id_col, how="left", maintain_order="left"
    )
    lab = j["_seg"].to_numpy()
    outcomes = j.drop(id_col, "_seg")
    hits = []
    for p in range(permutations):
        perm = np.random.default_rng(p).permutation(outcomes.height)
        res = compare_segments(lab, outcomes[perm], n_bootstrap=200, random_state=p)
        hits.append(bool(res.vs_rest["material"].any()))
    return {"false_positives": int(sum(hits)), "permutations": permutations}


# ------------------------------------------------------------------ one table
def run_table(
    name: str, t: RealTable, seeds: list[int], permutations: int
) -> dict[str, Any]:
    y = outcome_frame(t)
    num, cat = hand_features(t)
    res: dict[str, Any] = {
        "table": name,
        "n": t.table.height,
        "outcome": ", ".join(t.outcomes),
        "exclude": t.exclude,
        "note": t.note,
        "n_numeric": len(num),
        "n_categorical": len(cat),
        "outcome_mean": float(np.nanmean(y[t.outcomes[0]].to_numpy())),
    }
    # 1. default, one fit per seed
    default = []
    first = None
    for r in seeds:
        seg, secs, warns = fit(t, random_state=r)
        ids, lab = labels_of(seg)
        keep = eval_ids(seg)
        oc = seg.outcome_comparison_
        default.append(
            {
                "seed": r,
                "k": int(seg.n_segments_),
                "clusterer": seg.run_.get("clusterer"),
                "spread": spread_on(ids, lab, y, keep),
                "n_distinct": None if oc is None else int(oc.n_distinct),
                "eval_customers": t.table.height if keep is None else keep.len(),
                "guide": seg.run_.get("guide"),
                "seconds": secs,
                "warnings": warns,
            }
        )
        print(f"  {name} default seed {r}: {default[-1]}", flush=True)
        if first is None:
            first = (seg, keep)
    res["default"] = default
    seg0, keep0 = first
    d0 = default[0]
    # 2. hand-made baseline at the default's k
    t0 = time.perf_counter()
    hand = hand_labels(t.table, num, cat, d0["k"])
    all_ids = t.table.get_column(t.id)
    res["hand"] = {
        "k": d0["k"],
        "spread": spread_on(all_ids, hand, y, keep0),
        "spread_all": spread_on(all_ids, hand, y, None),
        "seconds": time.perf_counter() - t0,
    }
    # 3. guided
    if has_guide():
        gseg, secs, warns = fit(t, random_state=0, guide="outcomes")
        gids, glab = labels_of(gseg)
        gkeep = eval_ids(gseg)
        goc = gseg.outcome_comparison_
        res["guided"] = {
            "k": int(gseg.n_segments_),
            "spread": spread_on(gids, glab, y, gkeep),
            "hand_spread_same_customers": spread_on(all_ids, hand, y, gkeep),
            "n_distinct": None if goc is None else int(goc.n_distinct),
            "eval_customers": t.table.height if gkeep is None else gkeep.len(),
            "guide": gseg.run_.get("guide"),
            "seconds": secs,
            "warnings": warns,
        }
        print(f"  {name} guided: {res['guided']}", flush=True)
    else:
        res["guided"] = None
    # 4. false positives on unsupervised labels
    if has_guide():
        res["fp"] = shuffled_fp(name, t, y, permutations)
    else:
        res["fp"] = shuffled_fp(name, t, y, permutations, seg0)
    return res


def shuffled_fp(
    name: str,
    t: RealTable,
    y: pl.DataFrame,
    permutations: int,
    seg: sd.Segmenter | None = None,
) -> dict[str, Any]:
    """False positives under shuffled outcomes, on one unsupervised fit's labels.

    The labels come from ``guide="none"`` at seed 0 (``seg``: a fit to reuse where
    the parameter does not exist); many shuffles then cost one fit.
    """
    if seg is None:
        seg, secs, warns = fit(t, random_state=0, guide="none")
        fp_from = 'guide="none", seed 0'
    else:
        secs, warns = 0.0, []
        fp_from = "default fit, seed 0 (no guide parameter)"
    uids, ulab = labels_of(seg)
    t0 = time.perf_counter()
    fp = false_positives(uids, ulab, y, permutations)
    fp.update(
        labels_from=fp_from,
        k=int(seg.n_segments_),
        fit_seconds=secs,
        seconds=time.perf_counter() - t0,
        warnings=warns,
    )
    print(f"  {name} fp: {fp}", flush=True)
    return fp


def run_fp_only(name: str, t: RealTable, permutations: int) -> dict[str, Any]:
    """Step 4 of :func:`run_table` alone (``--fp-only``): the issue's >= 200 pooled
    permutations without the default, hand and guided fits."""
    fp = shuffled_fp(name, t, outcome_frame(t), permutations)
    return {"table": name, "n": t.table.height, "outcome": ", ".join(t.outcomes),
            "fp": fp}  # fmt: skip


def render_fp(results: list[dict[str, Any]], prov: dict[str, str]) -> list[str]:
    """The ``--fp-only`` table: shuffles with a material segment, per table, pooled."""
    md = [
        "# False material verdicts under shuffled outcomes",
        "",
        describe(prov),
        "",
        'Labels from `Segmenter(guide="none", random_state=0)`; each shuffle '
        "permutes the outcomes across customers and counts as a false positive "
        "when `compare_segments` (200 bootstrap replicates) calls any segment "
        "material.",
        "",
        "| table | n | outcome | k | false positives |",
        "|---|---:|---|---:|---:|",
    ]
    fp = tot = 0
    for r in results:
        f = r["fp"]
        fp += f["false_positives"]
        tot += f["permutations"]
        md.append(
            f"| {r['table']} | {r['n']:,} | {r['outcome']} | {f['k']} | "
            f"{f['false_positives']}/{f['permutations']} |"
        )
    upper = stats.beta.ppf(0.975, fp + 1, tot - fp) if tot > fp else 1.0
    md += [
        "",
        f"Pooled false-positive rate: {fp}/{tot} = {100 * fp / max(tot, 1):.1f}% "
        f"(95% upper {100 * upper:.1f}%; target <= {100 * FP_TARGET:.0f}%).",
    ]
    return md


# ------------------------------------------------------------------ report
def _f(x: float | None) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.3f}"


def _ge(a: float | None, b: float | None) -> bool | None:
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return None
    return bool(a >= b)


YES_NO = {True: "yes", False: "no", None: "n/a"}


def render(
    results: list[dict[str, Any]], prov: dict[str, str], args: argparse.Namespace
) -> list[str]:
    md = [
        "# Segments that matter on real data",
        "",
        describe(prov),
        "",
        f"Seeds {args.seeds}; {args.permutations} outcome shuffles per table "
        "(compare_segments, 200 bootstrap replicates). Spread: largest minus "
        "smallest segment mean of the outcome on the customers the verdict comes "
        "from (the default's `validation_ids_`, all customers before it exists); "
        "hand: standardised + one-hot KMeans at the default's k (seed 0) on the "
        "same customers; guided compared with hand on guided's held-out customers.",
        "",
        "| table | n | outcome | k (seeds) | default spread | hand spread | "
        "guided spread | default >= hand? | guided >= hand? | distinct segments | "
        "FP rate |",
        "|---|---:|---|---|---:|---:|---:|---|---|---:|---:|",
    ]
    n_def = n_gui = 0
    fp = tot = 0
    for r in results:
        d0, h, g = r["default"][0], r["hand"], r["guided"]
        ks = "/".join(str(d["k"]) for d in r["default"])
        dge = _ge(d0["spread"], h["spread"])
        gge = None if g is None else _ge(g["spread"], g["hand_spread_same_customers"])
        n_def += bool(dge)
        n_gui += bool(gge)
        f = r["fp"]
        fp += f["false_positives"]
        tot += f["permutations"]
        gs = "n/a" if g is None else _f(g["spread"])
        md.append(
            f"| {r['table']} | {r['n']:,} | {r['outcome']} | {ks} | "
            f"{_f(d0['spread'])} | {_f(h['spread'])} | {gs} | {YES_NO[dge]} | "
            f"{YES_NO[gge]} | {d0['n_distinct']} of {d0['k']} | "
            f"{f['false_positives']}/{f['permutations']} "
            f"({100 * f['false_positives'] / f['permutations']:.1f}%) |"
        )
    upper = stats.beta.ppf(0.975, fp + 1, tot - fp) if tot > fp else 1.0
    n = len(results)
    gtxt = f"{n_gui} of {n}" if has_guide() else "n/a"
    md += [
        "",
        f"default >= hand on {n_def} of {n}; guided >= hand on {gtxt}.",
        "",
        f"Pooled false-positive rate: {fp}/{tot} = {100 * fp / max(tot, 1):.1f}% "
        f"(95% upper {100 * upper:.1f}%; target <= {100 * FP_TARGET:.0f}%).",
    ]
    return md


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tables", default=",".join(ORDER))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--permutations", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="1 seed, 10 permutations")
    ap.add_argument("--name", default=None, help="output file stem")
    ap.add_argument(
        "--fp-only",
        action="store_true",
        help="only the shuffled-outcome false positives (one fit per table)",
    )
    args = ap.parse_args()
    if args.quick:
        args.seeds = args.seeds.split(",")[0]
        args.permutations = min(args.permutations, 10)
    seeds = [int(s) for s in args.seeds.split(",")]
    name = args.name or (
        "real_fp" if args.fp_only else "real_quick" if args.quick else "real"
    )
    prov = provenance()
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for tname in args.tables.split(","):
        t = load(tname, args.data)
        if t is None:
            continue
        print(f"{tname}: {t.table.height:,} customers", flush=True)
        try:
            if args.fp_only:
                results.append(run_fp_only(tname, t, args.permutations))
            else:
                results.append(run_table(tname, t, seeds, args.permutations))
        # the API moves under us while this runs: keep the other tables
        except Exception as e:
            failed[tname] = f"{type(e).__name__}: {e}"[:300]
            print(f"  {tname} failed: {failed[tname]}", flush=True)
        # written after every table, so a long run leaves its finished tables
        write(name, results, failed, prov, args, seeds, time.perf_counter() - t0)


def write(
    name: str,
    results: list[dict[str, Any]],
    failed: dict[str, str],
    prov: dict[str, str],
    args: argparse.Namespace,
    seeds: list[int],
    total: float,
) -> None:
    md = render_fp(results, prov) if args.fp_only else render(results, prov, args)
    md += [f"- {k} failed: {v}" for k, v in failed.items()]
    md += ["", f"guide parameter present: {has_guide()}. Total {total:.0f} s."]
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(
        json.dumps(
            {
                "provenance": prov,
                "args": {
                    "tables": args.tables,
                    "seeds": seeds,
                    "permutations": args.permutations,
                    "data": str(args.data),
                },
                "guide_parameter": has_guide(),
                "results": results,
                "failed": failed,
                "total_seconds": total,
            },
            indent=2,
            default=str,
        )
    )
    (OUT / f"{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md), flush=True)


if __name__ == "__main__":
    main()
