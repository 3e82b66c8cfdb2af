"""Differences that matter: segments compared on business outcomes.

For every outcome (a rate such as churn, a count such as tickets, or a continuous
amount such as margin) and every segment, :func:`compare_segments` measures

* the segment's mean against the mean of the *rest* (customers of every other
  segment), and against every other segment, with a percentile bootstrap confidence
  interval. The bootstrap gives each customer a Poisson(1) weight per replicate, so
  one set of ``n_bootstrap`` replicates serves every segment, pair and outcome at the
  cost of one matrix product, and is deterministic under ``random_state``;
* an effect size: Cohen's h for rates, Cohen's d (pooled SD) for counts and amounts;
* a p-value from Welch's t-test of a zero mean difference (for rates this is the
  unpooled two-proportion z-test), adjusted with Benjamini-Hochberg across *all*
  comparisons of the run (every segment vs the rest and every pair, every outcome);
* an omnibus test per outcome across segments (chi-square for rates, Kruskal-Wallis
  otherwise) and the share of the outcome's variance the segments explain (eta²).

A difference is **material** when it is significant after the adjustment *and* its
confidence interval lies entirely beyond the smallest difference that matters, in the
direction of the difference. Defaults: 3 percentage points for rates, 10% of the
overall mean for counts and amounts (10% of the standard deviation when the mean is
0). Users set their own per outcome with :func:`parse_threshold` syntax: a number in
the outcome's units (``0.03`` for a rate is 3 pp), ``"3pp"``, or ``"10%"`` (of the
overall mean).

Two segments are **candidates to merge** when they differ materially on no outcome
and on no key feature (no feature reaches a medium effect between them: Cliff's
``|delta| >= 0.33`` or Cohen's ``|h| >= 0.5``, the thresholds segment names use). The
number of **operationally distinct** segments counts through outcomes only: the
segments that differ materially from the rest of the customers on at least one
outcome. Segments that differ in behaviour but on no outcome are therefore *not*
operationally distinct: the mission's test is that a segment changes something the
business measures. Without outcomes nothing is counted and the report says that no
outcome was checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from sklearn.utils import check_random_state

from segdiscover._json import sig
from segdiscover._params import Interval, validate_params
from segdiscover.exceptions import InputError, InvalidParameterError
from segdiscover.explain.drivers import (
    CLIFF_THRESHOLD,
    COHEN_H_THRESHOLD,
    cliffs_delta,
    cohens_h,
)
from segdiscover.outcomes._leakage import check_outcome_leakage
from segdiscover.outcomes._text import (
    QUESTIONS,
    _answers,
    _num,
    outcome_label,
    verdict_sentence,
)

__all__ = [
    "QUESTIONS",
    "OutcomeComparison",
    "Threshold",
    "check_outcome_leakage",
    "compare_segments",
    "materiality_thresholds",
    "outcome_label",
    "parse_threshold",
    "verdict_sentence",
]

DEFAULT_RATE_THRESHOLD = 0.03  # 3 percentage points
DEFAULT_RELATIVE_THRESHOLD = 0.10  # 10% of the overall mean
FEATURE_ROWS_PER_SEGMENT = 5000  # Cliff's delta on a sample: ranks cost O(n log n)


# ----------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Threshold:
    """The smallest difference that matters for one outcome.

    ``value`` is in the outcome's units, or a fraction of its overall mean when
    ``relative`` is true.
    """

    value: float
    relative: bool = False

    def absolute(self, mean: float, sd: float) -> float:
        """Return the threshold in outcome units (relative: of |mean|, else of SD)."""
        if not self.relative:
            return self.value
        base = abs(mean) if mean != 0 else sd
        return self.value * base

    def describe(self, kind: str) -> str:
        """Return how the threshold was set, e.g. ``3.0 pp`` or ``10% of the mean``."""
        if self.relative:
            return f"{self.value:.0%} of the overall mean"
        return f"{100 * self.value:.1f} pp" if kind == "rate" else _num(self.value)


def parse_threshold(spec: float | str) -> Threshold:
    """Read a threshold: a number in outcome units, ``"3pp"`` or ``"10%"``.

    Examples
    --------
    >>> parse_threshold("10%"), parse_threshold("3pp"), parse_threshold(25)
    (Threshold(value=0.1, relative=True), Threshold(value=0.03, relative=False), \
Threshold(value=25.0, relative=False))
    """
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if math.isfinite(spec) and spec >= 0:
            return Threshold(float(spec))
    elif isinstance(spec, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%|pp)\s*", spec.lower())
        if m:
            return Threshold(float(m.group(1)) / 100, relative=m.group(2) == "%")
    msg = (
        f"A minimum difference must be a non-negative number in the outcome's units, "
        f"'3pp' (percentage points) or '10%' (of the overall mean); got {spec!r}."
    )
    raise InvalidParameterError(msg)


def _valid_min_difference(d: Any) -> bool:
    """Predicate for the ``min_difference`` parameter (used by ``_params``)."""
    if not isinstance(d, Mapping):
        return False
    for k, v in d.items():
        if not isinstance(k, str):
            return False
        parse_threshold(v)
    return True


# ------------------------------------------------------------------ statistics
def _kind(v: np.ndarray) -> str:
    if np.isin(v, (0.0, 1.0)).all():
        return "rate"
    if (v >= 0).all() and (v == np.round(v)).all():
        return "count"
    return "continuous"


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN counts as 1).

    >>> _bh(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.where(np.isfinite(p), p, 1.0)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def _welch_p(
    d: np.ndarray, v1: np.ndarray, n1: np.ndarray, v2: np.ndarray, n2: np.ndarray
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v1 / n1, v2 / n2
        se2 = a + b
        df = se2**2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
        p = 2 * stats.t.sf(np.abs(d) / np.sqrt(se2), np.where(df > 0, df, 1.0))
    p = np.where(se2 == 0, np.where(d == 0, 1.0, 0.0), p)  # constant groups
    return np.where((n1 < 2) | (n2 < 2), np.nan, p)


def _effect(
    kind: str,
    m1: np.ndarray,
    v1: np.ndarray,
    n1: np.ndarray,
    m2: np.ndarray,
    v2: np.ndarray,
    n2: np.ndarray,
) -> np.ndarray:
    if kind == "rate":
        c1, c2 = np.clip(m1, 0, 1), np.clip(m2, 0, 1)
        return 2 * np.arcsin(np.sqrt(c1)) - 2 * np.arcsin(np.sqrt(c2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
        return np.where(pooled > 0, (m1 - m2) / pooled, 0.0)


def _bootstrap(
    y: np.ndarray, labels: np.ndarray, k: int, n_boot: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-bootstrap sums and counts, shape (n_boot, k, n_outcomes)."""
    ok = np.isfinite(y)
    yz = np.where(ok, y, 0.0)
    S = np.zeros((n_boot, k, y.shape[1]))
    N = np.zeros_like(S)
    chunk = max(1, 2_000_000 // n_boot)  # bound the weight matrix to ~16 MB
    for g in range(k):
        idx = np.flatnonzero(labels == g)
        for s in range(0, idx.size, chunk):
            rows = idx[s : s + chunk]
            W = rng.poisson(1.0, size=(n_boot, rows.size)).astype(float)
            S[:, g] += W @ yz[rows]
            N[:, g] += W @ ok[rows]
    return S, N


def _omnibus(kind: str, y: np.ndarray, labels: np.ndarray, k: int) -> dict[str, Any]:
    groups = [y[labels == g] for g in range(k)]
    groups = [g[np.isfinite(g)] for g in groups]
    allv = np.concatenate(groups)
    sst = float(((allv - allv.mean()) ** 2).sum())
    ssb = float(sum(g.size * (g.mean() - allv.mean()) ** 2 for g in groups if g.size))
    stat, p, test = float("nan"), float("nan"), "chi2" if kind == "rate" else "kruskal"
    used = [g for g in groups if g.size]
    try:
        if kind == "rate":
            table = np.array([[(g == 1).sum(), (g == 0).sum()] for g in used])
            table = table[:, table.sum(0) > 0]
            if table.shape[1] == 2 and len(used) > 1:
                stat, p = stats.chi2_contingency(table, correction=False)[:2]
        elif len(used) > 1:
            stat, p = stats.kruskal(*used)
    except ValueError:  # all values identical: no evidence of any difference
        stat, p = 0.0, 1.0
    if not np.isfinite(p):
        stat, p = 0.0, 1.0
    return {
        "test": test,
        "statistic": float(stat),
        "p_value": float(p),
        "eta_squared": ssb / sst if sst > 0 else 0.0,
    }


def _sig(x: float) -> float:
    # Table floats keep NaN (polars tells NaN from null); see segdiscover._json.sig.
    out: float = sig(x, keep_nonfinite=True)
    return out


# ------------------------------------------------------------------ the result
@dataclass
class OutcomeComparison:
    """Outcome differences between segments; computed once, rendered many ways.

    Attributes
    ----------
    vs_rest : polars.DataFrame
        One row per segment and outcome: ``segment_id``, ``outcome``, ``kind``,
        ``n``, ``value``, ``rest_value``, ``overall``, ``difference``,
        ``relative_difference``, ``ci_low``, ``ci_high``, ``effect_size``,
        ``effect_measure``, ``p_value``, ``p_adjusted``, ``threshold``,
        ``significant``, ``material``, ``verdict``.
    pairs : polars.DataFrame
        One row per pair of segments (``segment_a < segment_b``) and outcome, with
        the same statistics (``value_a``, ``value_b``, difference a - b).
    omnibus : polars.DataFrame
        One row per outcome: ``test`` (chi2 or kruskal), ``statistic``, ``p_value``,
        ``eta_squared`` (share of variance the segments explain).
    merge_candidates : polars.DataFrame
        Pairs material on no outcome and no key feature, with the feature on which
        they differ most and its effect size.
    answers : polars.DataFrame
        Operational questions (:data:`QUESTIONS`) answered per segment from the
        outcome or feature column that maps to each.
    groups : list of list of int
        Segments left once merge candidates are merged (outcomes and key features).
        :attr:`distinct_groups` joins on outcomes alone and gives
        :attr:`n_distinct`.
    thresholds : dict
        Outcome -> ``kind``, ``threshold`` (outcome units) and ``set_as``.
    validated_on : str or None
        Which customers the comparison used when not all of them, e.g. "900
        held-out customers whose outcomes built nothing" (guided segments).
    """

    vs_rest: pl.DataFrame
    pairs: pl.DataFrame
    omnibus: pl.DataFrame
    merge_candidates: pl.DataFrame
    answers: pl.DataFrame
    groups: list[list[int]]
    thresholds: dict[str, dict[str, Any]]
    n_bootstrap: int
    alpha: float
    segments: list[int] = field(default_factory=list)
    validated_on: str | None = None

    @property
    def distinct_groups(self) -> list[list[int]]:
        """Segments joined when a pair differs materially on no outcome.

        Connected components over such pairs; features play no part, so segments
        that differ in behaviour but not in any outcome share a group.
        """
        same = (
            self.pairs.group_by("segment_a", "segment_b")
            .agg(pl.col("material").any())
            .filter(~pl.col("material"))
            .sort("segment_a", "segment_b")
        )
        return _components(
            self.segments, list(same.select("segment_a", "segment_b").iter_rows())
        )

    @property
    def n_distinct(self) -> int:
        """Number of operationally distinct segments.

        A segment counts only through an outcome: it differs materially from the
        rest of the customers on at least one outcome. (Joining segments that differ
        on no outcome pairwise, :attr:`distinct_groups`, undercounts tiers of a
        gradient: neighbouring tiers chain every segment into one group.) Pairs
        that differ on nothing are listed as merge candidates.
        """
        return int(
            self.vs_rest.group_by("segment_id")
            .agg(pl.col("material").any())["material"]
            .sum()
        )

    def to_polars(self) -> pl.DataFrame:
        """Return the segment-vs-rest table (what ``Segmenter.outcomes_`` holds)."""
        return self.vs_rest

    def renumber(self, mapping: Mapping[int, int]) -> OutcomeComparison:
        """Return a copy with segment ids mapped (``Segmenter.renumber``).

        A pair whose new ids come in the other order has its direction flipped
        (values swapped, difference and interval negated), keeping ``a < b``.
        """
        m = {int(k): int(v) for k, v in mapping.items()}

        def ids(col: str) -> pl.Expr:
            return pl.col(col).replace_strict(m, default=pl.col(col))

        pairs = self.pairs.with_columns(ids("segment_a"), ids("segment_b"))
        flip = pl.col("segment_a") > pl.col("segment_b")

        def swap(a: str, b: str) -> list[pl.Expr]:
            return [
                pl.when(flip).then(pl.col(b)).otherwise(pl.col(a)).alias(a),
                pl.when(flip).then(pl.col(a)).otherwise(pl.col(b)).alias(b),
            ]

        pairs = pairs.with_columns(
            *swap("segment_a", "segment_b"),
            *swap("value_a", "value_b"),
            pl.when(flip)
            .then(-pl.col("ci_high"))
            .otherwise(pl.col("ci_low"))
            .alias("ci_low"),
            pl.when(flip)
            .then(-pl.col("ci_low"))
            .otherwise(pl.col("ci_high"))
            .alias("ci_high"),
            *[
                pl.when(flip).then(-pl.col(c)).otherwise(pl.col(c)).alias(c)
                for c in ("difference", "effect_size")
            ],
        ).sort("segment_a", "segment_b", maintain_order=True)
        merge = self.merge_candidates.with_columns(
            ids("segment_a"), ids("segment_b")
        ).with_columns(
            pl.min_horizontal("segment_a", "segment_b").alias("segment_a"),
            pl.max_horizontal("segment_a", "segment_b").alias("segment_b"),
        )
        return OutcomeComparison(
            vs_rest=self.vs_rest.with_columns(ids("segment_id")).sort(
                "segment_id", maintain_order=True
            ),
            pairs=pairs,
            omnibus=self.omnibus,
            merge_candidates=merge.sort("segment_a", "segment_b"),
            answers=self.answers.with_columns(ids("segment_id")),
            groups=sorted(sorted(m.get(s, s) for s in g) for g in self.groups),
            thresholds=self.thresholds,
            n_bootstrap=self.n_bootstrap,
            alpha=self.alpha,
            segments=sorted(m.get(s, s) for s in self.segments),
            validated_on=self.validated_on,
        )

    def verdicts(self, segment_id: int) -> list[str]:
        """Return one segment's verdict sentences, one per outcome."""
        rows = self.vs_rest.filter(pl.col("segment_id") == segment_id)
        return rows.get_column("verdict").to_list()

    def summary(self) -> str:
        """One sentence: how many segments are operationally distinct, and merges.

        Examples
        --------
        >>> import numpy as np, polars as pl
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat([0, 1, 2], 300)
        >>> churn = rng.random(900) < np.repeat([0.1, 0.1, 0.5], 300)
        >>> res = compare_segments(labels, pl.DataFrame({"churned": churn}),
        ...                        n_bootstrap=200, random_state=0)
        >>> res.summary()
        '3 of 3 segments are operationally distinct (differ materially on churned); \
candidates to merge: 0 & 1.'
        """
        k = len(self.segments)
        names = ", ".join(self.thresholds)
        s = (
            f"{self.n_distinct} of {k} segments are operationally distinct "
            f"(differ materially on {names})"
            if self.n_distinct
            else f"No segment differs materially from the others on {names}: the "
            "segments are not operationally distinct"
        )
        if self.validated_on:
            s += f", measured on {self.validated_on}"
        if self.merge_candidates.height:
            pairs = ", ".join(
                f"{a} & {b}"
                for a, b in self.merge_candidates.select(
                    "segment_a", "segment_b"
                ).iter_rows()
            )
            s += f"; candidates to merge: {pairs}"
        return s + "."

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready, non-finite floats as they are)."""
        return {
            "n_segments": len(self.segments),
            "n_operationally_distinct": self.n_distinct,
            "groups": self.groups,
            "distinct_groups": self.distinct_groups,
            "validated_on": self.validated_on,
            "summary": self.summary(),
            "n_bootstrap": self.n_bootstrap,
            "alpha": self.alpha,
            "thresholds": self.thresholds,
            "merge_candidates": self.merge_candidates.to_dicts(),
            "omnibus": self.omnibus.to_dicts(),
            "pairs": self.pairs.drop("verdict", strict=False).to_dicts(),
            "vs_rest": self.vs_rest.to_dicts(),
            "answers": self.answers.to_dicts(),
        }

    def to_markdown(self) -> str:
        """Render verdicts per segment, the omnibus tests and merge candidates."""
        lines = [self.summary(), ""]
        for s in self.segments:
            lines.append(f"**Segment {s}**")
            lines += [f"- {v}" for v in self.verdicts(s)]
            lines.append("")
        lines += [
            "| outcome | test | statistic | p-value | eta² |",
            "|---|---|---|---|---|",
        ]
        for r in self.omnibus.iter_rows(named=True):
            lines.append(
                f"| {r['outcome']} | {r['test']} | {r['statistic']:.2f} | "
                f"{r['p_value']:.3g} | {r['eta_squared']:.3f} |"
            )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return f"OutcomeComparison({self.summary()})"

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        head = ("segment", "outcome", "value", "rest", "difference", "95% CI",
                "verdict")  # fmt: skip
        rows = "".join(
            f"<tr><td>{r['segment_id']}</td><td>{e(str(r['outcome']))}</td>"
            f"<td>{r['value']:.4g}</td><td>{r['rest_value']:.4g}</td>"
            f"<td>{r['difference']:+.4g}</td>"
            f"<td>{r['ci_low']:+.3g} to {r['ci_high']:+.3g}</td>"
            f"<td>{e(str(r['verdict']))}</td></tr>"
            for r in self.vs_rest.iter_rows(named=True)
        )
        cells = "".join(f"<th>{h}</th>" for h in head)
        return (
            f"<div class='sd-outcomes'><p>{e(self.summary())}</p><table><thead>"
            f"<tr>{cells}</tr></thead><tbody>{rows}</tbody></table></div>"
        )


# ------------------------------------------------------------------ the work
def _outcome_matrix(
    outcomes: pl.DataFrame, ids: Sequence[Any] | pl.Series | None
) -> tuple[list[str], np.ndarray]:
    cols = list(outcomes.columns)
    bad = [
        c for c, t in outcomes.schema.items() if not (t.is_numeric() or t == pl.Boolean)
    ]
    if bad:
        msg = (
            f"Outcome column(s) {bad} are not numeric or boolean; pass rates as 0/1 "
            "or booleans and amounts as numbers."
        )
        raise InputError(msg)
    Y = outcomes.select(pl.col(c).cast(pl.Float64) for c in cols).to_numpy()
    Y = np.array(Y, dtype=float)  # a copy: the caller's data stays untouched
    inf = np.isinf(Y)
    if inf.any():
        j = int(np.flatnonzero(inf.any(0))[0])
        row = int(np.flatnonzero(inf[:, j])[0])
        where = f"customer {ids[row]!r}" if ids is not None else f"row {row}"
        msg = (
            f"Outcome {cols[j]!r} has {int(inf[:, j].sum())} infinite value(s) "
            f"(e.g. {where}); outcomes must be finite numbers or null."
        )
        raise InputError(msg)
    return cols, Y


def _thresholds(
    cols: list[str],
    kinds: list[str],
    Y: np.ndarray,
    min_difference: Mapping[str, float | str] | None,
) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    given = dict(min_difference or {})
    # "Churn" also names the rate column "Churn=Yes" that two-level text becomes.
    base = {c: c.split("=")[0] for c in cols}
    unknown = [k for k in given if k not in cols and k not in base.values()]
    if unknown:
        msg = (
            f"min_difference names {unknown}, which are not outcomes; the outcomes "
            f"are {cols}."
        )
        raise InputError(msg)
    out, info = np.zeros(len(cols)), {}
    for j, (c, kind) in enumerate(zip(cols, kinds, strict=True)):
        spec = given.get(c, given.get(base[c]))
        t = (
            parse_threshold(spec)
            if spec is not None
            else Threshold(DEFAULT_RATE_THRESHOLD)
            if kind == "rate"
            else Threshold(DEFAULT_RELATIVE_THRESHOLD, relative=True)
        )
        if kind == "rate" and not t.relative and t.value >= 1:
            msg = (
                f"min_difference for the rate outcome {c!r} is {t.value:g}, more than "
                f"a rate can move; write {t.value:g} percentage points as "
                f"'{t.value:g}pp' or {t.value / 100:g}."
            )
            raise InputError(msg)
        y = Y[:, j][np.isfinite(Y[:, j])]
        out[j] = t.absolute(float(y.mean()), float(y.std()))
        info[c] = {
            "kind": kind,
            "threshold": _sig(float(out[j])),
            "set_as": t.describe(kind) + ("" if spec is not None else " (default)"),
        }
    return out, info


def materiality_thresholds(
    Y: np.ndarray,
    cols: Sequence[str],
    min_difference: Mapping[str, float | str] | None = None,
) -> np.ndarray:
    """Smallest difference that matters per outcome column, in its units.

    Rates (0/1 values) default to 3 pp, other outcomes to 10% of the mean, as in
    :func:`compare_segments`; ``min_difference`` overrides per outcome.

    Examples
    --------
    >>> Y = np.array([[0.0, 10.0], [1.0, 30.0]])
    >>> materiality_thresholds(Y, ["churned", "margin"]).tolist()
    [0.03, 2.0]
    """
    Y = np.asarray(Y, dtype=float).reshape(len(Y), -1)
    return _thresholds(list(cols), _kinds(cols, Y, "customer"), Y, min_difference)[0]


def _kinds(cols: Sequence[str], Y: np.ndarray, who: str) -> list[str]:
    """Kind of each outcome column (rate, count, continuous); refuse an empty one."""
    kinds = []
    for j, c in enumerate(cols):
        v = Y[:, j][np.isfinite(Y[:, j])]
        if v.size == 0:
            msg = f"Outcome {c!r} has no value for any {who}."
            raise InputError(msg)
        kinds.append(_kind(v))
    return kinds


def _group_stats(Y: np.ndarray, lab: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Mean, variance (ddof 1) and count per segment and for its rest, (k, m)."""
    m = Y.shape[1]
    shape = (k, m)
    mean, var, n = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    rmean, rvar, rn = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape)
    for j in range(m):
        ok = np.isfinite(Y[:, j])
        for g in range(k):
            for mask, (a, b, c) in (
                (ok & (lab == g), (mean, var, n)),
                (ok & (lab != g), (rmean, rvar, rn)),
            ):
                v = Y[mask, j]
                c[g, j] = v.size
                if v.size:
                    a[g, j] = v.mean()
                if v.size > 1:
                    b[g, j] = v.var(ddof=1)
    return mean, var, n, rmean, rvar, rn


