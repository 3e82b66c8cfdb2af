"""The docs site builds with ``mkdocs build --strict`` (warnings are errors).

That covers broken links and anchors between pages, pages missing from the nav,
docstrings that mkdocstrings cannot parse as numpydoc, and API pages naming an
object that no longer exists.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "mkdocs.yml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    for module in ("mkdocs", "material", "mkdocstrings"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"{module} is not installed: the docs site needs the 'docs' "
                "dependency group (uv sync --group docs)"
            )
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}  # a banner, not a warning
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(CONFIG),
            "--site-dir",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        pytest.fail(
            f"mkdocs build --strict failed (exit {done.returncode}):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
        )
    return out


def test_every_page_of_the_nav_is_built(site) -> None:
    for page in (
        "index.html",
        "notebook.html",
        "cli.html",
        "how-it-works.html",
        "decisions.html",
        "guide/01-features.html",
        "guide/10-benchmarks.html",
        "api/index.html",
    ):
        assert (site / page).is_file(), page
    assert (site / "notebook.ipynb").is_file()  # offered for download


def test_the_command_line_page_is_the_parsers_help(site) -> None:
    from segdiscover.cli import build_parser

    html = (site / "cli.html").read_text(encoding="utf-8")
    (commands,) = (a for a in build_parser()._actions if a.dest == "command")
    for name in commands.choices:
        assert f"segdiscover {name}" in html
    assert html.count("--verbose") > len(commands.choices)


@pytest.mark.parametrize(
    ("page", "anchor"),
    [
        ("segmenter", "segdiscover.Segmenter.fit"),
        ("segmenter", "segdiscover.Segmenter.profile"),  # from the FittedViews mixin
        ("result", "segdiscover.Segmentation.plot_map"),
        ("persist", "segdiscover.load"),
        ("features", "segdiscover.FeatureSet"),
        ("datasets", "segdiscover.datasets.make_customers"),
        ("plots", "segdiscover.plots.plot_map"),
        ("outcomes", "segdiscover.outcomes.OutcomeComparison"),
        ("runs", "segdiscover.RunStore"),
        ("drift", "segdiscover.drift.DriftReport"),
        ("assign", "segdiscover.assign.assign"),
        ("gates", "segdiscover.gates.check_gates"),
        ("clusterers", "segdiscover.clusterers.ClusterAdapter"),
        ("clusterers", "segdiscover.clusterers.describe"),
        ("report", "segdiscover.report.write_outputs"),
        ("bench", "segdiscover.bench._run.run"),
        ("exceptions", "segdiscover.exceptions.InputError"),
        ("spark", "segdiscover.spark.build_features"),
        ("logging", "segdiscover._log.set_progress"),
    ],
)
def test_the_api_reference_documents_the_public_names(site, page, anchor) -> None:
    html = (site / "api" / f"{page}.html").read_text(encoding="utf-8")
    assert f'id="{anchor}"' in html


def test_the_reference_renders_numpydoc_sections(site) -> None:
    html = (site / "api" / "segmenter.html").read_text(encoding="utf-8")
    # numpydoc "Parameters" parsed into a table, not left as a literal underline.
    assert "n_segments" in html
    assert "----------" not in html


def test_every_public_name_has_a_page(site) -> None:
    import segdiscover

    pages = " ".join(
        p.read_text(encoding="utf-8") for p in (site / "api").glob("*.html")
    )
    # Under the name users import (segdiscover.Segmenter) or where it is defined
    # (segdiscover.result.Segmentation); a module's page has its members' ids.
    missing = [
        name
        for name in segdiscover.__all__
        if name != "__version__"
        and not re.search(rf'id="segdiscover\.(?:\w+\.)*{re.escape(name)}[".]', pages)
    ]
    assert missing == []
