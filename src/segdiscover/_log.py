"""Logging and progress bars: quiet by default, never on stdout.

Every module logs under the ``"segdiscover"`` logger (``get_logger(__name__)``).
That logger has only a :class:`logging.NullHandler`: the library never configures
the root logger, so an application decides where the records go, e.g.
``logging.basicConfig(level=logging.INFO)`` shows the stage timings. The command
line installs a stderr handler for ``--quiet`` / ``--verbose`` with
:func:`cli_logging`.

:func:`stage` times a step and logs its wall time at INFO. :func:`progress`
wraps an iterable in a tqdm bar on stderr when the session is interactive (stderr
is a terminal) or the bar was asked for, and returns the iterable untouched
otherwise. ``SEGDISCOVER_PROGRESS=0`` (or ``set_progress(False)``) turns the bars
off; ``SEGDISCOVER_PROGRESS=1`` (or ``set_progress(True)``) shows them even where
stderr is not a terminal, such as Jupyter. Nothing here writes to stdout, which
carries the command line's ``--json`` line.

Only the standard library is imported here: the command line's start stays fast.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

__all__ = [
    "LOGGER_NAME",
    "Stage",
    "cli_logging",
    "get_logger",
    "progress",
    "progress_enabled",
    "set_progress",
    "stage",
]

T = TypeVar("T")

#: The package logger's name; every module's logger is a child of it.
LOGGER_NAME = "segdiscover"
#: The environment variable read when :func:`set_progress` was not called.
PROGRESS_ENV = "SEGDISCOVER_PROGRESS"

_logger = logging.getLogger(LOGGER_NAME)
_logger.addHandler(logging.NullHandler())

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
#: Set by :func:`set_progress`; ``None`` follows the environment variable.
_progress_setting: bool | None = None


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """Return the logger for ``name``, a child of the ``"segdiscover"`` logger.

    Parameters
    ----------
    name : str, default "segdiscover"
        A module's ``__name__``; a name outside the package is placed under it.

    Returns
    -------
    logging.Logger

    Examples
    --------
    >>> get_logger("segdiscover.selection").name
    'segdiscover.selection'
    >>> get_logger("my_plugin").name
    'segdiscover.my_plugin'
    """
    if name != LOGGER_NAME and not name.startswith(LOGGER_NAME + "."):
        name = f"{LOGGER_NAME}.{name}"
    return logging.getLogger(name)


@dataclass
class Stage:
    """A timed step: its name and, once it has ended, its wall time in seconds."""

    name: str
    seconds: float | None = None


@contextlib.contextmanager
def stage(name: str, logger: logging.Logger | None = None) -> Iterator[Stage]:
    """Time the block and log its wall time at INFO (its start at DEBUG).

    A block that raises is logged as failed, with the time it ran, and the
    exception propagates unchanged. The records carry ``stage`` and ``seconds``
    attributes for structured handlers.

    Parameters
    ----------
    name : str
        What the step does, e.g. ``"fit: choose the number of segments"``.
    logger : logging.Logger, optional
        Where to log; default the ``"segdiscover"`` logger.

    Yields
    ------
    Stage
        Its ``seconds`` is set when the block ends.

    Examples
    --------
    >>> with stage("add up") as s:
    ...     total = sum(range(1000))
    >>> s.name, s.seconds is not None and s.seconds >= 0
    ('add up', True)
    """
    log = logger or _logger
    step = Stage(name)
    log.debug("%s: started", name, extra={"stage": name, "seconds": None})
    start = time.perf_counter()
    try:
        yield step
    except BaseException:
        step.seconds = time.perf_counter() - start
        log.info(
            "%s: failed after %.2f s",
            name,
            step.seconds,
            extra={"stage": name, "seconds": step.seconds},
        )
        raise
    step.seconds = time.perf_counter() - start
    log.info(
        "%s: %.2f s",
        name,
        step.seconds,
        extra={"stage": name, "seconds": step.seconds},
    )


def set_progress(enabled: bool | None) -> None:  # noqa: FBT001 - the one switch
    """Turn progress bars on (even off a terminal), off, or back to automatic.

    Parameters
    ----------
    enabled : bool or None
        True shows the bars wherever stderr goes (Jupyter included); False hides
        them; None goes back to the ``SEGDISCOVER_PROGRESS`` variable and, when
        that is unset, to bars only when stderr is a terminal.

    Examples
    --------
    >>> set_progress(False)
    >>> progress_enabled()
    False
    >>> set_progress(None)
    """
    global _progress_setting
    if enabled is not None and not isinstance(enabled, bool):
        msg = (
            f"set_progress(enabled) takes True, False or None. Got {enabled!r} instead."
        )
        raise TypeError(msg)
    _progress_setting = enabled


def _progress_wanted() -> bool | None:
    """Return the explicit setting (True or False), or None when automatic."""
    if _progress_setting is not None:
        return _progress_setting
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value:
        _logger.warning(
            "%s=%r is not understood (use 0 or 1); progress bars stay automatic.",
            PROGRESS_ENV,
            os.environ[PROGRESS_ENV],
        )
    return None


def progress_enabled() -> bool:
    """Whether :func:`progress` would show a bar now.

    Returns
    -------
    bool
        The explicit setting (:func:`set_progress`, then ``SEGDISCOVER_PROGRESS``)
        when there is one, otherwise whether stderr is a terminal.

    Examples
    --------
    >>> set_progress(True)
    >>> progress_enabled()
    True
    >>> set_progress(None)
    """
    wanted = _progress_wanted()
    if wanted is not None:
        return wanted
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress(
    iterable: Iterable[T],
    total: int | None = None,
    desc: str | None = None,
    *,
    unit: str = "it",
) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar on stderr, or return it unchanged.

    A bar is shown when :func:`progress_enabled` says so; it is removed when the
    loop ends, so a finished run leaves only its logs. tqdm is imported only then.

    Parameters
    ----------
    iterable : iterable
        What the loop goes over; it is consumed lazily, as without the bar.
    total : int, optional
        The number of items, where ``len(iterable)`` does not tell it.
    desc : str, optional
        The bar's label, e.g. ``"stability refits"``.
    unit : str, default "it"
        What one item is, e.g. ``"fit"``.

    Returns
    -------
    iterable
        ``iterable`` itself when no bar is shown.

    Examples
    --------
    >>> set_progress(False)
    >>> items = [1, 2, 3]
    >>> progress(items, desc="refits") is items
    True
    >>> set_progress(None)
    """
    if not progress_enabled():
        return iterable
    bar: Iterable[T] = _tqdm_class()(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    return bar


def _tqdm_class() -> Any:
    """Return Jupyter's widget bar where it can draw, tqdm's text bar otherwise.

    ``tqdm.auto`` in a kernel without ipywidgets warns and falls back to the text
    bar; asking first spares the user that warning.
    """
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever ``sys.stderr`` is at the time of each record.

    (A redirected or captured stderr, as in tests or ``--json``, still gets them.)
    While a progress bar is drawn, a record goes through ``tqdm.write``, which
    clears the bar, prints the line and draws the bar again below it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        tqdm_std = sys.modules.get("tqdm.std")  # never imported just for this
        if tqdm_std is None or not getattr(tqdm_std.tqdm, "_instances", None):
            super().emit(record)
            return
        try:
            tqdm_std.tqdm.write(self.format(record), file=self.stream)
        except Exception:  # what StreamHandler.emit does with a failed record
            self.handleError(record)


class _CliFormatter(logging.Formatter):
    """``segdiscover: fit: 1.23 s``; ``segdiscover: warning: ...`` above INFO.

    (The shape of the command line's own ``segdiscover: error: ...`` lines.)
    """

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.levelno > logging.INFO:
            return f"segdiscover: {record.levelname.lower()}: {text}"
        return f"segdiscover: {text}"


@contextlib.contextmanager
def cli_logging(verbosity: int) -> Iterator[logging.Handler]:
    """Send the package's records to stderr for one command, then undo it.

    Parameters
    ----------
    verbosity : int
        -1 (``--quiet``): warnings and errors, no progress bars; 0: warnings and
        errors; 1 (``-v``): also the stage timings (INFO); 2 (``-vv``): DEBUG.

    Yields
    ------
    logging.Handler
        The stderr handler installed on the ``"segdiscover"`` logger.

    Examples
    --------
    >>> import logging
    >>> with cli_logging(1):
    ...     logging.getLogger("segdiscover").level == logging.INFO
    True
    """
    level = (
        logging.DEBUG
        if verbosity >= 2
        else logging.INFO
        if verbosity == 1
        else logging.WARNING
    )
    handler = _StderrHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter(
            "[%(asctime)s] %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
        )
        if verbosity >= 2
        else _CliFormatter()
    )
    old_level, old_progress = _logger.level, _progress_setting
    _logger.addHandler(handler)
    _logger.setLevel(level)
    if verbosity < 0:
        set_progress(False)
    try:
        yield handler
    finally:
        _logger.removeHandler(handler)
        _logger.setLevel(old_level)
        set_progress(old_progress)
