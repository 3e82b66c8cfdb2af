"""The result of a segmentation: one immutable object that every output reads.

:class:`Segmentation` holds what a fit found -- the segment profiles, each
customer's label, the outcome comparison, stability, the merge tree, the sweep's
candidates, the run information -- and the fitted parts that assign new customers
(preprocessor, clusterer, outcome guide). The report, the figures, ``segments.json``,
the saved model and the run store all read this object, so a notebook, a JSON file
and a report show the same numbers. :class:`segdiscover.Segmenter` builds it
(``seg.result_``) and a saved model loads it (``sd.load(path).result_``).

It is never changed in place: :meth:`Segmentation.rename`,
:meth:`Segmentation.renumber` and :meth:`Segmentation.merge` return a new object.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import polars as pl

from segdiscover.exceptions import InputError, InvalidParameterError, NotFittedError
from segdiscover.explain._segments import Explanation, segments_frame
from segdiscover.profiles import SegmentProfile, fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from segdiscover.assign import AssignState
    from segdiscover.clusterers import ClusterAdapter
    from segdiscover.features import FeatureMeta
    from segdiscover.guide import OutcomeGuide
    from segdiscover.outcomes import OutcomeComparison
    from segdiscover.preprocess import Preprocessor

#: The name of a customer in no segment (kept noise, or unassigned).
NO_SEGMENT = "no segment"
#: The tables :meth:`Segmentation.to_polars` returns.
PARTS = ("segments", "labels", "outcomes", "stability", "merge_tree", "candidates")


@dataclass(frozen=True)
class RefitContext:
    """What :meth:`Segmentation.merge` needs to explain and compare again.

    The parameters of the explanation and outcome steps as fitted, and the
    outcomes per customer (None without outcomes). A loaded model has none: a
    saved model holds no outcomes, so it renames and renumbers but cannot merge.
    """

    shap_max_rows: int
    surrogate_max_rows: int
    fidelity_threshold: float
    stability_threshold: float
    min_difference: Mapping[str, float | str] | None
    n_bootstrap: int
    n_threads: int
    random_state: Any
    outcomes: pl.DataFrame | None = None


def segment_names(
    segment_id: pl.Expr | pl.Series, names: Mapping[int, str]
) -> pl.Expr | pl.Series:
    """Map segment ids to names; an id in no segment reads ``"no segment"``.

    Examples
    --------
    >>> import polars as pl
    >>> segment_names(pl.Series([0, -1]), {0: "Core"}).to_list()
    ['Core', 'no segment']
    """
    return segment_id.replace_strict(
        dict(names), default=NO_SEGMENT, return_dtype=pl.String
    )


@dataclass(frozen=True, eq=False, repr=False)
class Segmentation:
    """A segmentation: segment profiles, labels, outcomes, stability, run facts.

    Built by :meth:`segdiscover.Segmenter.fit` (``seg.result_``) and by
    :func:`segdiscover.load`. Immutable: :meth:`rename`, :meth:`renumber` and
    :meth:`merge` return a new object. Renders as a table in notebooks
    (``_repr_html_``), as text, Markdown (:meth:`to_markdown`), JSON
    (:meth:`to_dict`, :meth:`to_json`), polars tables (:meth:`to_polars`), a
    report file (:meth:`report`) and figures (``plot_*``).

    Attributes
    ----------
    id : str
        The customer id column.
    profiles : dict of int to SegmentProfile
        One profile card per segment id.
    labels : polars.DataFrame
        ``<id>``, ``segment_id``, ``segment_name``, ``confidence``, ``is_noise``.
    features : polars.DataFrame
        The customer-level features used (id first), in ``labels`` order.
    feature_meta : tuple of FeatureMeta
    run : dict
        Run information (version, parameters, the choice and why, fidelity,
        stability, outcomes, warnings). Read it; do not change it.
    merge_tree : polars.DataFrame
        Ward merge order of the segments (``left``, ``right``, ``distance``...).
    clusterer, clusterer_name, preprocessor, guide, assign_state
        The fitted parts that assign customers.
    noise, input_kind, feature_levels
        The noise policy, ``"tables"`` or ``"table"``, the learned levels.
    candidates : polars.DataFrame or None
        The sweep's candidate table (None when nothing was swept).
    outcome_comparison : OutcomeComparison or None
    stability : polars.DataFrame or None
        Per segment Jaccard recovery over resampled refits (None: not measured).
    stable : bool or None
        False when no swept candidate had every segment stable.
    validation_ids : polars.Series or None
        Customers the outcome verdicts come from.
    explanation : Explanation or None
        Surrogate, SHAP values and rules (a fitted result only; not saved).
    refit : RefitContext or None
        What :meth:`merge` needs (a fitted result only).
    """

    id: str
    profiles: Mapping[int, SegmentProfile]
    labels: pl.DataFrame
    features: pl.DataFrame
    feature_meta: tuple[FeatureMeta, ...]
    run: dict[str, Any]
    merge_tree: pl.DataFrame
    clusterer: ClusterAdapter
    clusterer_name: str
    preprocessor: Preprocessor
    assign_state: AssignState
    noise: str = "assign"
    input_kind: str = "table"
    feature_levels: Mapping[str, Any] = field(default_factory=dict)
    guide: OutcomeGuide | None = None
    candidates: pl.DataFrame | None = None
    outcome_comparison: OutcomeComparison | None = None
    stability: pl.DataFrame | None = None
    stable: bool | None = None
    validation_ids: pl.Series | None = None
    explanation: Explanation | None = None
    refit: RefitContext | None = None

    # ------------------------------------------------------------ views
    @cached_property
    def segments(self) -> pl.DataFrame:
        """One row per segment (see ``Segmenter.segments_``)."""
        return segments_frame(dict(self.profiles), self.noise_assigned)

    @cached_property
    def noise_assigned(self) -> dict[int, int]:
        """Segment id -> noise customers placed in it (``noise="assign"``)."""
        counts = (
            self.labels.filter(pl.col("is_noise"))
            .group_by("segment_id")
            .len()
            .iter_rows()
        )
        return {int(s): int(n) for s, n in counts if s in self.profiles}

    @property
    def outcomes(self) -> pl.DataFrame | None:
        """Each segment vs the rest on each outcome (None without outcomes)."""
        res = self.outcome_comparison
        return None if res is None else res.to_polars()

    @property
    def n_segments(self) -> int:
        """Number of segments."""
        return len(self.profiles)

    @property
    def names(self) -> dict[int, str]:
        """Segment id -> name."""
        return {s: p.name for s, p in sorted(self.profiles.items())}

    @property
    def warnings(self) -> list[str]:
        """The run's warnings (unstable segments, low fidelity...)."""
        return list(self.run.get("warnings") or [])

    @property
    def stability_summary(self) -> dict[str, Any] | None:
        """ARI spread, refits and unstable segments (None when not measured)."""
        summary: dict[str, Any] | None = self.run.get("stability")
        return summary

    def profile(self, segment_id: int) -> SegmentProfile:
        """Return one segment's profile card (HTML in notebooks, text printed)."""
        if segment_id not in self.profiles:
            msg = (
                f"There is no segment {segment_id}; segments are "
                f"{sorted(self.profiles)}."
            )
            raise InputError(msg)
        return self.profiles[segment_id]

    # ------------------------------------------------------------ renderers
    def to_polars(self, part: str = "segments") -> pl.DataFrame:
        """Return one table: segments, labels, outcomes, stability, merge_tree...

        Parameters
        ----------
        part : {"segments", "labels", "outcomes", "stability", "merge_tree",
            "candidates"}, default "segments"
            A part that was not computed (no outcomes) is an empty table.
        """
        if part not in PARTS:
            msg = f"Segmentation has no part {part!r}; parts are {list(PARTS)}."
            raise InvalidParameterError(msg)
        table: pl.DataFrame | None = getattr(self, part)
        return pl.DataFrame() if table is None else table

    def to_dict(self) -> dict[str, Any]:
        """Return the ``segments.json`` document (strict JSON data).

        See ``segdiscover/report/segments.schema.json`` for its schema.
        """
        from segdiscover.report import segments_document

        return segments_document(self)

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_markdown(self) -> str:
        """Render the Markdown report (the content of ``report.md``)."""
        from segdiscover.report._html import render_markdown

        return render_markdown(self, self.to_dict())

    def _headline(self) -> str:
        run = self.run
        bits = [
            f"{self.n_segments} segments of {self.labels.height:,} customers",
            f"clusterer {self.clusterer_name}",
        ]
        if run.get("fidelity") is not None:
            bits.append(f"fidelity {run['fidelity']:.2f}")
        if self.stable is False:
            bits.append("no stable segmentation")
        return ", ".join(bits)

    def __repr__(self) -> str:
        lines = [f"Segmentation({self._headline()})"]
        for s, p in sorted(self.profiles.items()):
            lines.append(f"  {s}. {p.name}: {p.size:,} ({fmt(p.share, 'share')})")
        res = self.outcome_comparison
        if res is not None:
            lines.append(f"  {res.summary()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        head = "".join(
            f"<th>{h}</th>" for h in ("id", "name", "customers", "share", "stability")
        )
        rows = "".join(
            f"<tr><td>{s}</td><td>{e(p.name)}</td><td>{p.size:,}</td>"
            f"<td>{fmt(p.share, 'share')}</td>"
            f"<td>{'n/a' if p.stability is None else f'{p.stability:.2f}'}</td></tr>"
            for s, p in sorted(self.profiles.items())
        )
        notes = "".join(f"<li>{e(w)}</li>" for w in self.warnings)
        res = self.outcome_comparison
        summary = "" if res is None else f"<p>{e(res.summary())}</p>"
        return (
            f"<div class='sd-segmentation'><p><b>{e(self._headline())}</b></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f"{summary}{f'<ul>{notes}</ul>' if notes else ''}</div>"
        )

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained report (``.html`` with charts, or ``.md``).

        Written to a temporary file beside ``path`` and renamed into place.

        Examples
        --------
        >>> import tempfile
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
        ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
        >>> seg.report(tempfile.mkdtemp() + "/segments.md").read_text()[:19]
        '# Customer segments'
        """
        from segdiscover.report import write_report

        return write_report(self, path)

    # ------------------------------------------------------------ figures
    def plot_selection(self) -> Figure:
        """Draw the sweep behind the choice (see :mod:`segdiscover.plots`)."""
        from segdiscover.plots import plot_selection

        return plot_selection(self)

    def plot_drivers(self, segment_id: int) -> Figure:
        """One segment's drivers (see :func:`segdiscover.plots.plot_drivers`)."""
        from segdiscover.plots import plot_drivers

        return plot_drivers(self, segment_id)

    def plot_heatmap(self) -> Figure:
        """Segments vs population on the key features."""
        from segdiscover.plots import plot_heatmap

        return plot_heatmap(self)

    def plot_map(self, method: str = "pca") -> Figure:
        """Draw the customers in two dimensions, coloured by segment."""
        from segdiscover.plots import plot_map

        return plot_map(self, method=method)

    def plot_sizes(self) -> Figure:
        """Draw the customers per segment."""
        from segdiscover.plots import plot_sizes

        return plot_sizes(self)

    def plot_outcomes(self) -> Figure:
        """Each segment vs the rest on each outcome, with 95% intervals."""
        from segdiscover.plots import plot_outcomes

        return plot_outcomes(self)

    # ------------------------------------------------------------ new results
    def rename(self, names: Mapping[int, str]) -> Segmentation:
        """Return a copy with custom segment names (they replace generated ones).

        Parameters
        ----------
        names : mapping of int to str
            Segment id -> new name. Names must stay unique and non-empty.

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> res = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0,
        ...     stability_refits=0).fit(data.tables, as_of=data.as_of).result_
        >>> res.rename({0: "Core"}).profile(0).name, res.profile(0).name != "Core"
        ('Core', True)
        """
        unknown = [k for k in names if k not in self.profiles]
        if unknown:
            msg = f"No segment(s) {unknown}; segments are {sorted(self.profiles)}."
            raise InputError(msg)
        new = self.names
        for k, v in names.items():
            if not isinstance(v, str) or not v.strip():
                msg = f"The new name of segment {k} must be a non-empty string."
                raise InputError(msg)
            new[k] = v.strip()
        if len(set(new.values())) != len(new):
            msg = f"Segment names must be unique; got {sorted(new.values())}."
            raise InputError(msg)
        profiles = {
            s: _renamed(p, new[s], "custom") if s in names else p
            for s, p in self.profiles.items()
        }
        return self._with(profiles=profiles, names=new)

    def renumber(
        self,
        mapping: Mapping[int, int],
        *,
        names: Mapping[int, str] | None = None,
        name_sources: Mapping[int, str] | None = None,
    ) -> Segmentation:
        """Return a copy whose segments have new ids (and optionally names).

        Labels, profiles, drivers, rules, outcomes, stability, the merge tree and
        the clusterer take the new ids, so assignment gives the new ids too. Ids
        need not be contiguous (a segment that died in an earlier run leaves its
        id unused). See :meth:`segdiscover.Segmenter.renumber`.

        Parameters
        ----------
        mapping : mapping of int to int
            Current id -> new id; every segment must be mapped, new ids distinct.
        names : mapping of int to str, optional
            New id -> name to give that segment (e.g. carried from the last run).
        name_sources : mapping of int to str, optional
            New id -> ``name_source`` of the renamed segments (default
            ``"carried"``).

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=400, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
        >>> seg = seg.fit(data.tables, as_of=data.as_of)
        >>> res = seg.result_.renumber({0: 2, 1: 0, 2: 5}, names={5: "Small"})
        >>> sorted(res.profiles), res.profile(5).name, sorted(seg.result_.profiles)
        ([0, 2, 5], 'Small', [0, 1, 2])
        >>> seg = seg.renumber({0: 2, 1: 0, 2: 5}, names={5: "Small"})
        >>> seg.assign(data.tables, as_of=data.as_of)["segment_id"].equals(
        ...     seg.labels_["segment_id"])
        True
        """
        old_ids = sorted(self.profiles)
        m = {int(k): int(v) for k, v in mapping.items()}
        missing = [s for s in old_ids if s not in m]
        new_ids = [m.get(s, -1) for s in old_ids]
        if missing or len(set(new_ids)) != len(new_ids) or min(new_ids) < 0:
            msg = (
                f"A renumbering must map every segment {old_ids} to distinct ids "
                f">= 0; got {dict(sorted(m.items()))}."
            )
            raise InputError(msg)
        given = dict(names or {})
        unknown = [k for k in given if k not in new_ids]
        if unknown:
            msg = f"Names given for unknown segment id(s) {unknown}; ids are {new_ids}."
            raise InputError(msg)
        final = {m[s]: given.get(m[s], self.profiles[s].name) for s in old_ids}
        if len(set(final.values())) != len(final):
            msg = f"Segment names must be unique; got {sorted(final.values())}."
            raise InputError(msg)
        sources = dict(name_sources or {})
        profiles = {}
        for s in sorted(old_ids, key=lambda s: m[s]):
            p = self.profiles[s]
            name = final[m[s]]
            if name != p.name:
                p = _renamed(p, name, sources.get(m[s], "carried"))
            profiles[m[s]] = dataclasses.replace(p, segment_id=m[s])
        return _renumbered(self, m, profiles, final)

    def merge(self, ids: Sequence[int]) -> Segmentation:
        """Return a copy with segments merged by hand and explained again.

        The merged segment takes the smallest of ``ids``; other segments keep their
        ids (and custom names). Drivers, rules, names, profiles and outcomes are
        recomputed; customers keep their confidence (a lower bound for the merged
        segment). The merged segment's stability is not re-measured (null): a refit
        does not produce a hand-made merge. A loaded segmentation cannot merge (a
        saved model holds no outcomes to compare again).

        Parameters
        ----------
        ids : sequence of int
            Two or more segment ids, e.g. a pair read off ``merge_tree``.

        Examples
        --------
        >>> import segdiscover as sd
        >>> data = sd.datasets.make_customers(n_customers=600, n_segments=3, seed=0)
        >>> seg = sd.Segmenter(clusterer="kmeans", n_segments=4, random_state=0,
        ...                    stability_refits=0).fit(data.tables, as_of=data.as_of)
        >>> first = seg.merge_tree_.row(0, named=True)
        >>> seg = seg.merge_segments(first["left"] + first["right"])
        >>> seg.segments_.height, seg.n_segments_
        (3, 3)
        """
        from segdiscover._fit.result import merge

        return merge(self, ids)

    # ------------------------------------------------------------ helpers
    def _with(
        self, *, profiles: Mapping[int, SegmentProfile], names: Mapping[int, str]
    ) -> Segmentation:
        """Return a copy with new profiles; the labels' names follow them."""
        labels = self.labels.with_columns(
            segment_names(pl.col("segment_id"), names).alias("segment_name")
        )
        ex = self.explanation
        if ex is not None:
            ex = dataclasses.replace(ex, profiles=dict(profiles))
        return dataclasses.replace(
            self, profiles=dict(profiles), labels=labels, explanation=ex
        )


