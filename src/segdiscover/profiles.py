"""Segment names, narratives and profile cards, every number traced to the data.

A name is built only from drivers whose effect size passes the threshold (see
:mod:`segdiscover.explain.drivers`), using each feature's business words, so every
word maps to a driver whose statistic the card shows.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from segdiscover._markdown import md_cell, md_text
from segdiscover.features import FeatureMeta

MAX_NAME_WORDS = 3


def fmt(value: float | None, unit: str = "") -> str:
    """Format a number for people: shares as %, money with separators, 3 digits else.

    Examples
    --------
    >>> fmt(0.1234, "share"), fmt(1234.5, "currency"), fmt(2.345, "orders")
    ('12.3%', '1,234', '2.35')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def driver_word(d: dict[str, Any], meta: FeatureMeta) -> str:
    """Return the name word of one driver."""
    return meta.word(d["direction"], d.get("category"))


def make_names(
    drivers: dict[int, list[dict[str, Any]]],
    meta: dict[str, FeatureMeta],
    similar: dict[str, list[str]] | None = None,
) -> dict[int, tuple[str, list[str]]]:
    """Build unique, deterministic names from passing drivers.

    Returns segment -> (name, features behind its words). A driver ``similar`` to
    one already in the name (large basket, then high spend) waits until the other
    passing drivers are used, so the words say different things. Colliding names
    take the next passing driver's word; a last resort appends the segment id.
    """
    similar = similar or {}
    words: dict[int, list[tuple[str, str]]] = {}
    for seg, ds in drivers.items():
        seen: list[tuple[str, str]] = []
        later: list[tuple[str, str]] = []
        for d in ds:
            if not d["passes"]:
                continue
            w = driver_word(d, meta[d["feature"]])
            if w in [x for x, _ in seen + later]:
                continue
            close = set(similar.get(d["feature"], ()))
            (later if close & {f for _, f in seen} else seen).append((w, d["feature"]))
        words[seg] = seen + later
    n_words = {seg: min(MAX_NAME_WORDS, len(w)) for seg, w in words.items()}

    def render(seg: int) -> str:
        ws = [w for w, _ in words[seg][: n_words[seg]]]
        if not ws:
            return f"Segment {seg} (no strong driver)"
        s = ", ".join(ws)
        return s[0].upper() + s[1:]

    for _ in range(10):  # lengthen colliding names while they have words left
        names = {seg: render(seg) for seg in words}
        clashes = {n for n in names.values() if list(names.values()).count(n) > 1}
        grew = False
        for seg, n in names.items():
            if n in clashes and n_words[seg] < len(words[seg]):
                n_words[seg] += 1
                grew = True
        if not grew:
            break
    names = {seg: render(seg) for seg in words}
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    out = {}
    for seg in sorted(words):
        n = names[seg]
        if counts[n] > 1:
            n = f"{n} #{seg}"
        out[seg] = (n, [f for _, f in words[seg][: n_words[seg]]])
    return out


def driver_sentence(d: dict[str, Any], meta: FeatureMeta) -> str:
    """One clause stating a driver's statistic, in the words of the segment names.

    A category level, and a 0/1 fact, reads as the share of the segment that holds
    it (``80.0% have a partner``); other numbers as their median.

    Examples
    --------
    >>> m = FeatureMeta("Contract", "table", "contract", kind="categorical")
    >>> driver_sentence(
    ...     {"category": "Month-to-month", "segment_mean": 0.621,
    ...      "population_mean": 0.55}, m
    ... )
    '62.1% are on a month-to-month contract, against 55.0% overall'
    >>> driver_sentence(
    ...     {"segment_median": 5.0, "population_median": 29.0},
    ...     FeatureMeta("tenure", "table", "tenure"),
    ... )
    'their median tenure is 5 against 29 across all customers'
    """
    clause = meta.clause(d.get("category"))
    if clause is not None:
        # For a 0/1 fact the mean is the share of yes; the median (0 or 1) says
        # nothing a reader can use.
        return (
            f"{fmt(d['segment_mean'], 'share')} {clause}, against "
            f"{fmt(d['population_mean'], 'share')} overall"
        )
    if meta.kind == "categorical":  # no level passed: say only the label
        return f"{meta.label} differs from the rest"
    return (
        f"their median {meta.label} is {fmt(d['segment_median'], meta.unit)} "
        f"against {fmt(d['population_median'], meta.unit)} across all customers"
    )


