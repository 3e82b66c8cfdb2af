"""Self-contained HTML and Markdown reports, rendered from the result objects only."""

from __future__ import annotations

import base64
import html
from typing import Any

from segdiscover._markdown import md_cell, md_text
from segdiscover.profiles import fmt

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;
margin:2em auto;color:#222;padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#666} table{border-collapse:collapse;margin:.6em 0}
td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#f5f5f5} .sd-card{border:1px solid #ddd;border-radius:8px;
padding:.4em 1.2em;margin:1.2em 0}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.6em 1em}
.bar{background:#4a78c2;height:.8em;display:inline-block}
.verdict{background:#eef4ff;border-left:4px solid #4a78c2;padding:.6em 1em}
"""


NO_OUTCOME = (
    "No outcome was checked: these segments differ in behaviour, but whether they "
    "differ on churn, margin or cost-to-serve is unknown. Pass outcomes to test it."
)


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


def _summary_rows(doc: dict[str, Any]) -> str:
    rows = []
    for s in doc["segments"]:
        top = ", ".join(f"{d['label']} {d['direction']}" for d in s["drivers"][:3])
        width = max(1, round(200 * s["share"]))
        rows.append(
            f"<tr><td>{s['segment_id']}</td><td>{html.escape(s['name'])}</td>"
            f"<td>{s['size']:,}</td><td><span class='bar' style='width:{width}px'>"
            f"</span> {fmt(s['share'], 'share')}</td><td>{html.escape(top)}</td></tr>"
        )
    return "".join(rows)


def _outcome_lines(doc: dict[str, Any]) -> tuple[str, list[tuple[str, ...]]]:
    """Return the outcome summary sentence and per segment its material verdicts."""
    comp = doc.get("outcomes")
    if not comp:
        return "", []
    rows = []
    for s in doc["segments"]:
        material = [o["verdict"] for o in s["outcomes"] if o.get("material")]
        rows.append(
            (str(s["segment_id"]), s["name"], " ".join(material) or "none material")
        )
    return comp["summary"], rows


def _outcome_html(doc: dict[str, Any]) -> str:
    summary, rows = _outcome_lines(doc)
    if not summary:
        return ""
    e = html.escape
    body = "".join(
        "<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows
    )
    return (
        f"<h2>Outcomes</h2><p><b>{e(summary)}</b></p><table><thead><tr><th>id</th>"
        f"<th>name</th><th>material differences vs the rest</th></tr></thead>"
        f"<tbody>{body}</tbody></table><p class='meta'>Material: significant after "
        "Benjamini-Hochberg across all comparisons and the 95% bootstrap interval "
        "clears the smallest difference that matters.</p>"
    )


def _img(data: bytes | None, alt: str) -> str:
    if not data:
        return ""
    b64 = base64.b64encode(data).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{b64}'>"


def render_html(
    seg: Any, doc: dict[str, Any], images: dict[str, bytes] | None = None
) -> str:
    """Render the report as one HTML file (charts embedded, no external assets)."""
    images = images or {}
    run = doc["run"]
    warn = "".join(f"<p class='warn'>⚠ {html.escape(w)}</p>" for w in run["warnings"])
    cards = "".join(
        seg.profile(s["segment_id"])._repr_html_()
        + _img(images.get(f"segment_{s['segment_id']}_drivers.png"), "drivers")
        for s in doc["segments"]
    )
    fit_note = (
        f"fitted on a sample of {run['fit_rows']:,} customers and assigned the rest"
        if run["sampled_fit"]
        else "fitted on all customers"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>segdiscover report</title><style>{CSS}</style></head><body>
<h1>Customer segments</h1>
<p class="{"warn" if run.get("stable_segmentation") is False else "verdict"}"><b>{
        html.escape(headline(run))
    }</b></p>
<p class="meta">{run["n_customers"]:,} customers · {run["n_features"]} features ·
clusterer <b>{html.escape(str(run["clusterer"]))}</b> with {run["n_segments"]} segments
({fit_note}) · surrogate fidelity <b>{run["fidelity"]:.3f}</b> (macro-F1
{run["macro_f1"]:.3f}, SHAP on {run["shap_rows"]:,} customers) · segdiscover
{html.escape(run["segdiscover_version"])}</p>
<p class="meta">Why this segmentation: {html.escape(str(run["selection"]))}.</p>
{_guide_html(run)}
{_fold_html(run)}
{_stability_html(run)}
{_img(images.get("selection.png"), "model selection: scores against k")}
{warn}
<h2>Summary</h2><table><thead><tr><th>id</th><th>name</th><th>customers</th>
<th>share</th><th>top drivers</th></tr></thead>
<tbody>{_summary_rows(doc)}</tbody></table>
{_outcome_html(doc)}
{_img(images.get("heatmap.png"), "segments vs population")}
<h2>Profile cards</h2>{cards}
<p class="meta">Drivers: mean SHAP value toward the segment from a gradient-boosted
surrogate; ✓ marks an effect size of at least medium (|Cliff's delta| ≥ 0.33, Cohen's
h ≥ 0.5), the only drivers a name may use.</p>
</body></html>
"""


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


def _guide_html(run: dict[str, Any]) -> str:
    text, rows = guide_rows(run)
    if not text:
        return ""
    e = html.escape
    table = ""
    if rows:
        head = "".join(f"<th>{e(h)}</th>" for h in GUIDE_HEAD)
        body = "".join(
            "<tr>" + "".join(f"<td>{e(x)}</td>" for x in r) + "</tr>" for r in rows
        )
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<p class='meta'>{e(text)}</p>{table}"


def _guide_markdown(run: dict[str, Any]) -> list[str]:
    text, rows = guide_rows(run)
    if not text:
        return []
    lines = [md_text(text), ""]
    if rows:
        lines += ["| " + " | ".join(GUIDE_HEAD) + " |", "|---" * len(GUIDE_HEAD) + "|"]
        lines += ["| " + " | ".join(md_cell(x) for x in r) + " |" for r in rows]
        lines.append("")
    return lines


def _fold_text(run: dict[str, Any]) -> str:
    lines = run.get("fold_report") or []
    if not lines:
        return ""
    return (
        "Counted once in the clustering (near-duplicate columns, |rank correlation| "
        ">= 0.98): " + "; ".join(lines) + "."
    )


def _fold_html(run: dict[str, Any]) -> str:
    text = _fold_text(run)
    return f"<p class='meta'>{html.escape(text)}</p>" if text else ""


def _stability_html(run: dict[str, Any]) -> str:
    text = _stability_text(run)
    return f"<p class='meta'>{html.escape(text)}</p>" if text else ""


def render_markdown(seg: Any, doc: dict[str, Any]) -> str:
    """Render the report as Markdown (text from the data escaped: see md_text)."""
    run = doc["run"]
    lines = [
        "# Customer segments",
        "",
        f"**{md_text(headline(run))}**",
        "",
        f"{run['n_customers']:,} customers, {run['n_features']} features, "
        f"clusterer **{md_text(run['clusterer'])}**, {run['n_segments']} segments, "
        f"surrogate fidelity **{run['fidelity']:.3f}**.",
        "",
        f"Why this segmentation: {md_text(run['selection'])}.",
        "",
        md_text(_stability_text(run)),
        "",
        *_guide_markdown(run),
        md_text(_fold_text(run)),
        "",
    ]
    lines += [f"> ⚠ {md_text(w)}" for w in run["warnings"]]
    lines += [
        "| id | name | customers | share | top drivers |",
        "|---|---|---|---|---|",
    ]
    for s in doc["segments"]:
        top = ", ".join(f"{d['label']} {d['direction']}" for d in s["drivers"][:3])
        lines.append(
            f"| {s['segment_id']} | {md_cell(s['name'])} | {s['size']:,} | "
            f"{fmt(s['share'], 'share')} | {md_cell(top)} |"
        )
    lines.append("")
    summary, rows = _outcome_lines(doc)
    if summary:
        lines += ["## Outcomes", "", f"**{md_text(summary)}**", ""]
        lines += ["| id | name | material differences vs the rest |", "|---|---|---|"]
        lines += [f"| {' | '.join(md_cell(x) for x in r)} |" for r in rows]
        lines.append("")
    lines += [seg.profile(s["segment_id"]).to_markdown() for s in doc["segments"]]
    return "\n".join(lines)
