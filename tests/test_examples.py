"""The numbered examples run as scripts (the docs point at them)."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("0*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, capsys, monkeypatch):
    # 0020 and 0040 read SEGDISCOVER_EXAMPLE_ROWS: here they run on 1,000 customers
    # (all of their code, on a sample), 68 s and 44 s of CPU at full size, 21 s and
    # 24 s so (the Telco sample keeps 3 of its 11 blank TotalCharges).
    monkeypatch.setenv("SEGDISCOVER_EXAMPLE_ROWS", "1000")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()
