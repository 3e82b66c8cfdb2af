"""Write a fitted Segmenter's outputs all-or-nothing.

The whole set (assignments, ``segments.json``, reports, charts, model) is written as
one generation folder and published with one atomic rename (see
:func:`segdiscover._atomic.publish`): after a kill at any instant the output folder
shows the complete earlier run or the complete new one, never a mix.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from segdiscover._atomic import publish, write_file
from segdiscover.exceptions import InputError, ModelFileError, SegdiscoverWarning
from segdiscover.persist import check_target, save
from segdiscover.report._html import render_html, render_markdown
from segdiscover.report._plots import render_plots

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


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats become null, tuples lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):  # numpy scalars
        return _clean(x.item())
    return x


def segments_document(seg: Any) -> dict[str, Any]:
    """Build the ``segments.json`` content of a fitted Segmenter (see SCHEMA_PATH)."""
    seg._check_fitted()
    outcomes: dict[int, list[dict[str, Any]]] = {}
    if seg.outcomes_ is not None:
        for r in seg.outcomes_.iter_rows(named=True):
            outcomes.setdefault(r["segment_id"], []).append(
                {k: v for k, v in r.items() if k != "segment_id"}
            )
    segments = []
    for row in seg.segments_.iter_rows(named=True):
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
                "families": seg.profiles_[row["segment_id"]].families,
                "narrative": row["narrative"],
                "fidelity_f1": row["fidelity_f1"],
                "outcomes": outcomes.get(row["segment_id"], []),
                "answers": seg.profiles_[row["segment_id"]].answers,
            }
        )
    candidates = seg.candidates_.to_dicts() if seg.candidates_ is not None else None
    comparison = getattr(seg, "outcome_comparison_", None)  # absent on old models
    if comparison is not None:
        comparison = {
            k: v
            for k, v in comparison.to_dict().items()
            if k not in ("vs_rest", "answers")  # already under each segment
        }
    return _clean(
        {
            "schema_version": 1,
            "run": {**seg.run_, "candidates": candidates},
            "segments": segments,
            "outcomes": comparison,
        }
    )


def write_outputs(
    seg: Any, out: str | os.PathLike[str], *, model: bool = True
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
    seg : Segmenter
        A fitted segmenter.
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
    # Rendered before anything is written: a failure here changes nothing on disk.
    doc = segments_document(seg)
    images = render_plots(seg)
    texts = {
        "segments.json": json.dumps(doc, indent=2, allow_nan=False),
        "report.html": render_html(seg, doc, images),
        "report.md": render_markdown(seg, doc),
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
        seg.labels_.write_parquet(folder / "assignments.parquet")
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


def write_report(seg: Any, path: str | os.PathLike[str]) -> Path:
    """Write the self-contained report of a fitted Segmenter to one file.

    ``.html`` (charts embedded) or ``.md`` by the file's suffix; written to a
    temporary file beside the target and renamed into place when complete.

    Parameters
    ----------
    seg : Segmenter
        A fitted segmenter.
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
    doc = segments_document(seg)
    text = (
        render_markdown(seg, doc)
        if suffix == ".md"
        else render_html(seg, doc, render_plots(seg))
    )
    return write_file(target, lambda p: p.write_text(text, encoding="utf-8"))
