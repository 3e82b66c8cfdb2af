"""Loaders for the public customer tables with an outcome in ``shared/data``.

Each loader reads one folder of the shared data directory (see its ``SOURCE.md``) and
returns a :class:`RealTable`: the customer table (with an id column; a row number
when the file has none), the id name, the outcome columns and the columns to keep out
of the features (leaks, constants, experiment arms, duplicates). The files are only
read. The few type fixes each loader makes are the ones its ``SOURCE.md`` asks for,
and each is said in ``note``.

Usage::

    from _real_tables import load, TABLES
    t = load("telco", data_dir)  # RealTable or None when the folder is absent
    table, id_col, outcomes, exclude = t  # a NamedTuple unpacks like the tuple
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from segdiscover.bench._real import TABLES as _TABLES
from segdiscover.bench._real import RealTable

__all__ = ["DEFAULT_DATA", "TABLES", "RealTable", "load"]

ROOT = Path(__file__).resolve().parent.parent
#: Default data directory: ``../shared/data`` relative to the repository root.
DEFAULT_DATA = ROOT.parent / "shared" / "data"

#: Benchmark name -> (folder under the data directory, loader); the loaders live in
#: the package (``segdiscover.bench._real``), which ``segdiscover bench`` uses too.
TABLES: dict[str, tuple[str, Callable[[Path], RealTable]]] = {
    name: (folder, loader) for name, (folder, loader, _needs) in _TABLES.items()
}


def load(name: str, data_dir: Path = DEFAULT_DATA) -> RealTable | None:
    """Load one table by benchmark name; None (and a message) when it is absent.

    Examples
    --------
    >>> load("telco", Path("/nonexistent")) is None
    skip telco: /nonexistent/telco-customer-churn is absent
    True
    """
    if name not in TABLES:
        msg = f"Unknown table {name!r}; the tables are {sorted(TABLES)}."
        raise ValueError(msg)
    folder_name, loader = TABLES[name]
    folder = Path(data_dir) / folder_name
    if not folder.is_dir():
        print(f"skip {name}: {folder} is absent")
        return None
    return loader(folder)
