"""Figures of a fitted segmentation, and their PNG files for the reports.

Every figure is a :class:`matplotlib.figure.Figure` drawn on its own Agg canvas:
no ``pyplot`` state and no ``matplotlib.use``, so rendering a report never changes
the backend a notebook user's own plots go to. The builders read the result object
(:class:`~segdiscover.result.Segmentation`) only, so the charts show the numbers
of the tables.
The public names are in :mod:`segdiscover.plots`.
"""

from __future__ import annotations

import inspect
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from segdiscover.result import HasResult, Segmentation

#: Drivers drawn per segment.
TOP = 8
#: Customers drawn on the map (a fixed sample above this: the picture is the same).
MAP_POINTS = 4000
DPI = 100
#: Segment colours (matplotlib's tab10, then tab20): one colour per segment in every
#: chart and on the report's cards.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)
NOISE_COLOR = "#b0b0b0"
UP, DOWN = "#3b6fb6", "#e08a2c"  # a driver above / below the population

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


# ------------------------------------------------------------------ accessors
def segment_ids(src: Segmentation) -> list[int]:
    """Segment ids in the report's order."""
    return sorted(int(s) for s in src.segments["segment_id"])


def segment_colors(ids: Sequence[int]) -> dict[int, str]:
    """One colour per segment id, in the order of ``ids`` (noise, -1, grey).

    Examples
    --------
    >>> segment_colors([0, 1, -1])
    {0: '#1f77b4', 1: '#ff7f0e', -1: '#b0b0b0'}
    """
    out, i = {}, 0
    for s in ids:
        if s < 0:
            out[s] = NOISE_COLOR
        else:
            out[s] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def chosen_space(src: Segmentation) -> str:
    """``"features"`` or ``"outcomes"``: the space the segments were found in."""
    return str((src.run.get("guide") or {}).get("mode") or "features")


def k_was_given(src: Segmentation) -> bool:
    """Whether the number of segments was set by the user (nothing chose it)."""
    return (src.run.get("params") or {}).get("n_segments") is not None


def sweep_table(src: Segmentation) -> pl.DataFrame | None:
    """Return the candidate table with ``space`` and ``picked`` (the segments shown)."""
    cands = src.candidates
    if cands is None or cands.height == 0:
        return None
    if "space" not in cands.columns:
        cands = cands.with_columns(pl.lit(chosen_space(src)).alias("space"))
    if "chosen" not in cands.columns:
        cands = cands.with_columns(pl.lit(value=False).alias("chosen"))
    return cands.with_columns(
        (pl.col("chosen") & (pl.col("space") == chosen_space(src))).alias("picked")
    )


def rule_defaults() -> dict[str, float]:
    """Return the sweep's thresholds, read from its signature so lines never drift."""
    from segdiscover.selection import sweep

    params = inspect.signature(sweep).parameters
    return {
        k: float(params[k].default)
        for k in ("min_stability", "max_valley")
        if k in params
    }


def clustering_space(src: Segmentation, rows: np.ndarray | None = None) -> np.ndarray:
    """Return the matrix the clusterer worked in, a row per customer of ``labels_``.

    ``rows`` (indices into ``labels_``) transforms only those customers.
    """
    from segdiscover.assign import cluster_space

    feat = src.features.drop(src.id)
    if rows is not None:
        feat = feat[np.asarray(rows, dtype=np.int64)]
    return cluster_space(src.preprocessor, src.guide, feat)


# ------------------------------------------------------------------ helpers
def chart_text(s: object) -> str:
    """Text matplotlib draws as given: no control characters, no mathtext."""
    return _CONTROL.sub(" ", str(s)).replace("$", r"\$")


def wrap(s: object, width: int) -> str:
    r"""Wrap at spaces only, never inside a word.

    Examples
    --------
    >>> wrap("share of orders via marketplace", 14)
    'share of\norders via\nmarketplace'
    """
    lines = textwrap.wrap(
        chart_text(s), width, break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(lines) or " "


def new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from segdiscover.report._figure import ChartFigure

    # ChartFigure displays itself in Jupyter even before pyplot is imported.
    fig = ChartFigure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # its own canvas: no pyplot figure manager
    return fig


def png(fig: Figure) -> bytes:
    """Return a figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _luminance(rgba: Sequence[float]) -> float:
    r, g, b = (
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]
    )
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba``.

    Examples
    --------
    >>> ink((0.4, 0.0, 0.1, 1.0)), ink((0.97, 0.97, 0.97, 1.0))
    ('white', 'black')
    """
    # WCAG contrast: black wins when (L + 0.05) / 0.05 > 1.05 / (L + 0.05).
    return "black" if _luminance(rgba) > 0.179 else "white"


def segment_label(src: Segmentation, s: int) -> str:
    return f"{s}. {src.profiles[s].name}" if s in src.profiles else "noise"


def tidy(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)


# ------------------------------------------------------------------ figures
#: Verdict classes of an outcome difference, in the words of the verdict sentences.
VERDICT_STYLE = {
    "material": ("materially higher or lower", "o", True),
    "significant": (
        "higher or lower, but not clearly by the difference that matters",
        "o",
        False,
    ),
    "none": ("no clear difference", "x", False),
}


def verdict_class(row: Mapping[str, Any]) -> str:
    """``material``, ``significant`` or ``none`` for one segment-vs-rest row."""
    if row.get("material"):
        return "material"
    return "significant" if row.get("significant") else "none"


def chart_names(model: Segmentation | HasResult) -> list[str]:
    """Return the PNG names :func:`render_plots` writes for ``src`` (in ``plots/``)."""
    from segdiscover.result import as_result

    src = as_result(model)
    names = ["map.png", "sizes.png"]
    if sweep_table(src) is not None:
        names.append("selection.png")
    if src.outcomes is not None and src.outcomes.height:
        names.append("outcomes.png")
    names.append("heatmap.png")
    names += [f"segment_{s}_drivers.png" for s in segment_ids(src)]
    return names


def render_plots(model: Segmentation | HasResult) -> dict[str, bytes]:
    """All charts of a fitted segmentation as PNG bytes, by file name."""
    from segdiscover.result import as_result

    seg = as_result(model)
    from segdiscover.plots import (
        plot_drivers,
        plot_heatmap,
        plot_map,
        plot_outcomes,
        plot_selection,
        plot_sizes,
    )

    build = {
        "map.png": lambda: plot_map(seg),
        "sizes.png": lambda: plot_sizes(seg),
        "selection.png": lambda: plot_selection(seg),
        "outcomes.png": lambda: plot_outcomes(seg),
        "heatmap.png": lambda: plot_heatmap(seg),
    }
    out = {}
    for name in chart_names(seg):
        if name in build:
            out[name] = png(build[name]())
        else:
            sid = int(name.removeprefix("segment_").removesuffix("_drivers.png"))
            out[name] = png(plot_drivers(seg, sid))
    return out