def _renamed(p: SegmentProfile, name: str, source: str) -> SegmentProfile:
    """Return a copy of a profile under a new name (and narrative)."""
    return dataclasses.replace(
        p,
        name=name,
        name_source=source,
        narrative=p.narrative.replace(p.name, name, 1),
    )


def _renumbered(
    res: Segmentation,
    m: dict[int, int],
    profiles: dict[int, SegmentProfile],
    names: dict[int, str],
) -> Segmentation:
    """Every part of ``res`` with segment ids mapped by ``m``."""

    def rekey(d: Mapping[int, Any]) -> dict[int, Any]:
        return {m.get(k, k): v for k, v in d.items()}

    def remap(col: str = "segment_id") -> pl.Expr:
        return pl.col(col).replace_strict(m, default=pl.col(col))

    clusterer = copy.deepcopy(res.clusterer).renumber(m)
    ex = res.explanation
    if ex is not None:
        ex = dataclasses.replace(
            ex,
            profiles=profiles,
            drivers=rekey(ex.drivers),
            rules=rekey(ex.rules),
            per_segment_f1=rekey(ex.per_segment_f1),
            shap_labels=None
            if ex.shap_labels is None
            else np.array([m.get(int(v), int(v)) for v in ex.shap_labels]),
        )
    run = dict(res.run)
    comparison = res.outcome_comparison
    if comparison is not None:
        from segdiscover._fit.result import outcome_run_summary

        comparison = comparison.renumber(m)
        run["outcomes"] = outcome_run_summary(comparison)
    if run.get("stability") is not None:
        run["stability"] = {
            **run["stability"],
            "unstable_segments": sorted(
                m[s] for s in run["stability"]["unstable_segments"]
            ),
        }
    labels = res.labels.with_columns(remap()).with_columns(
        segment_names(pl.col("segment_id"), names).alias("segment_name")
    )
    stability = res.stability
    if stability is not None:
        stability = stability.with_columns(remap()).sort("segment_id")
    tree = res.merge_tree.with_columns(
        pl.col(c).list.eval(pl.element().replace_strict(m)).list.sort()
        for c in ("left", "right")
    )
    return dataclasses.replace(
        res,
        profiles=profiles,
        labels=labels,
        run=run,
        merge_tree=tree,
        clusterer=clusterer,
        outcome_comparison=comparison,
        stability=stability,
        explanation=ex,
    )


class HasResult(Protocol):
    """A fitted model: a :class:`segdiscover.Segmenter` or a loaded model."""

    @property
    def result_(self) -> Segmentation:
        """The segmentation the model holds."""


def as_result(model: Segmentation | HasResult | Any) -> Segmentation:
    """Return the segmentation of a fitted model (or the segmentation itself).

    The one fitted check of segdiscover: a model that was not fitted raises
    :class:`segdiscover.exceptions.NotFittedError`.

    Examples
    --------
    >>> import segdiscover as sd
    >>> as_result(sd.Segmenter())
    Traceback (most recent call last):
    ...
    segdiscover.exceptions.NotFittedError: This Segmenter is not fitted yet; ...
    """
    if isinstance(model, Segmentation):
        return model
    res = model.__dict__.get("result_") if hasattr(model, "__dict__") else None
    if not isinstance(res, Segmentation):
        msg = f"This {type(model).__name__} is not fitted yet; call fit(...) first."
        raise NotFittedError(msg)
    return res
