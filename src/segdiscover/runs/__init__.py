"""Run history in one DuckDB file: runs, segments, assignments, feature samples.

``RunStore("runs.duckdb").record(seg)`` appends a fitted Segmenter's run, after
aligning its segment ids to the previous run's (see :mod:`segdiscover.lineage`), and
``store.drift()`` compares the last two runs (see :mod:`segdiscover.drift`). The file
is plain DuckDB, so BI tools read it with SQL::

    SELECT r.as_of, s.segment_id, s.name, s.share
    FROM segments s JOIN runs r USING (run_id) ORDER BY r.run_id, s.segment_id;

Tables (schema version :data:`SCHEMA_VERSION`, kept in ``store_meta``):

``runs``
    One row per run: ``run_id``, ``recorded_at``, ``label``, ``as_of``,
    ``window_start``, ``window_end``, ``id_column``, ``segdiscover_version``,
    ``clusterer``, ``n_segments``, ``n_customers``, ``feature_schema_hash``,
    ``feature_schema`` (JSON), ``params`` and ``metrics`` (JSON), ``outcomes``
    (overall outcome values, JSON), ``previous_run_id`` (the run it was aligned to).
``segments``
    One row per run and segment: ``segment_id`` (stable across runs), ``name``,
    ``name_source``, ``size``, ``share``, ``status`` (continued, born, split...),
    ``profile``, ``metrics`` and ``outcomes`` (JSON).
``assignments``
    One row per run and customer: ``customer_id`` (as text), ``segment_id``,
    ``segment_name``, ``confidence``, ``is_noise``.
``feature_sample``
    Feature values of at most ``sample_rows`` customers per run (a seeded random
    sample, all customers when fewer), long format: ``customer_id``,
    ``segment_id``, ``feature``, ``value_num``, ``value_text``. PSI is computed
    from these rows, so any two runs can be compared, overall and per segment, with
    bins chosen at comparison time; 20,000 customers keep the sampling error of a
    10-bin PSI near 0.001, far under the 0.1 that counts as a shift.
``lineage``
    What happened to segments when the run was aligned: ``kind``, ``before``,
    ``after`` (lists of ids) and ``text``.

Every ``record`` is one transaction: a crash or an error leaves the file as it was.
Each call opens and closes its own connection, so the file is not held between
calls. DuckDB lets one process write at a time: a second writer waits up to
``lock_timeout`` seconds, then gets a clear
:class:`~segdiscover.exceptions.RunStoreError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from segdiscover._atomic import write_parquet
from segdiscover._version import __version__
from segdiscover.drift import DriftReport, RunData, compare
from segdiscover.exceptions import InputError, RunStoreError
from segdiscover.lineage import Alignment, align_runs
from segdiscover.result import Segmentation, as_result
from segdiscover.runs._rows import (
    SEGMENT_SCHEMA,
    frame,
    outcome_values,
    sample,
    similarity,
    status,
    store_error,
    to_json,
)


class Recordable(Protocol):
    """A fitted model whose result the run store may replace by the aligned one."""

    result_: Segmentation


SCHEMA_VERSION = 1
FORMAT = "segdiscover-runs"
#: Customers whose feature values are kept per run (for PSI).
SAMPLE_ROWS = 20_000

_DDL = """
CREATE TABLE store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY, recorded_at TIMESTAMP NOT NULL, label VARCHAR,
    as_of VARCHAR, window_start VARCHAR, window_end VARCHAR,
    id_column VARCHAR NOT NULL, segdiscover_version VARCHAR NOT NULL,
    clusterer VARCHAR, n_segments INTEGER NOT NULL, n_customers BIGINT NOT NULL,
    feature_schema_hash VARCHAR NOT NULL, feature_schema JSON, params JSON,
    metrics JSON, outcomes JSON, previous_run_id INTEGER);
CREATE TABLE segments (
    run_id INTEGER NOT NULL, segment_id INTEGER NOT NULL, name VARCHAR NOT NULL,
    name_source VARCHAR, size BIGINT NOT NULL, share DOUBLE NOT NULL,
    status VARCHAR, profile JSON, metrics JSON, outcomes JSON,
    PRIMARY KEY (run_id, segment_id));
