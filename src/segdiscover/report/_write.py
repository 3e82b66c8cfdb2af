"""Write a fitted Segmenter's outputs atomically.

Every file is first written into a temporary folder beside the target, then moved in
with ``os.replace``: a crash leaves either the old file or the new one, never half a
file, and files of an earlier run are replaced only once the new ones are complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from segdiscover.exceptions import InputError, ModelFileError, SegdiscoverWarning
from segdiscover.persist import _check_target, _swap_in, save
from segdiscover.report._html import render_html, render_markdown
from segdiscover.report._plots import render_plots

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: writers are not serialised
    fcntl = None  # type: ignore[assignment]

SCHEMA_PATH = Path(__file__).with_name("segments.schema.json")
_TEMP = re.compile(r"^\.segdiscover-(\d+)-")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Lock the folder itself: two runs move their files in one after the other.

    Without it two runs writing one folder at once interleave their renames and
    leave half of each (regression: tests/hostile, ``two-writers-at-once``). The
    lock is on the directory, so no lock file is left in the output folder; the
    kernel releases it when a writer dies.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _remove_dead_temps(out: Path) -> None:
    """Remove temporary folders of writers that were killed (their pid is gone)."""
    if os.name != "posix":  # pragma: no cover
        return
    for p in out.iterdir():
        m = _TEMP.match(p.name)
        if not m or not p.is_dir() or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            continue  # alive under another user


def _move_in(
    moves: list[tuple[Path, Path]], keep: Path, then: Callable[[], None] | None
) -> None:
    """Move each new file onto its target, then run ``then``; on failure undo all.

    A hard link in ``keep`` holds each old file until all moves succeed, so a
    failure midway (disk full, quota) leaves the earlier run whole, not a mix of
    two runs (regression: tests/hostile, ``disk-full-while-moving``).
    """
    undo: list[tuple[Path, Path | None]] = []
    try:
        for i, (src, dst) in enumerate(moves):
            old = None
            if dst.exists():
                old = keep / f"{i}"
                try:
                    os.link(dst, old)
                except OSError:  # no hard links on this file system
                    shutil.copy2(dst, old)
            undo.append((dst, old))
            os.replace(src, dst)
        if then is not None:
            then()  # the model's swap restores the old model itself on failure
    except BaseException:
        for dst, old in reversed(undo):
            with contextlib.suppress(OSError):
                if old is not None:
                    os.replace(old, dst)
                else:
                    dst.unlink(missing_ok=True)
        raise


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become null, tuples lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):  # numpy scalars
        return _clean(x.item())
    return x


def segments_document(seg: Any) -> dict[str, Any]:
    """Build the ``segments.json`` content of a fitted Segmenter (see SCHEMA_PATH)."""
    seg._check_fitted()
    outcomes: dict[int, list[dict[str, Any]]] = {}
    if seg.outcomes_ is not None:
        for r in seg.outcomes_.iter_rows(named=True):
            outcomes.setdefault(r["segment_id"], []).append(
                {k: v for k, v in r.items() if k != "segment_id"}
            )
    segments = []
    for row in seg.segments_.iter_rows(named=True):
        segments.append(
            {
                "segment_id": row["segment_id"],
                "name": row["name"],
                "size": row["size"],
                "share": row["share"],
                "drivers": row["drivers"],
                "rule": row.get("rule"),
                "rule_precision": row.get("rule_precision"),
                "rule_coverage": row.get("rule_coverage"),
                "name_source": row.get("name_source"),
                "families": seg.profiles_[row["segment_id"]].families,
                "narrative": row["narrative"],
                "fidelity_f1": row["fidelity_f1"],
                "outcomes": outcomes.get(row["segment_id"], []),
                "answers": seg.profiles_[row["segment_id"]].answers,
            }
        )
    candidates = seg.candidates_.to_dicts() if seg.candidates_ is not None else None
    comparison = getattr(seg, "outcome_comparison_", None)  # absent on old models
    if comparison is not None:
        comparison = {
            k: v
            for k, v in comparison.to_dict().items()
            if k not in ("vs_rest", "answers")  # already under each segment
        }
    return _clean(
        {
            "schema_version": 1,
            "run": {**seg.run_, "candidates": candidates},
            "segments": segments,
            "outcomes": comparison,
        }
    )


def write_outputs(
    seg: Any, out: str | os.PathLike[str], *, model: bool = True
) -> dict[str, Path]:
    """Write assignments, ``segments.json``, reports, ``plots/*.png`` and ``model/``.

    Parameters
    ----------
    seg : Segmenter
        A fitted segmenter.
    out : path
        Output folder; created if missing. Existing files of the same names are
        replaced atomically; other files are left alone.
    model : bool, default True
        Also save the model into ``model/`` (see :func:`segdiscover.persist.save`).
        A model whose clusterer cannot be stored as arrays (a user estimator with
        its own ``predict``) is skipped with a warning.

    Returns
    -------
    dict of str to Path
        The files written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"--out {str(out)!r} is a file; give a folder."
        raise InputError(msg)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _remove_dead_temps(out)
        # The pid in the name lets a later run remove it if this process is killed.
        tmp = Path(tempfile.mkdtemp(prefix=f".segdiscover-{os.getpid()}-", dir=out))
    except OSError as exc:
        msg = f"Cannot write to the output folder {str(out)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    try:
        saved = False
        if model:
            _check_target(out / "model")
            # Saved first, inside the temporary folder: if the model cannot be
            # stored, nothing of an earlier run has been replaced yet.
            try:
                save(seg, tmp / "model")
                saved = True
            except ModelFileError as exc:
                warnings.warn(
                    f"The model was not saved: {exc}", SegdiscoverWarning, stacklevel=2
                )
        doc = segments_document(seg)
        images = render_plots(seg)
        (tmp / "plots").mkdir()
        for name, data in images.items():
            (tmp / "plots" / name).write_bytes(data)
        files = {
            "assignments.parquet": lambda p: seg.labels_.write_parquet(p),
            "segments.json": lambda p: p.write_text(
                json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8"
            ),
            "report.html": lambda p: p.write_text(
                render_html(seg, doc, images), encoding="utf-8"
            ),
            "report.md": lambda p: p.write_text(
                render_markdown(seg, doc), encoding="utf-8"
            ),
        }
        for name, write in files.items():
            write(tmp / name)
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        # Charts first: the report that points at them lands last.
        written = {f"plots/{name}": out / "plots" / name for name in images}
        written |= {name: out / name for name in files}
        moves = [(tmp / "plots" / name, out / "plots" / name) for name in images]
        moves += [(tmp / name, out / name) for name in files]
        (tmp / "old").mkdir()
        with _locked(out):
            (out / "plots").mkdir(exist_ok=True)
            _move_in(
                moves,
                tmp / "old",
                (lambda: _swap_in(tmp / "model", out / "model")) if saved else None,
            )
        if saved:
            written["model"] = out / "model"
        return written
    except OSError as exc:
        msg = f"Writing the outputs into {str(out)!r} failed: {exc.strerror or exc}."
        raise InputError(msg) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_report(seg: Any, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained report of a fitted Segmenter to one file.

    ``.html`` (charts embedded) or ``.md`` by the file's suffix; written to a
    temporary file beside the target and renamed into place when complete.

    Parameters
    ----------
    seg : Segmenter
        A fitted segmenter.
    path : str or path-like
        The report file (``.html``, ``.htm`` or ``.md``).

    Returns
    -------
    pathlib.Path
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        msg = (
            f"Unsupported report type {suffix!r} for {str(target)!r}; use .html or .md."
        )
        raise InputError(msg)
    if target.is_dir():
        msg = f"{str(target)!r} is a folder; give a report file name (.html or .md)."
        raise InputError(msg)
    doc = segments_document(seg)
    text = (
        render_markdown(seg, doc)
        if suffix == ".md"
        else render_html(seg, doc, render_plots(seg))
    )
    return write_file(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_file(target: Path, write: Callable[[Path], Any]) -> Path:
    """Write one file atomically: ``write`` fills a temporary file beside ``target``.

    The file is synced and renamed into place only when complete, so a crash leaves
    the old file or the new one, never half of one. An ``OSError`` (full disk, no
    permission) becomes an :class:`InputError` naming the file.
    """
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        msg = f"Cannot write {str(target)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
