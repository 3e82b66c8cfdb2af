"""Figures: built without pyplot, readable, and drawn from the fitted numbers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import matplotlib as mpl
import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure

import segdiscover as sd
from segdiscover import plots
from segdiscover.exceptions import InputError
from segdiscover.report._plots import (
    chart_names,
    ink,
    render_plots,
    segment_colors,
    wrap,
)


def _fit(**kw) -> sd.Segmenter:
    data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    outcomes = kw.pop("outcomes", True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        return sd.Segmenter(random_state=0, stability_refits=0, **kw).fit(
            data.tables,
            as_of=data.as_of,
            outcomes=data.outcomes if outcomes else None,
        )


@pytest.fixture(scope="module")
def swept() -> sd.Segmenter:
    return _fit(k_range=(2, 4))


@pytest.fixture(scope="module")
def given() -> sd.Segmenter:
    return _fit(clusterer="kmeans", n_segments=3, outcomes=False, guide="none")


def _contrast(a, b) -> float:
    def lum(c):
        r, g, b = (x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
                   for x in mpl.colors.to_rgb(c))  # fmt: skip
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_builders_return_figures_and_leave_pyplot_alone(swept):
    before = set(sys.modules)
    figs = [
        plots.plot_selection(swept),
        plots.plot_drivers(swept, 0),
        plots.plot_heatmap(swept),
        plots.plot_map(swept),
        plots.plot_sizes(swept),
        plots.plot_outcomes(swept),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert all(type(f.canvas).__name__ == "FigureCanvasAgg" for f in figs)
    if "matplotlib.pyplot" in sys.modules:  # imported by another library
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []  # none of ours is a pyplot figure
    else:
        assert "matplotlib.pyplot" not in set(sys.modules) - before


def test_the_users_backend_is_unchanged_by_a_report(tmp_path):
    # A fresh interpreter: a notebook-like session that chose its own backend.
    code = textwrap.dedent(
        f"""
        import json, sys, warnings
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        import segdiscover as sd
        warnings.simplefilter("ignore")
        data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
        seg = sd.Segmenter(random_state=0, k_range=(2, 3), stability_refits=0).fit(
            data.tables, as_of=data.as_of, outcomes=data.outcomes)
        seg.report({str(tmp_path / "r.html")!r})
        print(json.dumps({{"backend": matplotlib.get_backend(),
                          "rc": matplotlib.rcParams["backend"],
                          "figures": plt.get_fignums()}}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got == {"backend": "svg", "rc": "svg", "figures": []}


def test_render_plots_writes_the_charts_it_names(swept, given):
    for seg in (swept, given):
        images = render_plots(seg)
        assert list(images) == chart_names(seg)
        assert all(v[:8] == b"\x89PNG\r\n\x1a\n" for v in images.values())
    assert "selection.png" in chart_names(swept)
    assert "outcomes.png" in chart_names(swept)
    assert "selection.png" not in chart_names(given)  # nothing was swept
    assert "outcomes.png" not in chart_names(given)


def test_selection_marks_the_pick_among_every_candidate(swept):
    fig = plots.plot_selection(swept)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "segments (k)"
    picked = swept.candidates_.filter(
        pl.col("chosen") & (pl.col("space") == swept.run_["guide"]["mode"])
    )
    stars = [
        ln
        for ln in ax.get_lines()
        if ln.get_marker() == "*" and ln.get_markerfacecolor() != "none"
    ]
    assert len(stars) == 1
    assert stars[0].get_xdata()[0] == picked["n_segments"][0]
    assert stars[0].get_ydata()[0] == pytest.approx(picked["silhouette"][0])
    dots = sum(len(ln.get_xdata()) for ln in ax.get_lines() if ln.get_marker() == "o")
    assert dots == swept.candidates_.height  # every candidate fitted is drawn


def test_selection_at_a_given_k_compares_the_clusterers():
    seg = _fit(n_segments=3, outcomes=False)
    fig = plots.plot_selection(seg)
    assert fig.axes[0].get_xlabel() == "candidates at the given k = 3"
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == seg.candidates_["clusterer"].to_list()


def test_selection_refuses_when_nothing_was_swept(given):
    with pytest.raises(InputError, match="Nothing was swept"):
        plots.plot_selection(given)


def test_drivers_chart_has_a_legend_and_the_cards_drivers(given):
    fig = plots.plot_drivers(given, 1)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == [
        "higher than overall (+)",
        "lower than overall (-)",
        "below a medium effect",
    ]
    drivers = given.profiles_[1].drivers[:8]
    bars = fig.axes[0].patches
    assert [b.get_width() for b in bars][::-1] == pytest.approx(
        [d["importance"] for d in drivers]
    )
    with pytest.raises(InputError, match="no segment 9"):
        plots.plot_drivers(given, 9)


def test_heatmap_labels_are_whole_and_every_cell_reads(given):
    fig = plots.plot_heatmap(given)
    ax = fig.axes[0]
    labels = {d["label"] for p in given.profiles_.values() for d in p.drivers[:3]}
    for t in ax.get_yticklabels():
        assert t.get_text().replace("\n", " ") in labels  # wrapped, never cut
    for t, s in zip(ax.get_xticklabels(), sorted(given.profiles_), strict=True):
        assert t.get_text().replace("\n", " ") == f"{s}. {given.profiles_[s].name}"
    im = ax.images[0]
    z = im.get_array()
    for t in ax.texts:
        x, y = t.get_position()
        cell = im.cmap(im.norm(z[int(y), int(x)]))
        assert _contrast(t.get_color(), cell) >= 4.5, t.get_text()


def test_ink_reads_on_every_colour_of_the_map():
    cmap = mpl.colormaps["RdBu_r"]
    for v in np.linspace(0, 1, 101):
        assert _contrast(ink(cmap(v)), cmap(v)) >= 4.5


def test_wrap_breaks_only_between_words():
    text = "median hours to resolve a high-severity ticket"
    for width in (4, 8, 14, 30):
        out = wrap(text, width)
        assert out.replace("\n", " ") == text
        assert all(w in text.split() for line in out.split("\n") for w in line.split())
    assert wrap("a$b\r\nc", 20) == r"a\$b c"  # no mathtext, no control character


def test_map_draws_the_clustering_space_coloured_by_segment(swept):
    fig = plots.plot_map(swept)
    ax = fig.axes[0]
    colors = segment_colors(sorted(swept.profiles_))
    counts = swept.labels_["segment_id"].value_counts()
    for coll, s in zip(ax.collections, sorted(swept.profiles_), strict=True):
        n = counts.filter(pl.col("segment_id") == s)["count"][0]
        assert len(coll.get_offsets()) == n  # 400 customers: all drawn
        assert mpl.colors.to_hex(coll.get_facecolor()[0]) == colors[s]
    with pytest.raises(InputError, match="'method' parameter"):
        plots.plot_map(swept, method="tsne")


def test_map_samples_large_fits_and_umap_needs_its_package(monkeypatch, swept):
    assert swept.labels_.height > 100
    monkeypatch.setattr(plots, "MAP_POINTS", 100)
    fig = plots.plot_map(swept)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 100
    monkeypatch.setitem(sys.modules, "umap", None)  # not importable
    with pytest.raises(InputError, match="umap-learn"):
        plots.plot_map(swept, method="umap")


def test_sizes_and_outcomes_show_the_fitted_numbers(swept, given):
    fig = plots.plot_sizes(swept)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths == swept.segments_.sort("segment_id")["size"].to_list()
    fig = plots.plot_outcomes(swept)
    outs = swept.outcomes_["outcome"].unique(maintain_order=True).to_list()
    shown = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left") for a in shown] == outs
    churn = swept.outcomes_.filter(pl.col("outcome") == "churned").sort("segment_id")
    points = [ln for ln in shown[0].get_lines() if ln.get_marker() in ("o", "x")]
    got = [ln.get_xdata()[0] for ln in points]
    assert got == pytest.approx((100 * churn["difference"]).to_list())
    with pytest.raises(InputError, match="No outcome was compared"):
        plots.plot_outcomes(given)


def test_labels_with_control_characters_and_dollars_draw_without_warnings(tmp_path):
    rng = np.random.default_rng(0)
    table = pl.DataFrame(
        {
            "id": range(200),
            "spend $\r\nper month": rng.normal(size=200),
            "visits\tnow": rng.normal(size=200) + np.repeat([0, 4], 100),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sd.exceptions.SegdiscoverWarning)
        seg = sd.Segmenter(
            clusterer="kmeans", n_segments=2, id="id", random_state=0,
            stability_refits=0,
        ).fit(table)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images = render_plots(seg)
    assert len(images) == len(chart_names(seg))


def test_a_chart_shows_itself_in_a_notebook_before_pyplot_is_imported(given):
    # A bare Figure is text ("<Figure size ...>") until IPython's matplotlib
    # integration is on; the charts carry their own PNG representation.
    formatters = pytest.importorskip("IPython.core.formatters")
    shown, _ = formatters.DisplayFormatter().format(plots.plot_sizes(given))
    assert shown["image/png"][:4] == b"\x89PNG"
    bare, _ = formatters.DisplayFormatter().format(Figure())
    assert "image/png" not in bare
