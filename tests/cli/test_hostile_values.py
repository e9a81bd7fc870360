"""Values and files beyond what the code can represent: special files refused before they are opened, seeds
outside what results files store, a results file with NaN ARR, names with terminal control sequences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from revsim.cli.main import cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero")


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_fifo_as_scenario_is_refused_at_once(tmp_path: Path, command: str) -> None:
    """Before: validate waited forever for a writer. In a real process, with a timeout."""
    fifo = _fifo(tmp_path / "plan.yaml")
    proc = subprocess.run([sys.executable, "-m", "revsim.cli.main", command, str(fifo),
                           *(["--out", str(tmp_path / "out")] if command == "run" else [])],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: {fifo}: is a named pipe (FIFO), not a regular file; expected a YAML file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml"]


def test_a_device_as_scenario_is_refused() -> None:
    result = CliRunner().invoke(cli, ["validate", "/dev/zero"])
    assert result.exit_code == 2
    assert result.stderr == "error: /dev/zero: is a character device, not a regular file; expected a YAML file\n"


def test_a_fifo_in_a_history_folder_is_refused(tmp_path: Path) -> None:
    from revsim.calibrate.history import read_history
    from revsim.errors import InputError

    history = tmp_path / "history"
    history.mkdir()
    _fifo(history / "funnel.csv")
    with pytest.raises(InputError, match=r"funnel\.csv: is a named pipe \(FIFO\), not a regular file; expected a CSV"):
        read_history([history])


@pytest.mark.parametrize("command", ["report", "reproduce"])
def test_a_fifo_as_results_is_refused(tmp_path: Path, command: str) -> None:
    fifo = _fifo(tmp_path / "results.nc")
    result = CliRunner().invoke(cli, [command, str(fifo), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "is a named pipe (FIFO), not a regular file; expected a results.nc or results.zarr" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.nc"]


def test_a_seed_beyond_what_results_store_is_refused_before_the_run(base_scenario: Path, tmp_path: Path) -> None:
    """Before: 10^23 ran the whole simulation, then failed writing the seed attribute with an h5py traceback."""
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--seed", str(10**23), "--out", str(out)])
    assert result.exit_code == 2
    assert f"Invalid value for '--seed': {10**23} is not in the range 0<=x<=9223372036854775807" in result.stderr
    assert not out.exists()
    largest = CliRunner().invoke(cli, ["run", str(base_scenario), "--seed", str(2**63 - 1), "--draws", "3",
                                       "--out", str(out), "--quiet"])
    assert largest.exit_code == 0, largest.output


def test_a_report_of_results_with_nan_arr_is_refused(base_scenario: Path, tmp_path: Path) -> None:
    """Before: the charts drew the NaN draws as $0."""
    import xarray as xr

    run = tmp_path / "run"
    assert CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "10", "--out", str(run)]).exit_code == 0
    with xr.open_dataset(run / "results.nc", engine="h5netcdf") as opened:
        ds = opened.load()
    arr = ds["arr"].values.copy()
    arr[3, 5, 1] = np.nan
    ds["arr"] = (ds["arr"].dims, arr)
    edited = tmp_path / "edited.nc"
    ds.to_netcdf(edited, engine="h5netcdf")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", str(edited), "--out", str(out)])
    assert result.exit_code == 2, result.output
    segment = str(ds["segment"].values[1])
    assert result.stderr == (f"error: {edited}: arr holds 1 value(s) that are not numbers or not finite (the first at "
                             f"draw 3, month 2027-06, segment {segment}): revsim run never writes them, so the file "
                             "was edited or damaged; run the scenario again\n")
    assert not out.exists()


EVIL_NAME = 'name: "Plan\\e]0;pwned\\a\\e[2J\\u202eEvil"'


def test_control_characters_in_a_name_are_escaped_when_printed(base_text: str, tmp_path: Path) -> None:
    scenario = tmp_path / "evil.yaml"
    scenario.write_text(base_text.replace("name: Tiny", EVIL_NAME), encoding="utf-8")
    shown = "Plan\\x1b]0;pwned\\x07\\x1b[2J\\u202eEvil"
    validated = CliRunner().invoke(cli, ["validate", str(scenario)])
    assert validated.exit_code == 0, validated.output
    assert f"'{shown}'" in validated.stdout and "\x1b" not in validated.stdout and "\u202e" not in validated.stdout
    ran = CliRunner().invoke(cli, ["run", str(scenario), "--draws", "3", "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.startswith(f"{shown}: 3 draws")
    assert "\x1b" not in ran.output
    # every other command that prints the name: team KPIs, sensitivity, a comparison of scenario files
    kpis = CliRunner().invoke(cli, ["kpis", str(tmp_path / "out" / "results.nc"), "--out", str(tmp_path / "kpis")])
    assert kpis.exit_code == 0, kpis.output
    assert kpis.stdout.startswith(f"{shown}: team KPIs")
    ranked = CliRunner().invoke(cli, ["sensitivity", str(scenario), "--draws", "20", "--out", str(tmp_path / "sens")])
    assert ranked.exit_code == 0, ranked.output
    assert shown in ranked.stdout
    evil_file = tmp_path / "Plan\x1b[2J.yaml"
    evil_file.write_text(base_text, encoding="utf-8")
    compared = CliRunner().invoke(cli, ["compare", str(scenario), str(evil_file), "--draws", "20",
                                        "--out", str(tmp_path / "cmp")])
    assert compared.exit_code == 0, compared.output
    for result in (kpis, ranked, compared):
        assert "\x1b" not in result.output and "\u202e" not in result.output


def test_control_characters_in_a_file_name_are_escaped_in_errors(tmp_path: Path) -> None:
    missing = tmp_path / "plan\x1b[2J.yaml"
    result = CliRunner().invoke(cli, ["validate", str(missing)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path}/plan\\x1b[2J.yaml: file not found\n"
