"""Work handed to a forked child (``calibrate/forked_child.py``): its status, waiting for it, stopping it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from revsim.calibrate import forked_child
from revsim.calibrate.forked_child import can_fork, fork_child, stop_child, wait_child

needs_fork = pytest.mark.skipif(not can_fork(), reason="work goes to a forked child on Linux only")


@needs_fork
def test_the_child_does_the_work_and_its_status_says_so(tmp_path: Path) -> None:
    target = tmp_path / "done"
    pid = fork_child(lambda: target.write_text("yes"))
    assert pid is not None and pid != os.getpid()
    assert wait_child(pid) is True
    assert target.read_text() == "yes"
    assert wait_child(pid) is False  # collected already


@needs_fork
def test_a_failing_child_reports_failure_and_runs_nothing_of_the_parent(tmp_path: Path) -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    pid = fork_child(fail)
    assert pid is not None
    assert wait_child(pid) is False


@needs_fork
def test_a_child_still_working_is_stopped(tmp_path: Path) -> None:
    target = tmp_path / "late"

    def slow() -> None:
        time.sleep(30)
        target.write_text("too late")

    pid = fork_child(slow)
    assert pid is not None
    started = time.monotonic()
    stop_child(pid)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # collected
    assert not target.exists()
    stop_child(pid)  # stopping it again does nothing


def test_without_fork_no_child_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked_child, "can_fork", lambda: False)
    ran = []
    assert fork_child(lambda: ran.append(1)) is None
    assert ran == []
