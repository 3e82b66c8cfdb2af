"""The writer module: generations, links, the folder swap and their clean-up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest

import segdiscover as sd
from segdiscover import _atomic
from segdiscover._atomic import STATE, publish, replace_dir
from segdiscover.exceptions import InputError
from segdiscover.report import write_outputs

NAMES = ("a.txt", "b.txt", "sub")


def build(files: dict[str, str]):
    def write(folder: Path) -> None:
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    return write


def dead_pid() -> str:
    """The id of a process that has exited (a killed writer's, for its debris)."""
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return done.stdout.strip()


def view(out: Path) -> dict[str, str]:
    found = {}
    for root, dirs, files in os.walk(out, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith("."):
                p = Path(root, f)
                found[str(p.relative_to(out))] = p.read_text()
    return found


def test_names_the_new_set_lacks_go_and_other_files_stay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")
    publish(out, build({"a.txt": "1", "b.txt": "1", "sub/x": "1"}), managed=NAMES)
    publish(out, build({"a.txt": "2", "sub/y": "2"}), managed=NAMES)
    assert view(out) == {"a.txt": "2", "sub/y": "2", "mine.txt": "the user's"}
    # Only the current and the previous generation are kept.
    publish(out, build({"a.txt": "3"}), managed=NAMES)
    gens = sorted(p.name for p in (out / STATE).iterdir() if p.name.startswith("gen-"))
    assert gens == ["gen-000002", "gen-000003"]
    assert os.readlink(out / STATE / "current") == "gen-000003"
    assert os.readlink(out / STATE / "previous") == "gen-000002"


def test_an_older_layout_is_adopted_without_a_gap(tmp_path: Path) -> None:
    """Real files of a run written before generations existed become links."""
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "a.txt").write_text("old")
    (out / "sub" / "x").write_text("old")
    seen: list[dict[str, str]] = []
    real_set_link = _atomic._set_link

    def watch(link: Path, to: str) -> None:
        real_set_link(link, to)
        seen.append(view(out))  # what a reader sees after every link is swapped in

    with mock.patch.object(_atomic, "_set_link", watch):
        publish(out, build({"a.txt": "new", "sub/x": "new"}), managed=NAMES)
    old, new = {"a.txt": "old", "sub/x": "old"}, {"a.txt": "new", "sub/x": "new"}
    assert all(s in (old, new) for s in seen), seen
    assert view(out) == new
    assert (out / "a.txt").is_symlink()
    assert (out / "sub").is_symlink()


def test_a_failed_build_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(out, build({"a.txt": "1"}), managed=NAMES)

    def broken(folder: Path) -> None:
        (folder / "a.txt").write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        publish(out, broken, managed=NAMES)
    assert view(out) == {"a.txt": "1"}
    assert [p.name for p in (out / STATE).iterdir() if p.name.startswith("tmp-")] == []


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        publish(tmp_path / "out", build({"a.txt": "1"}), managed=NAMES)


def test_concurrent_writers_publish_one_after_the_other(tmp_path: Path) -> None:
    out = tmp_path / "out"
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for _ in range(5):
                publish(out, build({"a.txt": str(i), "b.txt": str(i)}), managed=NAMES)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    v = view(out)
    assert v["a.txt"] == v["b.txt"]  # never one writer's a with another's b


def test_dead_writers_debris_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(out, build({"a.txt": "1"}), managed=NAMES)
    dead = dead_pid()
    (out / STATE / f"tmp-{dead}-abc").mkdir()
    (out / STATE / "gen-000009").mkdir()  # renamed in, never flipped
    os.symlink("gen-000009", out / STATE / f".current.link-{dead}-0a1b2c3d")
    publish(out, build({"a.txt": "2"}), managed=NAMES)
    assert sorted(p.name for p in (out / STATE).iterdir()) == [
        "current", "gen-000001", "gen-000002", "previous"
    ]  # fmt: skip


def test_model_swap_is_atomic_and_an_interrupted_fallback_rolls_back(
    tmp_path: Path,
) -> None:
    data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    seg.fit(data.tables, as_of=data.as_of)
    target = tmp_path / "model"
    seg.save(target)
    seg.save(target)  # the exchange: old or new at every instant
    assert sd.load(target).n_segments_ == 3
    # The manifest of the model in place (its created_at is the second save's: a
    # copy of the first one's read here failed when the saves straddled a second).
    saved = (target / "manifest.json").read_bytes()
    # Where folders cannot be exchanged: a kill between the two renames leaves no
    # model, only ".model.old-<pid>-..."; the next load (or save) renames it back.
    dead = dead_pid()
    os.rename(target, tmp_path / f".model.old-{dead}-0a1b2c3d")
    assert sd.load(target).n_segments_ == 3
    assert (target / "manifest.json").read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_fallback_swap_without_exchange(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "f").write_text("old")
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "f").write_text("new")
    with mock.patch.object(_atomic, "exchange", return_value=False):
        replace_dir(tmp_path / "n", tmp_path / "t")
    assert (tmp_path / "t" / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_write_outputs_rerun_with_fewer_segments_drops_old_charts(
    tmp_path: Path,
) -> None:
    data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    out = tmp_path / "out"
    for k in (3, 2):
        seg = sd.Segmenter(clusterer="kmeans", n_segments=k, random_state=0)
        write_outputs(seg.fit(data.tables, as_of=data.as_of), out)
    charts = sorted(p.name for p in (out / "plots").glob("segment_*"))
    assert charts == ["segment_0_drivers.png", "segment_1_drivers.png"]
    assert sd.load(out / "model").n_segments_ == 2


def test_published_outputs_are_readable_like_any_new_folder(tmp_path: Path) -> None:
    """A generation folder gets the umask's permissions, not mkdtemp's 0700."""
    out = tmp_path / "out"
    publish(out, build({"a.txt": "1", "sub/x": "1"}), managed=NAMES)
    (tmp_path / "plain").mkdir()
    expected = (tmp_path / "plain").stat().st_mode & 0o777
    gen = _atomic.current_generation(out)
    assert gen is not None
    assert gen.stat().st_mode & 0o777 == expected
    assert (out / "sub").stat().st_mode & 0o777 == expected
