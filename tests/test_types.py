"""The package type-checks clean under the project's mypy configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean() -> None:
    mypy_api = pytest.importorskip(
        "mypy.api", reason="mypy is not installed (uv sync --group dev)"
    )
    # The pyproject config ([tool.mypy]) and the incremental cache at the root
    # (.mypy_cache, git-ignored), whatever folder pytest runs from: a warm run
    # takes a few seconds instead of the cold ~20 s.
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(ROOT / "src" / "segdiscover"),
        ]
    )
    assert status == 0, f"mypy found errors:\n{stdout}{stderr}"
    assert stdout.startswith("Success: no issues found"), stdout
