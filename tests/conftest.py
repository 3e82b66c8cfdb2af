"""Shared fixtures: small planted data, fitted once per session."""

from __future__ import annotations

import os
import warnings

import pytest

# The suite's data are small: one OpenMP/BLAS thread per process is faster than
# several, and on a busy 2-core machine several threads spin against each other
# (test_selection's slow tests: 101 s of CPU with the default, 13 s with one).
# Set before anything loads the runtimes; a value the caller set is kept.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

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
