"""CLUSTERERS: the registry of built-in clusterers (one screen, easy to grep)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segdiscover.clusterers._base import ClustererSpec
from segdiscover.clusterers.centroid import KMeansAdapter, MiniBatchKMeansAdapter
from segdiscover.clusterers.density import HDBSCANAdapter
from segdiscover.clusterers.hierarchical import BirchAdapter, WardAdapter
from segdiscover.clusterers.mixture import GaussianMixtureAdapter

if TYPE_CHECKING:
    import polars as pl

# Limits measured on a 2-core machine: Ward passes 60 s near 30k rows (~7 GiB);
# HDBSCAN passes 90 s near 100k rows unless projected to a few dimensions.
CLUSTERERS: dict[str, ClustererSpec] = {
    "kmeans": ClustererSpec(
        "kmeans",
        KMeansAdapter,
        test_params={"n_init": 1},
        description="k-means with k-means++ restarts; fast on millions of rows.",
    ),
    "minibatch_kmeans": ClustererSpec(
        "minibatch_kmeans",
        MiniBatchKMeansAdapter,
        in_auto=False,
        test_params={"n_init": 1, "batch_size": 256},
        description="Mini-batch k-means: bounded memory for very large tables.",
    ),
    "gmm": ClustererSpec(
        "gmm",
        GaussianMixtureAdapter,
        soft=True,
        max_fit_rows=200_000,
        test_params={"n_init": 1},
        description="Gaussian mixture (diagonal covariances): soft memberships.",
    ),
    "ward": ClustererSpec(
        "ward",
        WardAdapter,
        native_assign=False,
        max_fit_rows=10_000,
        in_auto=False,
        description="Ward agglomerative; fits a sample, k-NN assigns the rest.",
    ),
    "birch": ClustererSpec(
        "birch",
        BirchAdapter,
        max_fit_rows=100_000,
        in_auto=False,
        description="BIRCH CF-tree then agglomeration; one pass over the data.",
    ),
    "hdbscan": ClustererSpec(
        "hdbscan",
        HDBSCANAdapter,
        needs_k=False,
        noise=True,
        native_assign=False,
        max_fit_rows=20_000,
        in_auto=False,
        test_params={"min_cluster_size": 10},
        description="HDBSCAN on 5 principal components; finds its own k and noise.",
    ),
}


def describe() -> pl.DataFrame:
    """Return the registry as a table: one row per clusterer and what it can do.

    Reads the registry when called, so a clusterer registered later is listed.

    Returns
    -------
    polars.DataFrame
        Columns ``name``, ``needs_k``, ``noise``, ``soft`` (native membership
        probabilities), ``native_assign`` (else new customers go to the nearest
        fitted customers' segment), ``max_fit_rows`` (above it: fit a sample),
        ``in_auto`` (swept by ``clusterer="auto"``) and ``description``.

    Examples
    --------
    >>> from segdiscover.clusterers import describe
    >>> table = describe()
    >>> table.filter(table["soft"])["name"].to_list()
    ['gmm']
    """
    import polars as pl

    rows = [
        {
            "name": name,
            "needs_k": spec.needs_k,
            "noise": spec.noise,
            "soft": spec.soft,
            "native_assign": spec.native_assign,
            "max_fit_rows": spec.max_fit_rows,
            "in_auto": spec.in_auto,
            "description": spec.description,
        }
        for name, spec in CLUSTERERS.items()
    ]
    return pl.DataFrame(rows, schema_overrides={"max_fit_rows": pl.Int64})
