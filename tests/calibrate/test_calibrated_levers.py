"""Levers in a calibrated scenario: carried into ``calibrated.yaml`` with their meaning, and usable there.

The end-to-end test calibrates the sales-led example (whose levers name inputs the calibration replaces) in a
child process started by the ``fits`` fixture, then runs ``revsim run`` and ``revsim compare --lever`` on the
result through the command line.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
from calibration_helpers import REPO_ROOT
from click.testing import CliRunner

from revsim.calibrate.carried_levers import carry_levers
from revsim.cli.main import cli
from revsim.scenario.load import load_scenario

SALES_LED = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"


def posterior_ref(var: str, **coords: str) -> dict[str, Any]:
    return {"dist": "posterior", "file": "posterior.nc", "var": var, "coords": coords}


@pytest.fixture
def before_and_after() -> tuple[Any, dict[str, Any]]:
    """The sales-led example, and its data as a calibration rewrites it: the MQL stage's conversion per
    segment, and retention drawn from the posterior."""
    loaded = load_scenario(SALES_LED)
    data = copy.deepcopy(loaded.data)
    mql = next(s for s in data["funnel"]["stages"] if s["name"] == "mql")
    mql["conversion"] = posterior_ref("conversion", stage="mql", segment="smb")
    mql["by_segment"] = {"mid_market": {"conversion": posterior_ref("conversion", stage="mql", segment="mid_market")}}
    return loaded, data


def lever(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((item for item in data.get("levers", []) if item["name"] == name), None)


def test_a_stage_lever_follows_the_values_the_calibration_split_by_segment(before_and_after) -> None:
    loaded, data = before_and_after
    notes = carry_levers(loaded, data)
    assert lever(data, "mql_plus_3pts")["path"] == ["funnel.stages.mql.conversion",
                                                    "funnel.stages.mql.by_segment.mid_market.conversion"]
    assert lever(data, "churn_down_fifth")["path"] == "retention.*.churn"  # unchanged: still every segment
    assert lever(data, "mql_plus_3pts")["change"] == {"add": 0.03}
    assert len(notes) == 1 and "lever 'mql_plus_3pts' now names" in notes[0]


def test_a_lever_on_churn_keeps_the_segments_that_still_have_one(before_and_after) -> None:
    loaded, data = before_and_after
    data["retention"]["smb"] = {"model": "sbg", "alpha": posterior_ref("sbg_alpha", segment="smb"),
                                "beta": posterior_ref("sbg_beta", segment="smb"), "contract_months": 1}
    carry_levers(loaded, data)
    assert lever(data, "churn_down_fifth")["path"] == "retention.mid_market.churn"
    data["retention"]["mid_market"] = copy.deepcopy(data["retention"]["smb"])
    data["levers"] = copy.deepcopy(loaded.data["levers"])
    notes = carry_levers(loaded, data)
    assert lever(data, "churn_down_fifth") is None
    assert any("lever 'churn_down_fifth' was removed" in note for note in notes)
    assert [item["name"] for item in data["levers"]] == ["mql_plus_3pts", "two_more_reps", "referrals_double",
                                                         "price_up_5pct"]


def test_a_flat_block_split_by_segment_keeps_its_levers(before_and_after) -> None:
    loaded, data = before_and_after
    data["levers"] = [{"name": "acv_up", "path": "pricing.acv", "change": "+5%"}]
    # as if the scenario's pricing had been flat and the calibration split it by segment
    flat = copy.deepcopy(loaded.data)
    flat["pricing"] = {"acv": 20000}
    flat["levers"] = data["levers"]
    from revsim.scenario.load import scenario_from_dict

    carry_levers(scenario_from_dict(flat), data)
    assert lever(data, "acv_up")["path"] == "pricing.*.acv"


@pytest.fixture(scope="module")
def calibrated(fits: dict[str, Any]) -> Path:
    result = fits["sales_led"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lever 'mql_plus_3pts' now names" in result.stderr + result.stdout
    return Path(result.args[result.args.index("--out") + 1])


def test_the_calibrated_scenario_runs_and_its_levers_compare(calibrated: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    scenario = str(calibrated / "calibrated.yaml")
    result = runner.invoke(cli, ["run", scenario, "--draws", "40", "--seed", "3", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "ARR" in result.output
    result = runner.invoke(cli, ["compare", scenario, "--lever", "mql_plus_3pts", "--lever", "churn_down_fifth",
                                 "--lever", "funnel.stages.sql.conversion=-10%", "--draws", "40", "--seed", "3",
                                 "--out", str(tmp_path / "compare")])
    assert result.exit_code == 0, result.output
    base = xr.open_dataset(tmp_path / "compare" / "base.nc")
    mql = xr.open_dataset(tmp_path / "compare" / "mql_plus_3pts.nc")
    for name in ("param_funnel_stages_mql_conversion", "param_funnel_stages_mql_by_segment_mid_market_conversion"):
        np.testing.assert_allclose(mql[name] - base[name], 0.03, rtol=0, atol=1e-12)  # every segment, every draw
    churn = xr.open_dataset(tmp_path / "compare" / "churn_down_fifth.nc")
    for segment in ("smb", "mid_market"):
        name = f"param_retention_{segment}_churn"
        np.testing.assert_allclose(churn[name], 0.8 * base[name], rtol=1e-12)
    written = yaml.safe_load((calibrated / "calibrated.yaml").read_text(encoding="utf-8"))
    assert written["funnel"]["stages"][1]["conversion"]["dist"] == "posterior"


def test_a_lever_pushing_calibrated_samples_out_of_range_is_refused(calibrated: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["compare", str(calibrated / "calibrated.yaml"), "--lever",
                                      "funnel.stages.mql.conversion=+0.9", "--draws", "10",
                                      "--out", str(tmp_path / "compare")])
    assert result.exit_code == 2, result.output
    assert "expected a probability between 0 and 1" in result.output
    assert "shifted by +0.9" in result.output and "lever 'funnel.stages.mql.conversion'" in result.output
    assert "Traceback" not in result.output
