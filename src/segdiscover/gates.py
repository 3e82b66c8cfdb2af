"""Quality gates: figures an ETL job requires before segments are published.

A scheduled job must not hand downstream systems segments that nobody would accept:
a surrogate that explains the segments poorly, segments that do not survive a refit,
a segment of three customers, or an ``assign`` where most customers are unlike
anything the model was fitted on. A gate names one figure and the bound it must
meet; :func:`check_gates` measures every gate asked for and raises
:class:`~segdiscover.exceptions.QualityGateError` (CLI exit code 3) naming each gate
that failed with its figure. The CLI publishes nothing when a gate fails: the
earlier outputs stay the current ones and, with ``--runs``, no run is recorded.

Gates of ``discover`` (:data:`DISCOVER_GATES`) and of ``assign``
(:data:`ASSIGN_GATES`)::

    segdiscover discover ... --gate min_fidelity=0.9 --gate require_stable=true
    segdiscover assign ... --gate max_novel_share=0.05

or, for ``discover``, a ``[gates]`` table in the config file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from segdiscover.exceptions import InputError, QualityGateError


@dataclass(frozen=True)
class GateSpec:
    """One kind of gate: what it measures and how its bound reads."""

    name: str
    kind: str  # "min", "max" or "require"
    what: str
    integer: bool = False


@dataclass(frozen=True)
class GateResult:
    """A gate's bound, the measured figure and whether it passed."""

    name: str
    bound: float | bool
    value: float | bool | None
    passed: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: name, bound, value, passed, text."""
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        return {
            "name": self.name,
            "bound": self.bound,
            "value": value,
            "passed": self.passed,
            "text": self.text,
        }


DISCOVER_GATES: dict[str, GateSpec] = {
    g.name: g
    for g in (
        GateSpec("min_fidelity", "min", "surrogate fidelity"),
        GateSpec("min_stability", "min", "lowest segment stability (Jaccard)"),
        GateSpec("min_segment_share", "min", "smallest segment's share"),
        GateSpec(
            "min_distinct_segments",
            "min",
            "operationally distinct segments",
            integer=True,
        ),
        GateSpec("require_stable", "require", "a stable segmentation"),
    )
}
ASSIGN_GATES: dict[str, GateSpec] = {
    g.name: g
    for g in (
        GateSpec("max_novel_share", "max", "share of customers flagged novel"),
        GateSpec("max_unassigned_share", "max", "share of customers left unassigned"),
    )
}


def _bool(text: str, where: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    msg = f"{where} must be true or false; got {text!r}."
    raise InputError(msg)


def parse_gates(
    given: Mapping[str, Any] | list[str] | None,
    command: str,
    *,
    where: str = "--gate",
) -> dict[str, float | bool]:
    """Check and normalise gates: ``NAME=VALUE`` strings or a ``{name: value}`` table.

    Parameters
    ----------
    given : mapping, list of str or None
        A config file's ``[gates]`` table, or the ``--gate`` arguments.
    command : {"discover", "assign"}
        Which command's gates are allowed.
    where : str
        How the message names the source (``--gate`` or the config file).

    Returns
    -------
    dict
        Gate name to its bound (a float in [0, 1], an int, or a bool).

    Raises
    ------
    InputError
        An unknown gate, a malformed ``NAME=VALUE``, or a bound out of range.

    Examples
    --------
    >>> parse_gates(["min_fidelity=0.9", "require_stable=yes"], "discover")
    {'min_fidelity': 0.9, 'require_stable': True}
    """
    specs = DISCOVER_GATES if command == "discover" else ASSIGN_GATES
    items: list[tuple[str, Any]] = []
    if given is None:
        return {}
    if isinstance(given, Mapping):
        items = list(given.items())
    else:
        for text in given:
            name, sep, value = str(text).partition("=")
            if not sep or not name.strip() or not value.strip():
                msg = f"{where} {text!r} must be NAME=VALUE, e.g. min_fidelity=0.9."
                raise InputError(msg)
            items.append((name.strip(), value.strip()))
    out: dict[str, float | bool] = {}
    for name, value in items:
        key = name.replace("-", "_")
        if key not in specs:
            msg = (
                f"Unknown quality gate {name!r} in {where}; {command} takes "
                f"{sorted(specs)}."
            )
            raise InputError(msg)
        spec = specs[key]
        label = f"{where} {key}"
        if spec.kind == "require":
            out[key] = value if isinstance(value, bool) else _bool(str(value), label)
            continue
        if isinstance(value, bool):
            msg = f"{label} must be a number; got {value!r}."
            raise InputError(msg)
        try:
            number = float(value)
        except (TypeError, ValueError):
            msg = f"{label} must be a number; got {value!r}."
            raise InputError(msg) from None
        if spec.integer:
            if not number.is_integer() or number < 0:
                msg = f"{label} must be a whole number >= 0; got {value!r}."
                raise InputError(msg)
            out[key] = int(number)
        elif not 0 <= number <= 1:
            msg = f"{label} must be a share between 0 and 1; got {value!r}."
            raise InputError(msg)
        else:
            out[key] = number
    return out


def _stability(seg: Any) -> float | None:
    col = seg.segments_.get_column("stability")
    values = col.drop_nulls()
    return None if values.len() == 0 else float(values.min())


def _require_stable(seg: Any) -> bool | None:
    if seg.stable_ is not None:
        return bool(seg.stable_)
    low = _stability(seg)  # a fixed k: every segment's own stability decides
    return None if low is None else low >= seg.stability_threshold


def _distinct(seg: Any) -> int | None:
    comparison = getattr(seg, "outcome_comparison_", None)
    return None if comparison is None else int(comparison.n_distinct)


_MEASURE: dict[str, Callable[[Any], Any]] = {
    "min_fidelity": lambda seg: float(seg.fidelity_),
    "min_stability": _stability,
    "min_segment_share": lambda seg: float(seg.segments_["share"].min()),
    "min_distinct_segments": _distinct,
    "require_stable": _require_stable,
    "max_novel_share": lambda out: float(out["is_novel"].mean()),
    "max_unassigned_share": lambda out: float((out["segment_id"] < 0).mean()),
}
_MISSING = {
    "min_stability": "stability was not measured (too few customers per segment)",
    "min_distinct_segments": "no outcome was checked (pass --outcome COLUMN)",
    "require_stable": "stability was not measured (too few customers per segment)",
}


def _fmt(value: Any, spec: GateSpec) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec.integer:
        return str(int(value))
    return f"{value:.3f}"


def measure_gates(subject: Any, gates: Mapping[str, float | bool]) -> list[GateResult]:
    """Measure each gate on a fitted Segmenter (discover) or an assign frame.

    Parameters
    ----------
    subject : Segmenter or polars.DataFrame
        A fitted Segmenter for the ``discover`` gates; the frame ``assign`` returns
        for the ``assign`` gates.
    gates : mapping
        From :func:`parse_gates`.

    Returns
    -------
    list of GateResult
    """
    import polars as pl

    specs = {**DISCOVER_GATES, **ASSIGN_GATES}
    results = []
    for name, bound in gates.items():
        spec = specs[name]
        if isinstance(subject, pl.DataFrame) and subject.height == 0:
            value = None
        else:
            value = _MEASURE[name](subject)
        if value is None:
            text = f"{name}: {_MISSING.get(name, 'nothing to measure')}"
            results.append(GateResult(name, bound, None, False, text))
            continue
        if spec.kind == "require":
            passed = bool(value) or not bound
            text = f"{name}: {spec.what}: {_fmt(value, spec)}"
        elif spec.kind == "min":
            passed = value >= bound
            sign = ">=" if passed else "<"
            text = f"{name}: {spec.what} {_fmt(value, spec)} {sign} {_fmt(bound, spec)}"
        else:
            passed = value <= bound
            sign = "<=" if passed else ">"
            text = f"{name}: {spec.what} {_fmt(value, spec)} {sign} {_fmt(bound, spec)}"
        results.append(GateResult(name, bound, value, passed, text))
    return results


def check_gates(
    subject: Any, gates: Mapping[str, float | bool], *, consequence: str = ""
) -> list[GateResult]:
    """Measure the gates and raise if any failed.

    Parameters
    ----------
    subject : Segmenter or polars.DataFrame
        See :func:`measure_gates`.
    gates : mapping
        From :func:`parse_gates`.
    consequence : str
        Appended to the message (what the CLI did, e.g. "nothing was published").

    Returns
    -------
    list of GateResult
        Every gate, all passed.

    Raises
    ------
    QualityGateError
        One or more gates failed; the message names each with its figure. The
        results are on the exception as ``results``.

    Examples
    --------
    >>> import segdiscover as sd
    >>> data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    >>> seg = seg.fit(data.tables, as_of=data.as_of)
    >>> [r.passed for r in check_gates(seg, {"min_segment_share": 0.05})]
    [True]
    """
    results = measure_gates(subject, gates)
    failed = [r for r in results if not r.passed]
    if failed:
        head = (
            "Quality gate failed"
            if len(failed) == 1
            else (f"{len(failed)} quality gates failed")
        )
        msg = f"{head}: " + "; ".join(r.text for r in failed)
        if consequence:
            msg += f". {consequence}"
        exc = QualityGateError(msg)
        exc.results = results
        raise exc
    return results
