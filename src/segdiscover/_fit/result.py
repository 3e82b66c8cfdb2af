"""Fit steps of :class:`segdiscover.Segmenter` after the segments are found.

Explain them (surrogate, SHAP, rules, names), measure their stability, compare
them on the outcomes, and assemble the :class:`segdiscover.result.Segmentation`.
:func:`merge` runs the same steps again on hand-merged segments.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from segdiscover._fit.cluster import ClustererPlan, Segmented
from segdiscover._fit.door import Inputs
from segdiscover._json import sig
from segdiscover._version import __version__
from segdiscover.assign import fit_assign_state
from segdiscover.exceptions import InputError, SegdiscoverWarning
from segdiscover.explain._segments import Explanation, explain_segments
from segdiscover.features import FeatureMeta
from segdiscover.outcomes import OutcomeComparison, compare_segments
from segdiscover.preprocess import Preprocessor
from segdiscover.profiles import SegmentProfile
from segdiscover.result import RefitContext, Segmentation, segment_names
from segdiscover.stability import merge_tree, stability

if TYPE_CHECKING:
    from segdiscover.segmenter import Segmenter

#: Customers the stability refits are drawn from (a random sample above this).
STABILITY_ROWS = 5_000
#: The per-segment outcome figures a profile card shows.
_CARD_KEYS = ("kind", "value", "rest_value", "overall", "difference", "ci_low",
              "ci_high", "p_adjusted", "material", "verdict")  # fmt: skip


def _warn(msgs: Sequence[str]) -> None:
    for msg in msgs:
        warnings.warn(msg, SegdiscoverWarning, stacklevel=5)


def explain(
    features: pl.DataFrame,
    id_col: str,
    meta: Sequence[FeatureMeta],
    pre: Preprocessor,
    labels: np.ndarray,
    conf: np.ndarray,
    raw_noise: np.ndarray,
    ctx: RefitContext,
    rng: np.random.RandomState,
) -> tuple[Explanation, pl.DataFrame]:
    """Explain the segments; return the explanation and the labels table."""
    ex = explain_segments(
        features.drop(id_col),
        list(meta),
        pre,
        labels,
        shap_max_rows=ctx.shap_max_rows,
        surrogate_max_rows=ctx.surrogate_max_rows,
        n_threads=ctx.n_threads,
        fidelity_threshold=ctx.fidelity_threshold,
        rng=rng,
    )
    _warn(ex.warnings)
    ids = pl.Series("segment_id", labels, dtype=pl.Int64)
    table = features.select(id_col).with_columns(
        ids,
        segment_names(ids, {s: p.name for s, p in ex.profiles.items()}).alias(
            "segment_name"
        ),
        # Rounded like every user-facing float (see segdiscover._json.sig).
        pl.Series("confidence", np.round(conf, 6), dtype=pl.Float64),
        pl.Series("is_noise", raw_noise, dtype=pl.Boolean),
    )
    return ex, table


def merge_tree_frame(
    centroids: np.ndarray, profiles: Mapping[int, SegmentProfile], labels: np.ndarray
) -> pl.DataFrame:
    """Build the merge tree of the current segments' centres and sizes.

    ``centroids`` is indexed by segment id (renumbered or merged ids leave ``inf``
    rows), so only the rows of the current segments take part.
    """
    ids = sorted(profiles)
    sizes = np.array([int((labels == s).sum()) for s in ids])
    tree = merge_tree(centroids[ids], sizes)
    lut = dict(enumerate(ids))
    return tree.with_columns(
        pl.col(c).list.eval(pl.element().replace_strict(lut)) for c in ("left", "right")
    )


@dataclass(frozen=True)
class Stability:
    """The stability step's outputs (frame and summary None when not measured)."""

    frame: pl.DataFrame | None = None
    summary: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()


