"""Crash consistency: a kill after any file-system step leaves old or new, never a mix.

The harness (ALICE, OSDI 2014; SQLite's crash tests) runs the real CLI through
``tests/crash/crash_shim.py``, which counts every mutating file-system call under the
output folders and copies them after each one: the copy after step ``i`` is exactly
what a ``kill -9`` after step ``i`` leaves. For every step of ``discover``,
``discover --runs``, ``assign`` and ``drift`` the checks are:

* the visible outputs (names followed through their links, as any reader opens them)
  are byte for byte the complete earlier outputs or the complete new ones;
* with ``--runs``, a run is recorded only if its outputs were published;
* the next writer removes what the dead one left (no debris stays).

Real kills (SIGKILL, SIGTERM) at chosen steps, a full disk (a tiny tmpfs) and a
read-only file system check the same invariant on a real process.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import duckdb
import numpy as np
import polars as pl
import pytest

import segdiscover as sd
from segdiscover._atomic import STATE, publish, write_file
from segdiscover.cli import main
from segdiscover.report._write import OUTPUT_NAMES

SHIM = Path(__file__).parent / "crash" / "crash_shim.py"
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the shim reads /proc/self/fd"
)


# ------------------------------------------------------------------ helpers
def table(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.arange(n) % 3
    return pl.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "spend": rng.normal(100 + 150 * g, 10),
            "visits": rng.normal(5 + 6 * g, 1),
            "plan": np.array(["basic", "plus", "pro"])[g],
        }
    )


def visible(folder: Path) -> dict[str, str]:
    """Hash of every file a reader sees by name (links followed, generations not)."""
    if folder.is_file():
        return {folder.name: hashlib.sha256(folder.read_bytes()).hexdigest()}
    found = {}
    for root, dirs, files in os.walk(folder, followlinks=True):
        # Hidden names are temporaries and the generations behind the links.
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in (f for f in files if not f.startswith(".")):
            p = Path(root, f)
            if not p.exists():
                found[str(p.relative_to(folder))] = "dangling"
                continue
            found[str(p.relative_to(folder))] = hashlib.sha256(
                p.read_bytes()
            ).hexdigest()
    return found


def debris(folder: Path) -> list[str]:
    """Anything a writer left besides the published names and two generations."""
    left = [
        p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != STATE
    ]
    state = folder / STATE
    if state.is_dir():
        named = {
            os.readlink(state / n)
            for n in ("current", "previous")
            if (state / n).is_symlink()
        }
        left += [
            f"{STATE}/{p.name}"
            for p in state.iterdir()
            if p.name not in ("current", "previous") and p.name not in named
        ]
    return left


def one_run(out: Path) -> int:
    """The number of segments of the one complete run ``out`` shows; fails on a mix."""
    doc = json.loads((out / "segments.json").read_text())
    k = len(doc["segments"])
    labels = pl.read_parquet(out / "assignments.parquet")["segment_id"].n_unique()
    charts = len(list((out / "plots").glob("segment_*_drivers.png")))
    model = sd.load(out / "model")
    assert (labels, model.n_segments_, charts) == (k, k, k), out
    assert "</html>" in (out / "report.html").read_text()
    return k


def shim(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **{f"CRASH_{k.upper()}": v for k, v in env.items()}}
    return subprocess.run(
        [sys.executable, str(SHIM), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def cli(args: list[object]) -> int:
    return main([str(a) for a in args])


def steps(log: Path) -> list[str]:
    return [ln for ln in log.read_text().splitlines() if not ln.startswith("exit")]


def flip_step(log: Path) -> int:
    """The step that publishes: the rename of the ``current`` pointer."""
    lines = steps(log)
    flips = [
        i
        for i, ln in enumerate(lines, 1)
        if ".current.link-" in ln and " replace " in ln
    ]
    assert flips, "no publication step was recorded"
    return flips[-1]


def recover(crashed: Path, managed: tuple[str, ...] = OUTPUT_NAMES) -> None:
    """The next writer: publishing anything into the crash state cleans it."""

    def build(tmp: Path) -> None:
        (tmp / "segments.json").write_text("{}")

    publish(crashed, build, managed=managed)
    assert debris(crashed) == [], debris(crashed)
    assert visible(crashed) == {"segments.json": hashlib.sha256(b"{}").hexdigest()}


def runs_in(store: Path) -> int:
    if not store.exists() or store.stat().st_size == 0:
        return 0
    con = duckdb.connect(str(store), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        con.close()


def check_crash_states(
    snaps: Path, before: dict[str, str], after: dict[str, str], *, kind: str
) -> int:
    """Every crash state shows ``before`` or ``after``; return how many were checked."""
    assert before != after
    states = sorted((p for p in snaps.iterdir()), key=lambda p: int(p.name))
    assert states
    for state in states:
        out = state / "0"
        seen = visible(out) if out.exists() else {}
        assert seen in (before, after), (
            f"{kind}: after step {state.name} the folder mixes two runs or lost a "
            f"file: {sorted(set(seen.items()) ^ set(before.items()))[:4]}"
        )
    print(f"{kind}: {len(states)} crash states, each old or new")  # pytest -s
    return len(states)


# ------------------------------------------------------------------ scenarios
@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    table(240, 0).write_parquet(root / "t1.parquet")
    table(240, 1).write_parquet(root / "t2.parquet")
    return root


def discover_args(root: Path, out: str | Path, k: int, *extra: str) -> list[str]:
    return [
        "discover", "--table", str(root / "t1.parquet"), "--id", "customer_id",
        "--out", str(root / out), "--clusterer", "kmeans", "--k", str(k), *extra,
    ]  # fmt: skip


def test_discover_every_step(work: Path) -> None:
    out = work / "d"
    # Two earlier runs: the new one also removes the oldest generation.
    assert cli(discover_args(work, "d", 2)) == 0
    assert cli(discover_args(work, "d", 2)) == 0
    before = visible(out)
    snaps, log = work / "d-snaps", work / "d.log"
    res = shim(
        discover_args(work, "d", 3),
        work,
        watch=str(out),
        snapshots=str(snaps),
        log=str(log),
    )
    assert res.returncode == 0, res.stderr
    after = visible(out)
    assert "plots/segment_2_drivers.png" in after
    assert "plots/segment_2_drivers.png" not in before
    n = check_crash_states(snaps, before, after, kind="discover")
    assert n == len(steps(log)) >= 40
    assert debris(out) == []
    # The next run cleans up after a kill at any step.
    for state in sorted(snaps.iterdir(), key=lambda p: int(p.name)):
        recover(state / "0")


def test_discover_with_runs_every_step(work: Path) -> None:
    out, store = work / "r", work / "runs.duckdb"
    assert cli([*discover_args(work, "r", 2), "--runs", store]) == 0
    assert cli([*discover_args(work, "r", 2), "--runs", store]) == 0
    before, recorded = visible(out), runs_in(store)
    snaps, log = work / "r-snaps", work / "r.log"
    watch = os.pathsep.join([str(out), str(store)])
    res = shim(
        [*discover_args(work, "r", 3), "--runs", str(store)],
        work,
        watch=watch,
        snapshots=str(snaps),
        log=str(log),
    )
    assert res.returncode == 0, res.stderr
    after = visible(out)
    check_crash_states(snaps, before, after, kind="discover --runs")
    assert runs_in(store) == recorded + 1
    for state in snaps.iterdir():
        copy = next((state / "1").glob("*.duckdb"), None)
        # A run is never recorded for outputs nobody received.
        if copy is not None and runs_in(copy) > recorded:
            assert visible(state / "0") == after, (
                f"run recorded, outputs not (step {state.name})"
            )


def test_real_kills_and_sigterm(work: Path) -> None:
    """Real processes: SIGKILL and SIGTERM just before and just after publishing."""
    out, store = work / "k", work / "k.duckdb"
    assert cli([*discover_args(work, "k", 2), "--runs", store]) == 0
    log = work / "k.log"
    args = [*discover_args(work, "k", 3), "--runs", str(store)]
    res = shim(args, work, watch=str(out), log=str(log))
    assert res.returncode == 0, res.stderr
    assert one_run(out) == 3
    flip = flip_step(log)
    assert cli([*discover_args(work, "k", 2), "--runs", store]) == 0
    old, recorded = visible(out), runs_in(store)
    for at, sig, code in [
        (flip - 1, "KILL", -9),
        (flip, "KILL", -9),
        (flip // 2, "TERM", 143),
        (flip - 1, "TERM", 143),
        (flip // 3, "INT", 130),
    ]:
        res = shim(args, work, watch=str(out), at=str(at), signal=sig)
        assert res.returncode == code, (at, sig, res.returncode, res.stderr)
        if sig in ("TERM", "INT"):
            assert ("terminated" if sig == "TERM" else "interrupted") in res.stderr
            assert "Traceback" not in res.stderr
            assert debris(out) == []  # the process cleaned up on its way out
        seen = visible(out)
        # Old byte for byte, or one complete new run (its ids, aligned to a
        # different history, need not repeat the first k=3 run's bytes).
        assert seen == old or one_run(out) == 3, f"{sig} after step {at}: mixed"
        # A record only for published outputs (a kill between the flip and the
        # commit may publish without recording; never the other way round).
        assert runs_in(store) <= recorded + (seen != old)
        # The next run completes and leaves nothing of the dead one.
        assert cli([*discover_args(work, "k", 2), "--runs", store]) == 0
        assert debris(out) == []
        old, recorded = visible(out), runs_in(store)


@pytest.fixture(scope="module")
def model3(work: Path) -> Iterator[Path]:
    """One k = 3 model of t1 for the assign tests, which only read it."""
    assert cli(discover_args(work, "m", 3)) == 0
    model = work / "m" / "model"
    before = visible(model)
    yield model
    assert visible(model) == before  # no test wrote into the shared model


def test_assign_every_step(work: Path, model3: Path) -> None:
    folder = work / "a"
    folder.mkdir()
    args = [
        "assign",
        "--model",
        str(model3),
        "--out",
        str(folder / "scores.parquet"),
    ]
    assert cli([*args, "--table", work / "t1.parquet"]) == 0
    before = visible(folder)
    snaps, log = work / "a-snaps", work / "a.log"
    res = shim(
        [*args, "--table", str(work / "t2.parquet")],
        work,
        watch=str(folder),
        snapshots=str(snaps),
        log=str(log),
    )
    assert res.returncode == 0, res.stderr
    after = visible(folder)
    check_crash_states(snaps, before, after, kind="assign")
    # A real kill before the rename leaves a temporary; the next assign removes it.
    res = shim(
        [*args, "--table", str(work / "t1.parquet")], work, watch=str(folder), at="1"
    )
    assert res.returncode == -9
    assert visible(folder) == after
    assert cli([*args, "--table", work / "t1.parquet"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["scores.parquet"]


def test_assign_stream_every_step(work: Path, model3: Path) -> None:
    """``assign --stream`` publishes its folder of parts old or new, never a mix."""
    # The parts are built in a temporary folder beside --out: watch the parent.
    parent = work / "sp"
    parent.mkdir()
    out = parent / "parts"
    args = [
        "assign", "--model", str(model3), "--out", str(out),
        "--stream",
    ]  # fmt: skip
    assert cli([*args, "--batch-rows", "100", "--table", work / "t1.parquet"]) == 0
    before = visible(out)
    assert len(before) == 3  # 240 customers in parts of 100
    snaps = work / "s-snaps"
    res = shim(
        [*args, "--batch-rows", "60", "--table", str(work / "t2.parquet")],
        work,
        watch=str(parent),
        snapshots=str(snaps),
    )
    assert res.returncode == 0, res.stderr
    after = visible(out)
    assert len(after) == 4
    states = sorted(snaps.iterdir(), key=lambda p: int(p.name))
    assert len(states) >= 3
    for state in states:
        seen = visible(state / "0" / "parts")
        assert seen in (before, after), f"after step {state.name}: a mix"
    print(f"assign --stream: {len(states)} crash states, each old or new")  # pytest -s
    # A real kill mid-way leaves the old parts; the next run clears the debris.
    res = shim(
        [*args, "--batch-rows", "100", "--table", str(work / "t1.parquet")],
        work,
        watch=str(parent),
        at="1",
    )
    assert res.returncode == -9
    assert visible(out) == after
    assert cli([*args, "--batch-rows", "100", "--table", work / "t1.parquet"]) == 0
    assert visible(out) == before
    assert sorted(p.name for p in parent.iterdir()) == ["parts"]


def test_drift_every_step(work: Path) -> None:
    out, store = work / "dr", work / "drift.duckdb"
    for k in (2, 3, 2):
        assert cli([*discover_args(work, f"dr-{k}", k), "--runs", store]) == 0
    assert (
        cli(
            [
                "drift",
                "--runs",
                store,
                "--previous",
                "1",
                "--current",
                "2",
                "--out",
                out,
            ]
        )
        == 0
    )
    before = visible(out)
    snaps, log = work / "dr-snaps", work / "dr.log"
    res = shim(
        ["drift", "--runs", str(store), "--out", str(out)],
        work,
        watch=str(out),
        snapshots=str(snaps),
        log=str(log),
    )
    assert res.returncode == 0, res.stderr
    after = visible(out)
    check_crash_states(snaps, before, after, kind="drift")
    for state in snaps.iterdir():
        recover(state / "0", ("drift.md", "drift.json", "drift_flows.png"))


# ------------------------------------------------------------------ environment faults
@contextlib.contextmanager
def tmpfs(size: str) -> Path:
    where = Path(f"/tmp/segdiscover-tmpfs-{uuid.uuid4().hex[:8]}")
    where.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
    except OSError:
        done = None
    if done is None or done.returncode != 0:
        where.rmdir()
        pytest.skip("cannot mount a tmpfs here (needs root): disk-full case skipped")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def test_disk_full_and_read_only(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = work / "size-probe"
    assert cli(discover_args(work, probe, 2)) == 0
    size = sum(f.stat().st_size for f in probe.rglob("*") if f.is_file())
    # Room for one run and a half: the second run's generation cannot fit.
    with tmpfs(f"{int(size * 1.5) // 1024 + 16}k") as disk:
        out = disk / "out"
        assert cli(discover_args(work, out, 2)) == 0
        before = visible(out)
        capsys.readouterr()
        code = cli(discover_args(work, out, 3))
        err = capsys.readouterr().err
        assert code == 2, err
        assert "No space left on device" in err
        assert str(out) in err
        assert visible(out) == before
        assert debris(out) == []
        # Read-only: the same refusal, naming the path, nothing changed.
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code = cli(discover_args(work, out, 3))
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Read-only file system" in err
        assert str(out) in err
        assert visible(out) == before
        code = cli(
            [
                "assign",
                "--model",
                out / "model",
                "--table",
                work / "t1.parquet",
                "--out",
                disk / "s.parquet",
            ]
        )
        err = capsys.readouterr().err
        assert code == 2
        assert "Read-only file system" in err
        assert "s.parquet" in err


def test_parquet_writes_on_a_full_disk_exit_2(
    work: Path, model3: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """polars reports a full disk while writing parquet as a ComputeError: every
    parquet writer (assign, assign --stream, discover) still exits 2 naming the path."""
    model = model3
    with tmpfs("400k") as disk:
        base = ["assign", "--model", model, "--table", work / "t1.parquet"]
        assert cli([*base, "--out", disk / "s.parquet"]) == 0
        assert cli([*base, "--out", disk / "parts", "--stream"]) == 0
        before = visible(disk / "parts"), visible(disk / "s.parquet")
        with contextlib.suppress(OSError), (disk / "fill").open("wb") as fh:
            while True:  # fill the disk to the last block
                fh.write(b"\0" * 4096)
                fh.flush()
        capsys.readouterr()
        for out, extra in [
            (disk / "s.parquet", []),
            (disk / "parts", ["--stream"]),
        ]:
            code = cli([*base, "--out", out, *extra])
            err = capsys.readouterr().err
            assert code == 2, err
            assert "No space left on device" in err
            assert str(out) in err
            assert "internal error" not in err
        assert (visible(disk / "parts"), visible(disk / "s.parquet")) == before
        code = cli(discover_args(work, disk / "d", 3))
        err = capsys.readouterr().err
        assert code == 2, err
        assert "No space left on device" in err
        assert sorted(p.name for p in disk.iterdir()) == [
            "d",
            "fill",
            "parts",
            "s.parquet",
        ]


def test_write_file_leaves_old_or_new(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    write_file(target, lambda p: p.write_text("old"))

    def fail(p: Path) -> None:
        p.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(Exception, match="No space left"):
        write_file(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_failed_publication_records_no_run(work: Path) -> None:
    """`discover --runs` whose outputs cannot be written leaves no record behind."""
    out, store = work / "f", work / "f.duckdb"
    assert cli([*discover_args(work, out, 2), "--runs", store]) == 0
    before = visible(out)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with mock.patch("segdiscover._atomic.fsync_tree", side_effect=full):
        assert cli([*discover_args(work, out, 3), "--runs", store]) == 2
    assert runs_in(store) == 1
    assert visible(out) == before
    assert debris(out) == []
    # The retry records exactly one run more, aligned to the run people received.
    assert cli([*discover_args(work, out, 3), "--runs", store]) == 0
    assert runs_in(store) == 2