def narrative(
    name: str,
    size: int,
    share: float,
    n_total: int,
    drivers: list[dict[str, Any]],
    meta: dict[str, FeatureMeta],
    f1: float | None,
) -> str:
    """Two to four sentences; every number comes from the statistics passed in."""
    sents = [f"{name} holds {size:,} customers ({fmt(share, 'share')} of {n_total:,})."]
    passing = [d for d in drivers if d["passes"]][:2]
    if passing:
        s = "; ".join(driver_sentence(d, meta[d["feature"]]) for d in passing)
        sents.append(s[0].upper() + s[1:] + ".")
    else:
        sents.append(
            "No feature separates it from the rest by a medium effect or more."
        )
    if f1 is not None:
        sents.append(
            f"The surrogate model recognises its members with F1 "
            f"{f1:.2f} on held-out customers."
        )
    return " ".join(sents)


def _outcome_row(name: str, v: dict[str, Any]) -> tuple[str, ...]:
    """Return one outcome's table row; a rate reads in % and percentage points."""
    if v.get("kind") == "rate":
        val, rest = fmt(v["value"], "share"), fmt(v["rest_value"], "share")
        diff = f"{100 * v['difference']:+.1f} pp"
        ci = f"{100 * v['ci_low']:+.1f} to {100 * v['ci_high']:+.1f} pp"
    else:
        val, rest = fmt(v["value"]), fmt(v.get("rest_value"))
        diff = "+" * (v["difference"] > 0) + fmt(v["difference"])
        ci = f"{fmt(v['ci_low'])} to {fmt(v['ci_high'])}"
    word = "higher" if v["difference"] > 0 else "lower"
    verdict = f"materially {word}" if v.get("material") else "not material"
    return (name, val, rest, diff, ci, verdict)


