"""One home for JSON-safe values and the rounding of user-facing floats.

Every output that leaves segdiscover as JSON (``segments.json``, the saved model's
manifest, the run store's columns, the drift report) goes through :func:`plain`,
and every user-facing float through :func:`sig`, so NaN, infinity, numpy scalars
and dates read the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from segdiscover.exceptions import ModelFileError


def sig(v: Any, *, keep_nonfinite: bool = False) -> Any:
    """Round floats to 10 significant digits; NaN and inf become None.

    polars sums floats in parallel chunks whose order varies between runs, so
    features can differ in the last bit; rounded outputs are identical run to run.
    A statistic that does not exist (the median of a categorical driver) is None,
    never NaN, in every output (regression: tests/hostile, ``null-in-numeric``).
    Anything but a float is returned as it is. ``keep_nonfinite=True`` keeps NaN
    and inf as they are, for float columns of a table (polars keeps NaN apart
    from null).

    Examples
    --------
    >>> sig(0.1 + 0.2), sig(float("nan")), sig(3)
    (0.3, None, 3)
    >>> sig(float("inf"), keep_nonfinite=True)
    inf
    """
    if isinstance(v, float | np.floating):
        if math.isfinite(v):
            return float(f"{float(v):.10g}")
        return float(v) if keep_nonfinite else None
    return v


def plain(value: Any, where: str | None = None) -> Any:
    """Return ``value`` as strict JSON data: non-finite floats become null.

    numpy scalars become Python numbers, tuples lists, dates ISO text and mapping
    keys text. Any other object becomes its ``str`` -- or, when ``where`` names the
    value (a saved model's field), is refused with a :class:`ModelFileError`, since
    a model file that cannot run code holds nothing else.

    Examples
    --------
    >>> import numpy as np
    >>> plain({1: (np.float64(0.5), float("inf")), "d": None})
    {'1': [0.5, None], 'd': None}
    >>> plain(object(), "run_")
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.ModelFileError: The model cannot be saved: run_ is a ...
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return plain(value.item(), where)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v, where and f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, where and f"{where}[{i}]") for i, v in enumerate(value)]
    if where is None:
        return str(value)
    msg = (
        f"The model cannot be saved: {where} is a {type(value).__name__}, which a "
        "safe model file (JSON and arrays, no pickle) cannot hold."
    )
    raise ModelFileError(msg)
