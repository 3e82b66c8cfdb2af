"""Declarative parameter checks with one message shape.

Each estimator lists its constraints in ``_parameter_constraints``; ``validate_params``
runs them first thing in ``fit`` and raises :class:`InvalidParameterError` like
``The 'n_segments' parameter of Segmenter must be an int in [2, 50] or None. Got 1.``
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from segdiscover.exceptions import InvalidParameterError


@dataclass(frozen=True)
class Interval:
    """A numeric range constraint, closed on both ends unless stated."""

    kind: type  # int or float
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def ok(self, value: Any) -> bool:
        """Return whether ``value`` satisfies the constraint."""
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if self.kind is float and not isinstance(value, numbers.Real):
            return False
        if value != value:  # NaN
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high
            if self.closed in ("both", "right")
            else value < self.high
        )
        return bool(lo_ok and hi_ok)

    def describe(self) -> str:
        """Return a phrase like ``an int in [2, 50]``."""
        name = "an int" if self.kind is int else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{name} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """The value must be one of a fixed set."""

    values: tuple[Any, ...]

    def ok(self, value: Any) -> bool:
        """Return whether ``value`` is one of the options."""
        return (
            isinstance(value, str | int | float | type(None)) and value in self.values
        )

    def describe(self) -> str:
        """Return a phrase listing the options."""
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """The value must be an instance of the given type(s)."""

    types: tuple[type, ...]
    label: str

    def ok(self, value: Any) -> bool:
        """Return whether ``value`` has an accepted type."""
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def describe(self) -> str:
        """Return the label of the accepted type."""
        return self.label


@dataclass(frozen=True)
class Check:
    """A custom predicate with its description."""

    predicate: Callable[[Any], bool]
    label: str

    def ok(self, value: Any) -> bool:
        """Return whether the predicate accepts ``value``."""
        try:
            return bool(self.predicate(value))
        except Exception:  # a predicate that chokes on a value rejects it
            return False

    def describe(self) -> str:
        """Return the label of the check."""
        return self.label


NONE = Options((None,))


def validate_params(
    owner: str,
    params: Mapping[str, Any],
    constraints: Mapping[str, Iterable[Any]],
) -> None:
    """Check every parameter against its constraints.

    Parameters
    ----------
    owner : str
        Name of the class or function, used in the message.
    params : mapping
        Parameter name to value.
    constraints : mapping
        Parameter name to a list of constraints; a value passes if any accepts it.

    Raises
    ------
    InvalidParameterError
        Naming the parameter, what it must be, and what it got.

    Examples
    --------
    >>> validate_params("Segmenter", {"n_segments": 4},
    ...                 {"n_segments": [Interval(int, 2, 50), NONE]})
    """
    for name, options in constraints.items():
        if name not in params:
            continue
        value = params[name]
        options = list(options)
        if any(c.ok(value) for c in options):
            continue
        allowed = " or ".join(c.describe() for c in options)
        msg = (
            f"The {name!r} parameter of {owner} must be {allowed}. "
            f"Got {value!r} instead."
        )
        raise InvalidParameterError(msg)
