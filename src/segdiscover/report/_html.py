"""The report a segment owner reads, as one HTML file and as Markdown.

Both are rendered from one view (:func:`report_view`) built from the run's
``segments.json`` document and the profile cards, so they carry the same content.
The HTML comes from Jinja2 templates (``templates/``, autoescaped), embeds its
charts as data URIs and its CSS and script inline: it opens offline and prints.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import TYPE_CHECKING, Any

from segdiscover._markdown import md_cell
from segdiscover.profiles import fmt
from segdiscover.report._plots import (
    chart_names,
    chosen_space,
    k_was_given,
    segment_colors,
    sweep_table,
    verdict_class,
)

if TYPE_CHECKING:
    import jinja2

    from segdiscover.result import Segmentation

NO_OUTCOME = (
    "No outcome was checked: these segments differ in behaviour, but whether they "
    "differ on churn, margin or cost-to-serve is unknown. Pass outcomes to test it."
)
DRIVERS_NOTE = (
    "Drivers: mean SHAP value toward the segment from a gradient-boosted surrogate; "
    "✓ marks an effect size of at least medium (|Cliff's delta| ≥ 0.33, Cohen's "
    "h ≥ 0.5), the only drivers a name may use."
)
MATERIAL_NOTE = (
    "Material: significant after Benjamini-Hochberg across all comparisons and the "
    "95% bootstrap interval clears the smallest difference that matters."
)
OUTCOMES_NOTE = (
    "The verdict above in figures: each segment against the rest of the customers "
    "on each outcome. The smallest difference that matters decides what is material."
)
#: Sections of the report: anchor id and title, in page order.
SECTIONS = (
    ("overview", "Overview"),
    ("selection", "How the segmentation was chosen"),
    ("segments", "Segments"),
    ("heatmap", "Segments vs population"),
    ("notes", "How to read this report"),
)
#: Candidate-table columns shown (those the sweep produced), with their headers.
CANDIDATE_COLUMNS = (
    ("clusterer", "clusterer"),
    ("space", "built from"),
    ("n_segments", "k"),
    ("silhouette", "silhouette"),
    ("stability_min", "min Jaccard"),
    ("stability_lo", "its 90% low"),
    ("stable", "stable"),
    ("valley_max", "valley"),
    ("min_share", "min share"),
    ("outcome_separation", "outcome sep."),
)
_TAIL = re.compile(r"\): (.+?)\.?$")


def headline(run: dict[str, Any]) -> str:
    """Return the report's first line: the verdict a segment owner reads first.

    Examples
    --------
    >>> headline({"stable_segmentation": True, "outcomes": None})[:22]
    'No outcome was checked'
    >>> headline({"stable_segmentation": False, "outcomes": None})[:24]
    'No stable segmentation: '
    """
    lines = []
    if run.get("stable_segmentation") is False:
        lines.append(
            "No stable segmentation: no candidate had every segment stable under "
            "resampling; the segments below are the least unstable candidate, a "
            "hypothesis rather than segments to act on."
        )
    outcomes = run.get("outcomes")
    lines.append(outcomes["summary"] if outcomes else NO_OUTCOME)
    return " ".join(lines)


def verdict_words(sentence: str) -> str:
    """Return the verdict of a verdict sentence: the words after its figures.

    One wording across the report: the card's table says what the sentence says.

    Examples
    --------
    >>> verdict_words("Churned 9.6% vs 12.5% for the rest (-2.9 pp, 95% CI -5.4 "
    ...               "to -0.1 pp): lower, but not clearly by the 3.0 pp that matters.")
    'lower, but not clearly by the 3.0 pp that matters'
    """
    m = _TAIL.search(sentence)
    return m.group(1) if m else sentence


def _stability_text(run: dict[str, Any]) -> str:
    st = run.get("stability")
    if not st:
        return ""
    unstable = st["unstable_segments"]
    return (
        f"Stability: median adjusted Rand index {st['ari_median']:.2f} (10th-90th "
        f"percentile {st['ari_p10']:.2f}-{st['ari_p90']:.2f}) over {st['refits']} "
        f"refits on {st['fraction']:.0%} subsamples; "
        + (
            f"unstable segments (Jaccard < {st['threshold']}): {unstable}"
            if unstable
            else f"every segment recovered with Jaccard >= {st['threshold']}"
        )
        + "."
    )


SPACE_NAMES = {"features": "behaviour (unsupervised)", "outcomes": "guided by outcomes"}
SHORT_SPACE = {"features": "behaviour", "outcomes": "outcomes"}


def guide_rows(run: dict[str, Any]) -> tuple[str, list[tuple[str, ...]]]:
    """Return how outcomes shaped the segments: a sentence and the compared candidates.

    Examples
    --------
    >>> run = {"guide": {"mode": "outcomes", "validation_customers": 90,
    ...        "comparison": [{"space": "features", "clusterer": "kmeans",
    ...        "n_segments": 3, "stable": True, "distinct_segments": 0,
    ...        "spread": 0.4, "chosen": False}]}}
    >>> guide_rows(run)[1][0][:3]
    ('behaviour (unsupervised)', 'kmeans', '3')
    """
    g = run.get("guide") or {}
    comp = g.get("comparison")
    if g.get("mode") == "outcomes":
        text = (
            "Segments guided by outcomes: customers were clustered on their "
            "cross-fitted contributions to the outcomes; every outcome verdict comes "
            f"from {g.get('validation_customers', 0):,} held-out customers whose "
            "outcomes built nothing."
        )
    elif comp:
        text = (
            "Segments from behaviour: a candidate guided by the outcomes was built "
            "too and did not do better on the held-out customers."
        )
    else:
        return "", []
    rows: list[tuple[str, ...]] = []
    for c in comp or []:
        if "clusterer" not in c:
            failed = "failed: " + str(c.get("error", ""))
            rows.append((SPACE_NAMES[c["space"]], failed, "", "", "", "", ""))
            continue
        rows.append(
            (
                SPACE_NAMES[c["space"]],
                str(c["clusterer"]),
                str(c["n_segments"]),
                {True: "yes", False: "no", None: "not measured"}[c["stable"]],
                str(c["distinct_segments"]),
                f"{c['spread']:.3g}",
                "chosen" if c["chosen"] else "",
            )
        )
    return text, rows


GUIDE_HEAD = (
    "built from",
    "clusterer",
    "segments",
    "stable",
    "operationally distinct (held out)",
    "outcome spread (in smallest differences that matter)",
    "",
)


def _fold_text(run: dict[str, Any]) -> str:
    lines = run.get("fold_report") or []
    if not lines:
        return ""
    return (
        "Counted once in the clustering (near-duplicate columns, |rank correlation| "
        ">= 0.98): " + "; ".join(lines) + "."
    )


def _how_chosen(src: Segmentation, run: dict[str, Any]) -> str:
    """One plain sentence: what was given, and what the sweep compared."""
    table = sweep_table(src)
    k = run["n_segments"]
    if table is None:
        if k_was_given(src):
            return (
                f"Nothing was swept: the clusterer ({run['clusterer']}) and the number "
                f"of segments (k = {k}) were given."
            )
        return (
            f"Nothing was swept: the clusterer ({run['clusterer']}) was given and "
            f"set the number of segments ({k}) itself."
        )
    spaces = table["space"].n_unique()
    both = " in each of the two spaces" if spaces > 1 else ""
    names = ", ".join(table["clusterer"].unique(maintain_order=True).to_list())
    if k_was_given(src):
        return (
            f"The number of segments was given (k = {k}): the sweep did not choose "
            f"k; it compared {table.height} candidates ({names}{both}) at k = {k}."
        )
    ks = table["n_segments"].to_list()
    lo, hi = min(ks), max(ks)
    return (
        f"The sweep fitted {table.height} candidates ({names} at k = {lo} to "
        f"{hi}{both}); the one shown is marked."
    )


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.3g}"
    return str(v)


def _candidates(src: Segmentation) -> dict[str, Any] | None:
    table = sweep_table(src)
    if table is None:
        return None
    cols = [(c, h) for c, h in CANDIDATE_COLUMNS if c in table.columns]
    if table["space"].n_unique() == 1:
        cols = [(c, h) for c, h in cols if c != "space"]
    rows = []
    for r in table.iter_rows(named=True):
        cells = [
            SHORT_SPACE.get(r[c], r[c]) if c == "space" else _num(r[c]) for c, _ in cols
        ]
        mark = "shown" if r["picked"] else ("best of its space" if r["chosen"] else "")
        rows.append({"cells": [*cells, mark], "picked": bool(r["picked"])})
    return {"head": [h for _, h in cols] + ["chosen"], "rows": rows}


def _card(src: Segmentation, seg: dict[str, Any], color: str) -> dict[str, Any]:
    """One segment's card: everything about it in one place, each outcome once."""
    sid = seg["segment_id"]
    prof = src.profiles[sid]
    sections = prof.sections()
    drivers = sections[0]
    families = [
        s for s in sections[1:] if s[0] not in ("Outcomes", "Operational questions")
    ]
    rows_by_outcome = {o["outcome"]: o for o in seg["outcomes"]}
    asked: dict[str, list[str]] = {}
    questions = []
    for a in seg.get("answers") or []:
        if a.get("source") == "outcome" and a.get("column") in rows_by_outcome:
            asked.setdefault(a["column"], []).append(a["question"])
        else:
            questions.append((a["question"], a["answer"]))
    outcomes = []
    out_section = next((s for s in sections if s[0] == "Outcomes"), None)
    if out_section is not None:
        for row, name in zip(out_section[2], prof.outcomes, strict=True):
            full = rows_by_outcome.get(name, prof.outcomes[name])
            outcomes.append(
                {
                    "cells": [*row[:5], verdict_words(full.get("verdict") or "")],
                    "questions": ", ".join(asked.get(name, [])),
                    "verdict": verdict_class(full),
                }
            )
    facts = [
        f
        for f in prof.facts()
        if f not in {v.get("verdict") for v in prof.outcomes.values()}
    ]
    return {
        "id": sid,
        "anchor": f"segment-{sid}",
        "name": prof.name,
        "color": color,
        "size": f"{prof.size:,} customers ({fmt(prof.share, 'share')})",
        "narrative": prof.narrative,
        "facts": facts,
        "unstable": prof.stability is not None
        and prof.stability < prof.stability_threshold,
        "drivers": {
            "title": drivers[0],
            "head": list(drivers[1]),
            "rows": [list(r) for r in drivers[2]],
        },
        "families": [
            {"title": t, "head": list(h), "rows": [list(r) for r in rs]}
            for t, h, rs in families
        ],
        "outcome_head": [
            "outcome",
            "segment",
            "rest",
            "difference",
            "95% CI",
            "verdict",
            "answers",
        ],
        "outcomes": outcomes,
        "outcome_rows": [[*o["cells"], o["questions"]] for o in outcomes],
        "questions": questions,
        "chart": f"segment_{sid}_drivers.png",
    }


