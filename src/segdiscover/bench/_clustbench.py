"""The ``clustbench`` suite: Gagolewski's Benchmark Suite for Clustering Algorithms v1.

The data (``clustering-data-v1``) and the published scores of the methods run on
it (``clustering-results-v1-scores``, from the genieclust documentation) are read
from a local folder, never downloaded (their licence, AGPL-3.0 for research use,
is why segdiscover ships neither). When the folder is absent the suite is empty and
says so.

The published protocol, reimplemented here from its description so that our
clusterers can be set beside the published scores: columns of zero variance
dropped; Gaussian noise of standard deviation ``1e-6`` times the data's standard
deviation added, drawn from a legacy NumPy generator seeded 123 for each dataset,
so that hierarchical methods meet no ties (with another draw Ward moves by up to
0.18 ARI on ``wut/z1``); the points centred and divided by their overall standard
deviation (one factor for every column: not standardisation); single precision.
Each method is asked for each reference partition's k; scores leave out noise
points (label 0) and take the best over the reference partitions.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from segdiscover.bench._data import BenchData, Dataset
from segdiscover.bench._strategy import Strategy

BATTERIES = ("wut", "graves", "sipu", "fcps", "uci", "other")
DATA_FOLDER = "clustering-data-v1"
SCORES_FOLDER = "clustering-results-v1-scores"
#: Environment variable naming the shared data folder.
DATA_ENV = "SEGDISCOVER_BENCH_DATA"
#: Seed of the tie-breaking noise in the published runs.
PROTOCOL_SEED = 123


def default_data_dir() -> Path:
    """Return the data folder: ``$SEGDISCOVER_BENCH_DATA`` or ``../shared/data``.

    ``../shared/data`` is read relative to the source checkout (beside the
    repository), where the project's benchmarks expect it.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def protocol_matrix(X: np.ndarray) -> np.ndarray:
    """Apply the benchmark suite's preprocessing to a matrix (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    >>> Y = protocol_matrix(X)
    >>> Y.shape, Y.dtype.name, round(float(Y[2, 0]), 4)
    ((3, 1), 'float32', 1.0)
    """
    X = np.asarray(X, dtype=np.float64)
    X = X[:, X.var(axis=0) > 0]
    noise = np.random.RandomState(PROTOCOL_SEED).normal(
        0.0, X.std(ddof=1) * 1e-6, size=X.shape
    )
    X = X + noise
    X = (X - X.mean(axis=0)) / X.std(axis=None, ddof=1)
    return X.astype(np.float32)


def load_points(folder: Path, battery: str, name: str) -> BenchData:
    """One dataset of the battery: points ``x1..xd``, id ``row``, truth ``labels*``."""
    base = Path(folder) / battery
    X = np.loadtxt(base / f"{name}.data.gz", ndmin=2)
    truth: dict[str, np.ndarray] = {"row": np.arange(X.shape[0])}
    for j in range(10):
        f = base / f"{name}.labels{j}.gz"
        if not f.exists():
            break
        truth[f"labels{j}"] = np.loadtxt(f, dtype=np.int64)
    table = pl.DataFrame(
        {"row": np.arange(X.shape[0])}
        | {f"x{j + 1}": X[:, j] for j in range(X.shape[1])}
    )
    return BenchData(id="row", table=table, truth=pl.DataFrame(truth), noise_label=0)


def _load(seed: int, *, folder: str, battery: str, name: str) -> BenchData:
    return load_points(Path(folder), battery, name)


