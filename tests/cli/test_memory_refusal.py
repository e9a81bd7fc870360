"""A run that needs more memory than the machine has is refused before it starts, with the figure and the
way out; before, --draws 10000000 on a long horizon allocated until numpy failed, minutes into the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.engine import memory

GIB = 2**30


@pytest.fixture
def eight_gib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * GIB)


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    from revsim.engine import kernels

    def simulate_draws(*args: object) -> None:
        raise AssertionError("a draw was simulated")

    monkeypatch.setattr(kernels, "simulate_draws", simulate_draws)


def test_the_documented_maximum_of_draws_on_a_long_horizon_is_refused_up_front(
        base_scenario: Path, tmp_path: Path, eight_gib: None, no_simulation: None) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "10000000", "--set", "horizon_months=600",
                                      "--out", str(out), "--store", "netcdf"])
    assert result.exit_code == 2, result.output
    # 10^7 draws x 600 months x (2 segments x 26 values + 1 loop) x 18 bytes
    assert result.stderr == ("error: --draws: this run needs about 5.2 TiB of memory (10,000,000 draws x 600 months x "
                             "2 segment(s)), more than the 8.0 GiB available: run fewer draws (15,006 fit), or "
                             "shorten the horizon\n")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


def test_per_cohort_detail_is_counted_and_its_way_out_named(base_scenario: Path, tmp_path: Path,
                                                            eight_gib: None, no_simulation: None) -> None:
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "20000", "--set", "horizon_months=240",
                                      "--cohorts", "--out", str(tmp_path / "out"), "--store", "netcdf"])
    assert result.exit_code == 2, result.output
    assert "of which 85.8 GiB for the per-cohort detail), more than the 8.0 GiB available" in result.stderr
    assert "leave out the per-cohort detail (--no-cohorts), or shorten the horizon" in result.stderr
    without = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "20000", "--set", "horizon_months=240",
                                       "--no-cohorts", "--out", str(tmp_path / "out"), "--quiet", "--store", "netcdf"])
    assert isinstance(without.exception, AssertionError), without.output  # 20,000 draws fit: the draws start
    assert "a draw was simulated" in str(without.exception)


def test_a_streamed_run_is_checked_for_its_blocks_not_the_whole_run(
        base_scenario: Path, tmp_path: Path, eight_gib: None, no_simulation: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run refused above, 5.2 TiB held in memory, streams (--store auto) blocks of about 128 MB: it starts
    (on a device with room for its store: the disk is checked too, tests/cli/test_write_failures.py)."""
    from revsim.results import write_errors

    monkeypatch.setattr(write_errors, "free_bytes", lambda path: 10**15)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "10000000", "--set", "horizon_months=600",
                                      "--out", str(out), "--quiet"])
    assert isinstance(result.exception, AssertionError), result.output
    assert "a draw was simulated" in str(result.exception)
    assert not out.exists(), "the store begun is removed with the folder it was in"


def test_a_streamed_run_whose_blocks_do_not_fit_is_refused(base_scenario: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, no_simulation: None) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5000", "--out", str(out), "--store", "zarr",
                                      "--threads", "2"])
    assert result.exit_code == 2, result.output
    assert "more than the 1.0 MiB available" in result.stderr
    assert not out.exists()


def test_every_command_that_runs_draws_checks_first(base_scenario: Path, monkeypatch: pytest.MonkeyPatch,
                                                    no_simulation: None) -> None:
    import revsim
    from revsim.errors import InputError

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    with pytest.raises(InputError, match=r"this run needs about .* more than the 1\.0 MiB available"):
        revsim.simulate(base_scenario, draws=5000, seed=0)


def test_the_estimate_grows_with_draws_months_segments_and_cohorts(base_scenario: Path) -> None:
    from revsim.engine.compile import compile_scenario
    from revsim.scenario.load import load_scenario

    compiled = compile_scenario(load_scenario(base_scenario))  # 12 months, 2 segments, 3 stages, 1 loop
    total, cohort = memory.run_bytes(compiled, 1000, cohorts=False)
    assert (total, cohort) == (1000 * 12 * (2 * 26 + 1) * memory.PEAK_PER_VALUE, 0)
    with_cohorts, cohort = memory.run_bytes(compiled, 1000, cohorts=True)
    assert cohort == 2 * 1000 * 12 * 12 * 2 * memory.PEAK_PER_COHORT_VALUE
    assert with_cohorts == total + cohort
