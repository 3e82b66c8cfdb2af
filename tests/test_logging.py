"""Logging and progress bars: silent by default, on stderr only, --quiet/--verbose."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from segdiscover import _log
from segdiscover._log import (
    cli_logging,
    get_logger,
    progress,
    progress_enabled,
    set_progress,
    stage,
)
from segdiscover.cli import build_parser, main


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def automatic_progress(monkeypatch):
    monkeypatch.delenv(_log.PROGRESS_ENV, raising=False)
    set_progress(None)
    yield
    set_progress(None)


def test_importing_configures_no_handler_outside_the_package() -> None:
    code = (
        "import logging, segdiscover, segdiscover._log, segdiscover.cli\n"
        "pkg = logging.getLogger('segdiscover')\n"
        "print(len(logging.root.handlers), [type(h).__name__ for h in pkg.handlers],"
        " logging.root.level)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["0", "['NullHandler']", str(logging.WARNING)]
    assert done.stderr == ""


def test_get_logger_places_names_under_the_package() -> None:
    assert get_logger().name == "segdiscover"
    assert get_logger("segdiscover.selection").parent is logging.getLogger(
        "segdiscover"
    )
    assert get_logger("segdiscoverish").name == "segdiscover.segdiscoverish"


def test_stage_logs_its_wall_time_at_info(caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="segdiscover"), stage("sweep") as s:
        pass
    assert s.seconds is not None
    assert s.seconds >= 0
    started, done = caplog.records
    assert (started.levelno, started.getMessage()) == (logging.DEBUG, "sweep: started")
    assert done.levelno == logging.INFO
    assert done.getMessage() == f"sweep: {s.seconds:.2f} s"
    assert (done.stage, done.seconds) == ("sweep", s.seconds)


def test_stage_logs_a_failure_and_reraises(caplog) -> None:
    log = get_logger("segdiscover.test")
    with (
        caplog.at_level(logging.INFO, logger="segdiscover"),
        pytest.raises(KeyError, match="boom"),
        stage("refit", log),
    ):
        raise KeyError("boom")  # noqa: EM101
    (record,) = caplog.records
    assert record.name == "segdiscover.test"
    assert record.getMessage().startswith("refit: failed after ")


def test_stage_is_silent_at_the_default_level(capsys) -> None:
    with stage("quiet step"):
        pass
    assert capsys.readouterr() == ("", "")


def test_progress_is_a_no_op_off_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    items = [1, 2, 3]
    assert not progress_enabled()
    assert progress(items, desc="x") is items


def test_progress_shows_a_bar_on_a_terminal_and_never_on_stdout(
    monkeypatch, capsys
) -> None:
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    bar = progress(iter(range(5)), total=5, desc="refits", unit="fit")
    assert bar is not None
    assert list(bar) == [0, 1, 2, 3, 4]
    assert "refits" in tty.getvalue()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ("0", True, False),
        ("off", True, False),
        ("1", False, True),
        ("true", False, True),
        ("", True, True),
        ("", False, False),
    ],
)
def test_the_environment_variable_decides(monkeypatch, env, tty, expected) -> None:
    monkeypatch.setenv(_log.PROGRESS_ENV, env)
    monkeypatch.setattr(sys, "stderr", FakeTTY() if tty else io.StringIO())
    assert progress_enabled() is expected
    items = ["a"]
    assert (progress(items) is items) is not expected


def test_set_progress_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(_log.PROGRESS_ENV, "1")
    set_progress(False)
    assert not progress_enabled()
    monkeypatch.setenv(_log.PROGRESS_ENV, "0")
    set_progress(True)
    assert progress_enabled()
    set_progress(None)
    assert not progress_enabled()


def test_a_misspelt_environment_variable_is_named(monkeypatch, caplog) -> None:
    monkeypatch.setenv(_log.PROGRESS_ENV, "maybe")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with caplog.at_level(logging.WARNING, logger="segdiscover"):
        assert not progress_enabled()
    assert "SEGDISCOVER_PROGRESS='maybe'" in caplog.text


def test_set_progress_refuses_a_non_bool() -> None:
    with pytest.raises(TypeError, match="Got 'yes' instead"):
        set_progress("yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verbosity", "shown", "hidden"),
    [
        (-1, ["segdiscover: warning: w"], ["s: ", "d"]),
        (0, ["segdiscover: warning: w"], ["s: ", "d"]),
        (1, ["segdiscover: s: ", "segdiscover: warning: w"], ["d"]),
        (2, ["INFO segdiscover: s: ", "DEBUG segdiscover.x: d", "WARNING"], []),
    ],
)
def test_cli_logging_levels(monkeypatch, verbosity, shown, hidden) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    pkg = logging.getLogger("segdiscover")
    before = list(pkg.handlers)
    with cli_logging(verbosity):
        with stage("s"):
            pass
        get_logger("segdiscover.x").debug("d")
        pkg.warning("w")
        assert not progress_enabled()  # stderr is not a terminal here
    text = err.getvalue()
    for needle in shown:
        assert needle in text, text
    for needle in hidden:
        assert all(not line.endswith(needle) for line in text.splitlines()), text
    assert pkg.handlers == before  # undone: no handler piles up across commands


def test_quiet_turns_the_bars_off_then_restores_them(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    assert progress_enabled()
    with cli_logging(-1):
        assert not progress_enabled()
    assert progress_enabled()


def subcommands() -> list[str]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_takes_quiet_and_verbose(command) -> None:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if a.dest == "command")
    options = sub.choices[command]._option_string_actions
    quiet, verbose = options["--quiet"], options["--verbose"]
    assert options["-q"] is quiet
    assert options["-v"] is verbose
    (group,) = (
        g
        for g in sub.choices[command]._mutually_exclusive_groups
        if quiet in g._group_actions
    )
    assert verbose in group._group_actions


@pytest.mark.parametrize(
    ("flags", "quiet", "verbose"),
    [
        ([], None, None),
        (["-q"], True, None),
        (["--verbose"], None, 1),
        (["-vv"], None, 2),
    ],
)
def test_verbosity_flags_parse(flags, quiet, verbose) -> None:
    args = build_parser().parse_args(["drift", "--runs", "r.duckdb", *flags])
    assert getattr(args, "quiet", None) == quiet
    assert getattr(args, "verbose", None) == verbose


def test_verbosity_before_the_subcommand_is_kept() -> None:
    args = build_parser().parse_args(["-v", "drift", "--runs", "r.duckdb"])
    assert args.verbose == 1


def test_quiet_and_verbose_together_are_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["drift", "--runs", "r.duckdb", "-q", "-v"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(3)
    n = 240
    g = rng.integers(0, 3, n)
    path = tmp_path / "customers.csv"
    pl.DataFrame(
        {
            "cust": np.arange(n),
            "revenue": np.where(g == 0, 5000.0, 300.0) * rng.lognormal(0, 0.2, n),
            "tickets": np.where(g == 1, 12, 1) + rng.poisson(1, n),
        }
    ).write_csv(path)
    return path


def discover(table, out, *flags: str) -> list[str]:
    return [
        "discover",
        "--table",
        str(table),
        "--id",
        "cust",
        "--k",
        "3",
        "--out",
        str(out),
        *flags,
    ]


def test_verbose_json_run_logs_stages_on_stderr_and_one_line_on_stdout(
    table, tmp_path, capsys
) -> None:
    assert main(discover(table, tmp_path / "o", "--json", "-v")) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert json.loads(line)["status"] == "ok"
    for name in ("read the input", "fit", "write the outputs"):
        assert f"segdiscover: discover: {name}: " in err, err
    assert "Surrogate fidelity" in err  # the text moved to stderr
    handlers = logging.getLogger("segdiscover").handlers
    assert [type(h).__name__ for h in handlers] == ["NullHandler"]  # undone after


def test_quiet_run_prints_nothing_but_keeps_the_json_line(
    table, tmp_path, capsys
) -> None:
    assert main(discover(table, tmp_path / "o", "-q")) == 0
    assert capsys.readouterr() == ("", "")
    assert main(discover(table, tmp_path / "p", "-q", "--json")) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["n_segments"] == 3
    assert err == ""
    assert (tmp_path / "p" / "segments.json").is_file()


def test_quiet_still_reports_an_error(tmp_path, capsys) -> None:
    pl.DataFrame({"cust": [1]}).write_csv(tmp_path / "one.csv")
    code = main(discover(tmp_path / "one.csv", tmp_path / "o", "-q", "--id", "ghost"))
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "ghost" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("widgets", [True, False])
def test_the_bar_is_a_widget_only_where_ipywidgets_can_draw_it(
    monkeypatch, widgets
) -> None:
    import importlib.util

    import tqdm.auto
    import tqdm.std

    real = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "ipywidgets":
            return real("json") if widgets else None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert _log._tqdm_class() is (tqdm.auto.tqdm if widgets else tqdm.std.tqdm)


def test_a_record_during_a_bar_goes_through_tqdm_write(monkeypatch) -> None:
    import tqdm.std

    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setattr(_log, "_tqdm_class", lambda: tqdm.std.tqdm)
    written = []
    real_write = tqdm.std.tqdm.write

    def write(s, file=None, **kw):
        written.append(s)
        real_write(s, file=file, **kw)

    monkeypatch.setattr(tqdm.std.tqdm, "write", write)
    with cli_logging(1):
        for i in progress(range(2), desc="loop"):
            get_logger("segdiscover.x").info("inside %d", i)
        get_logger("segdiscover.x").info("after")
    assert written == ["segdiscover: inside 0", "segdiscover: inside 1"]
    assert "segdiscover: after\n" in tty.getvalue()


def test_a_fit_logs_its_stages_with_their_wall_time(caplog):
    import segdiscover as sd

    data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    with caplog.at_level(logging.INFO, logger="segdiscover"):
        sd.Segmenter(
            clusterer="kmeans", n_segments=3, random_state=0, stability_refits=0
        ).fit(data.tables, as_of=data.as_of)
    stages = [
        r.getMessage() for r in caplog.records if r.name.startswith("segdiscover")
    ]
    for name in (
        "fit: read and check the input",
        "fit: preprocess",
        "fit: find the segments",
        "fit: explain, stability and outcomes",
    ):
        assert any(m.startswith(name) for m in stages), (name, stages)


def test_the_outcome_models_show_a_bar_per_outcome_on_a_terminal(monkeypatch) -> None:
    import numpy as np

    from segdiscover.guide import OutcomeGuide, holdout_mask

    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    Y = (X[:, :1] > 0).astype(float)
    build = ~holdout_mask(300, rng, 0.3)
    OutcomeGuide(n_folds=3, n_estimators=20, random_state=0).fit(
        X, [], Y, ["churned"], [0.03], ["a", "b"], build=build
    )
    assert "outcome model churned" in tty.getvalue()
    assert "fold" in tty.getvalue()


def test_streaming_assign_shows_a_bar_over_its_batches(monkeypatch, tmp_path) -> None:
    import segdiscover as sd
    from segdiscover._stream import stream_assign

    data = sd.datasets.make_customers(n_customers=300, n_segments=3, seed=0)
    seg = sd.Segmenter(clusterer="kmeans", n_segments=3, random_state=0)
    seg = seg.fit(data.tables, as_of=data.as_of)
    seg.features_.write_parquet(tmp_path / "f.parquet")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    res = stream_assign(seg, tmp_path / "f.parquet", tmp_path / "out", batch_rows=100)
    assert res.parts == 3
    assert "assign" in tty.getvalue()
    assert "/3 " in tty.getvalue()  # its total: three batches


def test_the_final_stability_refits_show_a_bar_on_a_terminal(monkeypatch) -> None:
    import numpy as np

    import segdiscover as sd

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    sd.Segmenter(
        clusterer="kmeans", n_segments=2, random_state=0, stability_refits=3
    ).fit(X)
    assert "stability refits" in tty.getvalue()
    assert "/3 " in tty.getvalue()  # its total: the refits (tqdm may skip 1/3, 2/3)