def report_view(src: Segmentation, doc: dict[str, Any]) -> dict[str, Any]:
    """Everything the report says, as plain data both renderers lay out."""
    run = doc["run"]
    ids = [s["segment_id"] for s in doc["segments"]]
    colors = segment_colors(ids)
    fit_note = (
        f"fitted on a sample of {run['fit_rows']:,} customers and assigned the rest"
        if run["sampled_fit"]
        else "fitted on all customers"
    )
    if run.get("sweep_rows") and run["sweep_rows"] < run["n_customers"]:
        fit_note += f"; candidates compared on {run['sweep_rows']:,} customers"
    summary = []
    for s in doc["segments"]:
        top = ", ".join(f"{d['label']} {d['direction']}" for d in s["drivers"][:3])
        stab = src.profiles[s["segment_id"]].stability
        summary.append(
            {
                "id": s["segment_id"],
                "anchor": f"segment-{s['segment_id']}",
                "name": s["name"],
                "color": colors[s["segment_id"]],
                "size": s["size"],
                "share": s["share"],
                "share_text": fmt(s["share"], "share"),
                "top": top,
                "stability": "" if stab is None else f"{stab:.2f}",
            }
        )
    comp = doc.get("outcomes")
    thresholds = []
    if comp:
        n_mat = dict.fromkeys(comp.get("thresholds", {}), 0)
        for s in doc["segments"]:
            for o in s["outcomes"]:
                n_mat[o["outcome"]] = n_mat.get(o["outcome"], 0) + bool(
                    o.get("material")
                )
        thresholds = [
            (o, t.get("set_as", ""), f"{n_mat.get(o, 0)} of {len(ids)}")
            for o, t in comp.get("thresholds", {}).items()
        ]
    guide_text, guide_table = guide_rows(run)
    charts = set(chart_names(src))
    return {
        "headline": headline(run),
        "unstable": run.get("stable_segmentation") is False,
        "meta": (
            f"{run['n_customers']:,} customers · {run['n_features']} features · "
            f"clusterer {run['clusterer']} with {run['n_segments']} segments "
            f"({fit_note}) · surrogate fidelity {run['fidelity']:.3f} (macro-F1 "
            f"{run['macro_f1']:.3f}, SHAP on {run['shap_rows']:,} customers) · "
            f"segdiscover {run['segdiscover_version']}"
            + (f" · as of {run['as_of']}" if run.get("as_of") else "")
        ),
        "warnings": list(run["warnings"]),
        "sections": SECTIONS,
        "summary": summary,
        "summary_rows": [
            [
                s["id"],
                s["name"],
                f"{s['size']:,}",
                s["share_text"],
                s["top"],
                s["stability"],
            ]
            for s in summary
        ],
        "thresholds": thresholds,
        "outcomes_note": OUTCOMES_NOTE,
        "how": _how_chosen(src, run),
        "why": f"Why this segmentation: {run['selection']}.",
        "space": SPACE_NAMES[chosen_space(src)],
        "candidates": _candidates(src),
        "guide_text": guide_text,
        "guide_head": list(GUIDE_HEAD),
        "guide_rows": [list(r) for r in guide_table],
        "stability": _stability_text(run),
        "fold": _fold_text(run),
        "cards": [_card(src, s, colors[s["segment_id"]]) for s in doc["segments"]],
        "notes": [DRIVERS_NOTE, MATERIAL_NOTE] if comp else [DRIVERS_NOTE],
        "charts": charts,
    }


