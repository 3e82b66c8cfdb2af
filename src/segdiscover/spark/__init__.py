"""Run segdiscover on Apache Spark: the same features, sample and model, on executors.

Nothing here is a distributed engine of segdiscover's own. Spark moves the data;
the polars feature code and a saved model run inside it:

- :func:`build_features` groups every raw table's rows by a hash bucket of the
  customer id and hands each bucket to :meth:`segdiscover.FeatureSet.build` as
  Arrow (``groupBy(...).applyInArrow``), so the features equal the local ones by
  construction; the levels (channels, attribute kinds) are learned first from
  small per-partition summaries (:meth:`segdiscover.FeatureSet.summarise`);
- :func:`sample` brings the fitting sample to the driver, chosen by a fixed hash of
  the customer id (:func:`segdiscover.guide.customer_hash`), so every engine and
  every rerun fits on the same customers (:func:`segdiscover._stream.hashed_sample`
  is the local twin);
- :func:`assign` broadcasts a saved model's files to the executors and scores every
  customer there with the model's own ``assign`` (``mapInArrow``).

PySpark is an optional dependency (``pip install 'segdiscover[spark]'``); it is
imported on first use, with a message naming the extra when it is missing.
"""

from segdiscover.spark._assign import assign
from segdiscover.spark._features import build_features
from segdiscover.spark._sample import sample

__all__ = ["assign", "build_features", "sample"]
