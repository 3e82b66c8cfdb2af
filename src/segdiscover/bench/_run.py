"""run(): every strategy on every dataset for every seed, cached and in parallel."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from segdiscover.bench._data import DATASETS, Dataset
from segdiscover.bench._evaluate import ROW_SCHEMA, evaluate
from segdiscover.bench._strategy import Strategy
from segdiscover.exceptions import InputError

#: Columns of the table :func:`run` returns, with their types.
COLUMNS: dict[str, Any] = {**ROW_SCHEMA, "reference": pl.String}


@functools.cache
def code_version() -> str:
    """Return the package version and a hash of its source files.

    Part of every cache key, so a result is reused only by the code that made it.

    Examples
    --------
    >>> v = code_version()
    >>> v.split("+")[0] == __import__("segdiscover").__version__, len(v.split("+")[1])
    (True, 12)
    """
    from segdiscover._version import __version__

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def cache_key(dataset: Dataset, strategy: Strategy, seed: int) -> str:
    """Key of one result: dataset, strategy, seed and code version."""
    text = json.dumps(
        [dataset.key(), strategy.fingerprint(), int(seed), code_version()]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _datasets(datasets: Any) -> list[Dataset]:
    if isinstance(datasets, Dataset | str):
        datasets = [datasets]
    out: list[Dataset] = []
    for d in datasets:
        if isinstance(d, Dataset):
            out.append(d)
        elif isinstance(d, str) and d in DATASETS:
            out.append(DATASETS[d])
        else:
            from segdiscover.bench._suites import SUITES, suite_datasets

            if d not in SUITES:
                msg = (
                    f"Unknown dataset {d!r}: not registered (register_dataset) and "
                    f"not a suite ({', '.join(SUITES)})."
                )
                raise InputError(msg)
            found, messages = suite_datasets(d)
            for m in messages:
                print(m, file=sys.stderr)
            out.extend(found)
    names = [d.name for d in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"Datasets named twice: {dup}."
        raise InputError(msg)
    return out


def _strategies(strategies: Any) -> list[Strategy]:
    if isinstance(strategies, Strategy | str):
        strategies = [strategies]
    out = [s if isinstance(s, Strategy) else Strategy.from_spec(s) for s in strategies]
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"Strategies named twice: {dup}; give each its own name."
        raise InputError(msg)
    return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent or torn: computed again
    return row if isinstance(row, dict) else None


def _write(path: Path, row: dict[str, Any]) -> None:
    # Written whole then renamed, so a killed run leaves no torn entry.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(row, default=str))
    os.replace(tmp, path)


def _task(
    dataset: Dataset, strategy: Strategy, seed: int, threads: int
) -> dict[str, Any]:
    row = evaluate(dataset, strategy, seed, threads)
    row["reference"] = strategy.reference
    return row


def run(
    strategies: Strategy | str | Sequence[Strategy | str],
    datasets: Dataset | str | Sequence[Dataset | str],
    seeds: int | Iterable[int] = 1,
    *,
    jobs: int = 1,
    threads: int = 1,
    cache: str | Path | None = None,
    retry_errors: bool = False,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Run every strategy on every dataset for every seed; one tidy table.

    Parameters
    ----------
    strategies : Strategy, str or sequence of them
        Strategies, or command-line specs (:meth:`Strategy.from_spec`).
    datasets : Dataset, str or sequence of them
        Datasets, names of registered datasets, or suite names (``"quick"``, ...).
    seeds : int or iterable of int, default 1
        ``n`` means seeds ``0..n-1``.
    jobs : int, default 1
        Parallel worker processes (joblib).
    threads : int, default 1
        Threads per fit. One by default: parallelism comes from ``jobs``, and
        thread pools that share busy cores (LightGBM's OpenMP in particular) slow
        down many times over.
    cache : path or None
        Folder of cached results, one file per (dataset, strategy, seed, code
        version): a rerun reads them and computes only what is missing.
    retry_errors : bool, default False
        Compute again the cached results that recorded an error.
    progress : bool or None
        Show a progress bar (tqdm); None: only when stderr is a terminal.

    Returns
    -------
    polars.DataFrame
        One row per (dataset, strategy, seed), columns of
        :data:`segdiscover.bench.COLUMNS`; a strategy that failed has
        ``status="error"`` and its ``error``, one that does not apply to the data
        ``status="not applicable"``.
    """
    strats = _strategies(strategies)
    sets = _datasets(datasets)
    seed_list = (
        list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    )
    if not seed_list or min(seed_list) < 0:
        msg = f"seeds must be a positive count or non-negative seeds; got {seeds!r}."
        raise InputError(msg)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        msg = f"jobs must be an int >= 1; got {jobs!r}."
        raise InputError(msg)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        msg = f"threads must be an int >= 1; got {threads!r}."
        raise InputError(msg)
    folder = Path(cache) if cache is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    version = code_version()
    tasks = [(d, s, seed) for d in sets for s in strats for seed in seed_list]
    rows: list[dict[str, Any] | None] = [None] * len(tasks)
    todo = []
    for i, (d, s, seed) in enumerate(tasks):
        if folder is not None:
            cached = _read(folder / f"{cache_key(d, s, seed)}.json")
            if cached is not None and not (
                retry_errors and cached.get("status") == "error"
            ):
                rows[i] = cached
                continue
        todo.append(i)
    if todo:
        for i, row in zip(
            todo, _execute(tasks, todo, jobs, threads, progress), strict=True
        ):
            row["code_version"] = version
            rows[i] = row
            if folder is not None:
                d, s, seed = tasks[i]
                _write(folder / f"{cache_key(d, s, seed)}.json", row)
    return pl.DataFrame(
        [{k: r.get(k) for k in COLUMNS} for r in rows if r is not None],
        schema=COLUMNS,
        orient="row",
    )


def _execute(
    tasks: list[tuple[Dataset, Strategy, int]],
    todo: list[int],
    jobs: int,
    threads: int,
    progress: bool | None,  # noqa: FBT001 - private helper
) -> Iterable[dict[str, Any]]:
    """Yield the results of the tasks in ``todo``, in that order."""
    if jobs == 1:
        results: Iterable[dict[str, Any]] = (_task(*tasks[i], threads) for i in todo)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(_task)(*tasks[i], threads) for i in todo
        )
    if progress is None:
        # segdiscover's switch: a terminal, or SEGDISCOVER_PROGRESS / set_progress
        # (so --quiet and SEGDISCOVER_PROGRESS=0 silence the bench too).
        from segdiscover._log import progress_enabled

        progress = progress_enabled()
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(todo), desc="bench", unit="fit")
    return results