def assess_stability(
    est: Segmenter,
    plan: ClustererPlan,
    seg: Segmented,
    profiles: Mapping[int, SegmentProfile],
    rng: np.random.RandomState,
    n_threads: int,
) -> Stability:
    """Refit on resampled customers; mark each profile's stability."""
    chosen = seg.chosen
    X, labels, raw_noise, rows = (
        chosen.X,
        chosen.labels,
        chosen.raw_noise,
        chosen.fit_mask,
    )
    if not rows.all():  # guided: refit on the build rows
        X, labels, raw_noise = X[rows], labels[rows], raw_noise[rows]
    if chosen.fit_labels is not None:  # guided: the partition fitted in X
        labels, raw_noise = chosen.fit_labels, chosen.fit_labels < 0
    # Drawn after the segments are found and always drawn, so turning refits on
    # or off changes neither the segments nor anything computed after.
    seed = int(rng.randint(2**31 - 1))
    if est.stability_refits < 1:
        return Stability()
    limit = min(STABILITY_ROWS, plan.max_fit_rows(chosen.name) or STABILITY_ROWS)
    st = stability(
        plan.factory(chosen.name, chosen.adapter.n_segments_),
        X,
        np.where(raw_noise, -1, labels),
        n_refits=est.stability_refits,
        max_rows=limit,
        threshold=est.stability_threshold,
        random_state=seed,
        n_jobs=n_threads,
        progress_desc="stability refits",
    )
    if not st.measured:  # too few customers per segment to refit
        return Stability()
    lo, hi = st.ari_spread
    unstable = st.unstable()
    summary = {
        "ari_median": sig(st.ari_median),
        "ari_p10": sig(lo),
        "ari_p90": sig(hi),
        "refits": st.n_refits,
        "fraction": st.fraction,
        "rows": st.rows,
        "threshold": est.stability_threshold,
        "unstable_segments": unstable,
    }
    for s, p in profiles.items():
        p.stability = sig(st.per_segment.get(s, 0.0))
        p.stability_threshold = est.stability_threshold
    if not unstable:
        return Stability(st.frame(), summary)
    shown = ", ".join(
        f"{s} ({profiles[s].name}: {st.per_segment[s]:.2f})" for s in unstable
    )
    msg = (
        f"{len(unstable)} segment(s) are unstable (mean Jaccard recovery under "
        f"{est.stability_threshold} over {st.n_refits} resampled refits): "
        f"{shown}. They may be an artificial split; see merge_tree_ and "
        "merge_segments()."
    )
    _warn([msg])
    return Stability(st.frame(), summary, (msg,))


def compare_outcomes(
    ctx: RefitContext,
    labels: pl.DataFrame,
    features: pl.DataFrame,
    meta: Sequence[FeatureMeta],
    profiles: Mapping[int, SegmentProfile],
    validation_ids: pl.Series,
    rng: np.random.RandomState,
    *,
    guided: bool,
) -> OutcomeComparison | None:
    """Compare segments on the outcomes; the verdicts go onto the profiles."""
    outcomes, id_col = ctx.outcomes, labels.columns[0]
    if outcomes is None:
        return None
    cols = [c for c in outcomes.columns if c != id_col]
    if not cols or len(profiles) < 2:
        return None
    # Guided segments are judged on the held-out customers only.
    j = (
        labels.select(id_col, "segment_id")
        .filter(pl.col(id_col).is_in(validation_ids.implode()))
        .join(outcomes, on=id_col, how="left", maintain_order="left")
    )
    if j.get_column("segment_id").filter(j["segment_id"] >= 0).n_unique() < 2:
        return None
    res = compare_segments(
        j.get_column("segment_id").to_numpy(),
        j.select(cols),
        features=features.join(
            j.select(id_col), on=id_col, how="semi", maintain_order="left"
        ).drop(id_col),
        min_difference=ctx.min_difference,
        n_bootstrap=ctx.n_bootstrap,
        random_state=int(rng.randint(2**31 - 1)),
        ids=j.get_column(id_col),
        feature_labels={m.name: m.label for m in meta},
    )
    if guided:
        res = dataclasses.replace(
            res,
            validated_on=f"{j.height:,} held-out customers whose outcomes built "
            "nothing",
        )
    for r in res.vs_rest.iter_rows(named=True):
        profiles[r["segment_id"]].outcomes[r["outcome"]] = {k: r[k] for k in _CARD_KEYS}
    for r in res.answers.iter_rows(named=True):
        profiles[r["segment_id"]].answers.append(
            {k: r[k] for k in ("question", "source", "column", "answer")}
        )
    return res


def outcome_run_summary(res: OutcomeComparison | None) -> dict[str, Any] | None:
    """Summarise the outcome comparison as ``run_["outcomes"]`` reports it."""
    if res is None:
        return None
    return {
        "outcomes": list(res.thresholds),
        "thresholds": res.thresholds,
        "n_bootstrap": res.n_bootstrap,
        "alpha": res.alpha,
        "n_material": int(res.vs_rest.get_column("material").sum()),
        "n_operationally_distinct": res.n_distinct,
        "merge_candidates": [
            list(p)
            for p in res.merge_candidates.select("segment_a", "segment_b").rows()
        ],
        "validated_on": res.validated_on or "all customers",
        "summary": res.summary(),
    }


