"""Every module of the package imports on its own, without a statement-order cycle.

Each module is imported in a fresh interpreter with every ``segdiscover`` module
removed from ``sys.modules`` before it (third-party modules stay loaded, which keeps
the run short). An import hook records each ``from M import name`` that reads a
*name* (not a submodule) from a module M that is still executing its body: such an
import works only because M happens to define ``name`` above the import that led
back into it, and breaks as soon as someone reorders M's lines. CPython marks a
module that is executing with ``__spec__._initializing`` (the flag behind its own
"partially initialized module" error), which is what the hook reads.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

PACKAGE = "segdiscover"

# Runs in a fresh interpreter: argv[1] is the package, stdin a JSON list of modules;
# prints one JSON object, module -> {"error": str | None, "partial": [...]}.
CHECKER = textwrap.dedent(
    """
    import builtins, importlib, importlib.util, json, sys, types

    package = sys.argv[1]
    modules = json.load(sys.stdin)
    real_import = builtins.__import__
    partial = []

    def ours(name):
        return name == package or name.startswith(package + ".")

    def hook(name, globals=None, locals=None, fromlist=(), level=0):
        module = real_import(name, globals, locals, fromlist, level)
        if not fromlist:
            return module
        if level:
            name = importlib.util.resolve_name(
                "." * level + name, (globals or {}).get("__package__")
            )
        spec = getattr(module, "__spec__", None)
        if ours(name) and spec is not None and getattr(spec, "_initializing", False):
            importer = (globals or {}).get("__name__", "?")
            for attr in fromlist:
                value = getattr(module, attr, None)
                if attr != "*" and not isinstance(value, types.ModuleType):
                    partial.append([importer, name, attr])
        return module

    builtins.__import__ = hook
    out = {}
    for mod in modules:
        for loaded in [m for m in sys.modules if ours(m)]:
            del sys.modules[loaded]
        partial.clear()
        try:
            importlib.import_module(mod)
            error = None
        except BaseException as exc:  # a failed import is the finding
            error = f"{type(exc).__name__}: {exc}"
        out[mod] = {"error": error, "partial": list(partial)}
    print(json.dumps(out))
    """
)


def package_modules(root: Path, package: str) -> list[str]:
    """Dotted names of every module under ``root`` (the package's folder)."""
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def check_imports(
    package: str, modules: list[str], path: Path | None = None
) -> dict[str, Any]:
    """Run :data:`CHECKER` on ``modules`` of ``package`` (found on ``path``)."""
    env = None
    if path is not None:
        env = {"PYTHONPATH": str(path), "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", CHECKER, package],
        input=json.dumps(modules),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _package_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds the folder without importing
    assert spec is not None
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


MODULES = package_modules(_package_root(PACKAGE), PACKAGE)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return check_imports(PACKAGE, MODULES)


def test_every_module_is_listed():
    assert PACKAGE in MODULES
    assert f"{PACKAGE}.persist" in MODULES
    assert f"{PACKAGE}.features._set" in MODULES
    assert len(MODULES) == len(set(MODULES)) > 20


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_on_its_own(results, module):
    found = results[module]
    assert found["error"] is None, found["error"]
    reads = [f"{imp} reads {name!r} from {tgt}" for imp, tgt, name in found["partial"]]
    assert not reads, (
        "imports that work only by statement order (a name read from a module "
        f"still being executed): {reads}"
    )


def plant(root: Path, name: str, init: str, a: str) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(init)
    (pkg / "a.py").write_text(a)


def test_checker_catches_a_cycle_that_works_by_statement_order(tmp_path):
    # The shape of the cycle this test was written for: the package defines a name,
    # then imports a module that imports the name back from the package.
    plant(
        tmp_path,
        "lucky",
        "VALUE = 1\nfrom lucky import a\n",
        "from lucky import VALUE\n",
    )
    # The same two modules with the package's lines swapped: the import fails.
    plant(
        tmp_path,
        "unlucky",
        "from unlucky import a\nVALUE = 1\n",
        "from unlucky import VALUE\n",
    )
    lucky = check_imports("lucky", ["lucky", "lucky.a"], tmp_path)
    for mod in ("lucky", "lucky.a"):
        assert lucky[mod]["error"] is None
        assert lucky[mod]["partial"] == [["lucky.a", "lucky", "VALUE"]]
    unlucky = check_imports("unlucky", ["unlucky"], tmp_path)
    assert "ImportError" in unlucky["unlucky"]["error"]


def test_checker_accepts_submodule_imports_during_init(tmp_path):
    # A package importing its own submodules (``from pkg import sub``) while it
    # initialises is ordinary and order-safe.
    plant(
        tmp_path,
        "plain",
        "from plain import a\nfrom plain.a import f\n",
        "def f(): ...\n",
    )
    plain = check_imports("plain", ["plain", "plain.a"], tmp_path)
    assert plain == {
        "plain": {"error": None, "partial": []},
        "plain.a": {"error": None, "partial": []},
    }
