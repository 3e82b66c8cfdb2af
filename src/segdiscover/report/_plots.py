"""Charts for reports: SHAP drivers per segment and a segment-vs-population heatmap.

Rendered with matplotlib's Agg backend (no display needed) from the fitted result
only, so the charts show the same numbers as the tables.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import polars as pl

TOP = 8


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def driver_chart(profile: Any) -> bytes:
    """PNG: the segment's drivers by mean SHAP value toward it (blue +, orange -)."""
    plt = _pyplot()
    ds = profile.drivers[:TOP][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * max(len(ds), 2) + 1.0))
    labels = [
        f"{d['label']}" + (f" = {d['category']}" if d["category"] else "") for d in ds
    ]
    colors = ["#4a78c2" if d["direction"] == "+" else "#e08a2c" for d in ds]
    ax.barh(labels, [d["importance"] for d in ds], color=colors)
    ax.set_xlabel("mean SHAP value toward the segment (members)")
    ax.set_title(f"{profile.segment_id}. {profile.name}", fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def heatmap(
    features: pl.DataFrame, labels: np.ndarray, profiles: dict[int, Any]
) -> bytes:
    """PNG: z-score of each segment's mean on the key numeric features."""
    plt = _pyplot()
    keys: list[str] = []
    for p in profiles.values():
        for d in p.drivers[:3]:
            if d["category"] is None and d["feature"] not in keys:
                keys.append(d["feature"])
    keys = keys[:14]
    segs = sorted(profiles)
    z = np.zeros((len(segs), len(keys)))
    for j, k in enumerate(keys):
        x = features.get_column(k).cast(pl.Float64).to_numpy()
        mu, sd = np.nanmean(x), np.nanstd(x) or 1.0
        for i, s in enumerate(segs):
            z[i, j] = (np.nanmean(x[labels == s]) - mu) / sd
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(keys), 0.5 * len(segs) + 1.8))
    lim = max(1.0, float(np.nanmax(np.abs(z)))) if z.size else 1.0
    im = ax.imshow(z, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(keys)), keys, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(
        range(len(segs)), [f"{s}. {profiles[s].name}"[:40] for s in segs], fontsize=8
    )
    for i in range(len(segs)):
        for j in range(len(keys)):
            ax.text(j, i, f"{z[i, j]:+.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="z-score of segment mean")
    ax.set_title("Segments vs population", fontsize=10, loc="left")
    return _png(fig)


def selection_chart(candidates: pl.DataFrame) -> bytes:
    """PNG: the ``auto`` sweep's scores against k, per clusterer, pick marked."""
    plt = _pyplot()
    panels = [
        ("silhouette", "silhouette", None),
        ("stability_min", "smallest segment Jaccard (stable >= 0.8)", 0.8),
        ("valley_max", "largest valley ratio (separated < 0.5)", 0.5),
    ]
    panels = [p for p in panels if p[0] in candidates.columns]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2))
    axes = np.atleast_1d(axes)
    for ax, (col, title, line) in zip(axes, panels, strict=True):
        for name in candidates["clusterer"].unique(maintain_order=True):
            c = candidates.filter(pl.col("clusterer") == name).sort("n_segments")
            ax.plot(c["n_segments"], c[col], marker="o", label=name)
            chosen = c.filter(pl.col("chosen"))
            if chosen.height:
                ax.plot(chosen["n_segments"], chosen[col], marker="*", ms=16,
                        color="crimson", ls="none")  # fmt: skip
        if line is not None:
            ax.axhline(line, color="grey", ls="--", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("segments (k)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def render_plots(seg: Any) -> dict[str, bytes]:
    """All charts of a fitted Segmenter, by file name."""
    labels = seg.labels_["segment_id"].to_numpy()
    out = {"heatmap.png": heatmap(seg.features_, labels, seg.profiles_)}
    cands = getattr(seg, "candidates_", None)
    if cands is not None and cands.height > 1 and "chosen" in cands.columns:
        out["selection.png"] = selection_chart(cands)
    for s, p in sorted(seg.profiles_.items()):
        out[f"segment_{s}_drivers.png"] = driver_chart(p)
    return out