def refit_context(
    est: Segmenter, n_threads: int, outcomes: pl.DataFrame | None
) -> RefitContext:
    """Collect the explanation and outcome parameters of ``est`` (fit and merges)."""
    return RefitContext(
        shap_max_rows=est.shap_max_rows,
        surrogate_max_rows=est.surrogate_max_rows,
        fidelity_threshold=est.fidelity_threshold,
        stability_threshold=est.stability_threshold,
        min_difference=est.min_difference,
        n_bootstrap=est.n_bootstrap,
        n_threads=n_threads,
        random_state=est.random_state,
        outcomes=outcomes,
    )


def _guide_info(seg: Segmented, requested: str) -> dict[str, Any]:
    chosen = seg.chosen
    return {
        "mode": chosen.space,
        "requested": requested,
        "validated_on": (
            "held-out customers" if chosen.space == "outcomes" else "all customers"
        ),
        "validation_customers": int(chosen.validation.sum()),
        "comparison": seg.comparison,
        "outcome_r2": None
        if chosen.guide is None
        else dict(
            zip(
                chosen.guide.outcomes_,
                [sig(r) for r in chosen.guide.r2_],
                strict=True,
            )
        ),
    }


def build(
    est: Segmenter,
    plan: ClustererPlan,
    inputs: Inputs,
    pre: Preprocessor,
    seg: Segmented,
    rng: np.random.RandomState,
    *,
    started: dt.datetime,
    as_of: Any,
    n_threads: int,
) -> Segmentation:
    """Explain, assess and compare the chosen segments into a Segmentation."""
    chosen, id_col = seg.chosen, est.id
    used = set(pre.input_columns)
    meta = tuple(m for m in inputs.meta if m.name in used)
    features = inputs.frame.select(id_col, *[m.name for m in meta])
    ctx = refit_context(est, n_threads, inputs.outcomes)
    ex, labels = explain(
        features, id_col, meta, pre, chosen.labels, chosen.conf, chosen.raw_noise,
        ctx, rng,
    )  # fmt: skip
    tree = merge_tree_frame(chosen.adapter.centroids_, ex.profiles, chosen.labels)
    st = assess_stability(est, plan, seg, ex.profiles, rng, n_threads)
    validation_ids = inputs.frame.get_column(id_col).filter(
        pl.Series(chosen.validation)
    )
    comparison = compare_outcomes(
        ctx, labels, features, meta, ex.profiles, validation_ids, rng,
        guided=chosen.guide is not None,
    )  # fmt: skip
    notes = [*ex.warnings, *st.warnings]
    if chosen.stable is False:
        msg = (
            "No stable segmentation: no candidate of the sweep has every segment "
            "stable under resampling; the segments shown are the least unstable "
            f"candidate ({chosen.reason}). Treat them as a hypothesis, not as "
            "segments to act on."
        )
        notes.insert(0, msg)
        warnings.warn(msg, SegdiscoverWarning, stacklevel=4)
    n = inputs.frame.height
    run = {
        "segdiscover_version": __version__,
        "started_at": started.isoformat(timespec="seconds"),
        "as_of": None if as_of is None else str(as_of),
        "n_customers": n,
        "n_features": len(meta),
        "clusterer": chosen.name,
        "n_segments": len(ex.profiles),
        "selection": chosen.reason,
        "stable_segmentation": chosen.stable,
        # Near-duplicate columns clustered once (they still explain segments).
        "folded": pre.folded_,
        # Columns that restate clustered ones (FeatureMeta.derived_from).
        "derived": pre.derived_,
        "fold_report": pre.fold_report(),
        "guide": _guide_info(seg, est.guide),
        "fit_rows": chosen.fit_rows,
        "threads": n_threads,
        "sampled_fit": chosen.fit_rows < n,
        # Which customers a sampled fit (and the sweep) used: the same whatever
        # the row order and the seed (segdiscover._fit.cluster.hashed_rows).
        "fit_sample": (
            "the customers with the smallest hash of their id"
            if chosen.fit_rows < n
            else None
        ),
        "sweep_rows": chosen.sweep_rows,
        "noise_share": float(chosen.raw_noise.mean()),
        "fidelity": ex.fidelity,
        "macro_f1": ex.macro_f1,
        "fidelity_threshold": est.fidelity_threshold,
        "shap_rows": ex.shap_rows,
        "stability": st.summary,
        "outcomes": outcome_run_summary(comparison),
        "warnings": notes,
        "params": {
            k: (
                v
                if isinstance(v, int | float | str | tuple | type(None))
                else type(v).__name__
            )
            for k, v in est.get_params(deep=False).items()
        },
    }
    res = Segmentation(
        id=id_col, profiles=ex.profiles, labels=labels, features=features,
        feature_meta=meta, run=run, merge_tree=tree, clusterer=chosen.adapter,
        clusterer_name=chosen.name, preprocessor=pre,
        assign_state=fit_assign_state(
            features, labels, pre, chosen.guide, chosen.adapter.centroids_,
            # The unsupervised space is the matrix already built (no transform).
            X=chosen.X if chosen.guide is None else None,
        ),
        noise=est.noise, input_kind=inputs.input_kind,
        feature_levels=inputs.feature_levels, guide=chosen.guide,
        candidates=seg.candidates, outcome_comparison=comparison,
        stability=st.frame, stable=chosen.stable, validation_ids=validation_ids,
        explanation=ex, refit=ctx,
    )  # fmt: skip
    return res


