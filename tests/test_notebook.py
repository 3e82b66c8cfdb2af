"""The example notebook runs top to bottom in a real Jupyter kernel.

The kernel is this interpreter (a kernelspec written into a temporary
``JUPYTER_PATH``, so a ``python3`` kernel installed elsewhere on the machine is not
picked up), and the notebook runs in a temporary folder. Besides "no cell raised",
the test checks what a notebook user sees: the figures display, and writing the
report leaves the notebook's matplotlib backend as it was, so the user's own plots
still show.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).parents[1] / "examples" / "notebook.ipynb"
KERNEL = "python3"


def tagged(nb: Any, tag: str) -> Any:
    (cell,) = (c for c in nb.cells if tag in c.get("metadata", {}).get("tags", []))
    return cell


def text_result(cell: Any) -> str:
    (out,) = (o for o in cell.outputs if o.output_type == "execute_result")
    return str(out.data["text/plain"])


def shows_an_image(cell: Any) -> bool:
    return any(
        "image/png" in o.get("data", {})
        for o in cell.outputs
        if o.output_type in ("display_data", "execute_result")
    )


@pytest.fixture
def executed(tmp_path, monkeypatch) -> tuple[Any, float]:
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "segdiscover test kernel",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The kernel picks its own (inline) backend, as for a user, not a test's Agg.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # No bars in the recorded outputs.
    monkeypatch.setenv("SEGDISCOVER_PROGRESS", "0")
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=600,
        resources={"metadata": {"path": str(work)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"a notebook cell raised:\n{exc}")
    return nb, time.perf_counter() - start


def test_notebook_runs_and_leaves_the_backend_alone(executed) -> None:
    nb, seconds = executed
    errors = [
        (i, o.get("ename"), o.get("evalue"))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code")
    before = text_result(tagged(nb, "backend-before"))
    after = text_result(tagged(nb, "backend-after"))
    assert "inline" in before.lower(), before  # the kernel's backend, not Agg
    assert after == before
    assert shows_an_image(tagged(nb, "user-plot"))
    plot_cells = [
        c for c in nb.cells if c.cell_type == "code" and "plots.plot_" in c.source
    ]
    assert len(plot_cells) == 6
    assert all(shows_an_image(c) for c in plot_cells)
    print(f"notebook executed in {seconds:.1f} s")


def test_the_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_walks_through_the_whole_job() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    steps = [
        "sd.datasets.make_customers(",
        ".fit(data.tables, as_of=data.as_of, outcomes=data.outcomes)",
        "seg.profile(",
        "seg.outcome_comparison_",
        "seg.report(",
        "seg.save(",
        "sd.load(",
        "model.assign(",
        ".to_pandas()",
        *(f"plots.plot_{name}(" for name in ("map", "sizes", "selection")),
        *(f"plots.plot_{name}(" for name in ("drivers", "heatmap", "outcomes")),
    ]
    assert [s for s in steps if s not in code] == []
