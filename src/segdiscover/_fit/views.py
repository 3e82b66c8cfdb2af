"""What a fitted :class:`segdiscover.Segmenter` shows of its result.

The fit's findings live in one immutable :class:`~segdiscover.result.Segmentation`
(``result_``). This mixin gives the estimator its read-only views of it
(``segments_``, ``labels_``, ...), the edits that replace it by a new result
(``rename``, ``merge_segments``, ``renumber``) and the outputs rendered from it
(``profile``, ``report``, the notebook's HTML), so ``segmenter.py`` keeps the
parameters and the fit.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from segdiscover._fit.estimator import OutputMixin, View
from segdiscover.profiles import SegmentProfile
from segdiscover.result import Segmentation, as_result


class FittedViews(OutputMixin):
    """Views of ``result_`` and the results derived from it (mixed into Segmenter)."""

    # ------------------------------------------------------------ views
    result_: Segmentation

    @property
    def labels_(self) -> Any:
        """Each customer's segment (polars; pandas under ``set_output``)."""
        return self._frame_out(as_result(self).labels)

    segments_ = View(lambda r: r.segments)
    features_ = View(lambda r: r.features)
    profiles_ = View(lambda r: r.profiles)
    candidates_ = View(lambda r: r.candidates)
    outcomes_ = View(lambda r: r.outcomes)
    outcome_comparison_ = View(lambda r: r.outcome_comparison)
    stability_ = View(lambda r: r.stability)
    stability_summary_ = View(lambda r: r.stability_summary)
    merge_tree_ = View(lambda r: r.merge_tree)
    stable_ = View(lambda r: r.stable)
    run_ = View(lambda r: r.run)
    warnings_ = View(lambda r: r.warnings)
    validation_ids_ = View(lambda r: r.validation_ids)
    guide_ = View(lambda r: r.guide)
    clusterer_ = View(lambda r: r.clusterer)
    clusterer_name_ = View(lambda r: r.clusterer_name)
    preprocessor_ = View(lambda r: r.preprocessor)
    feature_meta_ = View(lambda r: list(r.feature_meta))
    feature_levels_ = View(lambda r: r.feature_levels)
    input_kind_ = View(lambda r: r.input_kind)
    assign_state_ = View(lambda r: r.assign_state)
    explanation_ = View(lambda r: r.explanation)
    n_segments_ = View(lambda r: r.n_segments)
    fidelity_ = View(lambda r: r.run["fidelity"])
    macro_f1_ = View(lambda r: r.run["macro_f1"])
    shap_rows_ = View(lambda r: r.run["shap_rows"])
    fit_rows_ = View(lambda r: r.run["fit_rows"])
    drivers_ = View(lambda r: r.explanation and r.explanation.drivers)
    rules_ = View(lambda r: r.explanation and r.explanation.rules)
    surrogate_ = View(lambda r: r.explanation and r.explanation.surrogate)

    def __sklearn_is_fitted__(self) -> bool:
        return isinstance(self.__dict__.get("result_"), Segmentation)

    def _repr_html_(self) -> str:
        head = f"<pre>{html.escape(repr(self))}</pre>"
        if not self.__sklearn_is_fitted__():
            return head + "<p>Not fitted yet: call fit(...).</p>"
        return head + self.result_._repr_html_()

    # ------------------------------------------------------------ new results
    # Each replaces result_ by the new Segmentation its method returns (the old
    # object is left as it was) and returns self, as scikit-learn setters do.
    def rename(self, names: Mapping[int, str]) -> Self:
        """Give segments custom names (see :meth:`Segmentation.rename`).

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of).rename({0: "Core"})
        >>> seg.segments_["name"][0], seg.segments_["name_source"][0]
        ('Core', 'custom')
        """
        self.result_ = as_result(self).rename(names)
        return self

    def merge_segments(self, ids: Sequence[int]) -> Self:
        """Merge segments by hand and explain again (see :meth:`Segmentation.merge`)."""
        self.result_ = as_result(self).merge(ids)
        return self

    def renumber(
        self,
        mapping: Mapping[int, int],
        *,
        names: Mapping[int, str] | None = None,
        name_sources: Mapping[int, str] | None = None,
    ) -> Self:
        """Give segments new ids and names (see :meth:`Segmentation.renumber`)."""
        res = as_result(self)
        self.result_ = res.renumber(mapping, names=names, name_sources=name_sources)
        return self

    # ------------------------------------------------------------ outputs
    def profile(self, segment_id: int) -> SegmentProfile:
        """Return one segment's profile card (HTML in notebooks, text when printed)."""
        return as_result(self).profile(segment_id)

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained report (see :meth:`Segmentation.report`)."""
        return as_result(self).report(path)
