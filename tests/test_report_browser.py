"""The report a segment owner reads: its content, and how it renders in Chromium.

The browser test opens ``report.html`` in headless Chromium at 1,280 px through
Playwright's DevTools-protocol driver, with the system browser (no browser is
downloaded): it skips, saying why, only where no Chromium can be found.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

import segdiscover as sd
from segdiscover.report import write_outputs
from segdiscover.report._html import SECTIONS

WIDTH = 1280
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def seg() -> sd.Segmenter:
    data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        return sd.Segmenter(random_state=0, k_range=(2, 4)).fit(
            data.tables, as_of=data.as_of, outcomes=data.outcomes
        )


@pytest.fixture(scope="module")
def out(seg: sd.Segmenter, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    write_outputs(seg, folder, model=False)
    return folder


def find_chromium() -> str | None:
    """The system Chromium: $SEGDISCOVER_CHROMIUM, else the usual names on PATH."""
    given = os.environ.get("SEGDISCOVER_CHROMIUM")
    if given and Path(given).is_file():
        return given
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


# ------------------------------------------------------------- content
def test_each_outcome_appears_once_per_card_in_one_wording(seg, out):
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    verdicts = seg.outcomes_["verdict"].to_list()
    # Full verdict sentences are no longer repeated; their words are the table's.
    for v in verdicts:
        assert v not in html
        words = re.search(r"\): (.+?)\.$", v).group(1)
        assert words in html
        assert words in md
    assert "not material" not in html  # the old second wording
    for s in seg.segments_["segment_id"]:
        card = html.split(f'id="segment-{s}"')[1].split("</article>")[0]
        for o in seg.outcomes_["outcome"].unique():
            assert card.count(f"<td>{o}</td>") == 1, (s, o)


def test_every_section_and_chart_is_in_both_reports(seg, out):
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for sid, title in SECTIONS:
        assert f'id="{sid}"' in html
        assert f"## {title}" in md
    pngs = sorted(p.name for p in (out / "plots").iterdir())
    assert html.count("data:image/png;base64,") == len(pngs)
    linked = re.findall(r"\]\(plots/([^)]+)\)", md)
    assert sorted(linked) == pngs  # every chart linked once, no link dangles
    assert {"map.png", "sizes.png", "selection.png", "outcomes.png"} <= set(pngs)
    assert "http://" not in html
    assert "https://" not in html  # offline: nothing fetched


def test_the_sweep_is_shown_with_the_pick_marked(seg, out):
    html = (out / "report.html").read_text()
    n = seg.candidates_.height
    assert f"The sweep fitted {n} candidates" in html
    table = html.split('id="candidates"')[1].split("</table>")[0]
    assert table.count("<tr") == n + 1
    assert table.count('class="picked"') == 1


def test_a_given_k_is_said_plainly(tmp_path):
    data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        fixed = sd.Segmenter(n_segments=3, random_state=0, stability_refits=0).fit(
            data.tables, as_of=data.as_of
        )
        both = sd.Segmenter(
            clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
        ).fit(data.tables, as_of=data.as_of)
    text = fixed.report(tmp_path / "a.md").read_text()
    assert "The number of segments was given (k = 3): the sweep did not choose" in text
    text = both.report(tmp_path / "b.html").read_text()
    assert (
        "Nothing was swept: the clusterer (kmeans) and the number of segments" in text
    )
    assert "No outcome was checked" in text
    assert 'id="outcomes"' not in text


# ------------------------------------------------------------- browser
def test_report_in_chromium(seg, out, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    exe = find_chromium()
    if exe is None:
        pytest.skip(
            "No Chromium found (looked for $SEGDISCOVER_CHROMIUM and "
            f"{', '.join(BROWSERS)} on PATH); install it with "
            "'apt-get install -y chromium' to run this test."
        )
    errors: list[str] = []
    fetched: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: fetched.append(r.url))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            facts = page.evaluate(
                """() => ({
                width: document.documentElement.scrollWidth,
                height: document.documentElement.scrollHeight,
                ids: [...document.querySelectorAll("[id]")].map(e => e.id),
                images: [...document.images].map(i => ({
                    alt: i.alt, loaded: i.complete && i.naturalWidth > 0,
                    fits: i.getBoundingClientRect().right <= window.innerWidth,
                    card: i.closest("article.card")?.id ?? null})),
                nav: getComputedStyle(document.querySelector("nav.toc")).display,
            })"""
            )
            page.screenshot(path=tmp_path / "report.png", full_page=True)
            # The summary table sorts by customers when its header is clicked.
            page.click("#summary th:nth-child(3)")
            sizes = page.eval_on_selector_all(
                "#summary tbody td:nth-child(3)",
                "cells => cells.map(c => Number(c.dataset.sort))",
            )
            page.emulate_media(media="print")
            printed = page.evaluate(
                """() => ({nav: getComputedStyle(document.querySelector("nav.toc"))
                    .display, width: document.documentElement.scrollWidth})"""
            )
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in fetched), fetched
    assert facts["width"] <= WIDTH, f"page is {facts['width']} px wide at {WIDTH}"
    for sid, _ in SECTIONS:
        assert sid in facts["ids"]
    assert all(i["loaded"] and i["fits"] for i in facts["images"]), facts["images"]
    for s in seg.segments_["segment_id"]:
        own = [i for i in facts["images"] if i["card"] == f"segment-{s}"]
        assert [i["alt"] for i in own] == [f"Drivers of segment {s}"]
    assert sizes == sorted(sizes)
    assert facts["nav"] != "none"
    assert printed["nav"] == "none"  # print CSS: no contents column on paper
    assert printed["width"] <= WIDTH
    shot = tmp_path / "report.png"
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot} ({facts['width']} x {facts['height']} px)")
