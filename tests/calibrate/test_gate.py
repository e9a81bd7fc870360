"""The diagnostics gate end to end: a calibration whose chains disagree is not handed over as a forecast.

Two small fits (a retention model alone, started by the ``fits`` fixture): the same unidentifiable history
(see ``calibration_helpers.unidentified_retention``) calibrated without and with ``--accept-diagnostics``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from revsim.cli.errors import EXIT_DIAGNOSTICS
from revsim.cli.main import cli


def output_dir(result: Any) -> Path:
    return Path(result.args[result.args.index("--out") + 1])


@pytest.fixture(scope="module")
def gated(fits: dict[str, Any]) -> Any:
    return fits["gated"].result()


@pytest.fixture(scope="module")
def accepted(fits: dict[str, Any]) -> Any:
    result = fits["accepted"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_failed_calibration_exits_with_its_own_code_and_writes_no_scenario(gated: Any) -> None:
    assert gated.returncode == EXIT_DIAGNOSTICS == 3, gated.stdout + gated.stderr
    out = output_dir(gated)
    names = {p.name for p in out.iterdir()}
    assert {"posterior.nc", "diagnostics.csv"} <= names  # written, for inspection
    assert "calibrated.yaml" not in names and not [n for n in names if n.endswith(".partial")]


def test_the_message_names_the_variables_and_what_to_try(gated: Any) -> None:
    stderr = gated.stderr
    assert "error: the calibration failed its sampler diagnostics, so" in stderr
    assert "calibrated.yaml was not written" in stderr
    assert "r_hat above 1.05 for sbg_" in stderr and "the chains disagree" in stderr
    assert "give sbg_concentration a narrower prior" in stderr
    assert "--accept-diagnostics" in stderr
    assert "diagnostics gate: failed" in gated.stdout
    table = pd.read_csv(output_dir(gated) / "diagnostics.csv")
    alpha = table[table.variable == "sbg_alpha"].iloc[0]
    assert alpha.r_hat > 1.05 and bool(alpha.forecast_input)


def test_the_posterior_records_the_failure(gated: Any) -> None:
    import xarray as xr

    with xr.open_dataset(output_dir(gated) / "posterior.nc", group="posterior", engine="h5netcdf") as posterior:
        attrs = dict(posterior.attrs)
    assert attrs["revsim_diagnostics"] == "failed" and attrs["revsim_diagnostics_accepted"] == 0
    assert "r_hat above 1.05" in attrs["revsim_diagnostics_problems"]
    assert attrs["revsim_command"].startswith("revsim calibrate")


def test_accepting_writes_the_scenario_with_a_note_in_its_header_and_posterior(accepted: Any) -> None:
    import xarray as xr

    out = output_dir(accepted)
    text = (out / "calibrated.yaml").read_text(encoding="utf-8")
    header = text[: text.index("\nname:")]
    assert "# WARNING: this calibration FAILED its sampler diagnostics and was written anyway" in header
    assert "(--accept-diagnostics)" in header and "r_hat above 1.05" in header
    assert "warning: the diagnostics gate failed" in accepted.stderr
    with xr.open_dataset(out / "posterior.nc", group="posterior", engine="h5netcdf") as posterior:
        assert posterior.attrs["revsim_diagnostics"] == "failed"
        assert posterior.attrs["revsim_diagnostics_accepted"] == 1
        assert "--accept-diagnostics" in posterior.attrs["revsim_command"]


def test_an_accepted_calibration_runs_and_its_results_say_so(accepted: Any, tmp_path: Path) -> None:
    import json

    import xarray as xr

    result = CliRunner().invoke(cli, ["run", str(output_dir(accepted) / "calibrated.yaml"), "--draws", "50",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output + result.stderr
    assert "failed its sampler diagnostics" in result.stderr and "accepted when calibrating" in result.stderr
    with xr.open_dataset(tmp_path / "run" / "results.nc", engine="h5netcdf") as ds:
        record = json.loads(ds.attrs["calibration_diagnostics"])
    assert record == [{"file": "posterior.nc", "diagnostics": "failed", "accepted": True,
                       "summary": record[0]["summary"]}]


def test_revsim_run_refuses_a_scenario_reading_a_failed_posterior(gated: Any, accepted: Any, tmp_path: Path) -> None:
    # the scenario a user would write around the gated posterior (here: the accepted run's, which reads
    # posterior.nc next to it)
    folder = tmp_path / "gated"
    shutil.copytree(output_dir(gated), folder)
    shutil.copy(output_dir(accepted) / "calibrated.yaml", folder / "calibrated.yaml")
    runner = CliRunner()
    refused = runner.invoke(cli, ["run", str(folder / "calibrated.yaml"), "--draws", "50", "--out",
                                  str(tmp_path / "run")])
    assert refused.exit_code == EXIT_DIAGNOSTICS, refused.output + refused.stderr
    assert "retention.alpha" in refused.stderr and "read posterior.nc, whose calibration failed its sampler " \
                                                   "diagnostics" in refused.stderr
    assert "--accept-diagnostics" in refused.stderr
    assert not (tmp_path / "run").exists()
    forced = runner.invoke(cli, ["run", str(folder / "calibrated.yaml"), "--draws", "50", "--out",
                                 str(tmp_path / "run"), "--accept-diagnostics"])
    assert forced.exit_code == 0, forced.output + forced.stderr
    assert "accepted with --accept-diagnostics" in forced.stderr


# ------------------------------------------------------------------------------------- without sampling


def table(**columns: Any) -> pd.DataFrame:
    base = {"block": ["funnel", "funnel", "retention"], "variable": ["conversion", "conversion", "sbg_alpha"],
            "coords": ["stage=lead,segment=smb", "stage=mql,segment=smb", "segment=smb"], "sd": [0.1, 0.1, 0.1],
            "r_hat": [1.0, 1.0, 1.0], "ess_bulk": [500.0, 500.0, 500.0], "ess_tail": [500.0, 500.0, 500.0]}
    base.update(columns)
    return pd.DataFrame(base)


def test_the_gate_thresholds() -> None:
    from revsim.calibrate.diagnostics import diagnostics_gate

    assert diagnostics_gate(table(), 0).passed
    assert diagnostics_gate(table(r_hat=[1.0, 1.05, 1.0]), 0).passed  # 1.05 itself passes
    failed = diagnostics_gate(table(r_hat=[1.0, 1.051, float("nan")]), 0)
    # worst first, an R-hat that cannot be computed (NaN) counted worst
    assert [label for label, _ in failed.high_rhat] == ["sbg_alpha[segment=smb]", "conversion[stage=mql,segment=smb]"]
    assert not diagnostics_gate(table(), 1).passed and "1 divergent" in diagnostics_gate(table(), 1).problems()[0]
    # an ESS below 100 fails only for a variable the forecast uses
    low = table(ess_tail=[500.0, 99.0, 500.0], forecast_input=[True, False, True])
    assert diagnostics_gate(low, 0).passed
    low = low.assign(forecast_input=[True, True, True])
    assert [label for label, _ in diagnostics_gate(low, 0).low_ess] == ["conversion[stage=mql,segment=smb]"]
    # a constant (sd 0) is not judged
    assert diagnostics_gate(table(sd=[0.0, 0.1, 0.1], r_hat=[float("nan"), 1.0, 1.0]), 0).passed
    accepted = diagnostics_gate(table(), 2, accepted=True)
    assert accepted.accepted and accepted.status == "failed, accepted"
    assert not diagnostics_gate(table(), 0, accepted=True).accepted  # nothing to accept


def test_a_constant_derived_from_the_data_is_not_judged() -> None:
    """A segment's renewal share is one number from the cohort table, the same in every draw; its R-hat is
    NaN. Its spread must be exactly 0, though the mean of 600 equal draws differs from them in the last bit."""
    import numpy as np

    from revsim.calibrate.diagnostics import diagnostics_gate, spread

    draws = np.full(600, 0.9756621834)
    assert np.std(draws, ddof=1) > 0  # what the table used to report
    assert spread(draws) == 0.0
    assert spread(np.array([0.5, 0.5, 0.5000001])) > 0
    rows = table(sd=[spread(draws), 0.1, 0.1], r_hat=[float("nan"), 1.0, 1.0])
    assert diagnostics_gate(rows, 0).passed


def test_forecast_inputs_are_matched_to_the_diagnostics_rows() -> None:
    from revsim.calibrate.diagnostics import forecast_inputs, used_by_forecast
    from revsim.calibrate.scenario_update import Assignment, ref

    items = [Assignment("stage", "mql", "smb", "conversion", ref("conversion", "posterior.nc", stage="mql",
                                                                 segment="smb")),
             Assignment("retention", None, "smb", "__model__", {"model": "sbg", "alpha": ref("sbg_alpha", "p.nc",
                                                                                              segment="smb")})]
    inputs = forecast_inputs(items)
    assert inputs == [("conversion", {"stage": "mql", "segment": "smb"}), ("sbg_alpha", {"segment": "smb"})]
    assert used_by_forecast(table(), inputs).tolist() == [False, True, True]


def test_weakly_identified_is_posterior_sd_over_prior_sd_on_the_unbounded_scale() -> None:
    from types import SimpleNamespace

    import numpy as np
    import xarray as xr

    from revsim.calibrate.identification import WEAK_RATIO, add_identification

    rng = np.random.default_rng(0)

    def dataset(sd_conversion: float, sd_months: float, n: int) -> xr.Dataset:
        logit = rng.normal(-1.0, sd_conversion, (1, n))
        months = np.exp(rng.normal(0.5, sd_months, (1, n)))
        return xr.Dataset({"conversion": (("chain", "draw"), 1 / (1 + np.exp(-logit))),
                           "months_in_stage": (("chain", "draw"), months)})

    prior, posterior = dataset(2.0, 1.0, 4000), dataset(0.2, 0.8, 4000)
    rows = pd.DataFrame({"block": ["funnel", "funnel"], "variable": ["conversion", "months_in_stage"],
                         "coords": ["", ""]})
    result = SimpleNamespace(idata=SimpleNamespace(posterior=posterior))
    out = add_identification(rows, result, prior)
    assert out.scale.tolist() == ["logit", "log"]
    np.testing.assert_allclose(out.sd_ratio, [0.1, 0.8], rtol=0.06)  # 4000 draws: sd known to about 2% each
    assert out.weakly_identified.tolist() == [False, True] and WEAK_RATIO == 0.5


def posterior_file(folder: Path, **attrs: Any) -> Path:
    import numpy as np
    import xarray as xr

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "posterior.nc"
    values = np.random.default_rng(0).uniform(0.05, 0.15, (2, 50))
    xr.Dataset({"churn": (("chain", "draw"), values)}, attrs=attrs).to_netcdf(path, group="posterior",
                                                                            engine="h5netcdf")
    return path


PLAN = """
name: Plan
start: 2026-01
horizon_months: 6
channels:
  - {name: inbound, volume: 100}
