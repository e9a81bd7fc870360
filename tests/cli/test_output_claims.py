"""One command per output directory: a second one given the same --out meanwhile is refused; files left by
killed processes are cleaned up by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.results.output_claim import LOCK_NAME, claim_output_dir, command_scope, remove_stale_partials

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and POSIX signals")

#: A run of a few seconds: long enough for a second command to start while it holds its --out.
SLOW = """\
name: Slow
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
initial_book:
  - {customers: 50, arr: 500k}
"""


def _revsim(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "revsim.cli.main", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _seed_of(results: Path) -> int:
    import xarray as xr

    with xr.open_dataset(results, engine="h5netcdf") as ds:
        return int(ds.attrs["seed"])


def test_a_second_run_on_the_same_new_out_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW, encoding="utf-8")
    out = tmp_path / "out"
    first = _revsim("run", str(scenario), "--draws", "1500", "--seed", "1", "--out", str(out), "--quiet", cwd=tmp_path)
    started = time.monotonic()
    while not (out / LOCK_NAME).exists():  # the first run has claimed its --out
        assert first.poll() is None, first.communicate()
        assert time.monotonic() - started < 60
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-m", "revsim.cli.main", "run", str(scenario), "--draws", "5",
                             "--seed", "2", "--out", str(out), "--quiet"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    still_running = first.poll() is None
    _, first_err = first.communicate(timeout=300)

    assert second.returncode == 2, second.stderr
    assert second.stderr == (f"error: --out: {out} is being written by another revsim process (pid {first.pid}); "
                             "wait for it to finish or choose another --out\n")
    assert still_running, "the first run ended before the second was refused: the test proves nothing"
    assert first.returncode == 0, first_err
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]
    assert _seed_of(out / "results.nc") == 1, "the results are not the first run's"


@pytest.mark.parametrize("attempt", [1, 2])
def test_two_runs_started_together_on_one_new_out(tmp_path: Path, base_scenario: Path, attempt: int) -> None:
    """Whichever claims the directory first writes it; the other is refused (by the claim, or because the
    results are there), and the directory holds the winner's results only."""
    out = tmp_path / "out"
    runs = {seed: _revsim("run", str(base_scenario), "--draws", "200", "--seed", str(seed), "--out", str(out),
                          "--quiet", cwd=tmp_path) for seed in (1, 2)}
    ended = {seed: (proc.communicate(timeout=300)[1], proc.returncode) for seed, proc in runs.items()}
    codes = sorted(code for _, code in ended.values())
    assert codes == [0, 2], ended
    winner = next(seed for seed, (_, code) in ended.items() if code == 0)
    loser_err = next(err for err, code in ended.values() if code == 2)
    assert ("is being written by another revsim process" in loser_err
            or "already holds results.nc, summary.csv; choose another --out or pass --force" in loser_err), loser_err
    assert "Traceback" not in loser_err
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]
    assert _seed_of(out / "results.nc") == winner


def test_a_claim_held_elsewhere_refuses_the_command_and_leaves_the_directory_alone(
        tmp_path: Path, base_scenario: Path) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    finally:
        os.close(fd)
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --out: {out} is being written by another revsim process (pid 4242); wait for "
                             "it to finish or choose another --out\n")
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]


def test_a_command_releases_its_claim_whatever_the_outcome(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    refused = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    assert refused.exit_code == 2 and "already holds results.nc, summary.csv" in refused.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    new = tmp_path / "new"
    overflows = Path(__file__).resolve().parents[1] / "bad_inputs" / "scenarios" / "lognormal_overflows.yaml"
    failed = CliRunner().invoke(cli, ["run", str(overflows), "--draws", "5", "--out", str(new)])  # after the claim
    assert failed.exit_code == 2, failed.output
    assert not new.exists(), "a directory claimed for a run that failed is removed again"


def test_claims_are_taken_only_inside_a_command(tmp_path: Path) -> None:
    assert claim_output_dir(tmp_path / "library") is False
    assert not (tmp_path / "library").exists()
    with command_scope():
        assert claim_output_dir(tmp_path / "a" / "b") is True
        assert claim_output_dir(tmp_path / "a" / "b") is True  # the same command again: already its own
        assert (tmp_path / "a" / "b" / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert list((tmp_path / "a").iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_files_left_by_killed_writers_are_removed_and_live_writers_files_kept(tmp_path: Path) -> None:
    dead = tmp_path / f".results.nc.{_dead_pid()}.k2j4d.partial"
    mine = tmp_path / f".results.nc.{os.getpid()}.x8f.partial"
    live = tmp_path / ".summary.csv.1.a1b2.partial"  # process 1 started long before the file was written
    reused = tmp_path / ".summary.csv.1.zz.partial"
    other = tmp_path / "notes.partial"
    for path in (dead, mine, live, reused, other):
        path.write_bytes(b"")
    os.utime(reused, (1_000_000, 1_000_000))  # 1970: older than process 1, so written by an earlier process 1
    assert sorted(remove_stale_partials(tmp_path)) == sorted([dead, reused])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (mine, live, other))


def test_a_run_killed_outright_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the temporary file and the lock file stay, and the next run removes them."""
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW, encoding="utf-8")
    out = tmp_path / "out"
    proc = _revsim("run", str(scenario), "--draws", "1500", "--out", str(out), "--quiet", cwd=tmp_path)
    started = time.monotonic()
    while not (out / LOCK_NAME).exists():
        assert proc.poll() is None and time.monotonic() - started < 60
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    (out / f".results.nc.{proc.pid}.q1w2e3.partial").write_bytes(b"")  # as if killed while writing
    result = CliRunner().invoke(cli, ["run", str(scenario), "--draws", "3", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]
