"""The steps of :meth:`segdiscover.Segmenter.fit`, beside what they use.

``door`` reads and checks the input (features, outcomes, the leakage guard);
``cluster`` resolves the clusterer once into a plan and finds the segments (the
``auto`` sweep, the sampled fit, the guided candidate); ``result`` explains them and
measures stability and outcomes into one :class:`~segdiscover.result.Segmentation`;
``views`` is the mixin through which a fitted Segmenter shows that result;
``estimator`` holds the read-only views, the ``set_output`` switch and the parameter
checks. Only :mod:`segdiscover.segmenter` (and the result object's edits) use them.
"""
