"""Suites of datasets, and the strategies each runs by default.

``quick`` is a small mix meant for CI (a few minutes on two cores); ``full`` is
``planted`` + ``clustbench`` + ``real``; ``user`` is what :func:`register_dataset`
added. The default strategies are segdiscover's own (``auto``, ``auto guided``,
segdiscover with the reference k) and one plain baseline per registry clusterer,
so a clusterer added to ``segdiscover.clusterers.CLUSTERERS`` is benchmarked with
no other change.
"""

from __future__ import annotations

from pathlib import Path

from segdiscover.bench._data import DATASETS, Dataset
from segdiscover.bench._strategy import Strategy
from segdiscover.exceptions import InputError

SUITES = ("quick", "planted", "clustbench", "real", "full", "user")
#: Customers per planted scenario in ``planted``/``full`` and in ``quick``.
PLANTED_N = 2000
QUICK_N = 400
#: Datasets of the quick suite (those whose data are present).
QUICK_PLANTED = ("table/base", "customers/base")
QUICK_CLUSTBENCH = ["fcps/hepta"]
QUICK_REAL = ["wholesale", "ifood"]
#: Rows of a real table in ``quick`` (sampled by id hash).
QUICK_REAL_ROWS = 500


def our_strategies(*, with_true_k: bool = True) -> list[Strategy]:
    """Return segdiscover's own strategies, on its default preprocessing.

    ``auto`` (unsupervised sweep and pick), ``auto guided`` (``guide="auto"``: the
    outcome-guided candidate against the unsupervised one; not applicable
    without outcomes) and, with ``with_true_k``, the whole pipeline given the
    reference k (``segdiscover k-means``), which isolates the choice of k.
    """
    out = [
        Strategy("auto", description="Segmenter defaults, guide='none'"),
        Strategy(
            "auto guided", guide="auto", description="Segmenter defaults, guide='auto'"
        ),
    ]
    if with_true_k:
        out.append(
            Strategy(
                "segdiscover k-means",
                clusterer="kmeans",
                k="true",
                description="the whole Segmenter with k-means at the reference k",
            )
        )
    return out


def baseline_strategies(names: list[str] | None = None) -> list[Strategy]:
    """Return one plain baseline per registry clusterer (bare, at the true k).

    Read from ``CLUSTERERS`` when called, so a registry entry added later appears.
    """
    from segdiscover.clusterers import CLUSTERERS

    return [
        Strategy(
            f"{name} (baseline)",
            clusterer=name,
            k="true",
            pipeline="clusterer",
            description=f"{spec.description} Given the reference k, default "
            "preprocessing, no explanation.",
        )
        for name, spec in CLUSTERERS.items()
        if names is None or name in names
    ]


def default_strategies(suite: str) -> list[Strategy]:
    """Return what ``segdiscover bench --suite NAME`` runs without ``--strategy``."""
    from segdiscover.bench._clustbench import protocol_strategies

    if suite == "quick":
        return our_strategies() + baseline_strategies(["kmeans", "gmm"])
    ours = our_strategies()
    if suite == "clustbench":
        return ours + baseline_strategies() + protocol_strategies()
    if suite == "full":
        return ours + baseline_strategies() + protocol_strategies()
    return ours + baseline_strategies()


def suite_datasets(
    name: str,
    *,
    data_dir: str | Path | None = None,
    max_n: int | None = None,
    planted_n: int | None = None,
) -> tuple[list[Dataset], list[str]]:
    """Return the datasets of a suite, and a message for each part skipped.

    Parameters
    ----------
    name : str
        One of :data:`SUITES`.
    data_dir : path, optional
        Folder of the shared data (clustbench battery, real tables).
    max_n : int, optional
        Largest clustbench dataset (default 20,000 points) and the row cap of the
        real tables (default 20,000, sampled by id hash).
    planted_n : int, optional
        Customers per planted scenario (default 2,000; 400 in ``quick``).
    """
    from segdiscover.bench._clustbench import clustbench_datasets
    from segdiscover.bench._planted import planted_datasets
    from segdiscover.bench._real import real_datasets

    if name not in SUITES:
        msg = f"Unknown suite {name!r}; the suites are {', '.join(SUITES)}."
        raise InputError(msg)
    cap = 20_000 if max_n is None else max_n
    messages: list[str] = []
    if name == "user":
        if not DATASETS:
            messages.append("user suite: no dataset registered (register_dataset)")
        return list(DATASETS.values()), messages
    if name == "quick":
        n = planted_n or QUICK_N
        out = [d for d in planted_datasets(n, tag="quick") if d.name in QUICK_PLANTED]
        real, skipped = real_datasets(
            data_dir, max_rows=QUICK_REAL_ROWS, names=QUICK_REAL, tag="quick"
        )
        out += real
        messages += skipped
        cb, skip = clustbench_datasets(
            data_dir, max_n=None, names=QUICK_CLUSTBENCH, tag="quick"
        )
        if skip:
            messages.append(skip)
        return out + cb, messages
    out = []
    if name in ("planted", "full"):
        out += planted_datasets(planted_n or PLANTED_N)
    if name in ("clustbench", "full"):
        cb, skip = clustbench_datasets(data_dir, max_n=cap)
        out += cb
        if skip:
            messages.append(skip)
    if name in ("real", "full"):
        real, skipped = real_datasets(data_dir, max_rows=cap)
        out += real
        messages += skipped
    return out, messages
