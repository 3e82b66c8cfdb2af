"""Escaping for Markdown outputs: data-derived text never becomes markup.

Column names and category values come from the user's tables, and ``report.md`` is
read by renderers (GitHub, GitLab, MkDocs, notebook viewers) that pass raw HTML
through. So a ``<`` that could open a tag is written as an entity (``<script>`` and
``<img onerror=...>`` show as text), ``[`` and backslashes are backslash-escaped
(no ``[x](javascript:...)`` link or image), and line breaks become spaces
(a newline would end a table row, a heading or a list item). Inside table cells
``|`` is escaped too. Emphasis characters are left alone: they change nothing but
the look, and ``avg_basket`` stays readable in the plain file.
"""

from __future__ import annotations

import re

_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
# Only "<" before a letter, "/", "!" or "?" can open a tag, comment or autolink in
# CommonMark, so "Jaccard < 0.8" stays as it is.
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_SPECIAL = str.maketrans({"\\": "\\\\", "[": "\\["})


def md_text(text: object) -> str:
    r"""Return ``text`` safe as inline Markdown: no HTML, no links, one line.

    Examples
    --------
    >>> md_text("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)>'
    >>> print(md_text("a\nb [x](javascript:y), Jaccard < 0.8"))
    a b \[x](javascript:y), Jaccard < 0.8
    """
    return _TAG.sub("&lt;", _BREAKS.sub(" ", str(text)).translate(_SPECIAL))


def md_cell(text: object) -> str:
    r"""Return ``text`` safe in a Markdown table cell: :func:`md_text` and ``\|``.

    Examples
    --------
    >>> print(md_cell("DSL | fibre\nor cable"))
    DSL \| fibre or cable
    """
    return md_text(text).replace("|", "\\|")
