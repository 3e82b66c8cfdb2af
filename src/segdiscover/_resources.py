"""Machine resources: how many cores this process may really use."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (CPU affinity, cgroup-limited), at least 1.

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return max(1, n)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` means every available core; negatives count back."""
    cores = available_cores()
    if n_jobs is None:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, min(n_jobs, cores))
