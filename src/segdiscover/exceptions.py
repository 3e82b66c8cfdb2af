"""Exception hierarchy of segdiscover.

Every error a user can trigger is one of these classes, each named for its trigger,
with a message that says what is wrong, where (column, file, key), how many rows, an
example id and how to fix it. The CLI maps each class to an exit code
(:data:`EXIT_CODES`), so ETL jobs can branch on the code without parsing text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gates imports this module: only the type is needed here
    from segdiscover.gates import GateResult

__all__ = [
    "EXIT_CODES",
    "ColumnNotFoundError",
    "InputError",
    "InvalidParameterError",
    "ModelFileError",
    "NotFittedError",
    "QualityGateError",
    "RunStoreError",
    "SchemaMismatchError",
    "SegdiscoverError",
    "SegdiscoverWarning",
]


class SegdiscoverError(Exception):
    """Base class of every error segdiscover raises on purpose."""


class InputError(SegdiscoverError, ValueError):
    """The data passed in cannot be used as it is (empty, duplicated ids, junk)."""


class ColumnNotFoundError(InputError, KeyError):
    """A column the call needs is not in the table."""

    def __str__(self) -> str:
        # KeyError quotes its message; show it as plain text like every other error.
        return str(self.args[0]) if self.args else ""


class SchemaMismatchError(InputError):
    """A table given to ``assign`` differs from the schema the model was fitted on."""


class InvalidParameterError(SegdiscoverError, ValueError):
    """A constructor or function parameter has a value outside its allowed set."""


class NotFittedError(SegdiscoverError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class ModelFileError(SegdiscoverError, OSError):
    """A saved model cannot be loaded (missing, corrupted, tampered, wrong version)."""


class RunStoreError(SegdiscoverError, OSError):
    """A run-history file cannot be used (not a run store, locked, newer schema)."""


class QualityGateError(SegdiscoverError):
    """A fitted segmentation failed a quality gate the user asked for.

    Attributes
    ----------
    results : list of GateResult or None
        Every gate measured, passed or not (set by
        :func:`segdiscover.gates.check_gates`).
    """

    results: list[GateResult] | None = None


class SegdiscoverWarning(UserWarning):
    """Something the user should know about the data or the result, not fatal."""


#: Exit codes of the command-line interface, by exception class.
EXIT_CODES: dict[type[SegdiscoverError], int] = {
    SegdiscoverError: 2,
    QualityGateError: 3,
}
