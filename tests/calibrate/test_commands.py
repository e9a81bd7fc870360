"""``revsim calibrate`` and ``revsim backtest`` end to end on the example history, and what they write.

The commands that fit run in child processes started by the ``fits`` fixture (see ``conftest.py``), as a
user runs them; PyMC stays out of the test run's memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from calibration_helpers import EXAMPLE_HISTORY, EXAMPLE_SCENARIO, QUICK
from click.testing import CliRunner

from revsim.cli.main import cli


def finished(fits: dict[str, Any], name: str) -> Any:
    result = fits[name].result()
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def calibrated(fits: dict[str, Any]) -> Path:
    """The example scenario calibrated on the example history (both retention models, chosen by LOO)."""
    result = finished(fits, "calibrate")
    out = Path(result.args[result.args.index("--out") + 1])
    (out.parent / "stdout.txt").write_text(result.stdout)
    (out.parent / "stderr.txt").write_text(result.stderr)
    return out


def test_calibrate_writes_its_outputs(calibrated: Path) -> None:
    names = {p.name for p in calibrated.iterdir()}
    assert {"posterior.nc", "calibrated.yaml", "diagnostics.csv", "ppc_funnel.png", "ppc_volume.png",
            "ppc_retention.png", "ppc_movements.png", "ppc_pricing.png", "ppc_loops.png"} <= names
    assert not [n for n in names if n.endswith(".partial")]
    stdout = (calibrated.parent / "stdout.txt").read_text()
    assert "calibrated funnel, volume, retention, movements, pricing, loops" in stdout
    assert "next: revsim run" in stdout
    stderr = (calibrated.parent / "stderr.txt").read_text()
    # LOO chooses each segment's retention model, and says so segment by segment
    assert "retention, smb: LOO over 60 cohorts" in stderr and "retention, mid_market: LOO over 60 cohorts" in stderr


def posterior(path: Path) -> Any:
    import xarray as xr

    return xr.open_dataset(path, group="posterior", engine="h5netcdf").load()


def test_posterior_holds_the_named_variables(calibrated: Path) -> None:
    post = posterior(calibrated / "posterior.nc")
    assert post["sbg_alpha"].dims == ("chain", "draw", "segment")
    assert list(post["sbg_alpha"].segment.values) == ["smb", "mid_market"]
    for name in ("sbg_beta", "conversion", "months_in_stage", "volume", "growth", "acv", "loop_coefficient",
                 "upgrade_probability", "downgrade_probability", "onboarding_success" if "onboarding_success" in post
                 else "sbg_onboarding_success"):
        assert name in post, name
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == QUICK["draws"]
    assert not [v for v in post.data_vars if str(v).endswith("__")]


def test_diagnostics_table(calibrated: Path) -> None:
    table = pd.read_csv(calibrated / "diagnostics.csv")
    assert {"block", "variable", "coords", "mean", "q05", "q95", "r_hat", "ess_bulk", "ess_tail",
            "divergences"} <= set(table.columns)
    assert {"funnel", "volume", "retention", "movements", "pricing", "loops"} <= set(table.block)
    row = table[(table.variable == "sbg_alpha") & (table.coords == "segment=smb")].iloc[0]
    assert 0.3 < row["mean"] < 1.5 and row.r_hat < 1.05


@pytest.fixture(scope="module")
def loaded(calibrated: Path) -> Any:
    from revsim.scenario.load import load_scenario

    return load_scenario(calibrated / "calibrated.yaml")


def test_calibrated_scenario_validates_and_refers_to_the_posterior(calibrated: Path, loaded: Any) -> None:
    from revsim.scenario.distributions import Posterior
    from revsim.scenario.schema import iter_inputs

    text = (calibrated / "calibrated.yaml").read_text()
    assert text.startswith("# Calibrated by revsim calibrate from funnel.csv, cohorts.csv, mrr.csv, referrals.csv")
    assert "file: posterior.nc," in text  # relative to the yaml
    inputs = dict(iter_inputs(loaded.model))
    posterior = {path for path, dist in inputs.items() if isinstance(dist, Posterior)}
    assert {"retention.smb.alpha", "retention.smb.beta", "retention.mid_market.churn", "channels.inbound.volume",
            "channels.inbound.growth", "funnel.stages.mql.conversion", "pricing.smb.acv",
            "expansion.mid_market.rate", "onboarding.smb.success", "loops.referrals.coefficient",
            "channels.inbound.seasonality.0", "channels.inbound.seasonality.11", "pricing.smb.acv_cv"} <= posterior
    assert loaded.model.settings("retention", "smb").model == "sbg"  # LOO replaced the plan's constant churn
    # ... for the monthly plans only: the annual contracts' few renewals do not tell the sBG from constant churn
    assert loaded.model.settings("retention", "mid_market").model == "constant"
    assert not loaded.model.correlations  # the plan's correlation involved calibrated inputs
    assert len({dist.group for dist in inputs.values() if isinstance(dist, Posterior)}) == 1


def test_calibrated_scenario_runs_with_the_posteriors_joint_draws(calibrated: Path, loaded: Any) -> None:
    import revsim

    ds = revsim.simulate(loaded, draws=400, seed=3)
    alpha = ds["param_retention_smb_alpha"].values
    beta = ds["param_retention_smb_beta"].values
    post = posterior(calibrated / "posterior.nc")
    pa = post["sbg_alpha"].sel(segment="smb").values.ravel()
    pb = post["sbg_beta"].sel(segment="smb").values.ravel()
    # every simulated draw takes alpha and beta from the same posterior sample...
    pairs = set(zip(pa.round(12), pb.round(12), strict=True))
    assert all((a, b) in pairs for a, b in zip(alpha.round(12), beta.round(12), strict=True))
    # ...so the draws carry the posterior's correlation between them
    posterior_corr = np.corrcoef(pa, pb)[0, 1]
    assert posterior_corr > 0.5
    assert np.corrcoef(alpha, beta)[0, 1] == pytest.approx(posterior_corr, abs=0.1)
    # and across blocks: a channel's volume and growth come from one sample too
    volume = ds["param_channels_inbound_volume"].values
    growth = ds["param_channels_inbound_growth"].values
    pv, pg = post["volume"].values.ravel(), post["growth"].values.ravel()
    index = {round(v, 9): i for i, v in enumerate(pv)}
    assert all(pg[index[round(v, 9)]] == pytest.approx(g) for v, g in zip(volume, growth, strict=True))
    # and so do the twelve seasonal factors: each draw forecasts with its sample's seasonality
    february = post["seasonality"].sel(month_of_year="Feb").values.ravel()
    drawn = ds["param_channels_inbound_seasonality_1"].values
    assert all(february[index[round(v, 9)]] == pytest.approx(f) for v, f in zip(volume, drawn, strict=True))
    assert np.std(drawn) == pytest.approx(np.std(february), rel=0.15)  # 400 draws: about 4 standard errors


def test_revsim_run_accepts_the_calibrated_scenario(calibrated: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(calibrated / "calibrated.yaml"), "--draws", "200",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output + result.stderr
    assert (tmp_path / "run" / "results.nc").exists()


def test_existing_outputs_are_kept_without_force(calibrated: Path) -> None:
    before = (calibrated / "calibrated.yaml").stat().st_mtime_ns
    result = CliRunner().invoke(cli, ["calibrate", str(EXAMPLE_SCENARIO), "--history", str(EXAMPLE_HISTORY),
                                      "--out", str(calibrated)])
    assert result.exit_code == 2 and "pass --force" in result.stderr
    assert (calibrated / "calibrated.yaml").stat().st_mtime_ns == before


def test_without_a_scenario_the_history_alone_is_calibrated(fits: dict[str, Any]) -> None:
    result = finished(fits, "without_scenario")
    out = Path(result.args[result.args.index("--out") + 1])
    assert {p.name for p in out.iterdir()} == {"posterior.nc", "diagnostics.csv", "calibrated_inputs.yaml"}
    import yaml

    inputs = yaml.safe_load((out / "calibrated_inputs.yaml").read_text())
    # without a cohort table, churned MRR gives a constant churn per renewal (one renewal a month here)
    assert inputs["retention.smb.churn"] == {"dist": "posterior", "file": "posterior.nc", "var": "renewal_churn",
                                             "coords": {"segment": "smb"}}
    assert inputs["loops.referrals.coefficient"]["var"] == "loop_coefficient"


@pytest.fixture(scope="module")
def backtested(fits: dict[str, Any]) -> tuple[Path, Any]:
    result = finished(fits, "backtest")
    return Path(result.args[result.args.index("--out") + 1]), result


def test_backtest_scores_the_forecast_against_baselines(backtested: tuple[Path, Any]) -> None:
    out, result = backtested
    assert {"backtest.csv", "backtest_summary.csv", "backtest_pit.csv", "backtest_diagnostics.csv", "backtest.png",
            "backtest_scores.png", "backtest_scenario.yaml", "posterior.nc"} <= {p.name for p in out.iterdir()}
    table = pd.read_csv(out / "backtest.csv")
    assert set(table.metric) == {"arr", "new_customers", "churned_arr"}
    assert set(table.method) == {"revsim", "last_value", "linear_trend", "seasonal_naive"}
    # two origins three months apart, each forecast six months
    assert sorted(set(table.origin)) == ["2026-03", "2026-06"]
    assert sorted(set(table[table.origin == "2026-06"].month)) == ["2026-07", "2026-08", "2026-09", "2026-10",
                                                                   "2026-11", "2026-12"]
    assert sorted(set(table[table.origin == "2026-03"].month))[0] == "2026-04"
    assert {"actual", "median", "low_90", "high_90", "covered_50", "covered_80", "covered_90", "crps",
            "ape", "pit", "horizon"} <= set(table.columns)
    assert table.pit.between(0, 1).all()
    summary = pd.read_csv(out / "backtest_summary.csv", dtype={"horizon": str})
    # metric x method, over all horizons and then per horizon (1 to 6), each averaged over the two origins
    assert len(summary) == 12 * 7 and list(summary.horizon[:7]) == ["all", "1", "2", "3", "4", "5", "6"]
    assert (summary[summary.horizon != "all"].scored == 2).all()
    assert summary.coverage_90.between(0, 1).all() and (summary.crps > 0).all()
    per_h = summary[(summary.metric == "arr") & (summary.method == "revsim") & (summary.horizon != "all")]
    rows = table[(table.metric == "arr") & (table.method == "revsim")]
    np.testing.assert_allclose(per_h.crps, rows.groupby("horizon").crps.mean(), rtol=1e-5)
    pit = pd.read_csv(out / "backtest_pit.csv")
    assert (pit.groupby(["metric", "method"])["count"].sum() == 12).all()
    diagnostics = pd.read_csv(out / "backtest_diagnostics.csv")
    assert set(diagnostics.origin) == {"2026-03", "2026-06"} and {"r_hat", "ess_bulk"} <= set(diagnostics.columns)
    assert "backtest: 2 origins from 2026-03 to 2026-06 (3 month(s) apart), each forecast 6 month(s)" in result.stdout
    # the diagnostics gate, applied to each origin's calibration
    assert result.returncode == 0, result.stdout + result.stderr
    assert "diagnostics gate, origin 2026-03: passed" in result.stdout
    assert "diagnostics gate, origin 2026-06: passed" in result.stdout
    assert set(summary[summary.method == "revsim"].diagnostics) == {"passed"}
    assert set(table[table.method == "revsim"].diagnostics) == {"passed"}
    assert set(diagnostics.gate) == {"passed"}
    assert "origin 2/2: calibrating on the history up to 2026-06" in result.stderr
    assert "origin 1/2: simulating 300 draws of the 6 month(s) after 2026-03" in result.stderr
    revsim_arr = summary[(summary.metric == "arr") & (summary.method == "revsim") & (summary.horizon == "all")]
    assert revsim_arr.mape.iloc[0] < 0.1  # within 10% of the ARR actually reached
    actual = table[(table.metric == "arr") & (table.method == "revsim")]
    assert (actual.actual > 1.5e7).all()


def test_backtest_origins_share_one_compiled_model(backtested: tuple[Path, Any]) -> None:
    # both cuts have 24 months or more (seasonality estimated): one structure, compiled by the first origin
    # (or loaded from the test run's cache, when another test compiled it first), reused by the second
    out, result = backtested
    diagnostics = pd.read_csv(out / "backtest_diagnostics.csv")
    sources = diagnostics.groupby("origin", sort=True).compiled_model.agg(set)
    assert list(sources.index) == ["2026-03", "2026-06"]
    assert sources["2026-03"] <= {"compiled", "disk"} and sources["2026-06"] == {"memory"}
    first = ("compiled 1 time(s), reused from an earlier origin 1 time(s)" if sources["2026-03"] == {"compiled"}
             else "reused from an earlier origin 1 time(s), loaded from the cache 1 time(s)")
    assert f"2 calibration(s): model {first}; calibrating " in result.stdout


def test_backtest_starts_from_the_book_at_the_cut(backtested: tuple[Path, Any]) -> None:
    from revsim.scenario.load import load_scenario

    out, _ = backtested
    loaded = load_scenario(out / "backtest_scenario.yaml")
    assert loaded.model.start == "2026-07" and loaded.model.horizon_months == 6
    book = loaded.model.initial_book
    assert len(book) > 50 and {c.segment for c in book} == {"smb", "mid_market"}
    mrr = pd.read_csv(EXAMPLE_HISTORY / "mrr.csv")
    at_cut = mrr[mrr.month == "2026-06"].mrr.sum()
    assert sum(c.monthly_revenue for c in book) == pytest.approx(at_cut, rel=1e-4)
    assert loaded.model.funnel.open_at_start  # the pipeline open at the cut


def test_the_readmes_rolling_origin_backtest_passes_the_gate_at_every_origin(fits: dict[str, Any]) -> None:
    # one chain of this command once stayed where a vanishing conversion made the likelihood rise again: the
    # gate failed its 2025-04 origin and the command exited with code 3
    result = finished(fits, "readme_backtest")
    gates = [line for line in result.stdout.splitlines() + result.stderr.splitlines()
             if line.startswith("diagnostics gate, origin")]
    assert len(gates) == 6 and all(line.endswith(": passed") for line in gates), gates
    out = Path(result.args[result.args.index("--out") + 1])
    summary = pd.read_csv(out / "backtest_summary.csv")
    assert {"arr", "new_customers"} <= set(summary["metric"])
