"""segdiscover: discover customer segments and explain each one in plain language."""

from segdiscover import datasets, exceptions
from segdiscover._version import __version__
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
