"""``revsim report`` and ``revsim run --report``: files, options, and bad input (exit code 2, no traceback)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner
from pypdf import PdfReader

from revsim.cli.main import cli

TINY_EUR = Path(__file__).resolve().parent / "data" / "tiny_eur.yaml"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def tiny_copy(tiny_results: Path, tmp_path: Path) -> Path:
    """The tiny run's results.nc in a directory of its own."""
    target = tmp_path / "run" / "results.nc"
    target.parent.mkdir()
    shutil.copy(tiny_results, target)
    return target


def test_report_writes_charts_pdf_and_workbook(tiny_copy: Path) -> None:
    result = invoke("report", str(tiny_copy), "--format", "svg,png", "--target", "3M", "--period", "2028-01:2028-12")
    assert result.exit_code == 0, result.output
    out = tiny_copy.parent / "report"
    assert (out / "report.pdf").is_file() and (out / "forecast.xlsx").is_file()
    assert (out / "arr_fan.svg").is_file() and (out / "arr_fan.png").is_file()
    assert (out / "arr_bridge_2028-01_2028-12.png").is_file()
    assert not list(out.glob("arr_bridge_2027-01_*"))  # --period replaces the default periods
    assert "note: KPI panel without CAC" in result.output
    assert "wrote" in result.output and "report.pdf" in result.output
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(out / "report.pdf").pages]
    # summary, fan, 1 bridge, bowtie, retention, NRR/GRR, KPIs, 1 distribution, assumptions, then the four team
    # pages and AARRR (no targets, no North Star)
    assert len(pages) == 14
    assert "No target names marketing" in pages[9] and "Acquisition" in pages[13]
    assert "3 M EUR by Dec 2028" in pages[1] and "chance" in pages[1]  # the --target, in the run's currency
    assert "no costs block" in pages[0]
    again = invoke("report", str(tiny_copy))
    assert again.exit_code == 2 and "--force" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--format", "jpg"], "unknown chart format 'jpg'", id="unknown-format"),
        pytest.param(["--target", "lots"], "expected an ARR amount", id="bad-target"),
        pytest.param(["--period", "2031-01:2031-12"], "not a simulated month", id="period-outside"),
        pytest.param(["--period", "2028-01"], "FROM:TO", id="period-malformed"),
    ],
)
def test_bad_options_exit_2(tiny_copy: Path, args: list[str], message: str) -> None:
    result = invoke("report", str(tiny_copy), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tiny_copy.parent / "report").exists()


def test_bad_results_files_exit_2(tmp_path: Path) -> None:
    missing = invoke("report", str(tmp_path / "nowhere.nc"))
    assert missing.exit_code == 2 and "no such file" in missing.output
    text = tmp_path / "results.nc"
    text.write_text("not netCDF", encoding="utf-8")
    garbage = invoke("report", str(text))
    assert garbage.exit_code == 2 and "cannot be read as a netCDF results file" in garbage.output
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("t", [1.0, 2.0])}).to_netcdf(other, engine="h5netcdf")
    foreign = invoke("report", str(other))
    assert foreign.exit_code == 2 and "is not a revsim results file" in foreign.output
    assert "Traceback" not in missing.output + garbage.output + foreign.output


def test_scenario_option_must_be_the_runs_scenario(tiny_copy: Path) -> None:
    other = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"
    result = invoke("report", str(tiny_copy), "--scenario", str(other))
    assert result.exit_code == 2
    assert "not the scenario these results were made from" in result.output


def test_run_with_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("run", str(TINY_EUR), "--draws", "30", "--out", str(out), "--report", "-q")
    assert result.exit_code == 0, result.output
    assert (out / "results.nc").is_file()
    assert (out / "report" / "report.pdf").is_file() and (out / "report" / "retention.png").is_file()
    again = invoke("run", str(TINY_EUR), "--draws", "30", "--out", str(out), "--report", "-q")
    assert again.exit_code == 2 and "--force" in again.output


def test_a_report_of_results_kept_as_quantiles_draws_what_quantiles_can(tmp_path) -> None:
    """--keep quantiles: the fan chart, bridges, retention, NRR/GRR, KPI panel, summary and assumptions pages
    and the workbook are written; the charts that need every draw are skipped with a note naming why."""
    from pathlib import Path

    from click.testing import CliRunner
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from revsim.cli.main import cli

    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"
    out = tmp_path / "run"
    ran = CliRunner().invoke(cli, ["run", str(scenario), "--draws", "40", "--keep", "quantiles", "--out", str(out),
                                   "--quiet"])
    assert ran.exit_code == 0, ran.output
    result = CliRunner().invoke(cli, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"arr_fan.png", "arr_bridge_2027-01_2027-12.png", "arr_bridge_2027-01_2029-12.png", "retention.png",
            "nrr_grr.png", "kpis.png", "report.pdf", "forecast.xlsx"} <= written
    assert not any(name.startswith(("bowtie", "arr_distribution", "team_")) for name in written)
    for skipped in ("Bowtie: funnel, customers and loops skipped", "ARR distribution skipped",
                    "Team KPIs and targets skipped", "KPI panel without Logo churn, Sales cycle"):
        assert skipped in result.output
    assert result.output.count("the run kept quantiles (--keep quantiles)") == 2
    pages = PdfReader(tmp_path / "rep" / "report.pdf").pages
    assert len(pages) == 8  # summary, fan, two bridges, retention, NRR/GRR, KPI panel, assumptions
    first = pages[0].extract_text()
    assert "40 simulated draws" in first and "of draws" in first and "n/a: needs every draw" in first
    assert "whiskers: P10\u2013P90 of ARR (kept as quantiles)" in pages[3].extract_text()
    workbook = load_workbook(tmp_path / "rep" / "forecast.xlsx")
    assert workbook["ARR"].max_row == 2 + 36


def test_a_target_that_repeats_the_scenarios_is_shown_once(sales_led_results: Path, tmp_path: Path) -> None:
    """--target 30M on a scenario whose own target is 30M at the horizon: one line, one label, one row."""
    from openpyxl import load_workbook

    results = tmp_path / "run" / "results.nc"
    results.parent.mkdir()
    shutil.copy(sales_led_results, results)
    result = CliRunner().invoke(cli, ["report", str(results), "--target", "30M", "--target", "25M"])
    assert result.exit_code == 0, result.output
    assert "note: --target 30M is already a target of the scenario" in result.output
    out = results.parent / "report"
    summary = PdfReader(out / "report.pdf").pages[0].extract_text()
    assert summary.count("ARR \u2265 $30M") == 1 and summary.count("ARR \u2265 $25M") == 1
    fan = PdfReader(out / "report.pdf").pages[1].extract_text()
    assert fan.count("$30M by Dec 2029") == 1
    sheet = load_workbook(out / "forecast.xlsx")["Summary"]
    names = [row[0].value for row in sheet.iter_rows() if row[0].value and str(row[0].value).startswith("ARR ")]
    assert names.count("ARR \u2265 $30M") == 1
