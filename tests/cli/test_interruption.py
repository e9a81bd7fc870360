"""Ctrl-C (SIGINT) and SIGTERM: a run stops promptly, leaves no partial file and the previous results untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from revsim.interruption import (STOP, Interrupted, check_stop, deferred_interruption, stop_checkpoint,
                                 stop_on_signals)
from revsim.results import output_dir
from revsim.results.output_dir import write_files

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Fifty years of monthly cohorts: a few thousand draws take several seconds.
LONG_SCENARIO = """\
name: Long
start: 2027-01
horizon_months: 600
channels:
  - {name: inbound, volume: [80, 120]}
funnel:
  stages:
    - {name: lead, conversion: [0.2, 0.3], months: 0.5}
    - {name: won}
pricing: {acv: [9000, 13000]}
retention: {churn: 0.02}
expansion: {rate: 0.02, size: 0.1}
initial_book:
  - {customers: 50, arr: 500k}
"""


def _revsim(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "revsim.cli.main", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _cpu_seconds(pid: int) -> float | None:
    """CPU time used by a process so far (Linux), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_simulating(proc: subprocess.Popen[str]) -> None:
    """Wait until the run is into its draws: it has used 5 s of CPU (starting takes about 3), or 10 s passed."""
    started = time.monotonic()
    while time.monotonic() - started < 10.0:
        assert proc.poll() is None, proc.communicate()
        cpu = _cpu_seconds(proc.pid)
        if cpu is not None and cpu >= 5.0:
            return
        time.sleep(0.05)


def _assert_stops_cleanly(proc: subprocess.Popen[str], signum: int, code: int, name: str) -> None:
    """Send ``signum`` to a run: it stops within 10 s with exit code ``code``, one line saying nothing was written."""
    proc.send_signal(signum)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    stopped_after = time.monotonic() - sent
    assert proc.returncode == code, stderr
    assert f"interrupted by {name}: nothing was written" in stderr
    assert "Traceback" not in stderr
    assert stopped_after < 10, f"took {stopped_after:.1f} s to stop"


@pytest.fixture(scope="module")
def long_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.yaml"
    path.write_text(LONG_SCENARIO, encoding="utf-8")
    return path


@pytest.mark.parametrize(("signum", "code", "name"), [
    pytest.param(signal.SIGINT, 130, "SIGINT", id="sigint"),
    pytest.param(signal.SIGTERM, 143, "SIGTERM", id="sigterm"),
    pytest.param(signal.SIGHUP, 129, "SIGHUP", id="sighup"),
])
def test_a_signal_during_a_run_leaves_the_previous_results_untouched(
        long_scenario: Path, base_scenario: Path, tmp_path: Path, signum: int, code: int, name: str) -> None:
    from click.testing import CliRunner

    from revsim.cli.main import cli

    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "3", "--out", str(out), "--quiet"])
    assert first.exit_code == 0, first.output
    previous = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(previous) == ["results.nc", "summary.csv"]

    proc = _revsim("run", str(long_scenario), "--draws", "2000", "--threads", "2", "--out", str(out), "--force",
                   cwd=tmp_path)
    _wait_until_simulating(proc)
    _assert_stops_cleanly(proc, signum, code, name)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == previous, "the previous results changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "out"], "a file was left behind"


