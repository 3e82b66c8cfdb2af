"""Charts of a results table: score heatmap (strategy x dataset), time vs size.

Each chart is a :class:`matplotlib.figure.Figure` on its own Agg canvas: no
pyplot, no global backend, so they draw the same in a notebook, a test and a
headless job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from segdiscover.report._figure import ChartFigure

    fig = ChartFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def heatmap(results: pl.DataFrame, metric: str = "ari") -> Any:
    """Mean ``metric`` over seeds, one cell per strategy and dataset.

    Empty cells: the strategy failed, did not apply, or the data cannot give the
    metric.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ok = results.filter((pl.col("status") == "ok") & pl.col(metric).is_not_null())
    strategies = results["strategy"].unique(maintain_order=True).to_list()
    datasets = results["dataset"].unique(maintain_order=True).to_list()
    means = ok.group_by("strategy", "dataset").agg(pl.col(metric).mean())
    M = np.full((len(strategies), len(datasets)), np.nan)
    si = {s: i for i, s in enumerate(strategies)}
    di = {d: j for j, d in enumerate(datasets)}
    for s, d, v in means.iter_rows():
        M[si[s], di[d]] = v
    fig = _figure(min(40.0, 3.0 + 0.42 * len(datasets)), 1.8 + 0.32 * len(strategies))
    ax = fig.add_subplot()
    lo = min(0.0, float(np.nanmin(M))) if np.isfinite(M).any() else 0.0
    hi = max(1.0, float(np.nanmax(M))) if np.isfinite(M).any() else 1.0
    img = ax.imshow(
        np.ma.masked_invalid(M), aspect="auto", cmap="viridis", vmin=lo, vmax=hi
    )
    ax.set_xticks(range(len(datasets)), datasets, rotation=90, fontsize=7)
    ax.set_yticks(range(len(strategies)), strategies, fontsize=8)
    if M.size <= 600:  # values written in the cells while they stay legible
        for i, j in zip(*np.nonzero(np.isfinite(M)), strict=True):
            v = M[i, j]
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if v < lo + 0.6 * (hi - lo) else "black",
            )
    ax.set_title(f"{metric}, mean over seeds (blank: no score)", fontsize=9)
    fig.colorbar(img, ax=ax, label=metric, shrink=0.8)
    return fig


def time_vs_size(results: pl.DataFrame) -> Any:
    """Fit seconds against customers, one series per strategy (log-log).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ok = results.filter(
        (pl.col("status") == "ok")
        & pl.col("fit_seconds").is_not_null()
        & (pl.col("n") > 0)
    )
    fig = _figure(8.0, 5.0)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    # tab20 is a ListedColormap: 20 fixed colours, read by index
    colours = [colormaps["tab20"](i) for i in range(20)]
    markers = "osD^v<>p*hX"
    for i, s in enumerate(results["strategy"].unique(maintain_order=True)):
        part = ok.filter(pl.col("strategy") == s)
        if part.height:
            # colour i mod 20 and marker i mod 11: no two of 220 strategies look alike
            ax.scatter(
                part["n"].to_numpy(),
                np.maximum(part["fit_seconds"].to_numpy(), 1e-3),
                s=16,
                alpha=0.75,
                color=colours[i % len(colours)],
                marker=markers[i % len(markers)],
                label=s,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers (rows)")
    ax.set_ylabel("fit seconds")
    ax.set_title("Time against size")
    if ok.height:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def save_charts(results: pl.DataFrame, out: Path, metric: str = "ari") -> list[Path]:
    """Write ``heatmap.png`` and ``time_vs_size.png`` into ``out``."""
    from segdiscover._atomic import write_file

    paths = []
    for name, fig in (
        ("heatmap.png", heatmap(results, metric)),
        ("time_vs_size.png", time_vs_size(results)),
    ):
        # A reader never sees half a picture; a full disk names the file (exit 2).
        def draw(tmp: Path, fig: Any = fig) -> None:
            fig.savefig(tmp, dpi=110, format="png")

        path = write_file(Path(out) / name, draw)
        paths.append(path)
    return paths
