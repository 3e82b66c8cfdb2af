"""segdiscover: discover customer segments and explain each one in plain language."""

__version__ = "0.1.0"

from segdiscover import datasets, exceptions
from segdiscover.features import FeatureSet
from segdiscover.persist import load
from segdiscover.runs import RunStore
from segdiscover.segmenter import Segmenter

__all__ = [
    "FeatureSet",
    "RunStore",
    "Segmenter",
    "__version__",
    "datasets",
    "exceptions",
    "load",
]
