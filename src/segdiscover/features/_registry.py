"""Registry of feature builders by family (a plain dict, easy to grep)."""

from __future__ import annotations

from segdiscover.features._spec import Builder
from segdiscover.features.attributes import Attributes
from segdiscover.features.behavioural import Behavioural
from segdiscover.features.channel import Channel
from segdiscover.features.service import Service
from segdiscover.features.value import Value

BUILDERS: dict[str, type[Builder]] = {
    "behavioural": Behavioural,
    "value": Value,
    "service": Service,
    "channel": Channel,
    "attribute": Attributes,
}
