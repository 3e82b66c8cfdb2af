"""Small inputs and fitted models shared by the hostile-input corpus.

Everything is built in-process from seeds, at most 300 customers, and cached so the
whole corpus runs in well under a minute.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import segdiscover as sd
from segdiscover.report import write_outputs

_CACHE = Path(tempfile.mkdtemp(prefix="segdiscover-hostile-"))
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def table(n: int = 60, seed: int = 0) -> pl.DataFrame:
    """A customer-level table with two clear groups, a category and a count."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "spend": rng.normal(100 + 200 * group, 10),
            "visits": rng.normal(5 + 10 * group, 1),
            "plan": np.array(["basic", "pro"])[group],
            "seats": rng.integers(1, 20, n),
        }
    )


def raw(n: int = 200) -> sd.datasets.CustomerData:
    """Planted raw tables (customers, orders, tickets)."""
    return _raw(n)


@functools.cache
def _raw(n: int) -> sd.datasets.CustomerData:
    return sd.datasets.make_customers(n_customers=n, n_segments=3, seed=0)


def tables(n: int = 200) -> dict[str, pl.DataFrame]:
    """A fresh dict of the raw tables (the frames themselves are immutable)."""
    return dict(raw(n).tables)


def segmenter(k: int = 2, **kw: Any) -> sd.Segmenter:
    """A small, fast Segmenter."""
    params = {"clusterer": "kmeans", "n_segments": k, "random_state": 0}
    return sd.Segmenter(**{**params, **kw})


@functools.cache
def fitted_table(k: int = 2) -> sd.Segmenter:
    """A Segmenter fitted on :func:`table` (cached; never mutate it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return segmenter(k).fit(table(120))


@functools.cache
def fitted_raw() -> sd.Segmenter:
    """A Segmenter fitted on the raw tables (cached; never mutate it)."""
    d = raw()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return segmenter(3).fit(d.tables, as_of=d.as_of)


@functools.cache
def _saved(which: str) -> Path:
    model = fitted_raw() if which == "raw" else fitted_table()
    return model.save(_CACHE / f"model-{which}")


def saved_model(dest: Path, which: str = "table") -> Path:
    """Copy a saved model into ``dest`` (a fresh folder the case may damage)."""
    shutil.copytree(_saved(which), dest)
    return dest


@functools.cache
def _outputs() -> Path:
    out = _CACHE / "outputs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_outputs(fitted_table(), out)
    return out


def earlier_run(dest: Path) -> Path:
    """Copy a complete earlier run's output folder into ``dest``."""
    shutil.copytree(_outputs(), dest)
    return dest


def rewrite_manifest(folder: Path, edit: Any) -> None:
    """Edit a saved model's manifest and re-sign it, as a tamperer who knows how."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    path.write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    (folder / "checksum").write_text(f"{digest}  manifest.json\n")


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV and return the path."""
    frame.write_csv(path)
    return path
