"""Figures of a fitted segmentation, as :class:`matplotlib.figure.Figure` objects.

Each function takes a fitted :class:`segdiscover.Segmenter` and returns a new
figure drawn on its own Agg canvas: no ``pyplot`` state and no
``matplotlib.use``, so your notebook's backend is never changed. In Jupyter a
returned figure displays itself; elsewhere save it with ``fig.savefig("x.png")``.
The report (``seg.report(...)``, ``segdiscover discover``) embeds these same
figures.

* :func:`plot_map` -- customers in two dimensions (PCA of the clustering space),
  coloured by segment
* :func:`plot_sizes` -- customers per segment
* :func:`plot_selection` -- the sweep behind the choice of segmentation
* :func:`plot_drivers` -- one segment's drivers (mean SHAP value), with a legend
* :func:`plot_heatmap` -- segments vs population on the key features
* :func:`plot_outcomes` -- each segment vs the rest on each outcome, with 95% CIs

Examples
--------
>>> import segdiscover as sd
>>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
>>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
>>> from segdiscover.plots import plot_sizes
>>> fig = plot_sizes(seg)
>>> from matplotlib.figure import Figure
>>> isinstance(fig, Figure)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from segdiscover.exceptions import InputError
from segdiscover.report._plots import (
    DOWN,
    MAP_POINTS,
    PALETTE,
    TOP,
    UP,
    VERDICT_STYLE,
    chosen_space,
    clustering_space,
    ink,
    new_figure,
    rule_defaults,
    segment_colors,
    segment_ids,
    segment_label,
    sweep_table,
    tidy,
    verdict_class,
    wrap,
)
from segdiscover.result import as_result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from segdiscover.result import HasResult, Segmentation

__all__ = [
    "map_rows",
    "plot_drivers",
    "plot_heatmap",
    "plot_map",
    "plot_outcomes",
    "plot_selection",
    "plot_sizes",
]


def plot_drivers(src: Segmentation | HasResult, segment_id: int) -> Figure:
    """Bar chart of one segment's drivers (mean SHAP value toward the segment).

    Blue: the segment is above the population on the feature, orange: below; light
    bars are drivers under a medium effect size, which a name may not use.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A fitted Segmenter, loaded model or :class:`~segdiscover.result.Segmentation`.
    segment_id : int

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> from segdiscover.plots import plot_drivers
    >>> fig = plot_drivers(seg, 0)
    >>> fig.axes[0].get_xlabel()
    'mean SHAP value toward the segment (its members)'
    """
    src = as_result(src)
    from matplotlib.patches import Patch

    if segment_id not in src.profiles:
        msg = f"There is no segment {segment_id}; segments are {segment_ids(src)}."
        raise InputError(msg)
    prof = src.profiles[segment_id]
    ds = prof.drivers[:TOP][::-1]
    fig = new_figure(5.4, 0.36 * max(len(ds), 2) + 1.3)
    ax = fig.subplots()
    labels = [
        wrap(d["label"] + (f" = {d['category']}" if d.get("category") else ""), 34)
        for d in ds
    ]
    colors = [UP if d["direction"] == "+" else DOWN for d in ds]
    bars = ax.barh(range(len(ds)), [d["importance"] for d in ds], color=colors)
    for bar, d in zip(bars, ds, strict=True):
        bar.set_alpha(1.0 if d["passes"] else 0.4)
    ax.set_yticks(range(len(ds)), labels)
    ax.set_xlabel("mean SHAP value toward the segment (its members)", fontsize=8)
    ax.set_title(wrap(f"{segment_id}. {prof.name}", 60), fontsize=10, loc="left")
    tidy(ax)
    fig.legend(
        handles=[
            Patch(color=UP, label="higher than overall (+)"),
            Patch(color=DOWN, label="lower than overall (-)"),
            Patch(color="#999999", alpha=0.4, label="below a medium effect"),
        ],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    return fig


def plot_heatmap(src: Segmentation | HasResult) -> Figure:
    """Heatmap of each segment's mean on the key features, as a z-score.

    Rows are the numeric features among the segments' top three drivers, labelled
    in business words (whole words, wrapped); columns are the segments. The text of
    each cell is black or white by the cell's colour, so every cell reads.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A fitted segmenter.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> from segdiscover.plots import plot_heatmap
    >>> fig = plot_heatmap(seg)
    >>> len(fig.axes[0].get_xticklabels())
    3
    """
    src = as_result(src)
    import matplotlib as mpl

    segs = segment_ids(src)
    keys: dict[str, str] = {}
    for s in segs:
        for d in src.profiles[s].drivers[:3]:
            if d.get("category") is None and d["feature"] not in keys:
                keys[d["feature"]] = d["label"]
    feats = list(keys)[:14]
    labels = src.labels["segment_id"].to_numpy()
    z = np.full((len(feats), len(segs)), np.nan)
    for i, f in enumerate(feats):
        x = src.features.get_column(f).cast(pl.Float64).to_numpy()
        ok = np.isfinite(x)
        if not ok.any():
            continue
        mu, sd = x[ok].mean(), x[ok].std() or 1.0
        for j, s in enumerate(segs):
            m = ok & (labels == s)
            if m.any():
                z[i, j] = (x[m].mean() - mu) / sd
    many = len(segs) > 8  # names would collide: columns show the ids
    width = min(16.0, 3.2 + (0.6 if many else 1.15) * len(segs))
    fig = new_figure(width, 0.3 * max(len(feats), 2) + (1.4 if many else 2.0))
    ax = fig.subplots()
    lim = max(1.0, float(np.abs(z[np.isfinite(z)]).max(initial=0.0)))
    cmap = mpl.colormaps["RdBu_r"]
    norm = mpl.colors.Normalize(-lim, lim)
    im = ax.imshow(z, cmap=cmap, norm=norm, aspect="auto")
    ax.set_yticks(range(len(feats)), [wrap(keys[f], 30) for f in feats], fontsize=8)
    cols = [str(s) if many else wrap(segment_label(src, s), 18) for s in segs]
    ax.set_xticks(range(len(segs)), cols, fontsize=7 if many else 8)
    ax.xaxis.tick_top()
    for i in range(len(feats)):
        for j in range(len(segs)):
            v = z[i, j]
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:+.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=ink(cmap(norm(v))),
                )
    fig.colorbar(im, ax=ax, shrink=0.8).set_label(
        "z-score of the segment's mean", fontsize=8
    )
    ax.set_title("Segments vs population", fontsize=10, loc="left")
    return fig


def _embed(
    X: np.ndarray, method: str, seed: int = 0
) -> tuple[np.ndarray, tuple[str, str]]:
    if method == "umap":
        try:
            import umap  # optional; never a dependency
        except ImportError as exc:
            msg = "method='umap' needs the umap-learn package (pip install umap-learn)."
            raise InputError(msg) from exc
        return umap.UMAP(random_state=seed).fit_transform(X), ("UMAP 1", "UMAP 2")
    from sklearn.decomposition import PCA

    if X.shape[1] < 2:  # one feature: the map is that feature against nothing
        X = np.c_[X, np.zeros(len(X))]
    pca = PCA(n_components=2, random_state=seed).fit(X)
    share = np.nan_to_num(pca.explained_variance_ratio_)
    return pca.transform(X), (
        f"first principal component ({share[0]:.0%} of the variance)",
        f"second ({share[1]:.0%})",
    )


def map_rows(src: Segmentation | HasResult, cap: int | None = None) -> np.ndarray:
    """Rows of ``labels_`` the customer map draws (sorted; all of them up to ``cap``).

    Above ``cap`` (default :data:`MAP_POINTS`, 4,000), exactly ``cap`` customers
    stratified by segment (every segment at least ``min(size, 50)``, the rest in
    proportion to size, rounded down, then the smallest remaining hashes): in
    each segment the customers with the smallest hash of their id, so the map
    shows the same customers whatever the row order and ``random_state``.

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> len(map_rows(seg)), len(map_rows(seg, cap=200))
    (600, 200)
    """
    from segdiscover.explain.surrogate import stratified_sample
    from segdiscover.guide import customer_hash

    res = as_result(src)
    cap = MAP_POINTS if cap is None else cap
    labels = res.labels.get_column("segment_id").to_numpy()
    if labels.size <= cap:
        return np.arange(labels.size)
    keys = customer_hash(res.labels.get_column(res.id))
    rows = stratified_sample(labels, cap, None, keys=keys)
    if rows.size < cap:  # shares rounded down: the smallest other hashes fill up
        free = np.ones(labels.size, dtype=bool)
        free[rows] = False
        rest = np.flatnonzero(free)
        more = rest[np.argsort(keys[rest], kind="stable")[: cap - rows.size]]
        rows = np.sort(np.concatenate([rows, more]))
    return rows


def plot_map(src: Segmentation | HasResult, method: str = "pca") -> Figure:
    """Map of the customers in two dimensions, coloured by segment.

    The clustering space itself (the preprocessed features, or for segments guided
    by outcomes the customers' contributions to the outcomes) projected on its
    first two principal components; ``method="umap"`` uses UMAP where the optional
    ``umap-learn`` package is installed. At most 4,000 customers are drawn and
    embedded (:func:`map_rows`: stratified by segment, picked by a hash of the
    customer id, so the same customers whatever the row order); each segment's id
    sits at its median point.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A fitted segmenter.
    method : {"pca", "umap"}, default "pca"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> from segdiscover.plots import plot_map
    >>> fig = plot_map(seg)
    >>> fig.axes[0].get_xlabel().startswith("first principal component")
    True
    """
    src = as_result(src)
    import matplotlib.patheffects as pe

    if method not in ("pca", "umap"):
        msg = (
            "The 'method' parameter of plot_map must be 'pca' or 'umap'. "
            f"Got {method!r} instead."
        )
        raise InputError(msg)
    rows = map_rows(src)
    # Only the drawn customers are projected: the embedding (PCA or UMAP) is
    # fitted on them, so a map of 1M customers costs what one of 4,000 does.
    X = clustering_space(src, rows)
    xy, (xlab, ylab) = _embed(X, method)
    lab = src.labels["segment_id"].to_numpy()[rows]
    segs = segment_ids(src) + ([-1] if (lab < 0).any() else [])
    colors = segment_colors(segs)
    fig = new_figure(6.0, 5.0 + 0.22 * -(-len(segs) // 2))
    ax = fig.subplots()
    size = float(np.clip(3000 / max(len(rows), 1), 3, 18))
    for s in segs:
        m = lab == s
        ax.scatter(
            xy[m, 0],
            xy[m, 1],
            s=size,
            color=colors[s],
            alpha=0.55,
            lw=0,
            label=wrap(segment_label(src, s), 44),
            rasterized=True,
        )
    for s in segs:
        m = lab == s
        if s >= 0 and m.any():
            cx, cy = np.median(xy[m], axis=0)
            ax.text(
                cx,
                cy,
                str(s),
                ha="center",
                va="center",
                fontsize=11,
                weight="bold",
                color=colors[s],
                path_effects=[pe.withStroke(linewidth=3, foreground="white")],
            )
    space = "behaviour" if chosen_space(src) == "features" else "outcome contributions"
    ax.set_title(
        f"Customers in the clustering space ({space})", fontsize=10, loc="left"
    )
    ax.set_xlabel(xlab, fontsize=8)
    ax.set_ylabel(ylab, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.legend(
        loc="outside lower center", ncols=2, fontsize=8, frameon=False, markerscale=2.5
    )
    return fig


def plot_sizes(src: Segmentation | HasResult) -> Figure:
    """Horizontal bars: customers per segment, with each segment's share.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A fitted segmenter.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> from segdiscover.plots import plot_sizes
    >>> fig = plot_sizes(seg)
    >>> widths = [int(p.get_width()) for p in fig.axes[0].patches]
    >>> widths == seg.segments_.sort("segment_id")["size"].to_list()
    True
    """
    src = as_result(src)
    segs = segment_ids(src)
    frame = src.segments.sort("segment_id")
    sizes = [float(v) for v in frame["size"]]
    shares = [float(v) for v in frame["share"]]
    colors = segment_colors(segs)
    fig = new_figure(4.0, 0.45 * max(len(segs), 2) + 0.9)
    ax = fig.subplots()
    ax.barh(range(len(segs)), sizes, color=[colors[s] for s in segs])
    ax.set_yticks(range(len(segs)), [wrap(segment_label(src, s), 24) for s in segs])
    ax.invert_yaxis()
    for i, (n, sh) in enumerate(zip(sizes, shares, strict=True)):
        ax.text(n, i, f" {n:,.0f} ({sh:.1%})", va="center", fontsize=8)
    ax.set_xlim(0, max(sizes) * 1.45)
    ax.set_xlabel("customers", fontsize=8)
    ax.set_title("Segment sizes", fontsize=10, loc="left")
    tidy(ax)
    return fig


def plot_outcomes(src: Segmentation | HasResult) -> Figure:
    """Each segment's difference from the rest on each outcome, with its 95% CI.

    One panel per outcome (rates in percentage points); a filled dot is a material
    difference, a hollow one significant but under the difference that matters
    (dashed lines), a cross no clear difference.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A segmenter fitted with outcomes.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
    ...                    stability_refits=0, guide="none").fit(
    ...     data.tables, as_of=data.as_of, outcomes=data.outcomes)
    >>> from segdiscover.plots import plot_outcomes
    >>> fig = plot_outcomes(seg)
    >>> len(fig.axes) == seg.outcomes_["outcome"].n_unique()
    True
    """
    src = as_result(src)
    from matplotlib.lines import Line2D

    res = src.outcomes
    if res is None or res.height == 0:
        msg = "No outcome was compared: fit with outcomes=... to plot them."
        raise InputError(msg)
    outs = res["outcome"].unique(maintain_order=True).to_list()
    segs = segment_ids(src)
    colors = segment_colors(segs)
    ncols = min(len(outs), 2)
    nrows = -(-len(outs) // ncols)
    fig = new_figure(9.6 if ncols > 1 else 6.4, nrows * (0.32 * len(segs) + 1.1) + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, o in zip(axes, outs, strict=False):
        rows = {
            int(r["segment_id"]): r
            for r in res.filter(pl.col("outcome") == o).iter_rows(named=True)
        }
        rate = next(iter(rows.values()))["kind"] == "rate"
        scale = 100.0 if rate else 1.0
        for i, s in enumerate(segs):
            r = rows.get(s)
            if r is None or r["difference"] is None:
                continue
            _, marker, filled = VERDICT_STYLE[verdict_class(r)]
            lo, hi = scale * r["ci_low"], scale * r["ci_high"]
            ax.plot([lo, hi], [i, i], color=colors[s], lw=2)
            ax.plot(
                scale * r["difference"],
                i,
                marker=marker,
                ms=7,
                color=colors[s],
                mfc=colors[s] if filled else "white",
                mew=1.6,
            )
        ax.axvline(0, color="#444444", lw=0.8)
        thr = next(iter(rows.values())).get("threshold")
        if thr is not None and np.isfinite(thr):
            for t in (-thr, thr):
                ax.axvline(scale * t, color="#999999", lw=0.8, ls="--")
        ax.set_yticks(range(len(segs)), [str(s) for s in segs])
        ax.set_ylim(len(segs) - 0.5, -0.5)
        ax.set_title(wrap(o, 40), fontsize=9, loc="left")
        ax.set_xlabel("vs the rest (pp)" if rate else "vs the rest", fontsize=8)
        tidy(ax)
    for ax in axes[len(outs) :]:
        ax.set_visible(False)
    fig.legend(
        handles=[
            Line2D(
                [],
                [],
                color="#555555",
                marker=m,
                ls="none",
                mfc="#555555" if f else "white",
                label=t,
            )
            for t, m, f in VERDICT_STYLE.values()
        ],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        "Outcomes: each segment vs the rest (95% CI; rows are segment ids)",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return fig


#: Panels of the selection chart: column, title, the threshold's rule name.
SELECTION_PANELS = (
    ("silhouette", "silhouette (higher: more compact)", None),
    (
        "stability_lo",
        "smallest segment's Jaccard recovery (lower 90% bound)",
        "min_stability",
    ),
    (
        "valley_max",
        "largest density-valley ratio (lower: more separated)",
        "max_valley",
    ),
)


# Long on purpose (~120 lines, a third docstring): one figure of up to three
# panels that share the sweep table, the picked row and the thresholds' lines.
def plot_selection(src: Segmentation | HasResult) -> Figure:
    """Plot the sweep behind the choice: every candidate fitted, the chosen marked.

    One panel per score (silhouette, the smallest segment's Jaccard recovery with
    the stability rule's line, the largest density-valley ratio with the
    separation rule's line) against the number of segments, one line per clusterer
    (and per space when outcome-guided segments were compared). A large star marks
    the segments shown, a small hollow star the best candidate of the other space.
    When k was given, the candidates are the clusterers compared at that k.

    Parameters
    ----------
    src : Segmenter, loaded model or Segmentation
        A segmenter fitted with ``clusterer="auto"`` or ``n_segments=None``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", k_range=(2, 4), random_state=0,
    ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
    >>> from segdiscover.plots import plot_selection
    >>> fig = plot_selection(seg)
    >>> fig.axes[0].get_xlabel()
    'segments (k)'
    """
    src = as_result(src)
    from matplotlib.lines import Line2D

    table = sweep_table(src)
    if table is None:
        msg = (
            "Nothing was swept: the clusterer and the number of segments were both "
            "given, so there is no choice to plot."
        )
        raise InputError(msg)
    rules = rule_defaults()
    panels = []
    for col, title, rule in SELECTION_PANELS:
        if col == "stability_lo" and col not in table.columns:
            col = "stability_min"
        if col in table.columns and table[col].cast(pl.Float64).is_finite().any():
            panels.append((col, title, rules.get(rule) if rule else None))
    spaces = table["space"].unique(maintain_order=True).to_list()
    names = {"features": "behaviour", "outcomes": "guided by outcomes"}
    lines = [
        (c, sp)
        for sp in spaces
        for c in table.filter(pl.col("space") == sp)["clusterer"].unique(
            maintain_order=True
        )
    ]
    several_k = table["n_segments"].n_unique() > 1
    fig = new_figure(10.0, 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)).ravel()
    for ax, (col, title, line) in zip(axes, panels, strict=True):
        for li, (name, sp) in enumerate(lines):
            c = table.filter((pl.col("clusterer") == name) & (pl.col("space") == sp))
            c = c.sort("n_segments")
            color = PALETTE[li % len(PALETTE)]
            label = name + (f" ({names.get(sp, sp)})" if len(spaces) > 1 else "")
            x = c["n_segments"].to_numpy() if several_k else np.full(c.height, li)
            ax.plot(
                x,
                c[col].to_numpy().astype(float),
                marker="o",
                color=color,
                ls="-" if several_k else "none",
                label=label,
            )
            for r in c.filter(pl.col("chosen")).iter_rows(named=True):
                xv = r["n_segments"] if several_k else li
                ax.plot(
                    xv,
                    r[col],
                    marker="*",
                    ls="none",
                    ms=17 if r["picked"] else 11,
                    color="crimson",
                    mfc="crimson" if r["picked"] else "none",
                    mew=1.4,
                    zorder=5,
                )
        # The separation rule applies to behaviour segments only (guided: none).
        if line is not None and (col != "valley_max" or "features" in spaces):
            ax.axhline(line, color="grey", ls="--", lw=1)
        ax.set_title(wrap(title, 36), fontsize=9)
        if several_k:
            ax.set_xlabel("segments (k)", fontsize=8)
            ax.xaxis.get_major_locator().set_params(integer=True)
        else:
            k = int(table["n_segments"][0])
            ticks = [
                n + (f" ({names.get(sp, sp)})" if len(spaces) > 1 else "")
                for n, sp in lines
            ]
            ax.set_xticks(range(len(lines)), [wrap(t, 10) for t in ticks], fontsize=7)
            ax.set_xlim(-0.6, len(lines) - 0.4)
            ax.set_xlabel(f"candidates at the given k = {k}", fontsize=8)
        tidy(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", color="crimson", ls="none", ms=12))
    labels.append("the segments shown")
    if len(spaces) > 1:
        star = Line2D([], [], marker="*", color="crimson", mfc="none", ls="none", ms=9)
        handles.append(star)
        labels.append("best of the other space")
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 5),
        fontsize=8,
        frameon=False,
    )
    return fig
