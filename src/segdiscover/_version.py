"""The package version, in a module of its own.

Modules that record the version (saved models, the run store, the CLI) import it
from here, not from ``segdiscover``: the package's ``__init__`` imports those
modules, so reading a name back from it only worked while ``__version__`` stayed
above the imports (see ``tests/test_imports.py``).
"""

__version__ = "0.1.0"