CREATE TABLE assignments (
    run_id INTEGER NOT NULL, customer_id VARCHAR NOT NULL, segment_id INTEGER NOT NULL,
    segment_name VARCHAR, confidence DOUBLE, is_noise BOOLEAN);
CREATE TABLE feature_sample (
    run_id INTEGER NOT NULL, customer_id VARCHAR NOT NULL, segment_id INTEGER,
    feature VARCHAR NOT NULL, value_num DOUBLE, value_text VARCHAR);
CREATE TABLE lineage (
    run_id INTEGER NOT NULL, previous_run_id INTEGER NOT NULL, kind VARCHAR NOT NULL,
    "before" INTEGER[], "after" INTEGER[], text VARCHAR NOT NULL);
"""


class RunStore:
    """A history of segmentation runs in one DuckDB file.

    Parameters
    ----------
    path : str or path-like
        The file; created (with its tables) by the first :meth:`record`.
    lock_timeout : float, default 30
        Seconds to wait while another process holds the store (DuckDB allows one
        writer at a time), before a clear "locked by another process" error.

    Examples
    --------
    >>> import tempfile
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> store = RunStore(tempfile.mkdtemp() + "/runs.duckdb")
    >>> store.record(seg, label="July")
    1
    >>> store.record(seg, label="July again")
    2
    >>> store.runs()["label"].to_list()
    ['July', 'July again']
    >>> store.lineage(2)["text"].to_list()[0]
    'segment 0 continued (Jaccard 1.00)'
    """

    def __init__(
        self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def _open(self, duckdb: Any, *, write: bool) -> Any:
        """Connect, waiting up to ``lock_timeout`` s while another process writes.

        DuckDB lets one process write at a time and refuses the second at once; two
        scheduled runs that record into one store then serialise instead of one of
        them failing.
        """
        deadline = time.monotonic() + self.lock_timeout
        pause = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=not write)
            except duckdb.Error as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
                pause = min(pause * 2, 1.0)

    # ---------------------------------------------------------------- files
    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[Any]:
        import duckdb

        if not write and not self.path.is_file():
            msg = (
                f"There is no run store at {str(self.path)!r}. Record a run first "
                "(segdiscover discover ... --runs FILE, or RunStore.record)."
            )
            raise RunStoreError(msg)
        if self.path.is_dir():
            msg = f"The run store {str(self.path)!r} is a folder; give a file name."
            raise RunStoreError(msg)
        if write and (not self.path.exists() or self.path.stat().st_size == 0):
            # A 0-byte file is what a writer killed before DuckDB wrote anything
            # leaves (or a placeholder): nothing to lose, so it is created anew.
            self._create_file()
        try:
            con = self._open(duckdb, write=write)
        except duckdb.Error as exc:
            raise store_error(self.path, exc) from exc
        try:
            self._check(con)
            yield con
        except duckdb.Error as exc:
            raise store_error(self.path, exc) from exc
        finally:
            con.close()

    def _create_file(self) -> None:
        """Create the store all-or-nothing: built in a temporary file, then linked.

        ``os.link`` publishes the finished file under its name in one step and never
        replaces a store another writer created meanwhile; a kill leaves at most a
        ``.<name>.creating-*`` temporary, which the next creation removes once it is
        an hour old (a live writer's is younger).
        """
        import duckdb

        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where a folder should be, no permission
            msg = (
                f"Cannot create the run store {str(self.path)!r}: "
                f"{exc.strerror or exc} ({exc.filename or folder})."
            )
            raise RunStoreError(msg) from exc
        cutoff = dt.datetime.now().timestamp() - 3600
        for old in folder.glob(f".{self.path.name}.creating-*"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.creating-", dir=folder, suffix=".duckdb"
        )
        os.close(fd)
        tmp = Path(name)
        tmp.unlink()  # DuckDB creates the file itself
        try:
            con = duckdb.connect(str(tmp))
            try:
                self._create(con)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            if self.path.exists() and self.path.stat().st_size == 0:
                self.path.unlink()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass  # another writer published its store first: use that one
            except OSError:  # no hard links here (some network file systems)
                if not self.path.exists():
                    os.replace(tmp, self.path)
        except duckdb.Error as exc:
            raise store_error(self.path, exc) from exc
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _create(self, con: Any) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_DDL)
            con.executemany(
                "INSERT INTO store_meta VALUES (?, ?)",
                [
                    ["format", FORMAT],
                    ["schema_version", str(SCHEMA_VERSION)],
                    ["created_by", f"segdiscover {__version__}"],
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _check(self, con: Any) -> None:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        meta = (
            dict(con.execute("SELECT key, value FROM store_meta").fetchall())
            if "store_meta" in tables
            else {}
        )
        if meta.get("format") != FORMAT:
            msg = (
                f"{str(self.path)!r} is a DuckDB file but not a segdiscover run store "
                f"(no store_meta table naming format {FORMAT!r}; tables: "
                f"{sorted(tables) or 'none'}). Pass a new file name or a run store."
            )
            raise RunStoreError(msg)
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            msg = (
                f"The run store {str(self.path)!r} has schema version {version}, "
                f"written by {meta.get('created_by', 'a newer segdiscover')}; this "
                f"segdiscover ({__version__}) reads version {SCHEMA_VERSION} and "
                "older. Upgrade segdiscover."
            )
            raise RunStoreError(msg)

    # ---------------------------------------------------------------- record
    def record(
        self,
        seg: Recordable | Segmentation,
        *,
        label: str | None = None,
        window: tuple[Any, Any] | None = None,
        align: bool = True,
        sample_rows: int = SAMPLE_ROWS,
        publish: Callable[[], Any] | None = None,
    ) -> int:
        """Append a fitted Segmenter's run, with ids aligned to the previous run.

        When the store holds a run, the new run's segments are matched to the last
        run's on the customers present in both and the run is recorded under new
        ids (:meth:`Segmentation.renumber`): a segment that continues keeps its id
        and its name (custom names too); other segments get ids never used before.
        The caller's segmentation is never changed: a fitted model's ``result_``
        is replaced by the aligned one (given back if recording fails).
        What happened (continued, split, merged, born, died) is kept in the
        ``lineage`` table.

        Parameters
        ----------
        seg : Segmenter, loaded model or Segmentation
            Fitted; a model's ``result_`` becomes the aligned segmentation.
        label : str, optional
            A name for the run (e.g. ``"2025-08"``).
        window : (start, end), optional
            The period the run's data covers (stored as text).
        align : bool, default True
            Align ids to the previous run; False records the ids as they are.
        sample_rows : int, default 20000
            Customers whose feature values are kept for drift (PSI).
        publish : callable, optional
            Called inside the run's transaction, after the rows are written and
            before they are committed, with ``seg`` already aligned (the CLI
            publishes the run's outputs here). If it raises, nothing is recorded, so
            a run whose outputs could not be written leaves no record and a retry
            records no duplicate. Only a kill in the one step between a successful
            ``publish`` and the commit leaves outputs without a record; the next
            run then aligns to the last recorded run, so ids stay stable.

        Returns
        -------
        int
            The new run's id.
        """
        res = as_result(seg)
        if not isinstance(sample_rows, int) or sample_rows < 100:
            msg = f"sample_rows must be an int >= 100; got {sample_rows!r}."
            raise InputError(msg)
        with self._connect(write=True) as con:
            prev = con.execute("SELECT max(run_id) FROM runs").fetchone()[0]
            run_id = 1 if prev is None else int(prev) + 1
            alignment = None
            aligned = res
            if prev is not None and align:
                alignment, names, sources = self._align(con, int(prev), res)
                # A new result: the caller's object is never renumbered in place.
                aligned = res.renumber(
                    alignment.mapping, names=names, name_sources=sources
                )
            # The model shows the aligned result while it is published, and keeps
            # it once recorded; a failure gives it back its own result.
            swap = not isinstance(seg, Segmentation) and aligned is not res
            if swap:
                seg.result_ = aligned  # type: ignore[union-attr]
            try:
                self._insert(
                    con, run_id, prev, aligned, alignment, label, window,
                    sample_rows, publish,
                )  # fmt: skip
            except BaseException:
                if swap:
                    seg.result_ = res  # type: ignore[union-attr]
                raise
        return run_id

    def _align(
        self, con: Any, prev: int, seg: Segmentation
    ) -> tuple[Alignment, dict[int, str], dict[int, str]]:
        old = frame(
            con,
            "SELECT customer_id, segment_id FROM assignments WHERE run_id = ?",
            [prev],
            {"customer_id": pl.String, "segment_id": pl.Int64},
        )
        old_segs = con.execute(
            "SELECT segment_id, name, name_source FROM segments WHERE run_id = ?",
            [prev],
        ).fetchall()
        used = con.execute("SELECT max(segment_id) FROM segments").fetchone()[0]
        new = seg.labels.select(
            pl.col(seg.id).cast(pl.String).alias("customer_id"), "segment_id"
        )
        both = old.join(new, on="customer_id", how="inner", suffix="_new")
        sizes = dict(seg.segments.select("segment_id", "size").iter_rows())
        alignment = align_runs(
            both.get_column("segment_id").to_numpy(),
            both.get_column("segment_id_new").to_numpy(),
            current_ids=sorted(seg.profiles),
            current_sizes=sizes,
            previous_ids=sorted(r[0] for r in old_segs),
            next_id=int(used if used is not None else -1) + 1,
            similarity=similarity(con, prev, seg),
        )
        names = {r[0]: r[1] for r in old_segs if r[0] in alignment.matched}
        sources = {r[0]: r[2] or "carried" for r in old_segs if r[0] in names}
        sources = {
            k: ("custom" if v == "custom" else "carried") for k, v in sources.items()
        }
        # A new segment whose generated name is taken by a carried one gets its id.
        taken = set(names.values())
        for old_id, new_id in alignment.mapping.items():
            if new_id not in names and seg.profiles[old_id].name in taken:
                names[new_id] = f"{seg.profiles[old_id].name} ({new_id})"
                sources[new_id] = seg.profiles[old_id].name_source
        return alignment, names, sources

    def _insert(
        self,
        con: Any,
        run_id: int,
        prev: int | None,
        seg: Segmentation,
        alignment: Alignment | None,
        label: str | None,
        window: tuple[Any, Any] | None,
        sample_rows: int,
        publish: Callable[[], Any] | None = None,
    ) -> None:
        state = seg.assign_state
        schema = [
            {k: c[k] for k in ("name", "dtype", "dtype_class", "kind")}
            for c in state.columns
        ]
        schema_hash = hashlib.sha256(to_json(schema).encode()).hexdigest()
        statuses = status(alignment)
        per_outcome, overall = outcome_values(seg)
        run = seg.run
        with tempfile.TemporaryDirectory(prefix=".segdiscover-runs-") as tmp:
            assign_file = Path(tmp) / "assignments.parquet"
            sample_file = Path(tmp) / "sample.parquet"
            labels = seg.labels.select(
                pl.col(seg.id).cast(pl.String).alias("customer_id"),
                pl.col("segment_id").cast(pl.Int32),
                "segment_name",
                "confidence",
                "is_noise",
            )
            try:
                write_parquet(labels, assign_file)
                write_parquet(sample(seg, schema, sample_rows), sample_file)
            except OSError as exc:  # a full temporary disk: name it, record nothing
                msg = (
                    f"Cannot stage the run's rows in {tmp!r}: {exc.strerror or exc}; "
                    "the run was not recorded (set TMPDIR to a folder with room)."
                )
                raise RunStoreError(msg) from exc
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?)",
                    [
                        run_id,
                        dt.datetime.now(dt.UTC).replace(tzinfo=None),
                        label,
                        run.get("as_of"),
                        None if window is None else str(window[0]),
                        None if window is None else str(window[1]),
                        seg.id,
                        __version__,
                        run.get("clusterer"),
                        len(seg.profiles),
                        seg.labels.height,
                        schema_hash,
                        to_json(schema),
                        to_json(run.get("params", {})),
                        to_json({k: v for k, v in run.items() if k != "params"}),
                        to_json(overall),
                        None if alignment is None else prev,
                    ],
                )
                con.executemany(
                    "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        [
                            run_id,
                            r["segment_id"],
                            r["name"],
                            r.get("name_source"),
                            r["size"],
                            r["share"],
                            statuses.get(r["segment_id"], "first run"),
                            to_json(seg.profiles[r["segment_id"]].to_dict()),
                            to_json({"fidelity_f1": r.get("fidelity_f1")}),
                            to_json(per_outcome.get(r["segment_id"], {})),
                        ]
                        for r in seg.segments.iter_rows(named=True)
                    ],
                )
                self._write_rows(con, run_id, assign_file, sample_file)
                if alignment is not None and alignment.events:
                    con.executemany(
                        "INSERT INTO lineage VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            [
                                run_id,
                                prev,
                                e.kind,
                                list(e.before),
                                list(e.after),
                                e.text,
                            ]
                            for e in alignment.events
                        ],
                    )
                if publish is not None:
                    publish()  # the outputs go out in the step the run is recorded
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _write_rows(con: Any, run_id: int, assignments: Path, sample: Path) -> None:
        """Bulk rows from parquet files (DuckDB reads them without pyarrow)."""
        con.execute(
            "INSERT INTO assignments SELECT ?, * FROM read_parquet(?)",
            [run_id, str(assignments)],
        )
        con.execute(
            "INSERT INTO feature_sample SELECT ?, * FROM read_parquet(?)",
            [run_id, str(sample)],
        )

    # ---------------------------------------------------------------- read
    def runs(self) -> pl.DataFrame:
        """One row per recorded run (JSON columns as text)."""
        with self._connect(write=False) as con:
            return frame(
                con,
                "SELECT run_id, recorded_at::VARCHAR AS recorded_at, label, as_of, "
                "id_column, clusterer, n_segments, n_customers, feature_schema_hash, "
                "previous_run_id FROM runs ORDER BY run_id",
                [],
                {
                    "run_id": pl.Int64,
                    "recorded_at": pl.String,
                    "label": pl.String,
                    "as_of": pl.String,
                    "id_column": pl.String,
                    "clusterer": pl.String,
                    "n_segments": pl.Int64,
                    "n_customers": pl.Int64,
                    "feature_schema_hash": pl.String,
                    "previous_run_id": pl.Int64,
                },
            )

    def segments(self, run_id: int | None = None) -> pl.DataFrame:
        """Segments of one run (default: the last), or of every run with ``-1``."""
        with self._connect(write=False) as con:
            rid = self._run_id(con, run_id)
            where, params = ("", []) if rid == -1 else ("WHERE run_id = ?", [rid])
            return frame(
                con,
                "SELECT run_id, segment_id, name, name_source, size, share, status, "
                "outcomes::VARCHAR AS outcomes FROM segments "
                f"{where} ORDER BY run_id, segment_id",
                params,
                SEGMENT_SCHEMA,
            )

    def assignments(self, run_id: int | None = None) -> pl.DataFrame:
        """Return the customers of one run (default: the last) and their segments."""
        with self._connect(write=False) as con:
            return self._assignments(con, self._run_id(con, run_id))

    def lineage(self, run_id: int | None = None) -> pl.DataFrame:
        """Lineage events recorded when a run (default: the last) was aligned."""
        with self._connect(write=False) as con:
            rid = self._run_id(con, run_id)
            rows = con.execute(
                'SELECT kind, "before", "after", text FROM lineage WHERE run_id = ? '
                "ORDER BY rowid",
                [rid],
            ).fetchall()
        return pl.DataFrame(
            rows,
            schema={
                "kind": pl.String,
                "before": pl.List(pl.Int64),
                "after": pl.List(pl.Int64),
                "text": pl.String,
            },
            orient="row",
        )

    def drift(
        self, previous: int | None = None, current: int | None = None
    ) -> DriftReport:
        """Compare two runs (default: the last run with the one before it).

        Examples
        --------
        >>> import tempfile
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of)
        >>> store = RunStore(tempfile.mkdtemp() + "/runs.duckdb")
        >>> store.record(seg), store.record(seg)
        (1, 2)
        >>> report = store.drift()
        >>> report.customers, float(report.psi["psi"].max())
        ({'both': 400, 'left': 0, 'new': 0}, 0.0)
        """
        with self._connect(write=False) as con:
            cur = self._run_id(con, current)
            if previous is None:
                row = con.execute(
                    "SELECT max(run_id) FROM runs WHERE run_id < ?", [cur]
                ).fetchone()
                if row[0] is None:
                    msg = (
                        f"The run store {str(self.path)!r} has no run before run "
                        f"{cur}; drift needs two runs."
                    )
                    raise RunStoreError(msg)
                previous = int(row[0])
            prev = self._run_id(con, previous)
            a, b = self._run_data(con, prev), self._run_data(con, cur)
            linked = con.execute(
                "SELECT previous_run_id FROM runs WHERE run_id = ?", [cur]
            ).fetchone()[0]
            events = (
                con.execute(
                    'SELECT kind, "before", "after", text FROM lineage '
                    "WHERE run_id = ? ORDER BY rowid",
                    [cur],
                ).fetchall()
                if linked == prev
                else []
            )
        lineage = [
            {"kind": k, "before": list(x), "after": list(y), "text": t}
            for k, x, y, t in events
        ]
        return compare(a, b, lineage=lineage)

    def _run_id(self, con: Any, run_id: int | None) -> int:
        if run_id == -1:
            return -1
        ids = [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
        if not ids:
            msg = f"The run store {str(self.path)!r} holds no run yet."
            raise RunStoreError(msg)
        if run_id is None:
            return max(ids)
        if run_id not in ids:
            msg = (
                f"The run store {str(self.path)!r} has no run {run_id}; its runs are "
                f"{sorted(ids)}."
            )
            raise InputError(msg)
        return int(run_id)

    def _assignments(self, con: Any, run_id: int) -> pl.DataFrame:
        return frame(
            con,
            "SELECT customer_id, segment_id, segment_name, confidence, is_noise "
            "FROM assignments WHERE run_id = ? ORDER BY customer_id",
            [run_id],
            {
                "customer_id": pl.String,
                "segment_id": pl.Int64,
                "segment_name": pl.String,
                "confidence": pl.Float64,
                "is_noise": pl.Boolean,
            },
        )

    def _run_data(self, con: Any, run_id: int) -> RunData:
        label, as_of, schema, outcomes = con.execute(
            "SELECT label, as_of, feature_schema::VARCHAR, "
            "outcomes::VARCHAR FROM runs WHERE run_id = ?",
            [run_id],
        ).fetchone()
        segments = frame(
            con,
            "SELECT run_id, segment_id, name, name_source, size, share, status, "
            "outcomes::VARCHAR AS outcomes FROM segments WHERE run_id = ? "
            "ORDER BY segment_id",
            [run_id],
            SEGMENT_SCHEMA,
        )
        sample = frame(
            con,
            "SELECT customer_id, segment_id, feature, value_num, value_text "
            "FROM feature_sample WHERE run_id = ?",
            [run_id],
            {
                "customer_id": pl.String,
                "segment_id": pl.Int64,
                "feature": pl.String,
                "value_num": pl.Float64,
                "value_text": pl.String,
            },
        )
        kinds = {
            c["name"]: ("numeric" if c["dtype_class"] == "numeric" else "text")
            for c in json.loads(schema or "[]")
        }
        overall = {
            k: float(v)
            for k, v in json.loads(outcomes or "{}").items()
            if v is not None
        }
        return RunData(
            run_id=run_id,
            label=label,
            as_of=as_of,
            id="customer_id",
            segments=segments,
            assignments=self._assignments(con, run_id),
            sample=sample,
            kinds=kinds,
            outcomes=overall,
        )
