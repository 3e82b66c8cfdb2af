"""Flow chart between two runs: where each segment's customers went (alluvial)."""

from __future__ import annotations

from typing import Any

import numpy as np

from segdiscover.report._plots import new_figure, png

#: Gap between stacked segment blocks, as a share of the taller column.
GAP = 0.015


def _stack(sizes: list[int], total: float) -> list[tuple[float, float]]:
    """Top-down (low, high) spans of blocks of the given sizes, with gaps."""
    spans = []
    y = 1.0
    for s in sizes:
        h = s / total
        spans.append((y - h, y))
        y -= h + GAP
    return spans


def flow_chart(report: Any) -> bytes:
    r"""PNG: earlier run's segments (left), later run's (right), customer flows.

    Block heights are customers; the ``left`` block (right side) holds customers
    absent from the later run, the ``new`` block (left side) customers new to it.
    Drawn from ``report.migration`` only, so the chart shows the table's numbers.

    Examples
    --------
    >>> import polars as pl
    >>> from segdiscover.drift import migration_matrix
    >>> class R:  # anything with a migration matrix and run ids
    ...     previous, current = {"run_id": 1}, {"run_id": 2}
    ...     migration = migration_matrix(
    ...         pl.DataFrame({"customer_id": ["a", "b"], "segment_id": [0, 1]}),
    ...         pl.DataFrame({"customer_id": ["a", "b"], "segment_id": [0, 0]}))
    >>> flow_chart(R())[:4] == b"\x89PNG"
    True
    """
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    m = report.migration
    rows = m.get_column("from_segment").to_list()
    cols = [c for c in m.columns if c not in ("from_segment", "total")]
    counts = m.select(cols).to_numpy().astype(float)
    keep_r = counts.sum(1) > 0
    keep_c = counts.sum(0) > 0
    counts = counts[keep_r][:, keep_c]
    rows = [r for r, k in zip(rows, keep_r, strict=True) if k]
    cols = [c for c, k in zip(cols, keep_c, strict=True) if k]
    total = max(counts.sum(), 1.0) * (1 + GAP * max(len(rows), len(cols)))
    left = _stack([int(v) for v in counts.sum(1)], total)
    right = _stack([int(v) for v in counts.sum(0)], total)
    palette = mpl.colormaps["tab20"]
    fig = new_figure(7.5, 0.35 * max(len(rows), len(cols)) + 3.0)
    ax = fig.subplots()
    x = np.linspace(0.12, 0.88, 60)
    ease = (1 - np.cos(np.pi * (x - 0.12) / 0.76)) / 2
    out_pos = [hi for _, hi in left]
    in_pos = [hi for _, hi in right]
    for i, r in enumerate(rows):
        color = "#bbbbbb" if r == "new" else palette(i % 20)
        for j in range(len(cols)):
            h = counts[i, j] / total
            if h <= 0:
                continue
            a_hi, b_hi = out_pos[i], in_pos[j]
            top = a_hi + (b_hi - a_hi) * ease
            ax.fill_between(x, top - h, top, color=color, alpha=0.45, lw=0)
            out_pos[i] -= h
            in_pos[j] -= h
        lo, hi = left[i]
        ax.add_patch(Rectangle((0.07, lo), 0.05, hi - lo, color=color))
        ax.text(0.06, (lo + hi) / 2, r, ha="right", va="center", fontsize=8)
    for j, c in enumerate(cols):
        lo, hi = right[j]
        ax.add_patch(Rectangle((0.88, lo), 0.05, hi - lo, color="#555555"))
        ax.text(0.94, (lo + hi) / 2, c, ha="left", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(min(left[-1][0], right[-1][0]) - 0.02, 1.02)
    ax.axis("off")
    ax.set_title(
        f"Customers from run {report.previous['run_id']} (left) to run "
        f"{report.current['run_id']} (right)",
        fontsize=10,
        loc="left",
    )
    return png(fig)
