"""Feature builders: raw tables -> one row per customer, as of a cutoff."""

from segdiscover.features._registry import BUILDERS
from segdiscover.features._set import BuiltFeatures, FeatureSet
from segdiscover.features._spec import Builder, FeatureMeta
from segdiscover.features.attributes import Attributes
from segdiscover.features.behavioural import Behavioural
from segdiscover.features.channel import Channel
from segdiscover.features.service import Service
from segdiscover.features.value import Value

__all__ = [
    "BUILDERS",
    "Attributes",
    "Behavioural",
    "Builder",
    "BuiltFeatures",
    "Channel",
    "FeatureMeta",
    "FeatureSet",
    "Service",
    "Value",
]