def clustbench_datasets(
    data_dir: str | Path | None = None,
    *,
    max_n: int | None = 20_000,
    names: list[str] | None = None,
    tag: str = "clustbench",
) -> tuple[list[Dataset], str | None]:
    """List the battery's datasets of at most ``max_n`` points, and a skip message.

    Parameters
    ----------
    data_dir : path, optional
        The folder holding ``clustering-data-v1`` (default
        :func:`default_data_dir`).
    max_n : int or None, default 20000
        Leave out larger datasets (None keeps all; ``sipu/worms_2`` has 105,600).
    names : list of str, optional
        Only these ``battery/name`` datasets.
    tag : str, default "clustbench"

    Returns
    -------
    datasets : list of Dataset
    message : str or None
        Why the suite is empty (the folder is absent), else None.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root / DATA_FOLDER
    if not folder.is_dir():
        return [], (
            f"clustbench skipped: {folder} is absent (put the benchmark suite "
            f"there or pass --data-dir / set {DATA_ENV}; nothing is downloaded)."
        )
    sizes = _sizes(root)
    out = []
    for battery in BATTERIES:
        for f in sorted((folder / battery).glob("*.data.gz")):
            name = f.name.removesuffix(".data.gz")
            full = f"{battery}/{name}"
            if names is not None and full not in names:
                continue
            n = sizes.get(full)
            if n is None:
                n = sum(1 for _ in _lines(f))
            if max_n is not None and n > max_n:
                continue
            out.append(
                Dataset(
                    name=full,
                    loader=functools.partial(
                        _load, folder=str(folder), battery=battery, name=name
                    ),
                    fingerprint=f"clustering-data-v1 {full}",
                    n=n,
                    suite=tag,
                    description=f"Benchmark Suite v1, {full}",
                )
            )
    return out, None


def _lines(path: Path) -> list[bytes]:
    import gzip

    with gzip.open(path) as fh:
        return [line for line in fh if line.strip()]


def _sizes(root: Path) -> dict[str, int]:
    dims = root / SCORES_FOLDER / "v1-dims.csv"
    if not dims.is_file():
        return {}
    frame = pl.read_csv(dims)
    return {
        f"{r['battery']}/{r['dataset']}": int(r["n"])
        for r in frame.iter_rows(named=True)
    }


def published_scores(data_dir: str | Path | None = None) -> pl.DataFrame | None:
    """Read the published scores: best over references, per dataset and method.

    Columns ``dataset`` (``battery/name``), ``method``, ``ari``, ``ami``, ``nca``;
    None when the scores file is absent.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = root / SCORES_FOLDER / "v1-scores.csv.gz"
    if not path.is_file():
        return None
    raw = pl.read_csv(path)
    return (
        raw.with_columns((pl.col("battery") + "/" + pl.col("dataset")).alias("dataset"))
        .group_by("dataset", "method")
        .agg(
            pl.col("ar").max().alias("ari"),
            pl.col("ami").max().alias("ami"),
            pl.col("nca").max().alias("nca"),
        )
        .sort("dataset", "method")
    )


_PROTOCOL = {"scale": "clustbench"}
_PARAMS = {"stability_refits": 0, "full_fit": True}


def protocol_strategies() -> list[Strategy]:
    """Our clusterers under the published protocol, each beside its published twin.

    k-means with 10 restarts (as published); scikit-learn's Gaussian mixture with
    the published settings (full covariances, k-means initialisation,
    ``reg_covar`` 1e-6, 100 restarts); segdiscover's own ``gmm`` adapter set as
    close as it goes (it always starts from k-means++, so it is not the published
    method); Ward; BIRCH at threshold 0.01 and branching factor 50. Each is asked
    for the reference k and fitted on every point.
    """
    common: dict[str, Any] = {
        "k": "true",
        "pipeline": "clusterer",
        "preprocess": _PROTOCOL,
    }
    return [
        Strategy(
            "kmeans (protocol)",
            clusterer="kmeans",
            clusterer_params={"n_init": 10},
            params=_PARAMS,
            reference="sklearn_kmeans",
            **common,
        ),
        Strategy(
            "gmm (protocol)",
            clusterer="sklearn.mixture:GaussianMixture",
            clusterer_params={"covariance_type": "full", "n_init": 100},
            params=_PARAMS,
            reference="sklearn_gm",
            description="scikit-learn's GaussianMixture as published (k-means "
            "initialisation, reg_covar 1e-6), through the generic adapter",
            **common,
        ),
        Strategy(
            "segdiscover gmm (protocol)",
            clusterer="gmm",
            clusterer_params={
                "covariance_type": "full",
                "n_init": GMM_PROTOCOL_INIT,
                "reg_covar": 1e-6,
            },
            params=_PARAMS,
            reference="sklearn_gm",
            **common,
        ),
        Strategy(
            "ward (protocol)",
            clusterer="ward",
            params=_PARAMS,
            reference="fastcluster_ward",
            **common,
        ),
        Strategy(
            "birch (protocol)",
            clusterer="birch",
            clusterer_params={"threshold": 0.01, "branching_factor": 50},
            params=_PARAMS,
            reference="sklearn_birch_T0.01_BF50",
            **common,
        ),
    ]


#: Restarts of segdiscover's own mixture under the protocol (the published
#: scikit-learn runs, reproduced with 100, take ten times longer).
GMM_PROTOCOL_INIT = 10
