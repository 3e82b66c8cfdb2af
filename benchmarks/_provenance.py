"""Where a benchmark result comes from: the commit and the state of ``src/``.

Other people edit ``src/`` while benchmarks run, so every result records the commit
and a short hash of the uncommitted changes to ``src/`` it was measured on.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def provenance() -> dict[str, str]:
    """Commit, and the uncommitted ``src/`` changes (files and a hash of the diff)."""
    diff = _git("diff", "HEAD", "--", "src")
    changed = [
        line[3:] for line in _git("status", "--porcelain", "--", "src").splitlines()
    ]
    return {
        "commit": _git("rev-parse", "--short", "HEAD").strip() or "unknown",
        "src_dirty_files": ", ".join(changed) or "none",
        "src_diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:10] if diff else "-",
    }


def describe(p: dict[str, str]) -> str:
    """One line for a report."""
    dirty = (
        "clean"
        if p["src_dirty_files"] == "none"
        else f"uncommitted src changes in {p['src_dirty_files']} "
        f"(diff sha1 {p['src_diff_sha1']})"
    )
    return f"commit {p['commit']}, src {dirty}"
