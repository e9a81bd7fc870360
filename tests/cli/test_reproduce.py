"""``revsim reproduce``: a recorded run is run again from its results file and every number compared."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.scenario.load import scenario_hash


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def recorded(tmp_path: Path, base_text: str) -> tuple[Path, Path]:
    """A scenario reading a CSV of contract values, and the results of one run of it."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "acv.csv").write_text("acv\n9000\n12000\n15000\n", encoding="utf-8")
    scenario = folder / "scenario.yaml"
    scenario.write_text(base_text.replace("acv: [9000, 13000]", "acv: {dist: empirical, file: acv.csv}"),
                        encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("run", str(scenario), "--draws", "12", "--seed", "5", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    return scenario, out / "results.nc"


def test_results_carry_their_provenance(recorded: tuple[Path, Path]) -> None:
    scenario, results = recorded
    with xr.open_dataset(results, engine="h5netcdf") as ds:
        attrs = dict(ds.attrs)
    assert attrs["seed"] == 5 and attrs["draws"] == 12
    assert attrs["command"].startswith("revsim ")
    assert attrs["scenario_file"] == str(scenario)
    assert attrs["scenario_path"] == str(scenario.resolve())
    data = json.loads(attrs["scenario_json"])
    assert data["name"] == "Tiny" and data["pricing"]["acv"] == {"dist": "empirical", "file": "acv.csv"}
    digest = hashlib.sha256((scenario.parent / "acv.csv").read_bytes()).hexdigest()
    assert json.loads(attrs["input_files"]) == {"acv.csv": digest}
    for key in ("revsim_version", "numpy_version", "numba_version", "xarray_version", "python_version",
                "created_at", "scenario_sha256"):
        assert attrs[key], key


def test_a_run_is_reproduced_exactly(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, results = recorded
    result = invoke("reproduce", str(results), "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "reproduced exactly" in result.stdout
    assert "unchanged since the run" in result.stdout
    assert "12 draws, seed 5" in result.stdout


def test_reproduce_can_write_the_new_results(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    _, results = recorded
    again = tmp_path / "again"
    result = invoke("reproduce", str(results), "--out", str(again), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    with xr.open_dataset(results, engine="h5netcdf") as old, xr.open_dataset(again / "results.nc",
                                                                                engine="h5netcdf") as new:
        xr.testing.assert_identical(old.drop_attrs(), new.drop_attrs())
    result = invoke("reproduce", str(results), "--out", str(again))
    assert result.exit_code == 2
    assert "--force" in result.stderr


def test_a_changed_scenario_is_reproduced_from_the_stored_copy(recorded: tuple[Path, Path]) -> None:
    scenario, results = recorded
    scenario.write_text(scenario.read_text().replace("horizon_months: 12", "horizon_months: 24"))
    result = invoke("reproduce", str(results))
    assert result.exit_code == 0, result.output
    assert "from the copy of the scenario stored in" in result.stdout
    assert "has changed since the run (its content differs)" in result.stdout
    assert "reproduced exactly" in result.stdout


def test_from_file_refuses_a_changed_scenario(recorded: tuple[Path, Path]) -> None:
    scenario, results = recorded
    scenario.write_text(scenario.read_text().replace("horizon_months: 12", "horizon_months: 24"))
    result = invoke("reproduce", str(results), "--from-file")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "has changed since the run" in result.stderr
    assert "its hash is now" in result.stderr
    assert "reproduce without --from-file" in result.stderr


def test_a_deleted_scenario_is_reproduced_from_the_stored_copy(recorded: tuple[Path, Path]) -> None:
    scenario, results = recorded
    scenario.unlink()
    result = invoke("reproduce", str(results))
    assert result.exit_code == 0, result.output
    assert "no longer exists" in result.stdout
    result = invoke("reproduce", str(results), "--from-file")
    assert result.exit_code == 2
    assert "no longer exists" in result.stderr


def test_a_changed_input_file_is_named(recorded: tuple[Path, Path]) -> None:
    scenario, results = recorded
    (scenario.parent / "acv.csv").write_text("acv\n9000\n12000\n15001\n", encoding="utf-8")
    result = invoke("reproduce", str(results))
    assert result.exit_code == 2
    assert "files the scenario reads have changed since the run: acv.csv" in result.stderr
    result = invoke("reproduce", str(results), "--from-file")
    assert result.exit_code == 2
    assert "files it reads changed: acv.csv" in result.stderr


def test_different_numbers_are_reported_with_exit_code_1(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    _, results = recorded
    with xr.open_dataset(results, engine="h5netcdf") as ds:
        tampered = ds.load()
    tampered["arr"][dict(draw=3, month=4, segment=0)] += 100.0
    edited = results.parent / "edited.nc"
    tampered.to_netcdf(edited, engine="h5netcdf")
    result = invoke("reproduce", str(edited))
    assert result.exit_code == 1, result.output
    assert "was not reproduced: 1 difference(s)" in result.stderr
    assert "arr: 1 of 288 values differ (first at draw 3, month 2027-05, segment smb" in result.stderr
    assert "largest difference 100" in result.stderr


def test_results_that_keep_quantiles_are_reproduced(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    scenario, _ = recorded
    out = tmp_path / "quantiles"
    result = invoke("run", str(scenario), "--draws", "12", "--out", str(out), "--keep", "quantiles", "--quiet")
    assert result.exit_code == 0, result.output
    result = invoke("reproduce", str(out / "results.nc"), "--out", str(tmp_path / "again"))
    assert result.exit_code == 0, result.output
    assert "reproduced exactly" in result.stdout
    with xr.open_dataset(tmp_path / "again" / "results.nc", engine="h5netcdf") as ds:
        assert ds.attrs["revsim_keep"] == "quantiles"


def test_a_run_with_set_overrides_is_reproduced_from_its_stored_scenario(recorded: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    scenario, _ = recorded
    out = tmp_path / "changed"
    proc = subprocess.run([sys.executable, "-m", "revsim.cli.main", "run", str(scenario), "--draws", "6", "--out",
                           str(out), "--set", "horizon_months=14", "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr  # a real process, so that the recorded command line is this one
    result = invoke("reproduce", str(out / "results.nc"))
    assert result.exit_code == 0, result.output
    assert "with --set" in result.stdout and "reproduced exactly" in result.stdout
    result = invoke("reproduce", str(out / "results.nc"), "--from-file")
    assert result.exit_code == 2
    assert "the run changed the scenario file" in result.stderr


def test_the_stored_copy_hashes_like_the_file(recorded: tuple[Path, Path]) -> None:
    from revsim.scenario.load import load_scenario

    scenario, results = recorded
    with xr.open_dataset(results, engine="h5netcdf") as ds:
        stored = json.loads(ds.attrs["scenario_json"])
    assert scenario_hash(stored) == scenario_hash(load_scenario(scenario).data)


def test_reproduce_help_is_light() -> None:
    script = ("import sys; import revsim.cli.main as m\n"
              "try:\n    m.main(['reproduce', '--help'])\nexcept SystemExit:\n    pass\n"
              "print(sorted(n for n in sys.modules if n.split('.')[0] in ('numpy', 'xarray', 'numba', 'pandas')))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--from-file" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_reproduce_is_listed_in_the_help() -> None:
    result = invoke("--help")
    assert "reproduce" in result.stdout


def test_compare_results_lists_missing_and_extra_variables() -> None:
    from revsim.results.reproduce import compare_results

    old = xr.Dataset({"a": ("x", np.arange(3.0)), "b": ("x", np.zeros(3))}, attrs={"seed": 1})
    new = xr.Dataset({"a": ("x", np.arange(3.0)), "c": ("x", np.zeros(3))}, attrs={"seed": 2})
    differences = compare_results(old, new)
    assert "b: in the recorded results, missing from the new ones" in differences
    assert "c: in the new results, missing from the recorded ones" in differences
    assert "attribute seed: recorded 1, now 2" in differences
    nan = xr.Dataset({"a": ("x", [np.nan, 1.0])})
    assert compare_results(nan, nan.copy(deep=True)) == []
