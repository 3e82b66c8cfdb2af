"""How fast the CLI answers what needs no work: --help, --version, a usage error.

Each command runs as its own process (what a user or a scheduler pays), several
times; the median is printed next to a bare ``python -c pass`` and a full
``import segdiscover.segmenter`` measured in the same run, so the ratios hold on a
noisy machine. Target: each light command under 0.5 s.

Usage::

    uv run python benchmarks/bench_cli_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _provenance import describe, provenance

CASES = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "segdiscover --version": [sys.executable, "-m", "segdiscover.cli", "--version"],
    "segdiscover --help": [sys.executable, "-m", "segdiscover.cli", "--help"],
    "segdiscover discover --help": [
        sys.executable, "-m", "segdiscover.cli", "discover", "--help",
    ],
    "usage error (discover --k x)": [
        sys.executable, "-m", "segdiscover.cli", "discover", "--k", "x",
    ],
    "import segdiscover.segmenter (full)": [
        sys.executable, "-c", "import segdiscover.segmenter",
    ],
}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeat):  # interleaved: load changes hit every case alike
        for name, cmd in CASES.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False)
            times[name].append(time.perf_counter() - t0)
    floor = statistics.median(times["python -c pass (floor)"])
    print(describe(provenance()))
    print(f"| command | median s (of {args.repeat}) | x floor | target |")
    print("|---|---:|---:|---|")
    ok = True
    for name, ts in times.items():
        med = statistics.median(ts)
        light = name.startswith(("segdiscover", "usage"))
        ok &= not light or med < 0.5
        target = "< 0.5 s" if light else ""
        print(f"| {name} | {med:.3f} | {med / floor:.1f} | {target} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