@dataclass
class SegmentProfile:
    """A segment's profile card; renders as HTML in notebooks and text in terminals."""

    segment_id: int
    name: str
    size: int
    share: float
    drivers: list[dict[str, Any]]
    narrative: str
    fidelity_f1: float | None
    meta: dict[str, FeatureMeta] = field(repr=False)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    families: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rule: str | None = None
    rule_precision: float | None = None
    rule_coverage: float | None = None
    name_source: str = "generated"
    stability: float | None = None
    stability_threshold: float = 0.8
    answers: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "segment_id": self.segment_id,
            "name": self.name,
            "size": self.size,
            "share": self.share,
            "drivers": self.drivers,
            "narrative": self.narrative,
            "fidelity_f1": self.fidelity_f1,
            "outcomes": self.outcomes,
            "answers": self.answers,
        }

    def _driver_rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for d in self.drivers[:6]:
            m = self.meta[d["feature"]]
            if m.kind == "categorical" or m.yes_no:
                # The level in the words of the name ("no paperless billing: 45.0%");
                # a 0/1 fact shows its share of yes, the share the sentence states.
                what = (
                    m.word("+", d["category"])
                    if m.kind == "categorical"
                    else m.word("+")
                )
                seg_v = f"{what}: {fmt(d['segment_mean'], 'share')}"
                pop_v = fmt(d["population_mean"], "share")
            else:
                seg_v = fmt(d["segment_median"], m.unit)
                pop_v = fmt(d["population_median"], m.unit)
            eff = f"{d['effect_measure']} {d['effect_size']:+.2f}"
            also = [
                self.meta[r].label for r in d.get("related") or [] if r in self.meta
            ]
            rows.append(
                (
                    m.label + (f" (also {', '.join(also)})" if also else ""),
                    d["direction"],
                    seg_v,
                    pop_v,
                    eff + (" ✓" if d["passes"] else ""),
                )
            )
        return rows

    def facts(self) -> list[str]:
        """One-line facts: rule, fidelity, stability, outcome verdicts (when known)."""
        out = []
        if self.rule:
            out.append(
                f"Rule: {self.rule} (precision {fmt(self.rule_precision, 'share')}"
                f", coverage {fmt(self.rule_coverage, 'share')} on held-out "
                "customers)"
            )
        if self.fidelity_f1 is not None:
            out.append(f"Surrogate F1 for this segment: {self.fidelity_f1:.2f}")
        if self.stability is not None:
            flag = (
                f" (unstable: under {self.stability_threshold:.2f}, the segment often "
                "dissolves when customers are resampled)"
                if self.stability < self.stability_threshold
                else ""
            )
            out.append(
                f"Stability (mean Jaccard recovery over resampled refits): "
                f"{self.stability:.2f}{flag}"
            )
        out += [v["verdict"] for v in self.outcomes.values() if v.get("verdict")]
        return out

    def sections(self) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
        """Return the card tables as (title, header, rows), in template order."""
        out: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = [
            (
                "Key behaviours and signals",
                ("driver", "dir", "segment", "population", "effect"),
                self._driver_rows(),
            )
        ]
        for title, rows in self.families.items():
            if rows:
                out.append(
                    (
                        title,
                        ("feature", "segment median", "population median"),
                        [
                            (
                                r["label"],
                                fmt(r["segment_median"], r["unit"]),
                                fmt(r["population_median"], r["unit"]),
                            )
                            for r in rows
                        ],
                    )
                )
        if self.outcomes:
            out.append(
                (
                    "Outcomes",
                    ("outcome", "segment", "rest", "difference", "95% CI", "verdict"),
                    [_outcome_row(k, v) for k, v in self.outcomes.items()],
                )
            )
        if self.answers:
            out.append(
                (
                    "Operational questions",
                    ("question", "answer"),
                    [(a["question"], a["answer"]) for a in self.answers],
                )
            )
        return out

    def _headline(self) -> str:
        return f"{self.size:,} customers ({fmt(self.share, 'share')})"

    def to_markdown(self) -> str:
        """Render the card as Markdown."""
        lines = [
            f"### {self.segment_id}. {md_text(self.name)}",
            "",
            f"**{md_text(self._headline())}**",
            "",
            md_text(self.narrative),
            "",
        ]
        lines += [f"- {md_text(f)}" for f in self.facts()]
        for title, header, rows in self.sections():
            lines += [
                "",
                f"**{md_text(title)}**",
                "",
                "| " + " | ".join(md_cell(h) for h in header) + " |",
                "|" + "---|" * len(header),
            ]
            lines += ["| " + " | ".join(md_cell(x) for x in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        out = [
            f"Segment {self.segment_id}: {self.name}",
            f"  {self._headline()}",
            "",
            "  " + self.narrative,
            "",
        ]
        out += [f"  {f}" for f in self.facts()]
        for title, _header, rows in self.sections():
            out += ["", f"  {title}:"]
            for r in rows:
                out.append(
                    "    " + f"{r[0]:<36s}" + "  ".join(f"{x:>14s}" for x in r[1:])
                )
        return "\n".join(out)

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [
            f"<div class='sd-card'><h3>{self.segment_id}. {e(self.name)}</h3>",
            f"<p><b>{e(self._headline())}</b></p><p>{e(self.narrative)}</p>",
        ]
        parts += [f"<p class='meta'>{e(f)}</p>" for f in self.facts()]
        for title, header, rows in self.sections():
            head = "".join(f"<th>{e(h)}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows
            )
            parts.append(
                f"<h4>{e(title)}</h4><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>"
            )
        return "".join(parts) + "</div>"