def _md_escape(value: Any) -> Any:
    """Escape every value the Markdown template prints; ``| safe`` marks its own."""
    from markupsafe import Markup

    return value if isinstance(value, Markup) else md_cell(value)


@functools.cache
def _environment(*, markdown: bool = False) -> jinja2.Environment:
    """Return the templates' environment (HTML autoescaped, Markdown by finalize)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("segdiscover.report", "templates"),
        autoescape=not markdown,
        # Markdown has no autoescape of its own: every printed value is escaped.
        finalize=_md_escape if markdown else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=markdown,
    )


def render_html(
    seg: Segmentation, doc: dict[str, Any], images: dict[str, bytes] | None = None
) -> str:
    """Render the report as one HTML file (charts embedded, no external assets)."""
    images = images or {}
    view = report_view(seg, doc)
    uris = {
        name: "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        for name, data in images.items()
    }
    return _environment().get_template("report.html.j2").render(v=view, img=uris)


def render_markdown(seg: Segmentation, doc: dict[str, Any]) -> str:
    """Render the report as Markdown (text from the data escaped: see md_text).

    The same view as the HTML; charts are links to ``plots/*.png``.
    """
    slugs = {
        sid: re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
        for sid, title in SECTIONS
    }
    view = report_view(seg, doc)
    template = _environment(markdown=True).get_template("report.md.j2")
    return template.render(v=view, slugs=slugs)
