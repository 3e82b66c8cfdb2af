"""Shared fixtures: small planted data, fitted once per session."""

from __future__ import annotations

import warnings

import pytest

import segdiscover as sd


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
