"""Rules: each segment as at most three conditions on original feature values.

For each segment a one-vs-rest decision tree (depth 3) is grown on the training part
of the surrogate sample; the leaf that best separates the segment (highest F1) gives
a conjunction of conditions, merged per feature (``3 <= x < 9``). Thresholds are
rounded to 3 significant digits for reading, and precision and coverage are then
measured *for the rule as displayed* on held-out customers:

- precision: share of customers matching the rule who are in the segment;
- coverage: share of the segment's customers who match the rule.

Categories enter as one 0/1 column per level, so conditions read ``channel = web``
or ``channel != web``. A missing value never satisfies a condition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.tree import DecisionTreeClassifier

MAX_CONDITIONS = 3


@dataclass(frozen=True)
class Condition:
    """One condition: ``feature op value`` (op in <, >=, =, !=)."""

    feature: str
    op: str
    value: float | str

    def render(self) -> str:
        """Return the condition as text."""
        v = self.value if isinstance(self.value, str) else _num(self.value)
        return f"{self.feature} {self.op} {v}"


@dataclass(frozen=True)
class Rule:
    """A segment's rule with its held-out precision and coverage."""

    segment: int
    conditions: tuple[Condition, ...]
    precision: float
    coverage: float

    @property
    def text(self) -> str:
        """The rule as one line (``a >= 6 and b < 40``)."""
        return " and ".join(c.render() for c in self.conditions) or "(no rule)"


