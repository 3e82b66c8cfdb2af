"""MkDocs hook: the command-line reference, generated from the argument parser.

The page ``cli.md`` holds ``segdiscover --help`` and each subcommand's ``--help``
as the parser prints them, so the site never documents an option that is gone.
Building the parser imports nothing heavy (``tests/test_cli_fast.py``).
"""

from __future__ import annotations

import argparse
import os

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

INTRO = """\
# Command line

Generated from the parser (`segdiscover COMMAND --help` prints the same). Every
command takes `-q/--quiet` (warnings and errors only) and `-v/--verbose` (each
stage and its wall time on stderr; `-vv` for debug detail). Exit codes: `0` done,
`2` bad input or usage, `3` a quality gate failed, `1` an internal error.
[Guide 5](guide/05-outputs-cli.md) explains the outputs and the options.
"""


def _help(parser: argparse.ArgumentParser) -> str:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "90"  # argparse wraps to the terminal's width
    try:
        return parser.format_help().rstrip()
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def render() -> str:
    """Return the page: the main help, then one section per subcommand."""
    from segdiscover.cli import build_parser

    parser = build_parser()
    (commands,) = (
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    parts = [INTRO, "## segdiscover", f"```text\n{_help(parser)}\n```"]
    for name, sub in commands.choices.items():
        parts += [f"## segdiscover {name}", f"```text\n{_help(sub)}\n```"]
    return "\n\n".join(parts) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated ``cli.md``."""
    files.append(File.generated(config, "cli.md", content=render()))
    return files
