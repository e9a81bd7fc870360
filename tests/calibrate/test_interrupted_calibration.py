"""A calibration stopped by SIGTERM or SIGHUP while it tunes or keeps draws writes nothing.

Samplers catch the interruption themselves: PyMC returns the draws kept so far (or fails on the half-made
trace while tuning) and nutpie returns what it has. Without a check after each sampling phase, a stopped
calibration was written as if complete. Real signals to real processes, both samplers, both phases.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from calibration_helpers import EXAMPLE_HISTORY

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals, /proc")]


def _children(pid: int) -> int:
    try:
        return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return 0


def _threads(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def _wait_until_sampling(proc: subprocess.Popen[str], sampler: str) -> None:
    """Wait until the chains run: PyMC's worker processes exist, or nutpie's sampling threads (two chains
    add six threads to the four of the compiling process); then two seconds more. At most 90 s."""
    started = time.monotonic()
    while time.monotonic() - started < 90:
        assert proc.poll() is None, proc.communicate()
        running = _children(proc.pid) >= 2 if sampler == "pymc" else _threads(proc.pid) >= 8
        if running:
            break
        time.sleep(0.2)
    time.sleep(2.0)


@pytest.mark.parametrize(("sampler", "phase", "signum", "previous"), [
    pytest.param("pymc", "tuning", signal.SIGTERM, False, id="pymc-tuning-sigterm-new-out"),
    pytest.param("pymc", "sampling", signal.SIGTERM, True, id="pymc-sampling-sigterm-earlier-results"),
    pytest.param("nutpie", "tuning", signal.SIGHUP, True, id="nutpie-tuning-sighup-earlier-results"),
    pytest.param("nutpie", "sampling", signal.SIGTERM, False, id="nutpie-sampling-sigterm-new-out"),
])
def test_a_stopped_calibration_writes_nothing(tmp_path: Path, sampler: str, phase: str, signum: int,
                                              previous: bool) -> None:
    history = tmp_path / "history"
    history.mkdir()
    (history / "mrr.csv").write_bytes((EXAMPLE_HISTORY / "mrr.csv").read_bytes())  # a small model: quick to compile
    out = tmp_path / "out"
    earlier: dict[str, bytes] = {}
    if previous:
        out.mkdir()
        earlier = {"posterior.nc": b"earlier posterior", "calibrated_inputs.yaml": b"earlier: 1\n",
                   "diagnostics.csv": b"block,variable\n"}
        for name, content in earlier.items():
            (out / name).write_bytes(content)
    # a phase that lasts for minutes: a million tuning steps, or a million draws after ten tuning steps
    tune, draws = ("1000000", "10") if phase == "tuning" else ("10", "1000000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "revsim.cli.main", "calibrate", "--history", str(history), "--out", str(out),
         "--sampler", sampler, "--tune", tune, "--draws", draws, "--chains", "2", "--cores", "2", "--no-charts",
         *(["--force"] if previous else [])],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_sampling(proc, sampler)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == f"interrupted by {name}: nothing was written", stderr
    assert "Traceback" not in stderr and "wrote" not in stdout
    if previous:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier, "the earlier results changed"
    else:
        assert not out.exists(), sorted(p.name for p in out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == (["history", "out"] if previous else ["history"])
