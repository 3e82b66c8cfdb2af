"""Run the segdiscover CLI with every file-system step counted, to crash it at each one.

The crash-consistency harness (anchor: ALICE, Pillai et al., "All File Systems Are
Not Created Equal", OSDI 2014; SQLite's crash tests) runs the real command through
this shim. Every *mutating* file-system call under the watched folders is a step:
``mkdir``, ``open`` for writing, ``rename``/``replace``, ``link``/``symlink``,
``unlink``/``rmdir`` and ``fsync``. Environment variables choose what happens:

``CRASH_WATCH``
    ``os.pathsep``-separated folders whose steps count.
``CRASH_SNAPSHOTS``
    A folder: after every step the watched folders are copied into
    ``<folder>/<i>/`` (links kept as links). A kill -9 after step ``i`` leaves
    exactly that state on disk (nothing the process did later can reach it), so one
    run yields every crash state, which the harness then checks.
``CRASH_AT`` and ``CRASH_SIGNAL``
    Send the signal (``KILL`` by default, or ``TERM``/``INT``) to the process right
    after step ``CRASH_AT`` (1-based): a real kill of a real process.
``CRASH_LOG``
    A file that receives one line per step (``i op path``).

Usage: ``python crash_shim.py <segdiscover arguments>``.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

_WATCH = os.environ.get("CRASH_WATCH", "")
WATCH = [os.path.realpath(p) for p in _WATCH.split(os.pathsep) if p]
SNAPSHOTS = os.environ.get("CRASH_SNAPSHOTS")
AT = int(os.environ.get("CRASH_AT", "0"))
SIGNAL = getattr(signal, "SIG" + os.environ.get("CRASH_SIGNAL", "KILL"))
LOG = os.environ.get("CRASH_LOG")
if SIGNAL == signal.SIGINT:
    # A process started in the background by a non-interactive shell (a test run
    # with ``&``, some schedulers) inherits SIGINT ignored, and Python then keeps
    # it ignored: the Ctrl-C case would exit 0. Model the terminal user it is for.
    signal.signal(signal.SIGINT, signal.default_int_handler)

_real = {
    name: getattr(os, name)
    for name in (
        "mkdir",
        "rename",
        "replace",
        "link",
        "symlink",
        "unlink",
        "remove",
        "rmdir",
        "fsync",
    )
}
_real_open = builtins.open
_busy = threading.local()
_lock = threading.Lock()
_count = 0


def _path(arg: Any, dir_fd: int | None = None) -> str | None:
    if isinstance(arg, int):  # an fsync's descriptor
        try:
            return os.readlink(f"/proc/self/fd/{arg}")
        except OSError:
            return None
    try:
        p = os.fsdecode(arg)
    except TypeError:
        return None
    if dir_fd is not None and not os.path.isabs(p):
        try:
            p = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), p)
        except OSError:
            return None
    if not p:
        return None
    # The folder resolved, the last name kept: a link is named, not its target.
    p = os.path.join(os.getcwd(), p)
    return os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))


def _watched(*paths: str | None) -> bool:
    for p in paths:
        if p is None:
            continue
        for w in WATCH:
            if p == w or p.startswith(w + os.sep) or w.startswith(p + os.sep):
                return True
    return False


def _snapshot(i: int) -> None:
    dest = Path(SNAPSHOTS) / str(i)  # type: ignore[arg-type]
    dest.mkdir(parents=True)
    for k, w in enumerate(WATCH):
        src = Path(w)
        target = dest / str(k)
        if src.is_dir():
            shutil.copytree(src, target, symlinks=True)
        elif src.is_file():
            target.mkdir()
            shutil.copy2(src, target / src.name)
            for extra in (src.with_name(src.name + ".wal"),):
                if extra.exists():
                    shutil.copy2(extra, target / extra.name)


def _step(op: str, paths: tuple[str | None, ...]) -> None:
    global _count
    # One step at a time: should two threads write outputs, an unlocked
    # ``_count += 1`` could let both skip step AT, and no signal would be sent.
    with _lock:
        _count += 1
        mine = _count
        _busy.on = True
        try:
            if LOG:
                with _real_open(LOG, "a") as fh:
                    fh.write(f"{mine} {op} {' '.join(p or '?' for p in paths)}\n")
            if SNAPSHOTS:
                _snapshot(mine)
        finally:
            _busy.on = False
    if AT and mine == AT:
        os.kill(os.getpid(), SIGNAL)


def _wrap(name: str) -> Any:
    real = _real[name]

    def wrapper(*args: Any, **kw: Any) -> Any:
        result = real(*args, **kw)
        if getattr(_busy, "on", False):
            return result
        dir_fd = kw.get("dir_fd") or kw.get("src_dir_fd")
        paths = tuple(
            _path(a, dir_fd)
            for a in args[:2]
            if isinstance(a, str | bytes | os.PathLike | int)
        )
        if _watched(*paths):
            _step(name, paths)
        return result

    return wrapper


def _open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
    fh = _real_open(file, mode, *args, **kw)
    if (
        not getattr(_busy, "on", False)
        and any(c in mode for c in "wax+")
        and not isinstance(file, int)
    ):
        p = _path(file)
        if _watched(p):
            _step("open", (p,))
    return fh


def install() -> None:
    for name in _real:
        setattr(os, name, _wrap(name))
    builtins.open = _open  # type: ignore[assignment]
    io.open = _open  # type: ignore[assignment]


if __name__ == "__main__":
    from segdiscover.cli import main

    install()
    code = main(sys.argv[1:])
    if LOG:
        with _real_open(LOG, "a") as fh:
            fh.write(f"exit {code} steps {_count}\n")
    sys.exit(code)
