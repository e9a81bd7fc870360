"""Posterior-predictive charts drawn by a child process: the same files, a fallback, nothing left behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from revsim.calibrate.chart_process import BackgroundCharts, draw_in_background
from revsim.calibrate.checks import PredictiveCheck, Series, chart_file, chart_writers, draw_check

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="charts are drawn by a forked child on Linux")


def _checks() -> list[PredictiveCheck]:
    rng = np.random.default_rng(0)
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    checks = []
    for block, panels in (("funnel", 3), ("a_block_with_a_rather_long_name", 1)):
        series = [Series(f"series {i} with a long label", months, rng.poisson(20, 12).astype(float),
                         rng.poisson(20, (300, 12)).astype(float)) for i in range(panels)]
        checks.append(PredictiveCheck(block, f"{block}: observed against predicted", "per month", series))
    return checks


def test_the_childs_charts_are_the_bytes_drawn_in_process(tmp_path: Path) -> None:
    checks = _checks()
    drawn = draw_in_background(checks)
    assert drawn is not None
    folder = drawn.folder
    for name, write in chart_writers(checks, drawn).items():
        write(tmp_path / f"child_{name}")
    assert drawn.wait()
    drawn.close()
    assert not folder.exists()
    for check in checks:
        draw_check(check, tmp_path / f"here_{chart_file(check)}")
        assert (tmp_path / f"child_{chart_file(check)}").read_bytes() == (tmp_path / f"here_{chart_file(check)}").read_bytes()


def test_a_failed_child_leaves_the_drawing_to_the_parent(tmp_path: Path) -> None:
    checks = _checks()
    pid = os.fork()
    if pid == 0:
        os._exit(1)
    drawn = BackgroundCharts(pid, Path(tempfile.mkdtemp(prefix="revsim-charts-test-")), checks)
    write = drawn.writer(checks[0])
    write(tmp_path / "fallback.png")
    assert not drawn.wait()
    draw_check(checks[0], tmp_path / "here.png")
    assert (tmp_path / "fallback.png").read_bytes() == (tmp_path / "here.png").read_bytes()
    drawn.close()
    assert not drawn.folder.exists()


def test_an_unused_child_is_stopped_and_its_folder_removed() -> None:
    drawn = draw_in_background(_checks())
    assert drawn is not None
    pid, folder = drawn.pid, drawn.folder
    del drawn  # never written: the child is reaped (killed if still drawing) and its folder removed
    import gc

    gc.collect()
    assert not folder.exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_child_never_sent_anything_is_stopped_and_its_folder_removed() -> None:
    from revsim.calibrate.chart_process import start_chart_process

    process = start_chart_process()
    assert process is not None
    pid, folder = process.pid, process.folder
    process.close()  # a calibration that failed before its checks
    assert not folder.exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert process.draw(_checks()) is None


def test_the_parent_draws_the_charts_the_child_has_not_begun(tmp_path: Path) -> None:
    from revsim.calibrate.chart_process import start_chart_process

    checks = _checks()
    process = start_chart_process()
    assert process is not None
    drawn = process.draw(checks)
    assert drawn is not None
    writers = chart_writers(checks, drawn)
    # the child draws in order, the parent from the end
    assert list(writers) == [chart_file(c) for c in reversed(checks)]
    last = checks[-1]
    # asked at once: the child is still importing matplotlib or drawing the first chart
    writers[chart_file(last)](tmp_path / "parent.png")
    for name in list(writers)[1:]:
        writers[name](tmp_path / f"child_{name}")
    assert drawn.wait()
    assert not (drawn.folder / chart_file(last)).exists()  # the child left it to the parent
    drawn.close()
    draw_check(last, tmp_path / "here.png")
    assert (tmp_path / "parent.png").read_bytes() == (tmp_path / "here.png").read_bytes()
    draw_check(checks[0], tmp_path / "first.png")
    assert (tmp_path / f"child_{chart_file(checks[0])}").read_bytes() == (tmp_path / "first.png").read_bytes()
