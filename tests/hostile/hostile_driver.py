"""One driver that runs a hostile-input case and checks the rules every case obeys.

Rules (see ``docs/guide/09-robustness.md``):

1. No raw traceback: the library raises a segdiscover exception (``expect="error"``)
   whose message matches the case's pattern (it names the column, file or key); the
   CLI returns exit code 2 or 3 with one ``error:`` line and no traceback.
2. The caller's inputs are unchanged: frames deep-equal a copy taken before, files
   (tables, model folders) hash the same.
3. No NaN or inf in any output: returned frames and fitted results, and every file in
   the output folder.
4. No torn output: every visible file in the output folder is complete (parquet and
   JSON parse, a model folder loads) and no temporary file or folder is left.
5. Nothing from an earlier successful run is lost: with ``prior=True`` the folder
   starts with a complete run; after a failure every one of its files is
   byte-identical, after a success every one is still there and complete.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from hostile_inputs import earlier_run

import segdiscover as sd
from segdiscover._atomic import STATE
from segdiscover.exceptions import ModelFileError, SegdiscoverError, SegdiscoverWarning

#: Names of temporary files and folders the writers use; none may survive a call.
TEMP_NAME = re.compile(r"^\.(segdiscover-|.*\.tmp-|.*\.old-|model\.)")


@dataclass(frozen=True)
class Case:
    """One hostile input and the outcome it must have.

    Attributes
    ----------
    id : str
        Unique, readable name.
    category : str
        The corpus category (scorecard rows).
    make : callable
        ``make(tmp) -> dict`` of the inputs; frames and paths in it are checked for
        mutation.
    call : callable
        ``call(inputs, tmp) -> result``; a CLI case returns the exit code.
    expect : {"error", "warning", "ok", "exit"}
        A clear error, a warning (call succeeds), documented handling (call
        succeeds, no segdiscover warning required), or a CLI exit code.
    match : str
        Regex the error/warning message (or CLI stderr) must contain.
    error : type
        Expected exception class for ``expect="error"``.
    exit_code : int
        Expected CLI exit code for ``expect="exit"``.
    out : str or None
        Output folder (relative to ``tmp``) the call writes; checked for torn files.
    prior : bool
        Put a complete earlier run into ``out`` first; nothing of it may be lost.
    verify : callable or None
        ``verify(result, inputs, tmp) -> list of str`` extra violations.
    note : str
        The documented handling, for the scorecard and docs.
    """

    id: str
    category: str
    make: Callable[[Path], dict[str, Any]]
    call: Callable[[dict[str, Any], Path], Any]
    expect: str
    match: str = ""
    error: type[BaseException] = SegdiscoverError
    exit_code: int = 2
    out: str | None = None
    prior: bool = False
    verify: Callable[[Any, dict[str, Any], Path], list[str]] | None = None
    note: str = ""


@dataclass
class Result:
    """What happened when a case ran, and which rules it broke."""

    case: Case
    outcome: str = "ok"  # "error", "warning", "ok", "exit"
    message: str = ""
    violations: list[str] = field(default_factory=list)
    raw_traceback: bool = False
    mutated: bool = False
    torn: bool = False
    lost: bool = False
    non_finite: bool = False

    @property
    def clear_error(self) -> bool:
        """A segdiscover error (or CLI exit 2/3) with a message naming the problem."""
        return self.outcome in ("error", "exit") and not self.violations

    @property
    def tampered_refused(self) -> bool:
        """A damaged model file refused with :class:`ModelFileError`."""
        return self.case.category == "model file" and self.clear_error


# ------------------------------------------------------------------ snapshots
def visible_files(path: Path) -> list[Path]:
    """Every file a reader of ``path`` sees: links followed, the generations behind
    them (``.segdiscover/``) left out, as a reader going by name never opens them."""
    found = []
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != STATE)
        found += [Path(root, f) for f in sorted(files)]
    return found


def _hash_path(path: Path) -> dict[str, str]:
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    if path.is_dir():
        return {
            str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in visible_files(path)
            if p.is_file()
        }
    return {}


def _snapshot(value: Any) -> Any:
    if isinstance(value, pl.DataFrame):
        return ("polars", value.clone(), value.schema)
    if isinstance(value, pl.LazyFrame):
        return ("lazy", value.collect())
    if type(value).__module__.startswith("pandas"):
        return ("pandas", value.copy(deep=True))
    if isinstance(value, Path):
        return ("path", _hash_path(value))
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_snapshot(v) for v in value]
    return ("value", copy.deepcopy(value))


def _same(value: Any, snap: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == set(snap) and all(_same(value[k], snap[k]) for k in value)
    if isinstance(value, list | tuple):
        return len(value) == len(snap) and all(map(_same, value, snap))
    kind = snap[0]
    if kind == "polars":
        return value.schema == snap[2] and value.equals(snap[1], null_equal=True)
    if kind == "lazy":
        return value.collect().equals(snap[1], null_equal=True)
    if kind == "pandas":
        return bool(value.equals(snap[1])) and list(value.columns) == list(
            snap[1].columns
        )
    if kind == "path":
        return _hash_path(value) == snap[1]
    if isinstance(value, int | float | str | bytes | bool | type(None)):
        return bool(value == snap[1])
    return True  # an object such as an estimator: not a table the caller owns


# ------------------------------------------------------------------ outputs
def _non_finite(value: Any, where: str, depth: int = 0) -> list[str]:
    if depth > 6:
        return []
    if isinstance(value, float | np.floating):
        return [] if math.isfinite(value) else [f"{where} is {value}"]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return [] if np.isfinite(value).all() else [f"{where} has NaN/inf"]
    if isinstance(value, pl.DataFrame):
        out = []
        for c in value.columns:
            dtype = value.schema[c]
            if dtype.is_float():
                s = value.get_column(c).drop_nulls()
                if not s.is_finite().all():
                    out.append(f"{where} column {c!r} has NaN/inf")
            elif isinstance(dtype, pl.List | pl.Struct | pl.Array):
                out += _non_finite(
                    value.get_column(c).to_list(), f"{where}[{c}]", depth + 1
                )
        return out
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _non_finite(v, where, depth + 1)][
            :3
        ]
    if isinstance(value, list | tuple):
        return [e for v in value for e in _non_finite(v, where, depth + 1)][:3]
    if isinstance(value, sd.Segmenter) and hasattr(value, "labels_"):
        return _non_finite(value.labels_, "labels_") + _non_finite(
            value.segments_, "segments_"
        )
    return []


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        msg = f"non-finite number {name} in JSON"
        raise ValueError(msg)

    return json.loads(text, parse_constant=refuse)


def _check_file(path: Path) -> list[str]:
    """A visible output file must be complete and finite."""
    try:
        if path.suffix == ".parquet":
            return _non_finite(pl.read_parquet(path), path.name)
        if path.suffix == ".json":
            _strict_json(path.read_text(encoding="utf-8"))
        elif path.suffix == ".csv":
            return _non_finite(pl.read_csv(path), path.name)
        elif path.suffix == ".png":
            data = path.read_bytes()
            if not data.endswith(b"IEND\xaeB`\x82"):
                return [f"{path.name} is a truncated PNG"]
        elif path.suffix in (".html", ".md"):
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".html" and "</html>" not in text:
                return [f"{path.name} is a truncated HTML file"]
    except Exception as exc:
        return [f"{path.name} is torn or unreadable ({type(exc).__name__}: {exc})"]
    return []


def _check_state(out: Path) -> list[str]:
    """The generation folder holds only the current and previous generations."""
    state = out / STATE
    if not state.is_dir():
        return []
    names = {
        os.readlink(state / n)
        for n in ("current", "previous")
        if (state / n).is_symlink()
    }
    return [
        f"debris {STATE}/{p.name} left behind"
        for p in sorted(state.iterdir())
        if p.name not in ("current", "previous") and p.name not in names
    ]  # fmt: skip


def check_folder(out: Path) -> tuple[list[str], list[str]]:
    """Return (torn violations, non-finite violations) for an output folder."""
    torn, bad = [], []
    if not out.exists():
        return torn, bad
    torn += _check_state(out)
    for root, dirs, files in os.walk(out, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != STATE)
        here = Path(root)
        for name in [*dirs, *files]:
            p = here / name
            rel = p.relative_to(out)
            if TEMP_NAME.match(name):
                torn.append(f"temporary {rel} left behind")
            elif p.is_symlink() and not p.exists():
                torn.append(f"{rel} is a dangling link")
        if (here / "manifest.json").exists():
            try:
                sd.load(here)
            except ModelFileError as exc:
                torn.append(f"model {here.relative_to(out)} does not load: {exc}")
        if "model" in here.relative_to(out).parts:
            continue
        for name in files:
            if TEMP_NAME.match(name):
                continue
            problems = _check_file(here / name)
            (bad if any("NaN" in m for m in problems) else torn).extend(problems)
    return torn, bad


# ------------------------------------------------------------------ the driver
def _call(case: Case, inputs: dict[str, Any], tmp: Path) -> tuple[Any, str]:
    if case.expect != "exit":
        return case.call(inputs, tmp), ""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = case.call(inputs, tmp)
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
    return code, err.getvalue()


def run_case(case: Case, tmp: Path) -> Result:
    """Run ``case`` in the empty folder ``tmp`` and check every rule."""
    res = Result(case)
    v = res.violations
    out = tmp / case.out if case.out else None
    before: dict[str, str] = {}
    if case.prior and out is not None:
        earlier_run(out)
        before = _hash_path(out)
    inputs = case.make(tmp)
    snap = _snapshot(inputs)
    result: Any = None
    exc: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, stderr = _call(case, inputs, tmp)
        except Exception as e:
            exc = e
    ours = [w for w in caught if issubclass(w.category, SegdiscoverWarning)]
    foreign = [
        w
        for w in caught
        if not issubclass(w.category, SegdiscoverWarning)
        and not issubclass(w.category, DeprecationWarning)
    ]

    # Rule 1: a clear error, never a dependency's traceback.
    if exc is not None:
        res.outcome, res.message = "error", str(exc)
        if not isinstance(exc, SegdiscoverError | case.error):
            res.raw_traceback = True
            v.append(f"raw {type(exc).__module__}.{type(exc).__name__}: {exc}")
        elif case.expect != "error":
            v.append(f"unexpected {type(exc).__name__}: {exc}")
        elif not isinstance(exc, case.error):
            v.append(f"expected {case.error.__name__}, got {type(exc).__name__}")
        elif not re.search(case.match, str(exc), re.S):
            v.append(f"message {str(exc)!r} does not match {case.match!r}")
    elif case.expect == "exit":
        res.outcome = "exit" if result != 0 else "ok"
        res.message = stderr.strip()
        lines = [ln for ln in stderr.splitlines() if "error:" in ln]
        if "Traceback" in stderr:
            res.raw_traceback = True
            v.append("a traceback reached the terminal")
        if result != case.exit_code:
            v.append(f"exit code {result}, expected {case.exit_code}: {stderr!r}")
        if len(lines) != (case.exit_code != 0):
            v.append(f"expected one 'error:' line, got {len(lines)}: {stderr!r}")
        if not re.search(case.match, stderr, re.S):
            v.append(f"stderr {stderr!r} does not match {case.match!r}")
    elif case.expect == "error":
        v.append(f"expected {case.error.__name__} matching {case.match!r}; none")
    else:
        messages = [str(w.message) for w in ours]
        res.outcome = "warning" if ours else "ok"
        res.message = " | ".join(messages)
        if case.expect == "warning" and not any(
            re.search(case.match, m, re.S) for m in messages
        ):
            v.append(f"expected a warning matching {case.match!r}; got {messages}")
    if foreign:
        w = foreign[0]
        v.append(f"a dependency's {w.category.__name__} leaked: {w.message}")

    # Rule 2: inputs unchanged.
    if not _same(inputs, snap):
        res.mutated = True
        v.append("the caller's input was modified")

    # Rule 3: no NaN/inf in outputs.
    bad = _non_finite(result, "result")
    # Rules 4 and 5: no torn files, nothing of an earlier run lost.
    if out is not None:
        torn, bad_files = check_folder(out)
        bad += bad_files
        if torn:
            res.torn = True
            v += torn
        after = _hash_path(out)
        lost = [f for f in before if f not in after]
        if exc is not None or (case.expect == "exit" and result != 0):
            lost += [f for f in before if f in after and after[f] != before[f]]
        if lost:
            res.lost = True
            v.append(f"files of the earlier run lost or changed: {lost[:5]}")
    if bad:
        res.non_finite = True
        v += bad
    if case.verify is not None and not v:
        v += case.verify(result, inputs, tmp)
    return res