def test_an_interrupted_first_run_creates_no_output_directory(long_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _revsim("run", str(long_scenario), "--draws", "2000", "--threads", "2", "--out", str(out), cwd=tmp_path)
    _wait_until_simulating(proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- in process


def _previous(out: Path) -> dict[str, bytes]:
    out.mkdir()
    files = {"results.nc": b"earlier results", "summary.csv": b"month,metric\n"}
    for name, content in files.items():
        (out / name).write_bytes(content)
    return files


def test_an_interruption_while_writing_removes_the_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    previous = _previous(out)

    def interrupted(path: Path) -> None:
        path.write_bytes(b"half a file")
        raise Interrupted(signal.SIGINT)

    with pytest.raises(Interrupted):
        write_files(out, {"results.nc": lambda path: path.write_bytes(b"new"), "summary.csv": interrupted})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == previous


def test_an_interruption_while_writing_a_new_directory_removes_it(tmp_path: Path) -> None:
    out = tmp_path / "new"

    def interrupted(path: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_files(out, {"results.nc": lambda path: path.write_bytes(b"new"), "summary.csv": interrupted})
    assert not out.exists()


def test_a_signal_during_the_renames_takes_effect_once_all_files_are_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    _previous(out)
    real_replace = os.replace
    calls = []

    def replace_then_signal(source: str, target: str) -> None:
        real_replace(source, target)
        calls.append(target)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output_dir.os, "replace", replace_then_signal)
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        write_files(out, {"results.nc": lambda path: path.write_bytes(b"new results"),
                          "summary.csv": lambda path: path.write_bytes(b"new summary")})
    assert caught.value.detail == "stopped after the results were written"
    assert (out / "results.nc").read_bytes() == b"new results"
    assert (out / "summary.csv").read_bytes() == b"new summary"
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]


def test_signals_become_interrupted_with_their_exit_codes() -> None:
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        signal.raise_signal(signal.SIGTERM)
        time.sleep(1)  # pragma: no cover - the handler raises before
    assert caught.value.exit_code == 143
    assert caught.value.signal_name == "SIGTERM"
    assert isinstance(caught.value, KeyboardInterrupt)
    assert not STOP.is_set(), "a later run in the same process would stop at once"
    check_stop()
    assert signal.getsignal(signal.SIGINT) == before, "the handler the process had is restored"


def test_a_second_signal_does_not_cut_the_clean_up_short() -> None:
    cleaned = []
    with pytest.raises(Interrupted), stop_on_signals():
        try:
            signal.raise_signal(signal.SIGINT)
        finally:
            signal.raise_signal(signal.SIGINT)  # absorbed: the clean-up below still runs
            cleaned.append(True)
    assert cleaned == [True]


def test_deferred_interruption_without_a_signal_changes_nothing() -> None:
    with stop_on_signals(), deferred_interruption():
        pass
    assert not STOP.is_set()


def test_workers_stop_between_draws_once_asked(base_scenario: Path) -> None:
    from revsim.engine.compile import compile_scenario
    from revsim.engine.run import run_draws
    from revsim.scenario.load import load_scenario

    compiled = compile_scenario(load_scenario(base_scenario))
    finished = []
    with stop_on_signals():
        STOP.set()
        with pytest.raises(Interrupted):
            run_draws(compiled, 0, 0, 50, threads=2, progress=finished.append)
    assert finished == []
    assert len(run_draws(compiled, 0, 0, 5, threads=2).params) == 5  # the next run is not stopped


def test_an_interrupted_command_exits_with_130_and_says_so(base_scenario: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from revsim import pipeline
    from revsim.cli.main import cli

    def interrupted(*args: object, **kwargs: object) -> None:
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(pipeline, "run_draws", interrupted)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    assert result.exit_code == 130, result.output
    assert "interrupted by SIGINT: nothing was written" in result.stderr
    assert not out.exists()


def test_sighup_stops_like_sigterm_unless_the_command_was_started_with_nohup() -> None:
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        signal.raise_signal(signal.SIGHUP)
        time.sleep(1)  # pragma: no cover - the handler raises before
    assert caught.value.exit_code == 129 and caught.value.signal_name == "SIGHUP"
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
    try:
        with stop_on_signals():
            signal.raise_signal(signal.SIGHUP)  # ignored: the terminal closing does not stop it
            assert not STOP.is_set()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_phase_that_swallows_an_interruption_raises_it_when_it_ends() -> None:
    """What a sampler does: it catches KeyboardInterrupt and returns what it has, or fails on it."""
    def returns_early() -> str:
        try:
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)  # pragma: no cover
        except KeyboardInterrupt:
            return "a third of the draws"
        return "every draw"  # pragma: no cover

    kept = []
    with pytest.raises(Interrupted) as caught, stop_on_signals(), stop_checkpoint():
        kept.append(returns_early())
    assert kept == ["a third of the draws"] and caught.value.exit_code == 143

    def fails_on_the_half_made_trace() -> None:
        try:
            signal.raise_signal(signal.SIGTERM)
            time.sleep(1)  # pragma: no cover
        except KeyboardInterrupt:
            raise ValueError("cannot stack chains of different lengths") from None

    with pytest.raises(Interrupted), stop_on_signals(), stop_checkpoint():
        fails_on_the_half_made_trace()
    with pytest.raises(ValueError), stop_on_signals(), stop_checkpoint():  # no signal: the error is the error
        raise ValueError("a real failure")
    with stop_on_signals(), stop_checkpoint():
        pass


def test_a_trace_shorter_than_asked_is_never_taken_for_a_posterior() -> None:
    from types import SimpleNamespace

    from revsim.calibrate.fit import FitOptions, check_complete
    from revsim.errors import SimulationError

    options = FitOptions(draws=100, chains=2, sampler="pymc")
    check_complete(SimpleNamespace(posterior=SimpleNamespace(sizes={"chain": 2, "draw": 100})), options)
    with pytest.raises(SimulationError, match=r"returned 2 chain\(s\) x 37 draws instead of 2 x 100"):
        check_complete(SimpleNamespace(posterior=SimpleNamespace(sizes={"chain": 2, "draw": 37})), options)


# ------------------------------------------------------------------------------------------- streamed runs


@pytest.mark.parametrize(("signum", "code", "name"), [
    pytest.param(signal.SIGINT, 130, "SIGINT", id="sigint"),
    pytest.param(signal.SIGTERM, 143, "SIGTERM", id="sigterm"),
])
def test_a_signal_during_a_streamed_run_leaves_no_store_and_the_previous_results(
        long_scenario: Path, base_scenario: Path, tmp_path: Path, signum: int, code: int, name: str) -> None:
    """The store being written (a temporary folder next to the destination) is removed; the earlier
    results.zarr and summary.csv stay as they were."""
    from click.testing import CliRunner

    from revsim.cli.main import cli

    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "3", "--out", str(out), "--quiet",
                                     "--store", "zarr"])
    assert first.exit_code == 0, first.output
    previous = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert "results.zarr/zarr.json" in previous and "summary.csv" in previous

    proc = _revsim("run", str(long_scenario), "--draws", "2000", "--threads", "2", "--out", str(out), "--force",
                   "--store", "zarr", cwd=tmp_path)
    _wait_until_simulating(proc)
    assert any(p.name.startswith(".results.zarr.") for p in out.iterdir()), "the store is written meanwhile"
    _assert_stops_cleanly(proc, signum, code, name)
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == previous
    assert sorted(p.name for p in out.iterdir()) == ["results.zarr", "summary.csv"], "a partial store was left"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "out"], "a file was left behind"


