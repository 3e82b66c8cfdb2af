"""Words for outcome differences: verdict sentences and operational answers.

Every number in a sentence is formatted from the row it describes, so a verdict
always matches ``Segmenter.outcomes_``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from segdiscover.explain.drivers import cliffs_delta

#: Operational questions segment owners ask, and the column-name fragments that
#: answer them (outcome columns first, then features; first match wins).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "onboarding": ("onboard", "time_to_value", "ttv", "activation", "tenure"),
    "support volume": ("ticket", "support", "contact"),
    "churn": ("churn", "retention", "cancel", "attrition", "recency"),
    "channel": ("channel", "share_web", "share_mobile", "share_phone"),
    "cost-to-serve": ("cost_to_serve", "cost", "resolution"),
    "willingness to pay": ("margin", "price", "wtp", "discount", "basket", "revenue"),
}


def _num(x: float, signed: bool = False) -> str:  # noqa: FBT001
    s = "+" if signed else ""
    if not math.isfinite(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:{s},.0f}"
    if abs(x) >= 1:
        return f"{x:{s}.2f}"
    return f"{x:{s}.3g}"


def outcome_label(col: str) -> str:
    """Return a readable label: ``next_margin_90d`` -> ``Next margin 90d``.

    >>> outcome_label("churned"), outcome_label("Churn=Yes")
    ('Churned', 'Churn=Yes')
    """
    s = col.replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def verdict_sentence(r: Mapping[str, Any], *, level: float = 0.95) -> str:
    """One sentence for a segment-vs-rest row; every number comes from ``r``.

    Examples
    --------
    >>> verdict_sentence({"outcome": "churned", "kind": "rate", "value": 0.31,
    ...     "rest_value": 0.12, "difference": 0.19, "ci_low": 0.16, "ci_high": 0.22,
    ...     "material": True, "significant": True, "threshold": 0.03})
    'Churned 31.0% vs 12.0% for the rest (+19.0 pp, 95% CI +16.0 to +22.0 pp): \
materially higher.'
    """
    word = "higher" if r["difference"] > 0 else "lower"
    if r["kind"] == "rate":
        head = (
            f"{outcome_label(r['outcome'])} {100 * r['value']:.1f}% vs "
            f"{100 * r['rest_value']:.1f}% for the rest "
            f"({100 * r['difference']:+.1f} pp, {level:.0%} CI "
            f"{100 * r['ci_low']:+.1f} to {100 * r['ci_high']:+.1f} pp)"
        )
        thr = f"{100 * r['threshold']:.1f} pp"
    else:
        head = (
            f"{outcome_label(r['outcome'])} {_num(r['value'])} vs "
            f"{_num(r['rest_value'])} for the rest ({_num(r['difference'], True)}, "
            f"{level:.0%} CI {_num(r['ci_low'], True)} to {_num(r['ci_high'], True)})"
        )
        thr = _num(r["threshold"])
    if r["material"]:
        tail = f"materially {word}"
    elif r["significant"]:
        tail = f"{word}, but not clearly by the {thr} that matters"
    else:
        tail = "no clear difference"
    return f"{head}: {tail}."


def _answers(
    vs_rest: pl.DataFrame,
    features: pl.DataFrame | None,
    members: list[np.ndarray],
    segs: list[int],
    labels: Mapping[str, str],
) -> pl.DataFrame:
    outcome_cols = vs_rest.get_column("outcome").unique(maintain_order=True).to_list()
    feat_cols = features.columns if features is not None else []
    rows = []
    for question, patterns in QUESTIONS.items():
        col, source = None, None
        for pool, src in ((outcome_cols, "outcome"), (feat_cols, "feature")):
            col = next((c for p in patterns for c in pool if p in c.lower()), None)
            if col is not None:
                source = src
                break
        if col is None:
            continue
        for g, s in enumerate(segs):
            if source == "outcome":
                text = vs_rest.filter(
                    (pl.col("segment_id") == s) & (pl.col("outcome") == col)
                )["verdict"][0]
            else:
                assert features is not None
                rest = np.concatenate([m for i, m in enumerate(members) if i != g])
                text = _feature_answer(
                    features.get_column(col), members[g], rest, labels.get(col, col)
                )
            rows.append(
                {
                    "segment_id": s,
                    "question": question,
                    "source": source,
                    "column": col,
                    "answer": text,
                }
            )
    schema = dict.fromkeys(("question", "source", "column", "answer"), pl.String)
    return pl.DataFrame(rows, schema={"segment_id": pl.Int64, **schema})


def _feature_answer(x: pl.Series, seg: np.ndarray, rest: np.ndarray, label: str) -> str:
    if x.dtype.is_numeric() or x.dtype == pl.Boolean:
        v = x.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        a, b = np.nanmedian(v[seg]), np.nanmedian(v[rest])
        d = cliffs_delta(v[seg], v[rest])
        return (
            f"{outcome_label(label)}: median {_num(float(a))} vs {_num(float(b))} for "
            f"the rest (Cliff's delta {d:+.2f})."
        )
    s = x.cast(pl.String).fill_null("(missing)").to_numpy()
    levels, counts = np.unique(s[seg], return_counts=True)
    top = levels[np.argmax(counts)]
    return (
        f"{outcome_label(label)}: {(s[seg] == top).mean():.0%} {top} vs "
        f"{(s[rest] == top).mean():.0%} for the rest."
    )
