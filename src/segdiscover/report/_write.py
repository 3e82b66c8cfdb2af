"""Write a fitted Segmenter's outputs all-or-nothing.

The whole set (assignments, ``segments.json``, reports, charts, model) is written as
one generation folder and published with one atomic rename (see
:func:`segdiscover._atomic.publish`): after a kill at any instant the output folder
shows the complete earlier run or the complete new one, never a mix.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segdiscover._atomic import publish, write_file, write_parquet
from segdiscover._json import plain
from segdiscover.exceptions import InputError, ModelFileError, SegdiscoverWarning
from segdiscover.persist import check_target, save
from segdiscover.report._html import render_html, render_markdown
from segdiscover.report._plots import render_plots
from segdiscover.result import Segmentation, as_result

if TYPE_CHECKING:
    from segdiscover.result import HasResult

SCHEMA_PATH = Path(__file__).with_name("segments.schema.json")
#: Every top-level name ``write_outputs`` can publish; one the new run lacks goes.
OUTPUT_NAMES = (
    "assignments.parquet",
    "segments.json",
    "report.html",
    "report.md",
    "plots",
    "model",
)


def segments_document(model: Segmentation | HasResult) -> dict[str, Any]:
    """Build the ``segments.json`` content of a segmentation (see SCHEMA_PATH)."""
    seg = as_result(model)
    outcomes: dict[int, list[dict[str, Any]]] = {}
    if seg.outcomes is not None:
        for r in seg.outcomes.iter_rows(named=True):
            outcomes.setdefault(r["segment_id"], []).append(
                {k: v for k, v in r.items() if k != "segment_id"}
            )
    segments = []
    for row in seg.segments.iter_rows(named=True):
        segments.append(
            {
                "segment_id": row["segment_id"],
                "name": row["name"],
                "size": row["size"],
                "share": row["share"],
                "drivers": row["drivers"],
                "rule": row.get("rule"),
                "rule_precision": row.get("rule_precision"),
                "rule_coverage": row.get("rule_coverage"),
                "name_source": row.get("name_source"),
                "families": seg.profiles[row["segment_id"]].families,
                "narrative": row["narrative"],
                "fidelity_f1": row["fidelity_f1"],
                "outcomes": outcomes.get(row["segment_id"], []),
                "answers": seg.profiles[row["segment_id"]].answers,
            }
        )
    candidates = seg.candidates.to_dicts() if seg.candidates is not None else None
    comparison: dict[str, Any] | None = None
    if seg.outcome_comparison is not None:
        comparison = {
            k: v
            for k, v in seg.outcome_comparison.to_dict().items()
            if k not in ("vs_rest", "answers")  # already under each segment
        }
    doc: dict[str, Any] = plain(
        {
            "schema_version": 1,
            "run": {**seg.run, "candidates": candidates},
            "segments": segments,
            "outcomes": comparison,
        }
    )
    return doc


def write_outputs(
    seg: Segmentation | HasResult, out: str | os.PathLike[str], *, model: bool = True
) -> dict[str, Path]:
    """Write assignments, ``segments.json``, reports, ``plots/*.png`` and ``model/``.

    The set is published all-or-nothing: written into a new generation folder
    ``out/.segdiscover/gen-N`` and made visible with one atomic rename; each name in
    ``out`` is a fixed link through ``out/.segdiscover/current``. A kill at any
    instant leaves the complete earlier outputs or the complete new ones; outputs of
    an earlier run that this run does not produce (charts of a segment that is gone)
    go with the same step.

    Parameters
    ----------
    seg : Segmenter, loaded model or Segmentation
        Fitted.
    out : path
        Output folder; created if missing. Other files in it are left alone.
    model : bool, default True
        Also save the model into ``model/`` (see :func:`segdiscover.persist.save`).
        A model whose clusterer cannot be stored as arrays (a user estimator with
        its own ``predict``) is skipped with a warning.

    Returns
    -------
    dict of str to Path
        The files written (their visible paths in ``out``).
    """
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        msg = f"--out {str(out)!r} is a file; give a folder."
        raise InputError(msg)
    if model and (out / "model").exists() and not (out / "model").is_symlink():
        check_target(out / "model")  # a folder of someone else's files: refused
    res = as_result(seg)
    # Rendered before anything is written: a failure here changes nothing on disk.
    doc = segments_document(res)
    images = render_plots(res)
    texts = {
        "segments.json": json.dumps(doc, indent=2, allow_nan=False),
        "report.html": render_html(res, doc, images),
        "report.md": render_markdown(res, doc),
    }
    saved: list[bool] = []

    def build(folder: Path) -> None:
        if model:
            try:
                save(seg, folder / "model")
                saved.append(True)
            except ModelFileError as exc:
                warnings.warn(
                    f"The model was not saved: {exc}", SegdiscoverWarning, stacklevel=4
                )
        (folder / "plots").mkdir()
        for name, data in images.items():
            (folder / "plots" / name).write_bytes(data)
        write_parquet(res.labels, folder / "assignments.parquet")
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")

    try:
        try:
            publish(out, build, managed=OUTPUT_NAMES)
        except InputError as exc:  # the model's save met the same full disk
            if isinstance(exc.__cause__, OSError):
                raise exc.__cause__ from None
            raise
    except OSError as exc:
        msg = f"Cannot write to the output folder {str(out)!r}: {exc.strerror or exc}"
        msg += f" ({exc.filename})." if exc.filename else "."
        raise InputError(msg) from exc
    written = {f"plots/{name}": out / "plots" / name for name in images}
    written |= {name: out / name for name in ("assignments.parquet", *texts)}
    if saved:
        written["model"] = out / "model"
    return written


def write_report(seg: Segmentation | HasResult, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained report of a segmentation to one file.

    ``.html`` (charts embedded) or ``.md`` by the file's suffix; written to a
    temporary file beside the target and renamed into place when complete.

    Parameters
    ----------
    seg : Segmentation, Segmenter or loaded model
        Fitted.
    path : str or path-like
        The report file (``.html``, ``.htm`` or ``.md``).

    Returns
    -------
    pathlib.Path
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        msg = (
            f"Unsupported report type {suffix!r} for {str(target)!r}; use .html or .md."
        )
        raise InputError(msg)
    if target.is_dir():
        msg = f"{str(target)!r} is a folder; give a report file name (.html or .md)."
        raise InputError(msg)
    res = as_result(seg)
    doc = segments_document(res)
    text = (
        render_markdown(res, doc)
        if suffix == ".md"
        else render_html(res, doc, render_plots(res))
    )
    return write_file(target, lambda p: p.write_text(text, encoding="utf-8"))
