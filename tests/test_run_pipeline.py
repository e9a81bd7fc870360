"""Every command and function that simulates goes through :mod:`revsim.pipeline`.

Two checks: in the source, only the pipeline (and the engine's own modules) call the steps of a run
(``run_draws``, ``check_flags``, ``build_dataset``, ``check_invariants``); and at run time, ``simulate``,
``revsim run``, ``reproduce``, compare, sensitivity and goal seeking each run their draws through the
pipeline's ``run_draws``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

import revsim
from revsim import pipeline
from revsim.cli.main import cli

SOURCE = Path(__file__).resolve().parents[1] / "src" / "revsim"
EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "saas_sales_led.yaml"
STEPS = {"run_draws", "check_flags", "build_dataset", "check_invariants"}
#: Modules that may call a step: the pipeline, the steps' own modules, the dask chunks' runner, and the steps of
#: a block of a streamed run (called by the pipeline's ``run_store`` only: checked below).
ALLOWED = {"pipeline.py", "engine/run.py", "engine/distributed.py", "results/dataset.py", "results/invariants.py",
           "streaming.py"}
STREAMED_STEPS = {"stream_local", "stream_distributed", "stream_block"}


def _callers(names: set[str]) -> set[str]:
    """The modules of the package that call a function named in ``names``."""
    callers = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in names:
                    callers.add(path.relative_to(SOURCE).as_posix())
    return callers


def test_only_the_pipeline_calls_the_steps_of_a_run():
    callers = _callers(STEPS)
    assert callers and callers <= ALLOWED, sorted(callers - ALLOWED)


def test_only_the_pipeline_runs_a_streamed_run():
    assert _callers(STREAMED_STEPS) <= {"pipeline.py", "streaming.py"}
    assert "pipeline.py" in _callers(STREAMED_STEPS)


@pytest.fixture
def runs(monkeypatch):
    """The draws run through the pipeline: one (start, stop) per call of its ``run_draws``."""
    calls = []
    original = pipeline.run_draws

    def counted(compiled, seed, start, stop, **options):
        calls.append((start, stop))
        return original(compiled, seed, start, stop, **options)

    monkeypatch.setattr(pipeline, "run_draws", counted)
    return calls


def test_simulate_and_the_what_if_functions_run_through_the_pipeline(runs):
    revsim.simulate(EXAMPLE, draws=8, seed=1)
    assert runs == [(0, 8)]
    revsim.compare(EXAMPLE, levers=["mql_plus_3pts"], draws=8, seed=1)
    assert runs[1:] == [(0, 8), (0, 8)]
    runs.clear()
    revsim.goal_seek(EXAMPLE, "mql_plus_3pts", target_arr="1M", draws=8, seed=1)
    assert runs and set(runs) == {(0, 8)}
    runs.clear()
    revsim.sensitivity(EXAMPLE, draws=8, seed=1, top=2)  # the base, then two inputs pinned at P10 and P90
    assert len(runs) > 2 and set(runs) == {(0, 8)}


def test_run_and_reproduce_commands_run_through_the_pipeline(runs, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(EXAMPLE), "--draws", "8", "--seed", "2", "--out", str(out),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["reproduce", str(out / "results.nc"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert runs == [(0, 8), (0, 8)]