def _merge_ids(res: Segmentation, ids: Sequence[int]) -> list[int]:
    try:
        wanted = sorted({int(i) for i in ids})
    except (TypeError, ValueError) as exc:
        msg = f"merge_segments takes a list of segment ids; got {ids!r}."
        raise InputError(msg) from exc
    unknown = [i for i in wanted if i not in res.profiles]
    if len(wanted) < 2 or unknown:
        msg = (
            f"merge_segments needs two or more existing segment ids; got {wanted}"
            f" (unknown: {unknown}); segments are {sorted(res.profiles)}."
        )
        raise InputError(msg)
    if len(wanted) == len(res.profiles):
        msg = "Merging every segment leaves one segment: nothing to explain."
        raise InputError(msg)
    if res.refit is None:
        msg = (
            "This segmentation was loaded from a saved model, which holds no "
            "outcomes or explanation to recompute; merge segments on the fitted "
            "Segmenter (fit, merge_segments, then save)."
        )
        raise InputError(msg)
    return wanted


def merge(res: Segmentation, ids: Sequence[int]) -> Segmentation:
    """Merge segments by hand and explain the result again (a new Segmentation)."""
    wanted = _merge_ids(res, ids)
    ctx = res.refit
    assert ctx is not None  # _merge_ids refuses a result without one
    into = wanted[0]
    custom = {
        s: p.name
        for s, p in res.profiles.items()
        if p.name_source != "generated" and s not in wanted
    }
    kept = {s: p.stability for s, p in res.profiles.items() if s not in wanted}
    labels = res.labels.get_column("segment_id").to_numpy().copy()
    conf = res.labels.get_column("confidence").to_numpy().copy()
    raw_noise = res.labels.get_column("is_noise").to_numpy()
    sizes = {s: int((labels == s).sum()) for s in wanted}
    clusterer = copy.deepcopy(res.clusterer)
    clusterer.merge(wanted, sizes)
    labels[np.isin(labels, wanted)] = into
    rng = check_random_state(ctx.random_state)
    with threadpool_limits(limits=ctx.n_threads):
        ex, table = explain(
            res.features, res.id, res.feature_meta, res.preprocessor, labels, conf,
            raw_noise, ctx, rng,
        )  # fmt: skip
    for s, p in ex.profiles.items():
        p.stability = kept.get(s)
        p.stability_threshold = ctx.stability_threshold
    stab = res.stability
    if stab is not None:
        stab = stab.filter(~pl.col("segment_id").is_in(wanted[1:])).with_columns(
            pl.when(pl.col("segment_id") == into)
            .then(None)
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("jaccard_mean", "jaccard_min", "dissolved", "stable")
        )
    assert res.validation_ids is not None  # set on every fitted result
    comparison = compare_outcomes(
        ctx, table, res.features, res.feature_meta, ex.profiles, res.validation_ids,
        rng, guided=res.guide is not None,
    )  # fmt: skip
    summary = res.stability_summary
    if summary is not None:  # merged ids are no longer flagged
        summary = {
            **summary,
            "unstable_segments": [
                s for s in summary["unstable_segments"] if s not in wanted
            ],
        }
    run = {
        **res.run,
        "merges": [*res.run.get("merges", []), {"merged": wanted, "into": into}],
        "stability": summary,
        "n_segments": len(ex.profiles),
        "fidelity": ex.fidelity,
        "macro_f1": ex.macro_f1,
        "warnings": list(ex.warnings),
        "outcomes": outcome_run_summary(comparison),
    }
    merged = dataclasses.replace(
        res, profiles=ex.profiles, labels=table, run=run, clusterer=clusterer,
        merge_tree=merge_tree_frame(clusterer.centroids_, ex.profiles, labels),
        assign_state=fit_assign_state(res.features, table, res.preprocessor,
                                      res.guide, clusterer.centroids_),
        outcome_comparison=comparison, stability=stab, explanation=ex,
    )  # fmt: skip
    return merged.rename(custom) if custom else merged
