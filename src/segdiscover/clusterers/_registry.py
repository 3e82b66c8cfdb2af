"""CLUSTERERS: the registry of built-in clusterers (one screen, easy to grep)."""

from __future__ import annotations

from segdiscover.clusterers._base import ClustererSpec
from segdiscover.clusterers.centroid import KMeansAdapter, MiniBatchKMeansAdapter
from segdiscover.clusterers.density import HDBSCANAdapter
from segdiscover.clusterers.hierarchical import BirchAdapter, WardAdapter
from segdiscover.clusterers.mixture import GaussianMixtureAdapter

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
