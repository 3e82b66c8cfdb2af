"""All-or-nothing writes: one file, one folder, or a whole set of outputs.

Every writer of segdiscover goes through this module, so one set of rules holds
whatever is killed when (see ``docs/decisions.md``, "Publication by generation"):

* :func:`write_file` -- one file: written beside the target, synced, renamed over it.
* :func:`replace_dir` -- one folder (a saved model): built beside the target and
  swapped in with one ``renameat2(RENAME_EXCHANGE)``, so the target is the old folder
  or the new one at every instant.
* :func:`publish` -- a set of outputs (``discover --out``, ``drift --out``): the whole
  set is written as one *generation* folder ``out/.segdiscover/gen-N``; each visible
  name (``out/model``, ``out/segments.json``...) is a fixed symbolic link through
  ``out/.segdiscover/current``, and publishing flips that one link with one rename.
  A reader therefore sees the complete previous run or the complete new one, never a
  mix, by construction: no sequence of kills can expose half of a run.

Debris of writers that died (their process id is gone) is removed by the next writer;
generations other than the current and the previous one (kept for readers that are
still reading it) are removed when a new one is published.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from segdiscover.exceptions import InputError

# A platform check rather than try/except ImportError: mypy follows it (and
# type-checks the POSIX branch), whereas a module set to None needs an ignore.
if sys.platform != "win32":
    import fcntl

#: The hidden folder of generations inside an output folder.
STATE = ".segdiscover"
CURRENT = "current"
PREVIOUS = "previous"
_GEN = re.compile(r"^gen-(\d{6,})$")
_BUILDING = re.compile(r"^(?:tmp|probe|trash)-(\d+)-")
_LINK_TMP = re.compile(r"^\.(.+)\.link-(\d+)-[0-9a-f]+$")
_FILE_TMP = re.compile(r"^\.(.+)\.tmp-(\d+)-[0-9a-f]+$")
_DIR_TMP = re.compile(r"^\.(.+)\.(?:new|old)-(\d+)-[0-9a-f]+$")
#: A temporary whose writer's pid is alive is still removed when older than this
#: (pids are reused; a live writer touches its files far more often).
_STALE_SECONDS = 24 * 3600


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM.

    A ``BaseException``, as :class:`KeyboardInterrupt` is, so that no ``except
    Exception`` swallows it: every ``finally`` cleans up and the CLI exits 143.
    """


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread only)."""
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends, then act on them.

    Publication is a handful of renames; stopping it half-way is safe (every step
    leaves old or new) but leaves debris for the next run. Holding the signal for
    those milliseconds lets the process finish cleanly and exit 143 (or 130) right
    after. The Python handler is swapped, not the thread's signal mask: the C-level
    handler may run in any thread (polars and BLAS pools), the Python one only here.
    """
    caught: list[int] = []
    # Keyed by int: the handler records plain signal numbers and looks them up here.
    old: dict[int, Callable[[int, FrameType | None], Any] | int | None]
    try:
        old = {
            sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if caught:
            handler = old[caught[0]]
            if callable(handler):
                handler(caught[0], None)  # raises Terminated / KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


# ---------------------------------------------------------------- primitives
def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Sync every file and folder under ``path`` (before it is published)."""
    for root, dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        for name in dirs:
            fsync_dir(Path(root, name))
    fsync_dir(path)


def _dead(pid: int) -> bool:
    """Tell whether no process has this id (a dead writer's temporaries are debris)."""
    if os.name != "posix":  # pragma: no cover
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive under another user
    return False


def _stale(path: Path, pid: int) -> bool:
    if _dead(pid):
        return True
    try:
        return (
            time.time() - path.lstat().st_mtime > _STALE_SECONDS and pid != os.getpid()
        )
    except OSError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _umask() -> int:
    mask = os.umask(0o022)  # read by setting; restored at once
    os.umask(mask)
    return mask


def _token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc: Any = None


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where unsupported."""
    global _libc
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            _libc.renameat2  # noqa: B018 - glibc >= 2.28
        except (OSError, AttributeError):
            _libc = False
    if _libc is False:
        return False
    rc = _libc.renameat2(
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE
    )
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # this file system cannot exchange: the caller falls back
    raise OSError(err, os.strerror(err), str(b))


# ---------------------------------------------------------------- one file
def clean_file_debris(target: Path) -> None:
    """Remove temporaries that killed writers of ``target`` left beside it."""
    with contextlib.suppress(OSError):
        for p in target.parent.iterdir():
            m = _FILE_TMP.match(p.name)
            if m and m.group(1) == target.name and _stale(p, int(m.group(2))):
                _remove(p)


#: What polars' messages say when the writing itself failed (not the data).
_IO_MARKERS = ("io error", "os error", "transport error", "no space", "i/o")


def as_os_error(exc: BaseException, path: str | os.PathLike[str]) -> OSError | None:
    """Return the :class:`OSError` behind a polars write error (None if not one).

    polars reports a full disk while writing parquet as a ``ComputeError`` ("File out
    of specification: underlying IO error", or "Invalid thrift: transport error"
    when the footer fails), which the CLI would call an internal error. Raised as
    the ``OSError`` it is, every writer's handler names the path and exits 2.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not any(m in text.lower() for m in _IO_MARKERS):
        return None
    try:
        free: int | None = shutil.disk_usage(Path(path).parent).free
    except OSError:
        free = None
    if "os error 28" in text or (free is not None and free < 1 << 20):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return OSError(errno.EIO, f"the write failed ({text})", str(path))


def write_parquet(frame: Any, path: str | os.PathLike[str]) -> None:
    """``frame.write_parquet(path)``; a failed write is raised as its ``OSError``.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_parquet(pl.DataFrame({"a": [1]}), folder / "a.parquet")
    >>> pl.read_parquet(folder / "a.parquet")["a"].to_list()
    [1]
    """
    with polars_write_errors(path):
        frame.write_parquet(path)


@contextlib.contextmanager
def polars_write_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Raise a polars error of a write in the block as its ``OSError`` (see above)."""
    import polars as pl

    try:
        yield
    except pl.exceptions.PolarsError as exc:
        err = as_os_error(exc, path)
        if err is None:
            raise
        raise err from exc


def write_file(target: Path, write: Callable[[Path], Any]) -> Path:
    """Write one file atomically: ``write`` fills a temporary file beside ``target``.

    The file is synced and renamed into place only when complete, so a crash leaves
    the old file or the new one, never half of one; the folder is synced so the
    rename survives a power cut. An ``OSError`` (full disk, no permission) becomes
    an :class:`InputError` naming the file.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp-{_token()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_file_debris(target)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as exc:
        msg = f"Cannot write {str(target)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return target


# ---------------------------------------------------------------- one folder
def new_dir_beside(target: Path) -> Path:
    """Make a temporary folder beside ``target`` (``.<name>.new-<pid>-<hex>``).

    The process id in the name lets a later writer tell whether its owner is dead.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_dir_debris(target)
    tmp = target.with_name(f".{target.name}.new-{_token()}")
    tmp.mkdir()
    return tmp


def clean_dir_debris(target: Path) -> None:
    """Finish or remove what a killed :func:`replace_dir` left beside ``target``.

    Where folders cannot be exchanged, the old folder is renamed aside before the new
    one is renamed in; a kill between the two leaves no ``target``: the old folder is
    then renamed back (rolled back), so the model is never lost.
    """
    with contextlib.suppress(OSError):
        entries = list(target.parent.iterdir())
        for p in entries:
            m = _DIR_TMP.match(p.name)
            if not m or m.group(1) != target.name:
                continue
            if (
                ".old-" in p.name
                and not os.path.lexists(target)
                and _dead(int(m.group(2)))
            ):
                os.rename(p, target)  # roll back the interrupted swap
                continue
            if _stale(p, int(m.group(2))):
                _remove(p)


def replace_dir(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target`` in one step; remove the old one.

    With ``renameat2(RENAME_EXCHANGE)`` (Linux) the two folders swap atomically;
    elsewhere the old one is renamed aside first and restored by
    :func:`clean_dir_debris` if the process dies before the new one is in.
    """
    fsync_tree(tmp)
    if not os.path.lexists(target):
        os.rename(tmp, target)
        fsync_dir(target.parent)
        return
    if exchange(tmp, target):
        fsync_dir(target.parent)
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
        return
    old = target.with_name(f".{target.name}.old-{_token()}")
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- a set of outputs
@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Lock the folder itself: two writers publish one after the other.

    The lock is on the directory, so no lock file is left in the output folder; the
    kernel releases it when a writer dies.
    """
    if sys.platform == "win32":  # pragma: no cover - Windows: not serialised
        yield
    else:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the last descriptor releases the lock


def _link_target(name: str) -> str:
    return f"{STATE}/{CURRENT}/{name}"


def _points(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None


def _set_link(link: Path, to: str) -> None:
    """Make ``link`` a symbolic link to ``to`` in one rename (never absent between)."""
    if _points(link) == to:
        return
    tmp = link.with_name(f".{link.name}.link-{_token()}")
    os.symlink(to, tmp)
    try:
        if link.is_dir() and not link.is_symlink():
            # A real folder (an older layout): swapped atomically where possible.
            if exchange(tmp, link):
                shutil.rmtree(tmp, ignore_errors=True)
                return
            aside = link.parent / STATE / f"trash-{_token()}"
            os.rename(link, aside)
            os.rename(tmp, link)
            shutil.rmtree(aside, ignore_errors=True)
            return
        os.replace(tmp, link)
    finally:
        with contextlib.suppress(OSError):
            if os.path.lexists(tmp):
                _remove(tmp)


def _generations(state: Path) -> list[Path]:
    numbered = [
        (int(m.group(1)), p) for p in state.iterdir() if (m := _GEN.match(p.name))
    ]
    return [p for _, p in sorted(numbered, key=lambda t: t[0])]


def _debris(p: Path, keep: set[str]) -> bool:
    """Tell whether an entry of the generation folder can go."""
    if m := _BUILDING.match(p.name):
        return _stale(p, int(m.group(1)))
    if m := _LINK_TMP.match(p.name):
        return _stale(p, int(m.group(2)))
    return bool(_GEN.match(p.name)) and p.name not in keep


def _clean_state(state: Path, out: Path, keep: set[str]) -> None:
    """Remove dead writers' debris and generations no pointer names."""
    for p in state.iterdir():
        if _debris(p, keep):
            _remove(p)
    for p in out.iterdir():
        m = _LINK_TMP.match(p.name)
        if m and _stale(p, int(m.group(2))):
            _remove(p)


def symlinks_work(folder: Path) -> bool:
    """Tell whether ``folder`` can hold symbolic links.

    Not on FAT or unprivileged Windows; there outputs are moved in one by one.
    """
    probe = folder / f"probe-{_token()}"
    try:
        os.symlink("x", probe)
    except (OSError, NotImplementedError):
        return False
    with contextlib.suppress(OSError):
        probe.unlink()
    return True


def _adopt_legacy(out: Path, state: Path, names: Iterable[str]) -> None:
    """Make the real files of an older layout the first generation.

    They are copied (hard links for files), so the visible files stay in place until
    their links replace them one by one, each link showing the same content.
    """
    legacy = [
        n for n in names if os.path.lexists(out / n) and not (out / n).is_symlink()
    ]
    if not legacy or os.path.lexists(state / CURRENT):
        return
    tmp = state / f"tmp-{_token()}"
    tmp.mkdir()
    for name in legacy:
        src = out / name
        if src.is_dir():
            shutil.copytree(src, tmp / name, symlinks=True)
        else:
            try:
                os.link(src, tmp / name)
            except OSError:
                shutil.copy2(src, tmp / name)
    fsync_tree(tmp)
    gen = state / "gen-000000"
    os.rename(tmp, gen)
    _flip(state, gen.name)


def _flip(state: Path, gen: str) -> None:
    """Point ``current`` at ``gen`` (and ``previous`` at the old one) by renames."""
    old = _points(state / CURRENT)
    if old is not None and old != gen:
        _set_link(state / PREVIOUS, old)
    _set_link(state / CURRENT, gen)
    fsync_dir(state)


def current_generation(out: Path) -> Path | None:
    """Return the generation folder ``out``'s visible names point to, if any."""
    name = _points(Path(out) / STATE / CURRENT)
    return None if name is None else Path(out) / STATE / name


def move_in(out: Path, built: Path, managed: list[str]) -> None:
    """Fallback where ``out`` cannot hold symbolic links: move entries one by one.

    A hard link (or copy) keeps each replaced file until every move succeeded, so an
    error midway restores the earlier run; a kill midway is not covered (there is no
    single step that could publish several files without links).
    """
    keep = built / f".old-{_token()}"
    keep.mkdir()
    undo: list[tuple[Path, Path | None]] = []
    names = [n for n in sorted(os.listdir(built)) if n != keep.name]
    try:
        for i, name in enumerate(names):
            src, dst = built / name, out / name
            if src.is_dir():
                replace_dir(src, dst)  # a folder (model, plots) swaps as a whole
                continue
            old = None
            if dst.exists():
                old = keep / f"{i}"
                try:
                    os.link(dst, old)
                except OSError:
                    shutil.copy2(dst, old)
            undo.append((dst, old))
            os.replace(src, dst)
        for name in managed:
            if name not in names and os.path.lexists(out / name):
                _remove(out / name)
    except BaseException:
        for dst, old in reversed(undo):
            with contextlib.suppress(OSError):
                if old is not None:
                    os.replace(old, dst)
                else:
                    dst.unlink(missing_ok=True)
        raise


def publish(
    out: Path,
    build: Callable[[Path], None],
    *,
    managed: Iterable[str],
) -> list[str]:
    """Publish a complete set of outputs into ``out`` in one atomic step.

    Parameters
    ----------
    out : Path
        The output folder (created if missing). Names other than ``managed`` ones
        are never touched.
    build : callable
        ``build(folder)`` writes every output into an empty folder.
    managed : iterable of str
        Every top-level name this kind of output can have; a managed name that the
        new outputs lack is removed with the flip (no stale chart of an earlier run).

    Returns
    -------
    list of str
        The top-level names published.
    """
    managed = list(managed)
    if os.path.lexists(out) and not out.is_dir():
        msg = f"The output folder {str(out)!r} is a file; give a folder."
        raise InputError(msg)
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE
    if os.path.lexists(state) and (state.is_symlink() or not state.is_dir()):
        msg = f"{str(state)!r} is not segdiscover's generation folder; remove it."
        raise InputError(msg)
    state.mkdir(exist_ok=True)
    use_links = symlinks_work(state)
    tmp = Path(tempfile.mkdtemp(prefix=f"tmp-{os.getpid()}-", dir=state))
    try:
        # mkdtemp makes the folder private (0700); published outputs get the
        # permissions any folder made here gets, so a BI reader can open them.
        os.chmod(tmp, 0o777 & ~_umask())
        build(tmp)
        names = sorted(os.listdir(tmp))
        fsync_tree(tmp)
        with deferred_signals(), locked(out):
            keep = {_points(state / CURRENT), _points(state / PREVIOUS)}
            _clean_state(state, out, {k for k in keep if k})
            if not use_links:  # pragma: no cover - FAT, unprivileged Windows
                move_in(out, tmp, managed)
                return names
            _adopt_legacy(out, state, {*managed, *names})
            gens = _generations(state)
            m = _GEN.match(gens[-1].name) if gens else None
            last = int(m.group(1)) if m else 0
            gen = state / f"gen-{last + 1:06d}"
            os.rename(tmp, gen)
            created: list[Path] = []
            try:
                # Links first: a new name points into the current generation, where
                # it does not exist yet (a dangling link reads as absent), until the
                # flip.
                for name in names:
                    if not os.path.lexists(out / name):
                        created.append(out / name)
                    _set_link(out / name, _link_target(name))
                fsync_dir(out)
                _flip(state, gen.name)  # the one step that publishes
            except BaseException:
                if _points(state / CURRENT) != gen.name:  # not published: undo
                    for link in created:
                        _remove(link)
                    _remove(gen)
                raise
            for name in managed:
                if name not in names and os.path.lexists(out / name):
                    _remove(out / name)  # an earlier run's output this run lacks
            _clean_state(state, out, {gen.name, _points(state / PREVIOUS) or ""})
        return names
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
