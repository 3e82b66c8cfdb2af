"""The command line never writes its inputs: output paths are checked against them.

An output clashes with an input when both name the same file (the same path once
links are resolved, or the same inode: a hard link), when the input lies inside a
folder the command replaces (``discover``'s ``model/`` and ``plots/``, and the
``.segdiscover/`` folder where runs are built and pruned), or when the
output lies inside an input folder (``assign --out`` inside ``--model``). Each
command checks before it reads anything, so a refused run changes nothing.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from segdiscover.exceptions import InputError

#: What ``discover`` publishes into ``--out`` (files, and folders replaced whole).
DISCOVER_OUTPUTS = (
    "assignments.parquet",
    "segments.json",
    "report.html",
    "report.md",
    "plots",
    "model",
)
#: What ``drift --out`` writes.
DRIFT_OUTPUTS = ("drift.md", "drift.json", "drift_flows.png")
#: The hidden folder of an output folder where runs are built and older ones
#: pruned (``out/.segdiscover/gen-N``): a file in it is removed by a later run, so an
#: input there is refused like one in a replaced folder (tests/hostile,
#: ``discover-table-in-generation-folder``).
WORK_FOLDER = ".segdiscover"
#: Files looked at inside a folder when comparing inodes (a model has a dozen).
_MAX_WALK = 10_000

Named = tuple[str, Path]


def _identities(path: Path) -> set[tuple[int, int]]:
    """(device, inode) of ``path`` and, for a folder, of the files under it."""
    out: set[tuple[int, int]] = set()
    try:
        st = path.stat()
    except (OSError, ValueError):
        return out
    out.add((st.st_dev, st.st_ino))
    if path.is_dir():
        for i, p in enumerate(path.rglob("*")):
            if i >= _MAX_WALK:
                break
            try:
                s = p.stat()
            except OSError:
                continue
            out.add((s.st_dev, s.st_ino))
    return out


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare as given
        return path.absolute()


def _clash(written: Path, given: Path) -> str | None:
    """How writing ``written`` would touch the input ``given`` (None: it would not)."""
    w, g = _resolved(written), _resolved(given)
    if w == g:
        return "the same file"
    if g.is_relative_to(w):
        return "it lies inside the folder that is replaced"
    if w.is_relative_to(g):
        return "it would be written inside the input folder"
    if _identities(written) & _identities(given):
        return "the same file through a hard link"
    return None


def refuse_written_inputs(inputs: Iterable[Named], outputs: Iterable[Named]) -> None:
    """Raise when an output path would write over, or into, an input.

    Parameters
    ----------
    inputs : iterable of (label, path)
        What the command reads, labelled as the user gave it (``"--table"``).
    outputs : iterable of (label, path)
        What it writes: files, or folders it replaces as a whole.

    Raises
    ------
    InputError
        Naming the output, the input and how they meet (exit code 2).

    Examples
    --------
    >>> import tempfile
    >>> t = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = t.write_text("id,a")
    >>> refuse_written_inputs([("--table", t)], [("--out", t.with_name("o.csv"))])
    >>> refuse_written_inputs([("--table", t)], [("--out", t)])
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.InputError: --out '...t.csv' would overwrite the input ...
    """
    inputs, outputs = list(inputs), list(outputs)
    for out_label, written in outputs:
        for in_label, given in inputs:
            if out_label == in_label:
                continue  # a store read and written on purpose (--runs)
            how = _clash(written, given)
            if how is not None:
                msg = (
                    f"{out_label} {str(written)!r} would overwrite the input "
                    f"{in_label} {str(given)!r} ({how}). segdiscover never writes "
                    "its inputs: choose another output path."
                )
                raise InputError(msg)


def _table_items(tables: object) -> list[Named]:
    """``--tables`` as (label, path): a parsed dict or the raw NAME=FILE strings."""
    if isinstance(tables, dict):
        pairs = [(str(k), str(v)) for k, v in tables.items()]
    elif isinstance(tables, Sequence) and not isinstance(tables, str):
        pairs = [str(t).partition("=")[::2] for t in tables]
    else:
        return []
    return [(f"--tables {n}={p}", Path(p)) for n, p in pairs if p]


def _given(args: argparse.Namespace, *names: str) -> list[Named]:
    out = [(f"--{n}", Path(v)) for n in names if (v := getattr(args, n, None))]
    return out + _table_items(getattr(args, "tables", None))


def check_discover(args: argparse.Namespace) -> None:
    """Refuse a ``discover`` whose ``--out`` (or ``--runs``) would write an input."""
    inputs = _given(args, "table", "outcomes", "config", "runs")
    out = Path(args.out)
    names = (*DISCOVER_OUTPUTS, WORK_FOLDER)
    outputs = [(f"--out {str(out)!r}: its", out / name) for name in names]
    if args.runs:
        outputs.append(("--runs", Path(args.runs)))
    refuse_written_inputs(inputs, outputs)


def check_assign(args: argparse.Namespace) -> None:
    """Refuse an ``assign`` whose ``--out`` is, or lies inside, an input."""
    refuse_written_inputs(
        _given(args, "model", "table"), [("--out", Path(os.fspath(args.out)))]
    )


def check_drift(args: argparse.Namespace) -> None:
    """Refuse a ``drift --out`` folder whose files would replace the run store."""
    if not args.out:
        return
    out = Path(args.out)
    refuse_written_inputs(
        [("--runs", Path(args.runs))],
        [
            (f"--out {str(out)!r}: its", out / name)
            for name in (*DRIFT_OUTPUTS, WORK_FOLDER)
        ],
    )
