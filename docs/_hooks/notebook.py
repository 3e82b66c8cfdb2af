"""MkDocs hook: the example notebook as a page of the site, with no plug-in.

``examples/notebook.ipynb`` is kept without outputs (the test suite executes it), so
the page shows its Markdown and its code; the notebook itself is shipped beside the
page for download.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"

HEADER = """\
!!! tip "Run it yourself"
    [Download the notebook](notebook.ipynb) or, from a clone of the repository,
    open it with `uv run --with jupyter jupyter lab examples/notebook.ipynb`.
    It runs in well under a minute on a laptop; the test suite executes it.

"""


def render(notebook: dict[str, Any]) -> str:
    """Return the notebook's cells as Markdown: text as it is, code fenced."""
    parts = []
    for i, cell in enumerate(notebook.get("cells", [])):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            parts.append(source)
        elif cell.get("cell_type") == "code" and source.strip():
            parts.append(f"```python\n{source.rstrip()}\n```")
        if i == 0:  # after the title
            parts.append(HEADER)
    return "\n\n".join(parts) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add ``notebook.md`` (rendered) and ``notebook.ipynb`` (as it is)."""
    try:
        notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"Cannot read the example notebook {NOTEBOOK}: {exc}"
        raise PluginError(msg) from exc
    files.append(File.generated(config, "notebook.md", content=render(notebook)))
    files.append(File.generated(config, "notebook.ipynb", abs_src_path=str(NOTEBOOK)))
    return files
