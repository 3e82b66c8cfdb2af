"""What a results table says: leaderboards, the published yardstick, Markdown.

The leaderboard ranks strategies on each dataset (mean over seeds first; rank 1 is
the best; ties share their mean rank) and averages the ranks, then tests whether
the strategies differ at all (Friedman) and which differences are larger than
chance would make them (Nemenyi's critical difference at 5%, Demšar 2006).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

#: Metrics a leaderboard can rank on, and whether larger is better.
RANKED: dict[str, bool] = {
    "ari": True,
    "nca": True,
    "ami": True,
    "n_distinct": True,
    "outcome_separation": True,
    "stability": True,
    "fidelity": True,
    "driver_precision": True,
    "fit_seconds": False,
}
#: Targets of the reproduction: largest |ours - published| per dataset for Ward
#: and BIRCH (deterministic), difference of medians for k-means and GMM.
REPRODUCTION_TARGETS: dict[str, tuple[str, float]] = {
    "fastcluster_ward": ("every dataset", 0.01),
    "sklearn_birch_T0.01_BF50": ("every dataset", 0.01),
    "sklearn_kmeans": ("median", 0.03),
    "sklearn_gm": ("median", 0.03),
}


_TARGET_TEXT = {
    "every dataset": "largest abs. difference",
    "median": "abs. median difference",
}


def add_published(results: pl.DataFrame, published: pl.DataFrame) -> pl.DataFrame:
    """Add the published scores beside ours.

    ``published_ari`` and ``published_nca``: the score of the strategy's
    ``reference`` method on the dataset; ``best_published_ari`` and
    ``best_published_method``: the best published method on that dataset (every
    published method was given the reference k).
    """
    ref = published.select(
        pl.col("dataset"),
        pl.col("method").alias("reference"),
        pl.col("ari").alias("published_ari"),
        pl.col("nca").alias("published_nca"),
    )
    best = (
        published.sort(["dataset", "ari", "method"], descending=[False, True, False])
        .group_by("dataset", maintain_order=True)
        .first()
        .select(
            "dataset",
            pl.col("ari").alias("best_published_ari"),
            pl.col("method").alias("best_published_method"),
        )
    )
    return results.join(ref, on=["dataset", "reference"], how="left").join(
        best, on="dataset", how="left"
    )


def leaderboard(
    results: pl.DataFrame, metric: str = "ari", min_coverage: float = 1.0
) -> dict[str, Any]:
    """Mean rank per strategy on ``metric``, with Friedman and Nemenyi.

    Strategies scored on fewer than ``min_coverage`` of the datasets that have the
    metric (e.g. a guided strategy on data without outcomes) are left out of the
    ranking (``left_out``); the ranks use the datasets where every ranked strategy
    has a score.

    Returns
    -------
    dict
        ``table`` (strategy, mean_rank, mean, median, datasets), ``n_datasets``,
        ``friedman`` (statistic, p) or None, ``cd`` (critical difference) or None,
        ``left_out``.

    Examples
    --------
    >>> import polars as pl
    >>> r = pl.DataFrame({"dataset": ["a", "a", "b", "b", "c", "c"],
    ...                   "strategy": ["x", "y"] * 3, "status": ["ok"] * 6,
    ...                   "ari": [0.9, 0.5, 0.8, 0.7, 0.4, 0.6]})
    >>> lb = leaderboard(r)
    >>> lb["table"].select("strategy", "mean_rank").rows()
    [('x', 1.3333333333333333), ('y', 1.6666666666666667)]
    """
    higher = RANKED.get(metric, True)
    ok = results.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null())
    means = ok.group_by("dataset", "strategy").agg(pl.col(metric).mean())
    empty = {"table": None, "n_datasets": 0, "friedman": None, "cd": None}
    if means.height == 0:
        return {**empty, "left_out": []}
    n_sets = means["dataset"].n_unique()
    cover = means.group_by("strategy").len()
    keep = cover.filter(pl.col("len") >= min_coverage * n_sets)["strategy"].to_list()
    order = [s for s in results["strategy"].unique(maintain_order=True) if s in keep]
    left_out = sorted(set(cover["strategy"]) - set(keep))
    wide = (
        means.filter(pl.col("strategy").is_in(order))
        .pivot(on="strategy", index="dataset", values=metric)
        .drop_nulls()
        .sort("dataset")
    )
    if wide.height == 0 or not order:
        return {**empty, "left_out": left_out}
    M = wide.select(order).to_numpy().astype(float)
    ranks = _ranks(-M if higher else M)
    table = pl.DataFrame(
        {
            "strategy": order,
            "mean_rank": ranks.mean(axis=0),
            "mean": M.mean(axis=0),
            "median": np.median(M, axis=0),
            "datasets": [wide.height] * len(order),
        }
    ).sort("mean_rank", "strategy")
    out: dict[str, Any] = {
        "table": table,
        "n_datasets": wide.height,
        "friedman": None,
        "cd": None,
        "left_out": left_out,
    }
    k, n = len(order), wide.height
    if k >= 3 and n >= 2 and np.ptp(M, axis=1).any():
        from scipy.stats import friedmanchisquare, studentized_range

        stat, p = friedmanchisquare(*M.T)
        out["friedman"] = (float(stat), float(p))
        q = studentized_range.ppf(0.95, k, np.inf) / math.sqrt(2)
        out["cd"] = float(q * math.sqrt(k * (k + 1) / (6 * n)))
    return out


def _ranks(M: np.ndarray) -> np.ndarray:
    """Ranks along each row, 1 for the smallest, ties sharing their mean rank."""
    from scipy.stats import rankdata

    return np.vstack([rankdata(row, method="average") for row in M])


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def leaderboard_markdown(lb: dict[str, Any], metric: str, title: str) -> list[str]:
    """Lines of one leaderboard section."""
    lines = [f"### {title}", ""]
    if lb["table"] is None:
        return [*lines, f"No strategy has a {metric} here.", ""]
    best = float(lb["table"]["mean_rank"][0])
    cd = lb["cd"]
    lines += [
        f"{lb['n_datasets']} datasets; rank 1 is the best {metric}.",
        "",
        f"| strategy | mean rank | mean {metric} | median {metric} "
        "| within CD of the best |",
        "|---|---:|---:|---:|:---:|",
    ]
    for r in lb["table"].iter_rows(named=True):
        near = "" if cd is None else ("yes" if r["mean_rank"] - best <= cd else "no")
        lines.append(
            f"| {r['strategy']} | {r['mean_rank']:.2f} | {_f(r['mean'])} "
            f"| {_f(r['median'])} | {near} |"
        )
    lines.append("")
    if lb["friedman"] is not None:
        stat, p = lb["friedman"]
        lines.append(
            f"Friedman chi-squared {stat:.2f}, p = {p:.2g}; Nemenyi critical "
            f"difference at 5%: {cd:.2f} ranks (strategies within it of the best "
            "are not shown to be worse)."
        )
    else:
        lines.append("Too few strategies or datasets (or all tied) for a test.")
    if lb["left_out"]:
        lines.append(
            f"Not ranked (not scored on every one of these datasets): "
            f"{', '.join(lb['left_out'])}."
        )
    return [*lines, ""]


def summary_table(results: pl.DataFrame) -> list[str]:
    """Per strategy: mean of every metric over its rows, errors, not applicable."""
    cols = [
        "ari",
        "nca",
        "ami",
        "stability",
        "n_distinct",
        "outcome_separation",
        "fidelity",
        "driver_precision",
        "fit_seconds",
        "peak_memory_mb",
    ]
    lines = [
        "| strategy | runs | ok | errors | n/a | "
        + " | ".join(c.replace("_", " ") for c in cols)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(cols),
    ]
    for s in results["strategy"].unique(maintain_order=True):
        part = results.filter(pl.col("strategy") == s)
        ok = part.filter(pl.col("status") == "ok")
        vals = []
        for c in cols:
            v = ok[c].drop_nulls()
            vals.append(
                _f(
                    float(np.mean(v.to_numpy())),
                    1 if c.startswith(("fit", "peak")) else 3,
                )
                if v.len()
                else ""
            )
        lines.append(
            f"| {s} | {part.height} | {ok.height} "
            f"| {(part['status'] == 'error').sum()} "
            f"| {(part['status'] == 'not applicable').sum()} | "
            + " | ".join(vals)
            + " |"
        )
    return lines


def reproduction(results: pl.DataFrame) -> pl.DataFrame:
    """Per strategy with a published reference: ours against the published score."""
    rows = []
    if "published_ari" not in results.columns:
        return pl.DataFrame()
    part = results.filter(
        (pl.col("status") == "ok")
        & pl.col("reference").is_not_null()
        & pl.col("published_ari").is_not_null()
        & pl.col("ari").is_not_null()
    )
    per = part.group_by("strategy", "reference", "dataset", maintain_order=True).agg(
        pl.col("ari").mean(), pl.col("published_ari").first()
    )
    failed = results.filter(
        (pl.col("status") == "error")
        & pl.col("reference").is_not_null()
        & pl.col("published_ari").is_not_null()
    )
    for (strategy, ref), g in per.group_by(
        "strategy", "reference", maintain_order=True
    ):
        errors = failed.filter(pl.col("strategy") == strategy)["dataset"].n_unique()
        ours, pub = g["ari"].to_list(), g["published_ari"].to_list()
        d = [a - b for a, b in zip(ours, pub, strict=True)]
        rule, tol = REPRODUCTION_TARGETS.get(str(ref), ("median", 0.03))
        dmed = statistics.median(ours) - statistics.median(pub)
        worst = max(abs(x) for x in d)
        passed = (worst if rule == "every dataset" else abs(dmed)) <= tol
        rows.append(
            {
                "strategy": strategy,
                "published": ref,
                "datasets": len(d),
                "errors": errors,
                "ours_mean": statistics.mean(ours),
                "ours_median": statistics.median(ours),
                "published_mean": statistics.mean(pub),
                "published_median": statistics.median(pub),
                "median_difference": dmed,
                "max_abs_difference": worst,
                "within_0.01": sum(abs(x) <= 0.01 for x in d),
                "within_0.05": sum(abs(x) <= 0.05 for x in d),
                "target": f"{_TARGET_TEXT[rule]} <= {tol}",
                "met": passed,
            }
        )
    return pl.DataFrame(rows)


def reproduction_markdown(rep: pl.DataFrame, results: pl.DataFrame) -> list[str]:
    """Write the reproduction table, and the largest differences per method."""
    if rep.height == 0:
        return ["No strategy with a published reference ran on a scored dataset.", ""]
    lines = [
        "| ours | published | datasets (errors) | our ARI mean / median "
        "| published mean / median | median difference | largest abs. difference "
        "| within 0.01 | within 0.05 | target | met |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---|:---:|",
    ]
    for r in rep.iter_rows(named=True):
        lines.append(
            f"| {r['strategy']} | {r['published']} | {r['datasets']}"
            + (f" ({r['errors']})" if r["errors"] else "")
            + " "
            f"| {r['ours_mean']:.3f} / {r['ours_median']:.3f} "
            f"| {r['published_mean']:.3f} / {r['published_median']:.3f} "
            f"| {r['median_difference']:+.4f} | {r['max_abs_difference']:.4f} "
            f"| {r['within_0.01']} | {r['within_0.05']} | {r['target']} "
            f"| {'yes' if r['met'] else 'no'} |"
        )
    worst = (
        results.filter(
            pl.col("published_ari").is_not_null() & (pl.col("status") == "ok")
        )
        .with_columns((pl.col("ari") - pl.col("published_ari")).alias("d"))
        .sort(pl.col("d").abs(), descending=True)
        .group_by("strategy", maintain_order=True)
        .head(3)
    )
    lines += [
        "",
        "Largest differences (three per method):",
        "",
        "| ours | dataset | n | our ARI | published ARI | difference |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in worst.iter_rows(named=True):
        lines.append(
            f"| {r['strategy']} | {r['dataset']} | {r['n']:,} | {r['ari']:.4f} "
            f"| {r['published_ari']:.4f} | {r['d']:+.4f} |"
        )
    return [*lines, ""]


def where_we_stand(results: pl.DataFrame) -> list[str]:
    """Our strategies against the best published fixed method, on the battery."""
    if "best_published_ari" not in results.columns:
        return []
    ours = results.filter(
        pl.col("reference").is_null()
        & pl.col("best_published_ari").is_not_null()
        & (pl.col("status") == "ok")
    )
    if ours.height == 0:
        return []
    per = ours.group_by("strategy", "dataset", maintain_order=True).agg(
        pl.col("ari").mean(), pl.col("best_published_ari").first()
    )
    sets = per["dataset"].unique().to_list()
    lines = _stand_lines(per, sets)
    battery = results.filter(
        pl.col("reference").is_null() & pl.col("dataset").is_in(sets)
    )
    idle = [
        (str(s[0]), str(g["error"].drop_nulls().first() or ""))
        for s, g in battery.group_by("strategy", maintain_order=True)
        if (g["status"] == "not applicable").all()
    ]
    notes = [f"`{name}` did not run on the battery: {why}." for name, why in idle]
    return [*lines, *notes, ""] if notes else lines


def _stand_lines(per: pl.DataFrame, sets: list[str]) -> list[str]:
    from segdiscover.bench._clustbench import published_scores

    pub = published_scores()
    best_method, best_median = None, None
    if pub is not None:
        meds = (
            pub.filter(pl.col("dataset").is_in(sets))
            .group_by("method")
            .agg(pl.col("ari").median().alias("m"), pl.len().alias("n"))
            .filter(pl.col("n") == len(sets))
            .sort(["m", "method"], descending=[True, False])
        )
        if meds.height:
            best_method, best_median = meds["method"][0], float(meds["m"][0])
    lines = [
        f"On the {len(sets)} datasets of the battery that ran. The best fixed "
        "published method (every one was given the reference k) is "
        + (
            f"`{best_method}`, median ARI {best_median:.3f}."
            if best_method
            else "unknown (scores absent)."
        ),
        "",
        "| strategy | datasets | median ARI | mean ARI | median gap to the best "
        "published method on each dataset | datasets at or above it (-0.01) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s, g in per.group_by("strategy", maintain_order=True):
        gap = (g["ari"] - g["best_published_ari"]).to_list()
        name = str(s[0])
        ari = g["ari"].to_numpy()
        lines.append(
            f"| {name} | {g.height} | {np.median(ari):.3f} | {np.mean(ari):.3f} "
            f"| {statistics.median(gap):+.3f} | {sum(x >= -0.01 for x in gap)} |"
        )
    return [*lines, ""]


def markdown_report(
    results: pl.DataFrame, *, title: str = "Benchmark", notes: Sequence[str] = ()
) -> str:
    """Write the Markdown report: leaderboards, summary, published yardstick."""
    version = results["code_version"].drop_nulls()
    lines = [
        f"# {title}",
        "",
        f"{results['dataset'].n_unique()} datasets, "
        f"{results['strategy'].n_unique()} strategies, seeds "
        f"{sorted(results['seed'].unique().to_list())}; segdiscover "
        f"{version[0] if version.len() else '?'}.",
        "",
        *[f"- {n}" for n in notes],
        "",
        "## Leaderboards",
        "",
    ]
    ranked = results.filter(pl.col("reference").is_null())
    for suite in ranked["suite"].unique(maintain_order=True):
        part = ranked.filter(pl.col("suite") == suite)
        for metric, what in (
            ("ari", "agreement with the reference partition (ARI)"),
            ("n_distinct", "materially distinct segments (outcomes)"),
        ):
            lb = leaderboard(part, metric)
            if lb["table"] is not None:
                lines += leaderboard_markdown(lb, metric, f"{suite}: {what}")
    lines += ["## Every strategy, mean over its runs", "", *summary_table(results), ""]
    errors = results.filter(pl.col("status") == "error")
    if errors.height:
        lines += [
            "## Errors",
            "",
            "| dataset | strategy | seed | error |",
            "|---|---|---:|---|",
        ]
        for r in errors.head(50).iter_rows(named=True):
            msg = str(r["error"]).replace("|", "/").replace("\n", " ")[:200]
            lines.append(f"| {r['dataset']} | {r['strategy']} | {r['seed']} | {msg} |")
        lines.append("")
    if "published_ari" in results.columns:
        lines += [
            "## Reproduction of the published scores",
            "",
            *reproduction_markdown(reproduction(results), results),
            "## Where we stand",
            "",
            *where_we_stand(results),
        ]
    return "\n".join(lines).rstrip() + "\n"
