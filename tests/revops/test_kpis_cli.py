"""``revsim kpis`` from the command line: the table, the CSV files, and bad input (exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from revops_paths import KNOWN

import revsim
from revsim.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_kpis_prints_the_teams_and_writes_the_csv_files(sales_led, sales_led_file: Path, tmp_path: Path) -> None:
    loaded, ds = sales_led
    out = tmp_path / "kpis"
    result = invoke("kpis", sales_led_file, "--out", out)
    assert result.exit_code == 0, result.output
    text = result.stdout
    for heading in ("Marketing", "Hand-off: marketing to sales", "Sales", "Hand-off: sales to customer success",
                    "Customer success", "Finance", "AARRR", "North Star: Net new ARR"):
        assert f"\n{heading}" in text, heading
    assert "FY2027 (3/12 mo)" in text and "FY2030 (9/12 mo)" in text  # partial fiscal years are marked
    assert "Target '9,000 MQLs in FY2028' (mql >= 9,000 in FY2028):" in text
    assert "All 6 targets together:" in text
    assert sorted(p.name for p in out.iterdir()) == ["aarrr.csv", "kpis.csv", "north_star.csv", "targets.csv"]
    table = pd.read_csv(out / "kpis.csv")
    assert list(table.columns[:6]) == ["team", "kpi", "label", "units", "kind", "period"]
    expected = revsim.kpis(ds, "year", scenario=loaded)
    assert len(table) == len(expected.data_vars) * 4
    row = table[(table["kpi"] == "new_arr") & (table["period"] == "FY2029")].iloc[0]
    assert row["p50"] == pytest.approx(float(np.median(expected["new_arr"].values[:, 2])), rel=1e-9)
    assert row["team"] == "sales" and bool(row["complete"]) and row["period_start"] == "2028-04"
    targets = pd.read_csv(out / "targets.csv")
    assert len(targets) == 6 and set(targets["owner"]) == {"marketing", "sales", "customer_success", "finance"}


def test_one_team_per_quarter(sales_led_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "sales"
    result = invoke("kpis", sales_led_file, "--team", "sales", "--period", "quarter", "--out", out, "--quiet")
    assert result.exit_code == 0 and result.stdout == ""
    table = pd.read_csv(out / "kpis.csv")
    assert {"win_rate", "sql", "new_arr", "cac"} <= set(table["kpi"])  # what sales watches, cac owned by finance
    assert not {"arr", "logo_churn", "mql"} & set(table["kpi"])
    assert table["period"].iloc[0] == "FY2027-Q4" and table["period"].nunique() == 12


def test_fiscal_year_option_and_calendar_years(sales_led_file: Path, tmp_path: Path) -> None:
    result = invoke("kpis", sales_led_file, "--fiscal-year-start", "1", "--team", "finance", "--out", tmp_path / "f")
    assert result.exit_code == 0, result.output
    assert "team KPIs per year (calendar years)" in result.stdout
    assert "in FY2029" in result.stdout  # targets keep the scenario's fiscal years
    assert pd.read_csv(tmp_path / "f" / "kpis.csv")["period"].astype(str).unique().tolist() == ["2027", "2028", "2029"]


def test_run_prints_the_joint_probability(tmp_path: Path) -> None:
    result = invoke("run", KNOWN, "--draws", "3", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "Target" not in result.stdout  # the known company has no targets


@pytest.mark.parametrize("args, words", [
    (["--team", "salse"], ["unknown team 'salse'", "did you mean 'sales'?"]),
    (["--period", "week"], ["unknown period 'week'", "month, quarter, year"]),
    (["--fiscal-year-start", "13"], ["expected a month"]),
    (["--drivers"], ["--drivers needs a North Star"]),
])
def test_bad_options_exit_2_and_write_nothing(known, tmp_path: Path, args: list[str], words: list[str]) -> None:
    _, ds = known
    results = tmp_path / "results.nc"
    ds.to_netcdf(results, engine="h5netcdf")
    out = tmp_path / "kpis"
    result = invoke("kpis", results, "--out", out, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
    assert not out.exists()


def test_results_without_draws_are_refused(known, tmp_path: Path) -> None:
    from revsim.results.storage import write_results

    _, ds = known
    results = tmp_path / "quantiles.nc"
    write_results(ds, results, "quantiles")
    result = invoke("kpis", results, "--out", tmp_path / "kpis")
    assert result.exit_code == 2 and "quantiles" in result.stderr
    assert not (tmp_path / "kpis").exists()


def test_earlier_files_are_kept_without_force(sales_led_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpis"
    assert invoke("kpis", sales_led_file, "--out", out, "-q").exit_code == 0
    before = (out / "kpis.csv").read_bytes()
    result = invoke("kpis", sales_led_file, "--out", out, "--period", "month")
    assert result.exit_code == 2 and "--force" in result.stderr
    assert (out / "kpis.csv").read_bytes() == before
    assert invoke("kpis", sales_led_file, "--out", out, "--period", "month", "--force", "-q").exit_code == 0
    assert pd.read_csv(out / "kpis.csv")["period"].nunique() == 36
