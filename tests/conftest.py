"""Shared fixtures: small planted data, fitted once per session."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable

import pytest

# The suite's data are small: one OpenMP/BLAS thread per process is faster than
# several, and on a busy 2-core machine several threads spin against each other
# (test_selection's slow tests: 101 s of CPU with the default, 13 s with one).
# Set before anything loads the runtimes; a value the caller set is kept.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Child Python processes (the CLI under tests/crash's shim, the notebook's kernel,
# the import checks) start cold. With PYTHONDONTWRITEBYTECODE set and no
# __pycache__ anywhere, each one compiled numpy, polars, scikit-learn, matplotlib
# and segdiscover from source again: 11.5 s of CPU to import and run one small
# `discover`, 4.0 s with compiled files at hand. Keep the tree free of bytecode
# but let this run share it: a cache folder outside the tree, for this session
# only (removed at exit), written by this process and read by its children.
# A caller who set PYTHONPYCACHEPREFIX, or who writes bytecode anyway, is left as is.
if sys.dont_write_bytecode and not os.environ.get("PYTHONPYCACHEPREFIX"):
    _pycache = tempfile.mkdtemp(prefix="segdiscover-tests-pycache-")
    atexit.register(shutil.rmtree, _pycache, ignore_errors=True)
    os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix = _pycache
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False

import numpy as np  # noqa: E402  (after the thread settings: BLAS reads them on load)
import polars as pl  # noqa: E402

import segdiscover as sd  # noqa: E402  (after the thread settings)


@pytest.fixture(scope="session")
def small_data() -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=1500, seed=0)


@pytest.fixture(scope="session")
def fitted(small_data: sd.datasets.CustomerData) -> sd.Segmenter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sd.Segmenter(clusterer="kmeans", n_segments=6, random_state=0).fit(
            small_data.tables, as_of=small_data.as_of, outcomes=small_data.outcomes
        )


def _churn_table(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Customers whose churn the number of calls predicts (a guide has a signal)."""
    rng = np.random.default_rng(seed)
    calls = rng.uniform(0, 10, n)
    return pl.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "calls": calls,
            "visits": rng.normal(10, 3, n),
            "churned": rng.random(n) < np.where(calls > 7, 0.6, 0.05),
        }
    )


@pytest.fixture(scope="session")
def churn_table() -> Callable[..., pl.DataFrame]:
    """``churn_table(n=600, seed=0)``: a customer table with a predictable churn."""
    return _churn_table
