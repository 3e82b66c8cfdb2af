"""segdiscover: discover customer segments and explain each one in plain language."""

__version__ = "0.1.0"

from segdiscover import datasets, exceptions  # noqa: E402
from segdiscover.features import FeatureSet  # noqa: E402
from segdiscover.segmenter import Segmenter  # noqa: E402

__all__ = ["FeatureSet", "Segmenter", "__version__", "datasets", "exceptions"]
