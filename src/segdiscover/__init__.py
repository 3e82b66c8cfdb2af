"""segdiscover: discover customer segments and explain each one in plain language.

The public names are imported on first use (PEP 562), so ``import segdiscover``
and the command line's ``--help``, ``--version`` and usage errors do not pay for
polars, scikit-learn, shap and LightGBM until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from segdiscover._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from segdiscover import datasets, exceptions, plots
    from segdiscover.features import FeatureSet
    from segdiscover.persist import load
    from segdiscover.result import Segmentation
    from segdiscover.runs import RunStore
    from segdiscover.segmenter import Segmenter

#: Public name -> (module, attribute; None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "FeatureSet": ("segdiscover.features", "FeatureSet"),
    "RunStore": ("segdiscover.runs", "RunStore"),
    "Segmentation": ("segdiscover.result", "Segmentation"),
    "Segmenter": ("segdiscover.segmenter", "Segmenter"),
    "load": ("segdiscover.persist", "load"),
    "datasets": ("segdiscover.datasets", None),
    "exceptions": ("segdiscover.exceptions", None),
    "plots": ("segdiscover.plots", None),
    "spark": ("segdiscover.spark", None),
}

__all__ = [
    "FeatureSet",
    "RunStore",
    "Segmentation",
    "Segmenter",
    "__version__",
    "datasets",
    "exceptions",
    "load",
    "plots",
    "spark",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        msg = f"module 'segdiscover' has no attribute {name!r}"
        raise AttributeError(msg)
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
