"""``revsim compare``, ``revsim sensitivity``, ``revsim goal`` and ``revsim run --set`` from the command line:
the files written, the exit codes, and bad input reported in one message without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from whatif_scenarios import book_scenario

from revsim.cli.main import cli
from revsim.whatif.compare import TABLE_COLUMNS


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def scenario_file(funnel_data, write_scenario):
    return write_scenario(funnel_data, "funnel.yaml")


def assert_input_error(result, *parts: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") or "\nerror: " in result.output
    for part in parts:
        assert part in result.output, (part, result.output)


# ---------------------------------------------------------------------------------------------- compare


def test_compare_levers_writes_the_table_the_chart_and_a_results_file_per_run(scenario_file, tmp_path) -> None:
    out = tmp_path / "cmp"
    result = invoke("compare", scenario_file, "--lever", "mql_up", "--lever", "churn_down", "--draws", 30,
                    "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["compare.csv", "compare.png", "base.nc", "mql_up.nc", "churn_down.nc"])
    table = pd.read_csv(out / "compare.csv")
    assert list(table.columns) == TABLE_COLUMNS
    assert set(table["variant"]) == {"mql_up", "churn_down"}
    assert "P(better)" in result.output and "ARR at horizon" in result.output
    with xr.open_dataset(out / "churn_down.nc", engine="h5netcdf") as ds:
        assert int(ds.attrs["seed"]) == 4 and ds.sizes["draw"] == 30
        assert ds.attrs["variant"] == "churn_down"
    again = invoke("compare", scenario_file, "--lever", "mql_up", "--draws", 5, "--out", out)
    assert_input_error(again, "--force")


def test_compare_scenario_files_and_self_comparison(scenario_file, tmp_path) -> None:
    out = tmp_path / "self"
    result = invoke("compare", scenario_file, scenario_file, "--draws", 20, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "compare.csv")
    assert set(table["variant"]) == {"funnel_2"}
    defined = table[table["draws"] > 0]
    assert (defined[["diff_mean", "diff_p10", "diff_p50", "diff_p90", "p_better"]] == 0).all().all()


def test_compare_set_applies_to_every_run(scenario_file, tmp_path) -> None:
    out = tmp_path / "set"
    result = invoke("compare", scenario_file, "--lever", "mql_up", "--set", "pricing.acv=12k", "--draws", 10,
                    "--out", out)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out / "base.nc", engine="h5netcdf") as ds:
        assert json.loads(ds.attrs["scenario_json"])["pricing"]["acv"] == "12k"


@pytest.mark.parametrize("args, parts", [
    (["--set", "funnel.stages.mqll.conversion=0.3"],
     ["--set funnel.stages.mqll.conversion=0.3", "did you mean 'funnel.stages.mql.conversion'?"]),
    (["--set", "funnel.stages.mql.conversion=1.5"], ["funnel.stages[1].conversion", "probability",
                                                     "(from --set funnel.stages.mql.conversion=1.5)"]),
    (["--set", "funnel.stages.mql.conversion=[0.3"], ["could not read '[0.3'"]),
    (["--set", "no-equals-sign"], ["expected PATH=VALUE"]),
    (["--lever", "mql_upp"], ["no lever 'mql_upp'", "did you mean 'mql_up'?"]),
    (["--lever", "funnel.stages.mql.conversion=+2"], ["lever 'funnel.stages.mql.conversion' (+2)",
                                                      "between 0 and 1"]),
    (["--lever", "funnel.stages.mql.conversion=35%"], ["ambiguous"]),
    ([], ["nothing to compare"]),
])
def test_compare_bad_input(scenario_file, tmp_path, args: list[str], parts: list[str]) -> None:
    if not any(a.startswith("--lever") for a in args) and args:
        args = [*args, "--lever", "mql_up"]
    result = invoke("compare", scenario_file, *args, "--draws", 5, "--out", tmp_path / "never")
    assert_input_error(result, *parts)
    assert not (tmp_path / "never").exists()


def test_a_lever_naming_no_input_fails_when_the_scenario_loads(funnel_data, write_scenario, tmp_path) -> None:
    funnel_data["levers"].append({"name": "typo", "path": "retention.chrun", "change": "-10%"})
    path = write_scenario(funnel_data, "typo.yaml")
    result = invoke("run", path, "--draws", 5, "--out", tmp_path / "never")
    assert_input_error(result, "levers[3].path", "did you mean 'retention.churn'?", "line ")


# ---------------------------------------------------------------------------------------------- sensitivity


def test_sensitivity_writes_the_table_and_the_tornado(scenario_file, tmp_path) -> None:
    out = tmp_path / "sens"
    result = invoke("sensitivity", scenario_file, "--draws", 40, "--top", 2, "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["sensitivity.csv", "tornado.png"]
    table = pd.read_csv(out / "sensitivity.csv")
    assert table["swing"].notna().sum() == 2
    assert "spearman" in result.output
    bad = invoke("sensitivity", scenario_file, "--draws", 5, "--at", "2027-13", "--out", tmp_path / "never")
    assert_input_error(bad, "--at", "YYYY-MM")


# ---------------------------------------------------------------------------------------------- goal


def test_goal_found_unreachable_and_bad_targets(write_scenario, tmp_path) -> None:
    path = write_scenario(book_scenario(), "book.yaml")
    found = invoke("goal", path, "--lever", "churn_cut", "--target-arr", "155k", "--draws", 100,
                   "--out", tmp_path / "goal")
    assert found.exit_code == 0, found.output
    assert "Smallest setting" in found.output and "Monte Carlo uncertainty" in found.output
    trace = pd.read_csv(tmp_path / "goal" / "goal.csv")
    assert list(trace.columns) == ["setting", "probability", "standard_error"] and len(trace) > 3

    unreachable = invoke("goal", path, "--lever", "churn_cut", "--target-customers", 201, "--draws", 20)
    assert unreachable.exit_code == 1, unreachable.output
    assert "Not reachable" in unreachable.output

    ranged = invoke("goal", path, "--lever", "retention.churn=-0.01", "--target-arr", "155k", "--draws", 20,
                    "--range", "0", "-0.04", "--tolerance", "0.002")
    assert ranged.exit_code == 0, ranged.output

    assert_input_error(invoke("goal", path, "--lever", "churn_cut", "--draws", 5), "give one target")
    assert_input_error(invoke("goal", path, "--lever", "churn_cut", "--target-arr", "a lot", "--draws", 5),
                       "--target-arr", "positive amount")
    assert_input_error(invoke("goal", path, "--lever", "churn_cutt", "--target-arr", "155k"),
                       "did you mean 'churn_cut'?")
    assert_input_error(invoke("goal", path, "--lever", "churn_cut", "--target-arr", "155k", "--range", "0", "-0.2"),
                       "--range", "cannot be set to -0.2")


# ---------------------------------------------------------------------------------------------- run --set


def test_run_set_changes_the_scenario_and_the_results_record_it(scenario_file, tmp_path) -> None:
    out = tmp_path / "run"
    result = invoke("run", scenario_file, "--draws", 10, "--out", out, "--set", "retention.churn=[0.05, 0.08]",
                    "--set", "funnel.stages.mql.conversion.mean=0.4")
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        stored = json.loads(ds.attrs["scenario_json"])
        assert stored["retention"]["churn"] == [0.05, 0.08]
        assert stored["funnel"]["stages"][1]["conversion"]["mean"] == 0.4
        assert float(ds["param_retention_churn"].min()) > 0.03
    bad = invoke("run", scenario_file, "--draws", 5, "--out", tmp_path / "never", "--set", "retention.all.churn=0.1")
    assert_input_error(bad, "retention is written once for every segment")


# ---------------------------------------------------------------------------------------------- help


def test_the_new_commands_help_imports_nothing_heavy() -> None:
    script = (
        "import sys\nbefore = set(sys.modules)\nimport revsim.cli.main as m\n"
        "for args in (['compare', '--help'], ['sensitivity', '--help'], ['goal', '--help'], ['--help']):\n"
        "    try:\n        m.main(args)\n"
        "    except SystemExit as exc:\n        assert exc.code == 0, (args, exc.code)\n"
        "heavy = {'numpy', 'numba', 'xarray', 'pandas', 'scipy', 'pydantic', 'yaml', 'matplotlib'}\n"
        "print('HEAVY', sorted({n.split('.')[0] for n in set(sys.modules) - before} & heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    for name in ("compare", "sensitivity", "goal"):
        assert name in proc.stdout
