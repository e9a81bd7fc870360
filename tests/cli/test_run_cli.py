"""``revsim run`` and ``revsim validate`` end to end: the files written, and the options' contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from revsim.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"

SUMMARY_COLUMNS = ["month", "metric", "units", "mean", "p5", "p10", "p50", "p90", "p95"]
OUTPUT_FILES = ("results.nc", "summary.csv")


def run_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "revsim.cli.main", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One true ``revsim run`` of the example, in its own process, with few draws."""
    out = tmp_path_factory.mktemp("example") / "out"
    proc = run_in_process("run", str(EXAMPLE), "--draws", "24", "--seed", "3", "--out", str(out))
    return proc, out


def test_run_example_in_a_real_process(example_run) -> None:
    proc, out = example_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]
    assert "Northwind Analytics" in proc.stdout
    assert "24 draws" in proc.stdout
    assert "results.nc" in proc.stdout and "summary.csv" in proc.stdout


def test_results_nc_has_the_documented_dimensions(example_run) -> None:
    proc, out = example_run
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        for dim in ("draw", "month", "segment", "stage"):
            assert dim in ds.dims, dim
        assert ds.sizes["draw"] == 24
        assert ds.sizes["month"] == 36
        assert [str(s) for s in ds["segment"].values] == ["smb", "mid_market"]
        assert [str(s) for s in ds["stage"].values] == ["lead", "mql", "sql", "opportunity", "won"]
        assert set(ds["arr"].dims) == {"draw", "month", "segment"}
        assert set(ds["stage_entries"].dims) == {"draw", "month", "segment", "stage"}
        assert int(ds.attrs["seed"]) == 3
        assert int(ds.attrs["draws"]) == 24


def test_summary_csv_columns_and_metrics(example_run) -> None:
    proc, out = example_run
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "summary.csv")
    assert list(table.columns) == SUMMARY_COLUMNS
    metrics = set(table["metric"])
    for metric in ("arr", "mrr", "lead", "mql", "sql", "opportunity", "won", "nrr_12m", "grr_12m",
                   "active_customers", "new_customers", "loop:referrals", "cac"):
        assert metric in metrics, metric
    arr = table[table["metric"] == "arr"]
    assert len(arr) == 36
    assert arr["month"].iloc[0] == "2027-01" and arr["month"].iloc[-1] == "2029-12"
    assert (arr["p5"] <= arr["p50"]).all() and (arr["p50"] <= arr["p95"]).all()


def test_successful_run_prints_no_python_warnings(example_run) -> None:
    """A clean run writes nothing on stderr that looks like a Python warning (with a source line)."""
    proc, _ = example_run
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" not in proc.stderr, proc.stderr


def test_draws_zero_is_refused(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "0", "--out", str(out)])
    assert result.exit_code == 2
    assert "--draws" in result.stderr
    assert not out.exists()


def _existing_results(out: Path) -> dict[str, bytes]:
    out.mkdir()
    files = {"results.nc": b"earlier results", "summary.csv": b"month,metric\n", "notes.txt": b"keep me"}
    for name, content in files.items():
        (out / name).write_bytes(content)
    return files


def test_existing_results_are_not_replaced_without_force(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    files = _existing_results(out)
    stamps = {name: (out / name).stat().st_mtime_ns for name in files}
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert "results.nc" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name, content in files.items():
        assert (out / name).read_bytes() == content
        assert (out / name).stat().st_mtime_ns == stamps[name]


def test_only_one_existing_result_file_is_enough_to_refuse(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("old\n")
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    assert result.exit_code == 2
    assert "summary.csv" in result.stderr
    assert [p.name for p in out.iterdir()] == ["summary.csv"]
    assert (out / "summary.csv").read_text() == "old\n"


def test_out_that_is_a_file_is_refused(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    out.write_text("not a directory")
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "5", "--out", str(out)])
    assert result.exit_code == 2
    assert "not a directory" in result.stderr
    assert out.read_text() == "not a directory"


def test_force_replaces_existing_results(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "out"
    _existing_results(out)
    result = CliRunner().invoke(
        cli, ["run", str(base_scenario), "--draws", "5", "--seed", "1", "--out", str(out), "--force", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert (out / "results.nc").read_bytes() != b"earlier results"
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert ds.sizes["draw"] == 5
    assert list(pd.read_csv(out / "summary.csv").columns) == SUMMARY_COLUMNS
    assert not [p.name for p in out.iterdir() if p.name.endswith(".partial")]


def test_run_creates_missing_output_directories(tmp_path: Path, base_scenario: Path) -> None:
    out = tmp_path / "a" / "b"
    result = CliRunner().invoke(cli, ["run", str(base_scenario), "--draws", "3", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)


def test_same_seed_gives_the_same_summary(tmp_path: Path, base_scenario: Path) -> None:
    runner = CliRunner()
    for name in ("one", "two"):
        result = runner.invoke(
            cli, ["run", str(base_scenario), "--draws", "8", "--seed", "11", "--out", str(tmp_path / name), "-q"]
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "one" / "summary.csv").read_bytes() == (tmp_path / "two" / "summary.csv").read_bytes()


def test_validate_example(example_scenario: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(example_scenario)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert "lead > mql > sql > opportunity > won" in result.stdout
    assert "36 months from 2027-01" in result.stdout


def test_validate_example_in_a_real_process(example_scenario: Path) -> None:
    proc = run_in_process("validate", str(example_scenario))
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_a_run_with_set_writes_to_its_own_directory_by_default(tmp_path: Path, monkeypatch) -> None:
    """After `make run`, the README's what-if `revsim run ... --set ...` neither fails on the existing results
    nor (with --force) replaces them: it writes out/<name>-set-<hash of the changes>."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = runner.invoke(cli, ["run", str(EXAMPLE), "--draws", "8", "-q"])
    assert base.exit_code == 0, base.output
    before = (tmp_path / "out" / "saas_sales_led" / "results.nc").read_bytes()
    changes = ["--set", "funnel.stages.mql.conversion=0.38", "--set", "retention.smb.churn=[0.10, 0.18]"]
    variant = runner.invoke(cli, ["run", str(EXAMPLE), "--draws", "8", *changes])
    assert variant.exit_code == 0, variant.output
    directories = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(directories) == 2 and directories[1].startswith("saas_sales_led-set-"), directories
    assert f"out/{directories[1]}/results.nc" in variant.output
    assert (tmp_path / "out" / "saas_sales_led" / "results.nc").read_bytes() == before
    other = runner.invoke(cli, ["run", str(EXAMPLE), "--draws", "8", "-q", "--set", "funnel.stages.mql.conversion=0.4"])
    assert other.exit_code == 0, other.output
    assert len(list((tmp_path / "out").iterdir())) == 3  # other changes, another directory
