"""Small inputs and fitted models shared by the hostile-input corpus.

Everything is built in-process from seeds, at most 300 customers, and cached so the
whole corpus runs in well under a minute.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import errno as errnos
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import polars as pl

import segdiscover as sd
from segdiscover.report import write_outputs

_CACHE = Path(tempfile.mkdtemp(prefix="segdiscover-hostile-"))
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def table(n: int = 60, seed: int = 0) -> pl.DataFrame:
    """A customer-level table with two clear groups, a category and a count."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "spend": rng.normal(100 + 200 * group, 10),
            "visits": rng.normal(5 + 10 * group, 1),
            "plan": np.array(["basic", "pro"])[group],
            "seats": rng.integers(1, 20, n),
        }
    )


def raw(n: int = 200) -> sd.datasets.CustomerData:
    """Planted raw tables (customers, orders, tickets)."""
    return _raw(n)


@functools.cache
def _raw(n: int) -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=n, n_segments=3, seed=0)


def tables(n: int = 200) -> dict[str, pl.DataFrame]:
    """A fresh dict of the raw tables (the frames themselves are immutable)."""
    return dict(raw(n).tables)


def segmenter(k: int = 2, **kw: Any) -> sd.Segmenter:
    """A small, fast Segmenter."""
    params = {"clusterer": "kmeans", "n_segments": k, "random_state": 0}
    return sd.Segmenter(**{**params, **kw})


@functools.cache
def fitted_table(k: int = 2) -> sd.Segmenter:
    """A Segmenter fitted on :func:`table` (cached; never mutate it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return segmenter(k).fit(table(120))


@functools.cache
def fitted_raw() -> sd.Segmenter:
    """A Segmenter fitted on the raw tables (cached; never mutate it)."""
    d = raw()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return segmenter(3).fit(d.tables, as_of=d.as_of)


def guided_table(n: int = 200) -> pl.DataFrame:
    """:func:`table` with a ``churned`` outcome that follows spend, with noise."""
    flip = (pl.int_range(n) % 7 == 0).cast(pl.Int64)
    churned = (pl.col("spend") > 200).cast(pl.Int64) ^ flip
    return table(n).with_columns(churned.alias("churned"))


@functools.cache
def fitted_guided() -> sd.Segmenter:
    """A Segmenter guided by an outcome (LightGBM models saved as text; cached)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return segmenter(2, guide="outcomes").fit(guided_table(), outcomes=["churned"])


@functools.cache
def _saved(which: str) -> Path:
    fitted = {"raw": fitted_raw, "guided": fitted_guided, "table": fitted_table}
    return fitted[which]().save(_CACHE / f"model-{which}")


def saved_model(dest: Path, which: str = "table") -> Path:
    """Copy a saved model into ``dest`` (a fresh folder the case may damage).

    ``which`` is ``"table"`` (:func:`fitted_table`), ``"raw"`` or ``"guided"``.
    """
    shutil.copytree(_saved(which), dest)
    return dest