def _descendants(pid: int) -> set[int]:
    """The processes started by ``pid`` and by them (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_ctrl_c_during_a_dask_streamed_run_leaves_no_store_the_previous_results_and_no_worker(
        long_scenario: Path, base_scenario: Path, tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group: the client and the local cluster's nannies and
    workers. Once blocks are being written by the workers, the run stops with exit code 130, removes the
    partial store (no worker writes into it afterwards), keeps the earlier results and leaves no process.
    About 15 s: a local cluster of 2 workers starts in a few seconds."""
    from click.testing import CliRunner

    from revsim.cli.main import cli

    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "3", "--out", str(out), "--quiet",
                                     "--store", "zarr"])
    assert first.exit_code == 0, first.output
    previous = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    proc = subprocess.Popen([sys.executable, "-m", "revsim.cli.main", "run", str(long_scenario), "--draws", "20000",
                             "--backend", "dask", "--workers", "2", "--chunk-size", "50", "--out", str(out),
                             "--force", "--store", "zarr"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        started = time.monotonic()
        # a block written by a worker (the store's first chunk is written with its metadata)
        while not [p for p in out.glob(".results.zarr.*.partial/arr/c/*") if p.name != "0"]:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 90, "no block was written"
            time.sleep(0.1)
        workers = _descendants(proc.pid)
        assert len(workers) >= 2, "the local cluster's processes"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        sent = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "interrupted by SIGINT: nothing was written" in stderr
    assert "Traceback" not in stderr, stderr
    assert stopped_after < 20, f"took {stopped_after:.1f} s to stop"
    time.sleep(1.0)  # a worker that outlived the client would write its block into a recreated folder now
    assert not [pid for pid in workers if _alive(pid)], "a worker process outlived the run"
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == previous
    assert sorted(p.name for p in out.iterdir()) == ["results.zarr", "summary.csv"], "a partial store was left"
