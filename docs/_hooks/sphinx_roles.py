"""Griffe extension: Sphinx roles in the docstrings become links on the docs site.

The docstrings are numpydoc, written for ``help()`` and Sphinx-style tools, so they
say ``:func:`plot_map``` or ``:class:`~segdiscover.exceptions.InputError```.
mkdocstrings renders Markdown and would print those roles as they are. Each role is
rewritten into an *optional* cross-reference: a link where the target is documented
on the site, plain code otherwise (a NumPy or matplotlib name, a private helper), so
an unknown target never fails the strict build.

A relative target is looked up the way Sphinx does: in the object's class, then its
module, then the package.
"""

from __future__ import annotations

import html
import re
from typing import Any

from griffe import AliasResolutionError, CyclicAliasError, Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def _exists(obj: Object, path: str) -> bool:
    try:
        obj.modules_collection.get_member(path)
    except (
        KeyError,
        ValueError,
        AttributeError,
        AliasResolutionError,
        CyclicAliasError,
    ):
        return False
    return True


def resolve(obj: Object, target: str) -> str:
    """Return the full path a role's target names, seen from ``obj``."""
    target = target.strip().lstrip(".").removesuffix("()")
    scopes = []
    scope: Any = obj
    while scope is not None:
        scopes.append(scope.path)
        scope = scope.parent
    for prefix in [*scopes, ""]:
        path = f"{prefix}.{target}" if prefix else target
        if _exists(obj, path):
            return path
    return target


def rewrite(obj: Object, text: str) -> str:
    """Replace every Sphinx role in ``text`` with an optional autoref."""

    def one(match: re.Match[str]) -> str:
        short, target = match.group(1) == "~", match.group(2)
        shown = target.rsplit(".", 1)[-1] if short else target
        identifier = resolve(obj, target)
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return ROLE.sub(one, text)


class SphinxRoles(Extension):
    """Rewrite Sphinx roles once the object tree is complete."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite the roles in ``obj``'s docstring (aliases share their target's)."""
        if obj.is_alias or obj.docstring is None:
            return
        value = obj.docstring.value
        if ":" in value and "`" in value:
            obj.docstring.value = rewrite(obj, value)
