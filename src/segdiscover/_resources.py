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


def idle_cores() -> int:
    """Available cores not already busy with other work, at least 1.

    OpenMP threads spin while they wait, so two thread pools on one busy core slow
    each other by an order of magnitude (LightGBM was seen 30x slower on a 2-core
    machine whose other core was busy). The 1-minute load average, less this process,
    tells how many cores others are using.
    """
    cores = available_cores()
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, int(cores - busy + 0.5)))


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads to use: ``None`` means the idle cores; negatives count back from all.

    Examples
    --------
    >>> resolve_n_jobs(1)
    1
    """
    cores = available_cores()
    if n_jobs is None:
        return idle_cores()
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, min(n_jobs, cores))
