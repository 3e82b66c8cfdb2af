"""Robustness scorecard: run the hostile-input corpus and print the figures.

Runs every case of ``tests/hostile/hostile_corpus.py`` through the same driver as
the test suite (``tests/hostile/test_corpus.py``), outside pytest, and prints:
cases tried, clear errors, warnings, documented handling, raw tracebacks, input
mutations, torn files, earlier outputs lost, non-finite outputs and tampered model
files refused, then the cases per category. The figures that must be 0 are marked.

Usage::

    uv run python benchmarks/scorecard.py              # table
    uv run python benchmarks/scorecard.py --markdown   # for RESULTS.md and docs
    uv run python benchmarks/scorecard.py --verbose    # one line per case

Exit code 1 when any case breaks a rule, so CI can run it too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "hostile"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _provenance import describe, provenance  # noqa: E402
from hostile_corpus import CASES  # noqa: E402
from hostile_driver import Result, run_case  # noqa: E402


def figures(results: list[Result]) -> list[tuple[str, int, str]]:
    """(figure, value, target) rows of the scorecard."""
    good = [r for r in results if not r.violations]
    return [
        ("cases tried", len(results), ">= 40"),
        ("clear errors (segdiscover error / CLI exit 2-3)", len(
            [r for r in good if r.outcome in ("error", "exit")]), ""),
        ("warnings (call succeeds, user told)", len(
            [r for r in good if r.outcome == "warning"]), ""),
        ("documented handling (call succeeds)", len(
            [r for r in good if r.outcome == "ok"]), ""),
        ("tampered or damaged model files refused", len(
            [r for r in results if r.tampered_refused]), ""),
        ("raw tracebacks", sum(r.raw_traceback for r in results), "0"),
        ("input mutations", sum(r.mutated for r in results), "0"),
        ("torn files", sum(r.torn for r in results), "0"),
        ("earlier outputs lost", sum(r.lost for r in results), "0"),
        ("NaN/inf in outputs", sum(r.non_finite for r in results), "0"),
        ("cases breaking any rule", len(results) - len(good), "0"),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--verbose", action="store_true", help="one line per case")
    args = p.parse_args(argv)
    results = []
    started = time.perf_counter()
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run_case(case, Path(tmp)))
        r = results[-1]
        if args.verbose or r.violations:
            status = "BROKEN " + "; ".join(r.violations) if r.violations else r.outcome
            print(f"{case.category:<22} {case.id:<34} {status}", file=sys.stderr)
    seconds = time.perf_counter() - started
    rows = figures(results)
    cats = Counter(c.category for c in CASES)
    if args.markdown:
        print("| Figure | Value | Target |\n|---|---:|---|")
        for name, value, target in rows:
            print(f"| {name} | {value} | {target} |")
        print("\n| Category | Cases |\n|---|---:|")
        for cat, n in cats.items():
            print(f"| {cat} | {n} |")
    else:
        for name, value, target in rows:
            mark = "" if not target else f"  (target {target})"
            print(f"{name:<50} {value:>4}{mark}")
        print()
        for cat, n in cats.items():
            print(f"  {cat:<48} {n:>4}")
    print(f"\n{len(results)} cases in {seconds:.1f} s; {describe(provenance())}.")
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