def _num(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    digits = 3 - math.floor(math.log10(abs(x))) - 1
    r = round(x, digits)
    return f"{r:,.{max(digits, 0)}f}" if abs(r) >= 1000 else f"{r:g}"


def _round3(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(round(x, 3 - math.floor(math.log10(abs(x))) - 1))


def design_matrix(
    raw: np.ndarray, columns: list[dict[str, Any]]
) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Numbers as they are; each category level as a 0/1 column.

    Returns the matrix and, per column, ``(feature, level or None)``.
    """
    blocks: list[np.ndarray] = []
    names: list[tuple[str, str | None]] = []
    for j, c in enumerate(columns):
        x = raw[:, j]
        if c["kind"] == "numeric":
            blocks.append(x[:, None])
            names.append((c["name"], None))
        else:
            for code, level in enumerate(c["levels"]):
                blocks.append((x == code).astype(float)[:, None])
                names.append((c["name"], str(level)))
    return np.hstack(blocks), names


def _fill_medians(raw: np.ndarray, columns: list[dict[str, Any]]) -> np.ndarray:
    """Median of each ``design_matrix(raw)`` column over all rows, non-finite left out.

    The same numbers as ``np.nanmedian`` of the whole design matrix along axis 0
    (which runs the same 1-d median on each column), one column at a time, so the
    full one-hot matrix of every customer is never built.
    """
    if raw.shape[0] < 600:  # numpy takes another path for short columns
        Xd, _ = design_matrix(raw, columns)
        return np.nanmedian(np.where(np.isfinite(Xd), Xd, np.nan), axis=0)
    out = []
    for j, c in enumerate(columns):
        x = raw[:, j]
        if c["kind"] == "numeric":
            out.append(np.nanmedian(np.where(np.isfinite(x), x, np.nan)))
        else:
            out += [
                np.nanmedian((x == code).astype(float))
                for code in range(len(c["levels"]))
            ]
    return np.asarray(out, dtype=float)


def evaluate(
    conditions: tuple[Condition, ...], raw: np.ndarray, columns: list[dict[str, Any]]
) -> np.ndarray:
    """Boolean mask of rows matching every condition (missing never matches)."""
    index = {c["name"]: j for j, c in enumerate(columns)}
    mask = np.ones(raw.shape[0], dtype=bool)
    for cond in conditions:
        j = index[cond.feature]
        x = raw[:, j]
        col = columns[j]
        if col["kind"] == "categorical":
            code = (
                col["levels"].index(cond.value) if cond.value in col["levels"] else -1
            )
            hit = x == code
            mask &= hit if cond.op == "=" else (~hit & ~np.isnan(x))
        elif cond.op == "<":
            mask &= x < float(cond.value)
        else:
            mask &= x >= float(cond.value)
    return mask


def _leaf_paths(
    tree: DecisionTreeClassifier,
) -> dict[int, list[tuple[int, str, float]]]:
    t = tree.tree_
    paths: dict[int, list[tuple[int, str, float]]] = {}

    def walk(node: int, path: list[tuple[int, str, float]]) -> None:
        if t.children_left[node] == -1:
            paths[node] = path
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(t.children_left[node]), [*path, (f, "<=", thr)])
        walk(int(t.children_right[node]), [*path, (f, ">", thr)])

    walk(0, [])
    return paths


def _merge(
    path: list[tuple[int, str, float]], names: list[tuple[str, str | None]]
) -> tuple[Condition, ...]:
    """Tightest bounds per numeric feature; one condition per category column."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    cats: list[Condition] = []
    for f, op, thr in path:
        feat, level = names[f]
        if level is not None:  # 0/1 column: "<= 0.5" means not this level
            cond = Condition(feat, "!=" if op == "<=" else "=", level)
            if cond not in cats:
                cats.append(cond)
        elif op == ">":
            lo[feat] = max(lo.get(feat, -np.inf), thr)
        else:
            hi[feat] = min(hi.get(feat, np.inf), thr)
    conds: list[Condition] = []
    for feat in dict.fromkeys([names[f][0] for f, _, _ in path]):
        if feat in lo:
            conds.append(Condition(feat, ">=", _round3(lo[feat])))
        if feat in hi:
            conds.append(Condition(feat, "<", _round3(hi[feat])))
    # "= level" makes "!= other level" redundant.
    eq = {c.feature for c in cats if c.op == "="}
    conds += [c for c in cats if c.op == "=" or c.feature not in eq]
    return tuple(conds)


def fit_rules(
    raw: np.ndarray,
    labels: np.ndarray,
    columns: list[dict[str, Any]],
    train: np.ndarray,
    test: np.ndarray,
    *,
    random_state: int = 0,
) -> dict[int, Rule]:
    """Learn one rule per segment on ``train`` rows; score it on ``test`` rows.

    Parameters
    ----------
    raw : ndarray
        Original values (categories as codes, NaN for missing).
    labels : ndarray
        Segment per row.
    columns : list of dict
        The preprocessor's column specs (name, kind, levels).
    train, test : ndarray of int
        Row indices to learn on and to measure on.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 10, size=(2000, 2))
    >>> y = ((X[:, 0] >= 6) & (X[:, 1] < 4)).astype(int)
    >>> cols = [{"name": "a", "kind": "numeric"}, {"name": "b", "kind": "numeric"}]
    >>> r = fit_rules(X, y, cols, np.arange(1500), np.arange(1500, 2000))[1]
    >>> r.text, r.precision >= 0.95
    ('a >= 6 and b < 4', True)
    """
    # Only the training rows go into the design matrix; the fill values are still
    # the medians over every row (see _fill_medians).
    Xd, names = design_matrix(raw[train], columns)
    med = _fill_medians(raw, columns)
    Xtrain = np.where(np.isnan(Xd), np.nan_to_num(med)[None, :], Xd)
    rules = {}
    for seg in np.unique(labels):
        y = labels == seg
        tree = DecisionTreeClassifier(
            max_depth=MAX_CONDITIONS,
            min_samples_leaf=max(5, int(0.002 * len(train))),
            class_weight="balanced",
            random_state=random_state,
        ).fit(Xtrain, y[train])
        best: tuple[float, tuple[Condition, ...]] = (-1.0, ())
        for path in _leaf_paths(tree).values():
            conds = _merge(path, names)
            if not conds or len(conds) > MAX_CONDITIONS:
                continue
            m = evaluate(conds, raw[train], columns)
            tp = float((m & y[train]).sum())
            if tp == 0:
                continue
            f1 = 2 * tp / (m.sum() + y[train].sum())
            if f1 > best[0]:
                best = (f1, conds)
        conds = best[1]
        m = evaluate(conds, raw[test], columns) if conds else np.zeros(len(test), bool)
        yt = y[test]
        precision = float((m & yt).sum() / m.sum()) if m.sum() else 0.0
        coverage = float((m & yt).sum() / yt.sum()) if yt.sum() else 0.0
        rules[int(seg)] = Rule(int(seg), conds, precision, coverage)
    return rules
