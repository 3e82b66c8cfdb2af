"""Write a fitted Segmenter's outputs atomically.

Every file is first written into a temporary folder beside the target, then moved in
with ``os.replace``: a crash leaves either the old file or the new one, never half a
file, and files of an earlier run are replaced only once the new ones are complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from segdiscover.exceptions import InputError, ModelFileError, SegdiscoverWarning
from segdiscover.persist import _check_target, _swap_in, save
from segdiscover.report._html import render_html, render_markdown
from segdiscover.report._plots import render_plots

SCHEMA_PATH = Path(__file__).with_name("segments.schema.json")


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
            }
        )
    candidates = seg.candidates_.to_dicts() if seg.candidates_ is not None else None
    return _clean(
        {
            "schema_version": 1,
            "run": {**seg.run_, "candidates": candidates},
            "segments": segments,
        }
    )


def write_outputs(
    seg: Any, out: str | os.PathLike[str], *, model: bool = True
) -> dict[str, Path]:
    """Write assignments, ``segments.json``, reports, ``plots/*.png`` and ``model/``.

    Parameters
    ----------
    seg : Segmenter
        A fitted segmenter.
    out : path
        Output folder; created if missing. Existing files of the same names are
        replaced atomically; other files are left alone.
    model : bool, default True
        Also save the model into ``model/`` (see :func:`segdiscover.persist.save`).
        A model whose clusterer cannot be stored as arrays (a user estimator with
        its own ``predict``) is skipped with a warning.

    Returns
    -------
    dict of str to Path
        The files written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"--out {str(out)!r} is a file; give a folder."
        raise InputError(msg)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".segdiscover-", dir=out))
    except OSError as exc:
        msg = f"Cannot write to the output folder {str(out)!r}: {exc.strerror or exc}."
        raise InputError(msg) from exc
    try:
        saved = False
        if model:
            _check_target(out / "model")
            # Saved first, inside the temporary folder: if the model cannot be
            # stored, nothing of an earlier run has been replaced yet.
            try:
                save(seg, tmp / "model")
                saved = True
            except ModelFileError as exc:
                warnings.warn(
                    f"The model was not saved: {exc}", SegdiscoverWarning, stacklevel=2
                )
        doc = segments_document(seg)
        images = render_plots(seg)
        (tmp / "plots").mkdir()
        for name, data in images.items():
            (tmp / "plots" / name).write_bytes(data)
        files = {
            "assignments.parquet": lambda p: seg.labels_.write_parquet(p),
            "segments.json": lambda p: p.write_text(
                json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8"
            ),
            "report.html": lambda p: p.write_text(
                render_html(seg, doc, images), encoding="utf-8"
            ),
            "report.md": lambda p: p.write_text(
                render_markdown(seg, doc), encoding="utf-8"
            ),
        }
        for name, write in files.items():
            write(tmp / name)
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        written = {}
        # Charts first: the report that points at them lands last.
        (out / "plots").mkdir(exist_ok=True)
        for name in images:
            os.replace(tmp / "plots" / name, out / "plots" / name)
            written[f"plots/{name}"] = out / "plots" / name
        for name in files:
            os.replace(tmp / name, out / name)
            written[name] = out / name
        if saved:
            _swap_in(tmp / "model", out / "model")
            written["model"] = out / "model"
        return written
    except OSError as exc:
        msg = f"Writing the outputs into {str(out)!r} failed: {exc.strerror or exc}."
        raise InputError(msg) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