def _feature_effect(x: pl.Series, a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    """Signed effect between index sets a and b: Cliff's delta or max Cohen's h."""
    if x.dtype.is_numeric() or x.dtype == pl.Boolean:
        v = x.cast(pl.Float64).fill_null(float("nan")).to_numpy()
        return cliffs_delta(v[a], v[b]), "cliffs_delta"
    s = x.cast(pl.String).fill_null("(missing)").to_numpy()
    best = 0.0
    for level in np.unique(np.concatenate([s[a], s[b]])):
        h = cohens_h(float((s[a] == level).mean()), float((s[b] == level).mean()))
        best = h if abs(h) > abs(best) else best
    return best, "cohens_h"


def _passes(effect: float, measure: str) -> bool:
    limit = CLIFF_THRESHOLD if measure == "cliffs_delta" else COHEN_H_THRESHOLD
    return abs(effect) >= limit


def _merge(
    pairs: pl.DataFrame,
    features: pl.DataFrame | None,
    members: list[np.ndarray],
    segs: list[int],
) -> pl.DataFrame:
    material = pairs.group_by("segment_a", "segment_b").agg(pl.col("material").any())
    feats = features if features is not None else pl.DataFrame()  # no columns
    rows = []
    for a, b, any_material in material.sort("segment_a", "segment_b").iter_rows():
        if any_material:
            continue
        ia, ib = members[segs.index(a)], members[segs.index(b)]
        top: tuple[str | None, float, str | None] = (None, 0.0, None)
        for col in feats.columns:
            eff, measure = _feature_effect(feats.get_column(col), ia, ib)
            if abs(eff) > abs(top[1]):
                top = (col, eff, measure)
            if _passes(eff, measure):
                break  # a key feature separates them: not a candidate
        if top[0] is None or not _passes(top[1], top[2] or ""):
            rows.append(
                {
                    "segment_a": a,
                    "segment_b": b,
                    "largest_feature": top[0],
                    "feature_effect": _sig(float(top[1])),
                    "effect_measure": top[2],
                }
            )
    schema = {
        "segment_a": pl.Int64,
        "segment_b": pl.Int64,
        "largest_feature": pl.String,
        "feature_effect": pl.Float64,
        "effect_measure": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _components(segs: list[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = {s: s for s in segs}

    def root(s: int) -> int:
        while parent[s] != s:
            s = parent[s]
        return s

    for a, b in edges:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for s in segs:
        groups.setdefault(root(s), []).append(s)
    return [groups[r] for r in sorted(groups)]


# Long on purpose (~190 lines, half docstring): the vs-rest, pairwise and omnibus
# statistics share one pass over the outcome matrix, one set of bootstrap draws and
# the group statistics; split apart they would redraw or pass a dozen arrays.
def compare_segments(
    labels: Any,
    outcomes: pl.DataFrame,
    *,
    features: pl.DataFrame | None = None,
    min_difference: Mapping[str, float | str] | None = None,
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    random_state: Any = None,
    ids: Sequence[Any] | pl.Series | None = None,
    feature_labels: Mapping[str, str] | None = None,
) -> OutcomeComparison:
    """Compare segments on outcomes: differences, CIs, tests, materiality, merges.

    Parameters
    ----------
    labels : array-like of int
        Segment per customer; -1 (noise kept apart) is left out of every comparison.
    outcomes : polars.DataFrame
        Outcome columns (numeric or boolean; nulls allowed), rows aligned with
        ``labels``.
    features : polars.DataFrame, optional
        Feature columns aligned with ``labels``; used for merge candidates and to
        answer operational questions no outcome answers.
    min_difference : dict, optional
        Outcome -> smallest difference that matters (see :func:`parse_threshold`);
        unlisted outcomes get the defaults (3 pp for rates, 10% of the mean else).
    n_bootstrap : int, default 500
        Bootstrap replicates for the confidence intervals.
    alpha : float, default 0.05
        Level of the tests (false discovery rate) and 1 - confidence of the CIs.
    random_state : int, RandomState or None
        Seeds the bootstrap and the feature sample.
    ids : sequence, optional
        Customer ids aligned with ``labels``, to name an example in errors.
    feature_labels : dict, optional
        Feature -> readable label for the answers.

    Returns
    -------
    OutcomeComparison

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1], 500)
    >>> churn = rng.random(1000) < np.repeat([0.30, 0.10], 500)
    >>> res = compare_segments(labels, pl.DataFrame({"churned": churn}),
    ...                        n_bootstrap=200, random_state=0)
    >>> res.vs_rest.select("segment_id", "material").rows()
    [(0, True), (1, True)]
    """
    validate_params(
        "compare_segments",
        {"n_bootstrap": n_bootstrap, "alpha": alpha},
        {
            "n_bootstrap": [Interval(int, 20, None)],
            "alpha": [Interval(float, 0, 0.5, "neither")],
        },
    )
    lab_in = np.asarray(labels).astype(np.int64)
    if lab_in.ndim != 1 or lab_in.size != outcomes.height:
        msg = (
            f"labels has {lab_in.size} entries but the outcomes table has "
            f"{outcomes.height} rows; they must be aligned customer by customer."
        )
        raise InputError(msg)
    segs = sorted(int(s) for s in np.unique(lab_in[lab_in >= 0]))
    if len(segs) < 2:
        msg = f"Outcomes are compared between segments; there are {len(segs)}."
        raise InputError(msg)
    rng = check_random_state(random_state)
    # Internal numbering 0..k-1; -1 stays out of every group.
    lab = np.searchsorted(segs, lab_in)
    lab[lab_in < 0] = -1
    k = len(segs)
    cols, Y = _outcome_matrix(outcomes, ids)
    Y[lab < 0] = np.nan
    kinds = _kinds(cols, Y, "segmented customer")
    thr, info = _thresholds(cols, kinds, Y, min_difference)

    mean, var, n, rmean, rvar, rn = _group_stats(Y, lab, k)
    S, N = _bootstrap(Y, lab, k, n_bootstrap, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        Mb = S / N
        Rb = (S.sum(1, keepdims=True) - S) / (N.sum(1, keepdims=True) - N)
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    rest_ci = np.nanpercentile(Mb - Rb, q, axis=0)  # (2, k, m)
    pa, pb = np.triu_indices(k, 1)
    pair_ci = np.nanpercentile(Mb[:, pa] - Mb[:, pb], q, axis=0)  # (2, P, m)

    d_rest = mean - rmean
    d_pair = mean[pa] - mean[pb]
    p_rest = _welch_p(d_rest, var, n, rvar, rn)
    p_pair = _welch_p(d_pair, var[pa], n[pa], var[pb], n[pb])
    p_adj = _bh(np.concatenate([p_rest.ravel(), p_pair.ravel()]))
    adj_rest = p_adj[: p_rest.size].reshape(p_rest.shape)
    adj_pair = p_adj[p_rest.size :].reshape(p_pair.shape)

    def material(adj: np.ndarray, ci: np.ndarray) -> np.ndarray:
        return (adj <= alpha) & ((ci[0] > thr) | (ci[1] < -thr))

    mat_rest, mat_pair = material(adj_rest, rest_ci), material(adj_pair, pair_ci)
    overall = np.array([np.nanmean(Y[:, j]) for j in range(len(cols))])
    level = 1 - alpha
    rest_rows, pair_rows = [], []
    for j, c in enumerate(cols):
        measure = "cohens_h" if kinds[j] == "rate" else "cohens_d"
        eff_r = _effect(kinds[j], mean[:, j], var[:, j], n[:, j], rmean[:, j],
                        rvar[:, j], rn[:, j])  # fmt: skip
        for g in range(k):
            r = {
                "segment_id": segs[g],
                "outcome": c,
                "kind": kinds[j],
                "n": int(n[g, j]),
                "value": _sig(float(mean[g, j])),
                "rest_value": _sig(float(rmean[g, j])),
                "overall": _sig(float(overall[j])),
                "difference": _sig(float(d_rest[g, j])),
                "relative_difference": _sig(
                    float(d_rest[g, j] / abs(rmean[g, j]))
                    if rmean[g, j] != 0
                    else float("nan")
                ),
                "ci_low": _sig(float(rest_ci[0, g, j])),
                "ci_high": _sig(float(rest_ci[1, g, j])),
                "effect_size": _sig(float(eff_r[g])),
                "effect_measure": measure,
                "p_value": _sig(float(p_rest[g, j])),
                "p_adjusted": _sig(float(adj_rest[g, j])),
                "threshold": _sig(float(thr[j])),
                "significant": bool(adj_rest[g, j] <= alpha),
                "material": bool(mat_rest[g, j]),
            }
            r["verdict"] = verdict_sentence(r, level=level)
            rest_rows.append(r)
        eff_p = _effect(kinds[j], mean[pa, j], var[pa, j], n[pa, j], mean[pb, j],
                        var[pb, j], n[pb, j])  # fmt: skip
        for i, (a, b) in enumerate(zip(pa, pb, strict=True)):
            pair_rows.append(
                {
                    "segment_a": segs[a],
                    "segment_b": segs[b],
                    "outcome": c,
                    "value_a": _sig(float(mean[a, j])),
                    "value_b": _sig(float(mean[b, j])),
                    "difference": _sig(float(d_pair[i, j])),
                    "ci_low": _sig(float(pair_ci[0, i, j])),
                    "ci_high": _sig(float(pair_ci[1, i, j])),
                    "effect_size": _sig(float(eff_p[i])),
                    "effect_measure": measure,
                    "p_value": _sig(float(p_pair[i, j])),
                    "p_adjusted": _sig(float(adj_pair[i, j])),
                    "material": bool(mat_pair[i, j]),
                }
            )
    vs_rest = pl.DataFrame(rest_rows)
    pairs = pl.DataFrame(pair_rows)
    omnibus = pl.DataFrame(
        [
            {"outcome": c, **_omnibus(kinds[j], Y[:, j], lab, k)}
            for j, c in enumerate(cols)
        ]
    )
    # Key features are compared on a sample per segment: ranks cost O(n log n).
    members = []
    for g in range(k):
        idx = np.flatnonzero(lab == g)
        if idx.size > FEATURE_ROWS_PER_SEGMENT:
            idx = np.sort(rng.choice(idx, FEATURE_ROWS_PER_SEGMENT, replace=False))
        members.append(idx)
    merge = _merge(pairs, features, members, segs)
    groups = _components(segs, list(merge.select("segment_a", "segment_b").iter_rows()))
    answers = _answers(vs_rest, features, members, segs, feature_labels or {})
    return OutcomeComparison(
        vs_rest=vs_rest,
        pairs=pairs,
        omnibus=omnibus,
        merge_candidates=merge,
        answers=answers,
        groups=groups,
        thresholds=info,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        segments=segs,
    )