@functools.cache
def _runs() -> Path:
    from segdiscover.runs import RunStore

    path = _CACHE / "runs.duckdb"
    store = RunStore(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.record(fitted_table(2), label="first")
        store.record(fitted_table(3), label="second")
    return path


def run_store(dest: Path) -> Path:
    """Copy a run store holding two runs of :func:`table` (2 and 3 segments)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_runs(), dest)
    return dest


@functools.cache
def _outputs() -> Path:
    out = _CACHE / "outputs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_outputs(fitted_table(), out)
    return out


def earlier_run(dest: Path) -> Path:
    """Copy a complete earlier run's output folder into ``dest``."""
    shutil.copytree(_outputs(), dest, symlinks=True)  # as published: links kept
    return dest


def rewrite_manifest(folder: Path, edit: Any) -> None:
    """Edit a saved model's manifest and re-sign it, as a tamperer who knows how."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    path.write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (folder / "checksum").write_text(f"{digest}  manifest.json\n")


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV and return the path."""
    frame.write_csv(path)
    return path


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as parquet (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


# ------------------------------------------------------------ model files, re-hashed
def npy(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    """The bytes ``np.save`` writes for ``array``."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_header(
    shape: tuple[int, ...], descr: str = "<f8", *, fortran: bool = False
) -> bytes:
    """A version 1.0 ``.npy`` header declaring ``shape`` (no data after it)."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def replace_array(
    folder: Path, name: str, data: bytes, record: dict[str, Any] | None = None
) -> None:
    """Write ``arrays/<name>.npy`` and re-hash it into the re-signed manifest.

    ``record`` updates the manifest's dtype and shape too (a careful attacker).
    """
    (folder / "arrays" / f"{name}.npy").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    rewrite_manifest(
        folder, lambda m: m["arrays"][name].update(record or {}, sha256=sha)
    )


def array(folder: Path, name: str) -> np.ndarray:
    """A saved model's array, read back."""
    return np.load(folder / "arrays" / f"{name}.npy")


def replace_guide_file(folder: Path, data: bytes) -> None:
    """Replace a guided model's first LightGBM text model and re-hash it."""
    name = sorted(p.name for p in (folder / "guide").iterdir())[0]
    (folder / "guide" / name).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    rewrite_manifest(folder, lambda m: m["guide"]["sha256"].update({name: sha}))


def guide_text(folder: Path) -> str:
    """The text of a guided model's first LightGBM model."""
    return sorted((folder / "guide").iterdir())[0].read_text()


# ------------------------------------------------------------ environment faults
def _under(path: Any, root: Path) -> bool:
    try:
        p = os.path.abspath(os.fspath(path))
    except TypeError:  # a file descriptor
        return False
    r = str(root)
    return p == r or p.startswith(r + os.sep)


def _fd_under(fd: int, root: Path) -> bool:
    try:
        return _under(os.readlink(f"/proc/self/fd/{fd}"), root)
    except OSError:
        return True  # cannot tell: fail, as the disk would


@contextlib.contextmanager
def failing_disk(root: Path, code: int, at: str) -> Iterator[None]:
    """Make the file system fail with ``code`` for every path under ``root``.

    Any writer, whatever its strategy, must meet the fault:

    * ``at="readonly"``: no folder or file can be created or opened for writing and
      nothing renamed or linked (a read-only mount, a folder without write access:
      tests run as root in CI, where ``chmod`` would not stop a write);
    * ``at="write"``: files are created, but flushing them fails (disk full or
      quota hit while writing: ``fsync``);
    * ``at="rename"``: files are written, but moving or linking them into place
      fails (disk full when the directory grows, quota on links).

    Removing files still works, so a writer can clean up after itself.
    """
    fault = OSError(code, os.strerror(code))

    def refuse(*paths: Any) -> None:
        if any(_under(p, root) for p in paths):
            raise fault

    real = {
        name: getattr(os, name)
        for name in ("mkdir", "open", "replace", "rename", "link", "symlink", "fsync")
    }
    real_open = builtins.open
    real_parquet, real_csv = pl.DataFrame.write_parquet, pl.DataFrame.write_csv
    patches: dict[str, Any] = {}
    if at == "readonly":
        writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

        def mkdir(path: Any, *a: Any, **k: Any) -> None:
            refuse(path)
            real["mkdir"](path, *a, **k)

        def os_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
            if flags & writing:
                refuse(path)
            return real["open"](path, flags, *a, **k)

        def py_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
            if any(c in mode for c in "wax+"):
                refuse(file)
            return real_open(file, mode, *a, **k)

        def parquet(self: pl.DataFrame, file: Any, *a: Any, **k: Any) -> Any:
            refuse(file)
            return real_parquet(self, file, *a, **k)

        def csv(self: pl.DataFrame, file: Any = None, *a: Any, **k: Any) -> Any:
            if file is not None:
                refuse(file)
            return real_csv(self, file, *a, **k)

        patches = {
            "os.mkdir": mkdir,
            "os.open": os_open,
            "builtins.open": py_open,
            "io.open": py_open,
            "polars.DataFrame.write_parquet": parquet,
            "polars.DataFrame.write_csv": csv,
        }
    if at in ("readonly", "rename"):
        for name in ("replace", "rename", "link", "symlink"):

            def moved(src: Any, dst: Any, *a: Any, _name: str = name, **k: Any) -> Any:
                refuse(src, dst)
                return real[_name](src, dst, *a, **k)

            patches[f"os.{name}"] = moved
    if at == "write":

        def fsync(fd: Any) -> None:
            fileno = fd if isinstance(fd, int) else fd.fileno()
            if _fd_under(fileno, root):
                raise fault
            real["fsync"](fd)

        patches["os.fsync"] = fsync
    if not patches:
        msg = f"unknown fault {at!r}"
        raise ValueError(msg)
    with contextlib.ExitStack() as stack:
        for target, new in patches.items():
            stack.enter_context(mock.patch(target, new))
        yield


#: errno codes of the faults, by name.
EROFS, EACCES, ENOSPC, EDQUOT = (
    errnos.EROFS,
    errnos.EACCES,
    errnos.ENOSPC,
    errnos.EDQUOT,
)
