"""segdiscover.bench: compare segmentation strategies on planted, published, real data.

A *strategy* (:class:`Strategy`) declares a clusterer, a rule for k, a guide, a
pipeline and preprocessing options; :func:`run` fits every strategy on every
dataset for every seed and returns one tidy table (cached, in parallel); the
report functions turn that table into leaderboards and charts. ``segdiscover bench``
is the same from a shell.

>>> import segdiscover.bench as bench
>>> s = bench.Strategy("kmeans", clusterer="kmeans", k="true", pipeline="clusterer")
>>> s.summary()
'kmeans; k=true; clusterer'

Names are imported on first use (PEP 562), so importing the command line's parser
pulls in neither polars nor scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it.
_LAZY: dict[str, str] = {
    "BenchData": "segdiscover.bench._data",
    "DATASETS": "segdiscover.bench._data",
    "Dataset": "segdiscover.bench._data",
    "register_dataset": "segdiscover.bench._data",
    "Strategy": "segdiscover.bench._strategy",
    "load_strategies": "segdiscover.bench._strategy",
    "COLUMNS": "segdiscover.bench._run",
    "code_version": "segdiscover.bench._run",
    "run": "segdiscover.bench._run",
    "SUITES": "segdiscover.bench._suites",
    "baseline_strategies": "segdiscover.bench._suites",
    "default_strategies": "segdiscover.bench._suites",
    "our_strategies": "segdiscover.bench._suites",
    "suite_datasets": "segdiscover.bench._suites",
    "driver_precision": "segdiscover.bench._metrics",
    "normalized_clustering_accuracy": "segdiscover.bench._metrics",
    "score_partition": "segdiscover.bench._metrics",
    "clustbench_datasets": "segdiscover.bench._clustbench",
    "protocol_matrix": "segdiscover.bench._clustbench",
    "protocol_strategies": "segdiscover.bench._clustbench",
    "published_scores": "segdiscover.bench._clustbench",
    "add_published": "segdiscover.bench._report",
    "leaderboard": "segdiscover.bench._report",
    "markdown_report": "segdiscover.bench._report",
    "reproduction": "segdiscover.bench._report",
    "heatmap": "segdiscover.bench._charts",
    "save_charts": "segdiscover.bench._charts",
    "time_vs_size": "segdiscover.bench._charts",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        msg = f"module 'segdiscover.bench' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
