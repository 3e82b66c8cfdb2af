"""Datasets a benchmark runs on: built-in suites and the user's own tables.

A :class:`Dataset` is a name and a loader; loading gives :class:`BenchData`: a
customer table (or raw tables with a cutoff date), its id column, and what the
dataset knows about itself: reference partitions, outcomes, the planted
segments' defining features. A benchmark scores a strategy on what the data
supports and leaves the rest empty.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from segdiscover.exceptions import InputError


@dataclass(frozen=True, eq=False)
class BenchData:
    """One dataset, loaded.

    Attributes
    ----------
    id : str
        Id column of ``table`` (and of ``truth``, ``outcomes``, raw tables' builders).
    table : polars.DataFrame or None
        Customer-level table: the id and the feature columns.
    tables : dict of str to DataFrame, or None
        Raw tables (orders, tickets, customers), built into features as of ``as_of``.
    as_of : date or None
    truth : polars.DataFrame or None
        The id and one column per reference partition.
    outcomes : polars.DataFrame or None
        The id and the outcome columns.
    exclude : tuple of str
        Columns of ``table`` not to use as features.
    segment_features : dict or None
        Planted segment (a value of the first truth column) -> its defining
        ``(feature, direction)`` pairs.
    noise_label : optional
        Truth label meaning noise (left out of the scores).
    """

    id: str
    table: pl.DataFrame | None = None
    tables: Mapping[str, pl.DataFrame] | None = None
    as_of: Any = None
    truth: pl.DataFrame | None = None
    outcomes: pl.DataFrame | None = None
    exclude: tuple[str, ...] = ()
    segment_features: Mapping[Any, Sequence[tuple[str, str]]] | None = None
    noise_label: Any = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.tables is None):
            msg = "BenchData needs exactly one of table= or tables=."
            raise InputError(msg)
        if self.tables is not None and self.as_of is None:
            msg = "BenchData with raw tables needs as_of=."
            raise InputError(msg)

    @property
    def n_rows(self) -> int:
        """Customers (rows of the table, or of the truth/outcomes for raw tables)."""
        if self.table is not None:
            return self.table.height
        for frame in (self.truth, self.outcomes):
            if frame is not None:
                return frame.height
        return -1

    def references(
        self, ids: pl.Series, columns: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """Return the reference partitions aligned with ``ids`` (none when unknown).

        ``columns`` picks truth columns (default: all of them).
        """
        if self.truth is None:
            return []
        frame = pl.DataFrame({self.id: ids}).join(
            self.truth, on=self.id, how="left", maintain_order="left"
        )
        names = [c for c in self.truth.columns if c != self.id]
        if columns is not None:
            names = [c for c in names if c in columns]
        return [frame.get_column(c).to_numpy() for c in names]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named dataset for the benchmark.

    Parameters
    ----------
    name : str
    loader : callable
        ``loader(seed) -> BenchData``; must be picklable (a module-level function or
        a :func:`functools.partial` of one) so that parallel workers can call it.
    seeded : bool, default False
        Whether the data depend on the seed (planted generators); a fixed table
        is loaded once whatever the seed, and only the strategy's seed varies.
    fingerprint : str, default ""
        What identifies the data for the cache (the generator's parameters, a hash
        of a table's content); empty means the name.
    n : int or None
        Rows, when known without loading.
    suite : str, default "user"
    description : str, default ""
    """

    name: str
    loader: Callable[[int], BenchData] = field(repr=False)
    seeded: bool = False
    fingerprint: str = ""
    n: int | None = None
    suite: str = "user"
    description: str = ""

    def load(self, seed: int) -> BenchData:
        """Load the data for ``seed`` (ignored unless ``seeded``)."""
        return self.loader(seed if self.seeded else 0)

    def key(self) -> str:
        """Identity of the data in the cache key."""
        return f"{self.name}|{self.fingerprint or self.name}|seeded={self.seeded}"

    @classmethod
    def from_table(
        cls,
        name: str,
        table: Any,
        *,
        id: str,
        truth: Any = None,
        outcomes: Any = None,
        exclude: Sequence[str] = (),
        segment_features: Mapping[Any, Sequence[tuple[str, str]]] | None = None,
        noise_label: Any = None,
        description: str = "",
    ) -> Dataset:
        """Make a dataset of a customer table of the user's.

        Parameters
        ----------
        name : str
        table : polars or pandas DataFrame
            One row per customer, with the id column.
        id : str
        truth : str, list of str, DataFrame or array, optional
            Reference partition(s): column name(s) of ``table`` (then not used as
            features), a frame keyed by ``id``, or an array aligned with the rows.
        outcomes : str, list of str or DataFrame, optional
            Outcome column name(s) of ``table``, or a frame keyed by ``id``.
        exclude : list of str, optional
            Columns not to use as features.
        segment_features : dict, optional
            Reference segment -> defining ``(feature, direction)`` pairs (for
            driver precision).
        noise_label : optional
            Truth label of noise points.
        description : str, optional

        Returns
        -------
        Dataset

        Examples
        --------
        >>> import polars as pl
        >>> t = pl.DataFrame({"id": [1, 2, 3, 4], "x": [0.1, 0.2, 5.0, 5.1],
        ...                   "group": ["a", "a", "b", "b"], "spend": [1, 2, 9, 8]})
        >>> ds = Dataset.from_table("mine", t, id="id", truth="group",
        ...                         outcomes=["spend"])
        >>> d = ds.load(0)
        >>> d.table.columns, d.truth.columns, d.outcomes.columns
        (['id', 'x'], ['id', 'group'], ['id', 'spend'])
        """
        from segdiscover._checks import check_ids, to_polars

        frame = to_polars(table, "table")
        check_ids(frame, id, "table", unique=True)
        taken: list[str] = []
        truth_frame = _keyed(frame, truth, id, "truth", taken)
        outcome_frame = _keyed(frame, outcomes, id, "outcomes", taken)
        missing = [c for c in exclude if c not in frame.columns]
        if missing:
            msg = f"exclude names {missing}, which are not columns of the table."
            raise InputError(msg)
        data = BenchData(
            id=id,
            table=frame.drop(taken),
            truth=truth_frame,
            outcomes=outcome_frame,
            exclude=tuple(exclude),
            segment_features=segment_features,
            noise_label=noise_label,
        )
        digest = hashlib.sha1()
        for part in (data.table, data.truth, data.outcomes):
            if part is not None:
                digest.update(str(part.schema).encode())
                digest.update(part.hash_rows(seed=0).to_numpy().tobytes())
        digest.update(repr((tuple(exclude), segment_features, noise_label)).encode())
        return cls(
            name=name,
            loader=functools.partial(_fixed, data),
            fingerprint=digest.hexdigest()[:16],
            n=data.table.height if data.table is not None else None,
            description=description,
        )


def _fixed(data: BenchData, seed: int) -> BenchData:
    return data


def _keyed(
    frame: pl.DataFrame, value: Any, id: str, what: str, taken: list[str]
) -> pl.DataFrame | None:
    """Return a frame keyed by ``id`` from column names, a frame or an array."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        missing = [c for c in value if c not in frame.columns]
        if missing:
            msg = f"{what} names {missing}, which are not columns of the table."
            raise InputError(msg)
        taken.extend(value)
        return frame.select(id, *value)
    if isinstance(value, pl.DataFrame) or hasattr(value, "columns"):
        from segdiscover._checks import to_polars

        other = to_polars(value, f"{what} table")
        if id not in other.columns:
            msg = f"The {what} table has no id column {id!r}."
            raise InputError(msg)
        return other
    arr = np.asarray(value)
    if arr.shape != (frame.height,):
        msg = f"{what} as an array needs {frame.height} values; got {arr.shape}."
        raise InputError(msg)
    return pl.DataFrame({id: frame.get_column(id), what: arr})


#: Datasets the user registered (name -> Dataset); the ``user`` suite.
DATASETS: dict[str, Dataset] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    """Add a dataset to the ``user`` suite (replacing one of the same name).

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"id": [1, 2, 3, 4], "x": [0.0, 0.1, 3.0, 3.1]})
    >>> ds = register_dataset(Dataset.from_table("tiny", t, id="id"))
    >>> DATASETS["tiny"] is ds
    True
    >>> del DATASETS["tiny"]
    """
    if not isinstance(dataset, Dataset):
        msg = f"register_dataset takes a Dataset; got {type(dataset).__name__}."
        raise InputError(msg)
    DATASETS[dataset.name] = dataset
    return dataset