funnel:
  stages:
    - {name: lead, conversion: 0.1, months: 1}
    - {name: won}
pricing: {acv: 12000}
retention: {model: constant, churn: {dist: posterior, file: posterior.nc, var: churn}}
"""


@pytest.mark.parametrize(("attrs", "exit_code"), [
    ({}, 0),  # written by another tool: used as it is
    ({"revsim_diagnostics": "passed", "revsim_diagnostics_accepted": 0}, 0),
    ({"revsim_diagnostics": "failed", "revsim_diagnostics_accepted": 1, "revsim_diagnostics_summary": "failed"}, 0),
    ({"revsim_diagnostics": "failed", "revsim_diagnostics_accepted": 0,
      "revsim_diagnostics_summary": "failed: max r_hat 1.41 (3 value(s) above 1.05)",
      "revsim_diagnostics_problems": "r_hat above 1.05 for churn (1.41): the chains disagree"}, 3),
])
def test_revsim_run_reads_the_verdict_of_the_posterior_file(tmp_path: Path, attrs: dict[str, Any],
                                                            exit_code: int) -> None:
    posterior_file(tmp_path, **attrs)
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "plan.yaml"), "--draws", "20", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == exit_code, result.output + result.stderr
    if exit_code:
        assert result.stderr.startswith(f"error: {tmp_path / 'plan.yaml'}: retention.churn read posterior.nc, "
                                        "whose calibration failed its sampler diagnostics (failed: max r_hat 1.41")
        assert "  - r_hat above 1.05 for churn (1.41): the chains disagree" in result.stderr
        assert not (tmp_path / "out").exists()


def test_a_backtest_reports_the_gate_of_each_origin() -> None:
    from types import SimpleNamespace

    from revsim.calibrate.backtest import Backtest, Origin, gates_status
    from revsim.calibrate.diagnostics import Gate

    summary = pd.DataFrame({"metric": ["arr"], "method": ["revsim"], "horizon": ["all"], "coverage_50": [0.5],
                            "coverage_80": [0.8], "coverage_90": [0.9], "crps": [1.0], "mape": [0.01]})

    def origin(cut: str, gate: Gate) -> Origin:
        calibration = SimpleNamespace(gate=gate, diagnostics=pd.DataFrame({"variable": ["churn"], "r_hat": [1.0]}),
                                      fit=SimpleNamespace(compiled_from="compiled"))
        return Origin(cut=cut, calibration=calibration, scenario_data={}, posterior=None, forecast=None)

    def backtest(*gates: Gate) -> Backtest:
        origins = [origin(f"2026-0{3 * (i + 1)}", gate) for i, gate in enumerate(gates)]
        return Backtest(table=pd.DataFrame(), summary=summary, pit=pd.DataFrame(), origins=origins, series={},
                        holdout=1, spacing=3)

    passed = Gate(divergences=0)
    failed = Gate(divergences=0, high_rhat=(("growth", 1.2),))
    one = backtest(passed)
    assert one.failed_origins == [] and "diagnostics gate, origin 2026-03: passed" in one.summary_text()
    two = backtest(failed, passed)
    assert two.failed_origins == ["2026-03"]
    text = two.summary_text()
    assert "diagnostics gate, origin 2026-03: failed: max r_hat 1.20" in text
    assert "diagnostics gate, origin 2026-06: passed" in text
    assert two.diagnostics_table().gate.tolist() == ["failed", "passed"]
    assert two.diagnostics_table().origin.tolist() == ["2026-03", "2026-06"]
    assert backtest(Gate(divergences=3, accepted=True)).failed_origins == []
    # the summary's column over several origins
    assert gates_status([passed, passed]) == "passed"
    assert gates_status([failed]) == "failed"
    assert gates_status([failed, passed, None]) == "failed at 1 of 2 origin(s)"
    accepted = Gate(divergences=1, accepted=True)
    assert gates_status([accepted, passed]) == "failed at 1 of 2 origin(s), accepted"


def test_a_backtest_with_a_failed_origin_exits_with_the_gates_code(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from revsim.calibrate.diagnostics import Gate
    from revsim.cli.backtest_command import refuse_failed_origins
    from revsim.errors import DiagnosticsError

    failed = Gate(divergences=0, high_rhat=(("conversion_by_channel[stage=lead,channel=partner]", 1.3),))
    result = SimpleNamespace(gates={"2026-03": failed, "2026-06": Gate(divergences=0)}, failed_origins=["2026-03"])
    with pytest.raises(DiagnosticsError) as caught:
        refuse_failed_origins(result, tmp_path / "backtest_summary.csv", tmp_path / "backtest_diagnostics.csv")
    message = str(caught.value)
    assert message.startswith("the calibration of 1 of 2 origin(s) failed its sampler diagnostics")
    assert "  - origin 2026-03: r_hat above 1.05 for conversion_by_channel[stage=lead,channel=partner] (1.30)" \
        in message
    assert "pool the channels more" in message and "--accept-diagnostics" in message
    accepted = SimpleNamespace(gates={"2026-03": failed}, failed_origins=[])
    refuse_failed_origins(accepted, tmp_path / "s.csv", tmp_path / "d.csv")  # nothing failed unaccepted
