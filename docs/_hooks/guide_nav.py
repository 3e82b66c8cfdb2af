"""MkDocs hook: every page of ``docs/guide/`` is in the nav's Guide section.

``mkdocs.yml`` lists the guide pages with their titles; a page added to
``docs/guide/`` later joins the section in file-name order (its title from its first
heading), so adding a guide needs no edit of ``mkdocs.yml`` and never fails the
strict build as a page left out of the nav.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

SECTION = "Guide"


def title(path: Path) -> str:
    """Return the page's first heading, numbered as its file name is."""
    number = path.stem.split("-", 1)[0].lstrip("0")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            text = line[2:].strip()
            if re.match(r"\d+\.", text) or not number.isdigit():
                return text
            return f"{number}. {text}"
    return path.stem


def _page(entry: Any) -> str | None:
    if isinstance(entry, dict) and len(entry) == 1:
        (value,) = entry.values()
        return value if isinstance(value, str) else None
    return entry if isinstance(entry, str) else None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Add the guide pages the nav does not list, then order the section."""
    docs = Path(config.docs_dir)
    sections = [e for e in config.nav or [] if isinstance(e, dict) and SECTION in e]
    if len(sections) != 1 or not isinstance(sections[0][SECTION], list):
        msg = f"mkdocs.yml's nav needs one '{SECTION}' section (a list of pages)."
        raise PluginError(msg)
    entries: list[Any] = sections[0][SECTION]
    listed = {_page(e) for e in entries}
    for path in sorted((docs / "guide").glob("*.md")):
        rel = path.relative_to(docs).as_posix()
        if rel not in listed:
            entries.append({title(path): rel})
    entries.sort(key=lambda e: _page(e) or "")
    return config
