"""The CLI answers --help, --version and usage errors before any heavy import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from segdiscover.cli import CLUSTERER_NAMES, build_parser
from segdiscover.clusterers import CLUSTERERS

HEAVY = ("polars", "numpy", "sklearn", "shap", "lightgbm", "matplotlib", "duckdb")


def test_parser_names_every_registered_clusterer() -> None:
    assert tuple(CLUSTERERS) == CLUSTERER_NAMES
    build_parser()  # builds without the registry


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["discover", "--k", "x"],
        ["nonsense"],
        ["assign", "-h"],
        ["-v", "--version"],
        ["discover", "-q", "--help"],
        ["drift", "-q", "-v"],
    ],
)
def test_light_paths_import_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from segdiscover.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert "HEAVY=\n" in done.stdout, done.stdout[-300:]


def test_bench_is_a_command_of_the_cli() -> None:
    args = build_parser().parse_args(["bench", "--suite", "quick", "--out", "b"])
    assert args.func.__name__ == "cmd_bench"
