"""The MCMC fits of the calibration tests, run in a fresh process (see ``calibration_helpers.in_fresh_process``).

PyMC, nutpie and the compiled models take hundreds of megabytes; fitting in a child process that exits keeps
the test run's own memory small (other tests measure the memory of the processes they start, which a fork
inherits). Each worker returns plain numbers and arrays.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

TRUE_ALPHA, TRUE_BETA = 0.8, 6.0
RECOVERY_SEEDS = range(101, 109)

FUNNEL_TRUTH = {
    "conversion": [0.3, 0.45, 0.25],
    "months_in_stage": [0.5, 1.0, 2.0],
    "growth": 0.01,
    "dispersion": 0.02,
    "expansion_rate": 0.004,
    "contraction_rate": 0.0025,
    "mrr_churn_rate": 0.02,
    "acv": 12_000.0,
    "acv_cv": 0.4,
    "loop_coefficient": 0.05,
}


def retention_fits() -> dict[str, Any]:
    """Every MCMC fit of ``test_retention.py``, on one retention model compiled once."""
    import nutpie
    import pymc as pm

    from revsim.calibrate.fit import compare_retention
    from revsim.calibrate.retention import RetentionBlock, fit_sbg_mle, retention_data, sufficient_statistics
    from revsim.calibrate.synthetic import sbg_cohorts

    def table(alpha: float, beta: float, size: int, seed: int, cohorts: int = 24) -> Any:
        return sbg_cohorts(alpha, beta, cohorts=cohorts, size=size, rng=np.random.default_rng(seed))

    block = RetentionBlock(retention_data(table(TRUE_ALPHA, TRUE_BETA, 300, 0)), ("sbg", "constant"))
    with pm.Model(coords=block.coords()) as model:
        block.build()
    compiled = nutpie.compile_pymc_model(model)

    def sample(data: Any, seed: int) -> Any:
        deaths, survivors = sufficient_statistics(data)
        values = {"retention_renewals": data.renewals.astype(float), "retention_onboarded": data.onboarded.astype(float),
                  "retention_deaths": deaths, "retention_survivors": survivors}
        fitted = compiled.with_data(**{k: v for k, v in values.items() if k in compiled.shared_data})
        return nutpie.sample(fitted, draws=400, tune=400, chains=2, cores=2, seed=seed, progress_bar=False)

    def draws(idata: Any, name: str) -> np.ndarray:
        return np.asarray(idata.posterior[name].values, dtype=float).ravel()

    out: dict[str, Any] = {"recovery": []}
    for seed in RECOVERY_SEEDS:
        idata = sample(retention_data(table(TRUE_ALPHA, TRUE_BETA, 300, seed)), seed)
        out["recovery"].append({"alpha": draws(idata, "sbg_alpha"), "beta": draws(idata, "sbg_beta"),
                                "divergences": int(idata.sample_stats.diverging.values.sum())})

    large = retention_data(table(TRUE_ALPHA, TRUE_BETA, 4000, 7))
    alpha_mle, beta_mle, _ = fit_sbg_mle(large)
    idata = sample(large, 3)
    out["large"] = {"alpha": draws(idata, "sbg_alpha"), "beta": draws(idata, "sbg_beta"),
                    "alpha_mle": float(alpha_mle[0]), "beta_mle": float(beta_mle[0])}

    full = table(TRUE_ALPHA, TRUE_BETA, 1000, 11)
    seen = full.customers.copy()[:, :13]  # the first 12 periods after acquisition
    idata = sample(retention_data(replace(full, customers=seen)), 5)
    observed = []
    for k in range(13, 24):
        rows = np.isfinite(full.customers[:, k])
        observed.append(full.customers[rows, k].sum() / full.customers[rows, 0].sum())
    out["held_out"] = {"alpha": draws(idata, "sbg_alpha"), "beta": draws(idata, "sbg_beta"),
                       "churn": draws(idata, "churn"), "observed": np.array(observed), "periods": np.arange(13, 24)}

    out["loo"] = {}
    for expected, (a, b) in {"sbg": (0.7, 5.0), "constant": (0.05 * 5000, 0.95 * 5000)}.items():
        data = retention_data(table(a, b, 300, 21))
        comparison = compare_retention(RetentionBlock(data, ("sbg", "constant")), sample(data, 2).posterior)
        out["loo"][expected] = {"best": comparison.choice[None], "describe": comparison.describe()}
    return out


def joint_fit() -> dict[str, Any]:
    """The joint fit of ``test_models.py``: funnel, volume, MRR movements, pricing and loop on synthetic history."""
    from revsim.calibrate.checks import predictive_checks
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.diagnostics import diagnostic_warnings, diagnostics_table
    from revsim.calibrate.fit import FitOptions, fit
    from revsim.calibrate.history import History, MrrHistory
    from revsim.calibrate.scenario_update import add_derived, assignments
    from revsim.calibrate.synthetic import funnel_counts, mrr_movements, referrals

    truth = FUNNEL_TRUTH
    rng = np.random.default_rng(2024)
    season = np.exp(0.15 * np.sin(2 * np.pi * np.arange(12) / 12))  # geometric mean 1, like the model's
    funnel = funnel_counts(volume=3000, growth=truth["growth"], dispersion=truth["dispersion"],
                           conversion=truth["conversion"], months_in_stage=truth["months_in_stage"], months=36,
                           rng=rng, seasonality=season, stages=["lead", "mql", "opp", "won"])
    mrr = mrr_movements(expansion_rate=truth["expansion_rate"], contraction_rate=truth["contraction_rate"],
                        churn_rate=truth["mrr_churn_rate"], noise=0.0005, months=36, start_mrr=500_000,
                        new_per_month=30_000, rng=rng)
    won = funnel.counts[:, 3, 0, 0]
    cv2 = truth["acv_cv"] ** 2
    new = np.where(won > 0, rng.gamma(np.maximum(won, 1) / cv2, truth["acv"] / 12 * cv2), 0.0)
    mrr = MrrHistory(**{**mrr.__dict__, "new": new[:, None]})
    loops = referrals(coefficient=truth["loop_coefficient"], source=np.linspace(200, 420, 36).round(), rng=rng)
    history = History(funnel=funnel, mrr=mrr, referrals=loops)
    result = fit(history, context_without_scenario(history), FitOptions(draws=1000, tune=500, chains=2, seed=3))
    samples = {}
    for name in truth:
        values = np.asarray(result.posterior[name].values, dtype=float)
        samples[name] = values.reshape(values.shape[0] * values.shape[1], -1)
    table = diagnostics_table(result)
    warnings = diagnostic_warnings(table.assign(r_hat=1.05), divergences=3)
    checks = {c.block: c.coverage(0.9) for c in predictive_checks(result, draws=200)}
    add_derived(result, None)
    items, _ = assignments(result, None)
    inputs = {item.path(): item.value for item in items}
    return {"samples": samples, "divergences": result.divergences, "blocks": sorted(set(table.block)),
            "max_r_hat": float(table.r_hat.max()), "columns": list(table.columns), "warnings": warnings,
            "checks": checks, "season": np.asarray(result.posterior["seasonality"].values).reshape(-1, 12),
            "season_truth": season, "inputs": inputs}


#: Synthetic funnel histories of the funnel coverage check, and the true months in stage of its three stages.
COVERAGE_SEEDS = 12
COVERAGE_MONTHS = [0.5, 1.0, 2.0]


def funnel_coverage() -> dict[str, Any]:
    """The funnel model's 90% intervals over synthetic histories (``benchmarks/calibration.py --funnel-coverage``)."""
    from benchmarks.calibration import funnel_coverage as measure

    return measure(COVERAGE_SEEDS, COVERAGE_MONTHS)


#: Small synthetic companies whose one-month-ahead ARR intervals are checked, and the draws of each fit.
ARR_COVERAGE_HISTORIES = 20
ARR_COVERAGE_FIT = {"draws": 150, "tune": 200, "chains": 2, "simulation_draws": 400}


def small_company(seed: int) -> dict[str, Any]:
    """A small monthly-plan company for the independent simulator, its rates varied with ``seed``."""
    rng = np.random.default_rng(seed)
    return {
        "name": f"small company {seed}",
        "start": "2023-01",
        "currency": "USD",
        "segments": [{"name": "smb", "share": 1.0}],
        "channels": [{"name": "inbound", "volume": float(rng.uniform(600, 1200)),
                      "growth": float(rng.uniform(0.0, 0.02)), "dispersion": 0.03}],
        "funnel": {"stages": [
            {"name": "lead", "conversion": float(rng.uniform(0.15, 0.3)), "months": 0.5},
            {"name": "trial", "conversion": float(rng.uniform(0.3, 0.5)), "months": float(rng.uniform(0.5, 1.5))},
            {"name": "paid"},
        ]},
        "pricing": {"smb": {"acv": float(rng.uniform(3000, 9000)), "acv_cv": 0.4}},
        "onboarding": {"success": 0.95, "months": 1},
        "retention": {"smb": {"model": "sbg", "alpha": 1.0, "beta": float(rng.uniform(10, 25)),
                              "contract_months": 1}},
        "expansion": {"smb": {"rate": 0.02, "size": 0.2, "contraction_rate": 0.01, "contraction_size": 0.25}},
        "advocacy": {"rate": 0.1, "adoption_months": 3},
    }


def arr_coverage(histories: int = ARR_COVERAGE_HISTORIES, sampler: str = "nutpie") -> dict[str, Any]:
    """Backtest one month ahead on ``histories`` small companies drawn by the independent simulator.

    Each company is simulated from 2023-01 for 25 months; its history is 2023-01 to 2025-01, the backtest
    calibrates on 2023-01 to 2024-12 (24 months) and forecasts 2025-01. Returns, per history, the actual ARR
    and revsim's 90% interval, and the seconds each backtest took.
    """
    import tempfile
    import time
    from pathlib import Path

    import yaml

    from benchmarks.company import simulate_company
    from revsim.calibrate.backtest import backtest

    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed in range(histories):
            folder = Path(work) / f"company_{seed}"
            run = simulate_company(small_company(seed), months=25, seed=1000 + seed)
            run.write_history(folder, first_month="2023-01", last_month="2025-01")
            plan = folder / "plan.yaml"
            plan.write_text(yaml.safe_dump(run.plan_scenario(cut="2025-01"), sort_keys=False), encoding="utf-8")
            started = time.perf_counter()
            result = backtest(plan, folder, 1, seed=seed, sampler=sampler, draws=ARR_COVERAGE_FIT["draws"],
                              tune=ARR_COVERAGE_FIT["tune"], chains=ARR_COVERAGE_FIT["chains"],
                              simulation_draws=ARR_COVERAGE_FIT["simulation_draws"])
            row = result.table[(result.table.metric == "arr") & (result.table.method == "revsim")].iloc[0]
            rows.append({"actual": float(row.actual), "low_90": float(row.low_90), "high_90": float(row.high_90),
                         "pit": float(row.pit), "seconds": time.perf_counter() - started,
                         "calibrate_seconds": result.latest.seconds["calibrate"]})
    return {"rows": rows}


#: The company of ``test_company_history.py`` and ``test_reproducible.py``: monthly plans with heterogeneous customers (sBG), and quarterly contracts with
#: a constant churn per renewal and a 5% price uplift at each renewal.
COMPANY_MONTHS, COMPANY_MRR_MONTHS = 60, 36


def company_segments() -> list[Any]:
    from company_history import SegmentTruth

    return [
        SegmentTruth("smb", contract_months=1, new_per_month=60, growth=0.02, mrr_per_customer=400, price_uplift=0.0,
                     upgrade=0.02, size=0.25, downgrade=0.008, contraction_size=0.25, alpha=0.8, beta=8.0),
        SegmentTruth("mid", contract_months=3, new_per_month=25, growth=0.02, mrr_per_customer=2500,
                     price_uplift=0.05, upgrade=0.012, size=0.3, downgrade=0.006, contraction_size=0.25, churn=0.06),
    ]


#: The five-stage funnel of ``funnel_stages_fit``: a 0.8-month stage followed by a 1-month stage, two segments.
STAGES_TRUTH = {"stages": ["lead", "mql", "sql", "opportunity", "won"], "conversion": [0.2, 0.4, 0.4, 0.2],
                "months_in_stage": [0.8, 1.0, 1.5, 3.0], "segments": ["mid_market", "enterprise"]}


def funnel_stages_fit() -> dict[str, Any]:
    """The funnel model on 48 months of a five-stage, two-segment synthetic history (``funnel_counts``), and its
    likelihood on a stage that holds nobody in the first months."""
    import pytensor.tensor as pt

    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.fit import FitOptions, fit
    from revsim.calibrate.funnel import conversion_logp
    from revsim.calibrate.history import History
    from revsim.calibrate.synthetic import funnel_counts

    truth = STAGES_TRUTH
    season = [1.05, 1.0, 1.1, 1.05, 1.0, 0.95, 0.8, 0.85, 1.05, 1.1, 1.05, 1.0]
    funnel = funnel_counts(volume=3500, growth=0.008, dispersion=0.03, conversion=truth["conversion"],
                           months_in_stage=truth["months_in_stage"], months=48, rng=np.random.default_rng(48),
                           seasonality=season, stages=truth["stages"], segments=truth["segments"],
                           shares=[0.75, 0.25])
    history = History(funnel=funnel)
    result = fit(history, context_without_scenario(history), FitOptions(draws=500, tune=500, chains=2, seed=7))
    months = np.asarray(result.posterior["months_in_stage"].values, dtype=float)
    months = months.reshape(-1, *months.shape[2:])  # [sample, stage, segment]

    # a small channel's stage: nobody in the first two months, then a few
    trials = np.array([[0.0, 0.0, 3.0, 1.0, 0.0, 2.0, 0.0, 0.0]])
    conversions = np.array([[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]])
    logp = conversion_logp(pt.as_tensor([0.5]), pt.as_tensor([0.4]), pt.as_tensor([100.0]),
                           pt.as_tensor(trials), pt.as_tensor(trials[:, 0]),
                           pt.as_tensor(conversions)).eval()
    return {"months": months, "divergences": result.divergences, "empty_stage_logp": np.asarray(logp)}


#: A slow sales cycle that monthly counts barely identify (``slow_stage_fits``): months in opportunity per segment,
#: and the plan's months, off the truth by a quarter, with 90% intervals a factor 1.5 either way.
SLOW_STAGE_TRUTH = {"stages": ["lead", "opportunity", "won"], "segments": ["commercial", "enterprise"],
                    "conversion": [[0.3, 0.22], [0.3, 0.18]], "months_in_stage": [[0.5, 5.0], [0.5, 8.0]],
                    "plan_months": {"commercial": 6.25, "enterprise": 10.0}}


def slow_stage_fits() -> dict[str, Any]:
    """The funnel of :data:`SLOW_STAGE_TRUTH` on 48 months of synthetic counts, calibrated with the default prior on
    the months in stage and with the prior centred on the plan (the same compiled model: the prior's location
    is data)."""
    import math

    from revsim.calibrate.context import ScenarioContext
    from revsim.calibrate.fit import FitOptions, fit
    from revsim.calibrate.history import History
    from revsim.calibrate.plan_priors import Z90, PlanValue
    from revsim.calibrate.synthetic import funnel_counts

    truth = SLOW_STAGE_TRUTH
    funnel = funnel_counts(volume=600, growth=0.01, dispersion=0.02, conversion=truth["conversion"],
                           months_in_stage=truth["months_in_stage"], months=48, rng=np.random.default_rng(5),
                           seasonality=[1.0, 1.05, 1.1, 1.05, 1.0, 0.95, 0.85, 0.85, 1.05, 1.1, 1.05, 0.95],
                           stages=truth["stages"], segments=truth["segments"], shares=[0.6, 0.4])
    history = History(funnel=funnel)
    spread = math.log(1.5) / Z90
    plan = {("opportunity", None): PlanValue(math.log(truth["plan_months"]["commercial"]), spread),
            ("opportunity", "enterprise"): PlanValue(math.log(truth["plan_months"]["enterprise"]), spread)}
    out: dict[str, Any] = {}
    for name, months in (("default", {}), ("plan", plan)):
        context = ScenarioContext(stages=truth["stages"], segments=truth["segments"], plan_months=months)
        result = fit(history, context, FitOptions(draws=500, tune=500, chains=2, seed=11))
        values = np.asarray(result.posterior["months_in_stage"].sel(stage="opportunity").values, dtype=float)
        out[name] = {"months": values.reshape(-1, values.shape[-1]), "divergences": result.divergences,
                     "compiled_from": result.compiled_from}
    return out


def slow_stage_open_fit() -> dict[str, Any]:
    """The funnel of :data:`SLOW_STAGE_TRUTH` on the same 48 months of synthetic counts as ``slow_stage_fits``, with
    the members open in each stage at month end (the ``open`` column), calibrated with the default prior on the
    months in stage."""
    from revsim.calibrate.context import ScenarioContext
    from revsim.calibrate.fit import FitOptions, fit
    from revsim.calibrate.history import History
    from revsim.calibrate.synthetic import funnel_counts

    truth = SLOW_STAGE_TRUTH
    funnel = funnel_counts(volume=600, growth=0.01, dispersion=0.02, conversion=truth["conversion"],
                           months_in_stage=truth["months_in_stage"], months=48, rng=np.random.default_rng(5),
                           seasonality=[1.0, 1.05, 1.1, 1.05, 1.0, 0.95, 0.85, 0.85, 1.05, 1.1, 1.05, 0.95],
                           stages=truth["stages"], segments=truth["segments"], shares=[0.6, 0.4], with_open=True)
    context = ScenarioContext(stages=truth["stages"], segments=truth["segments"])
    result = fit(History(funnel=funnel), context, FitOptions(draws=500, tune=500, chains=2, seed=11))
    months = np.asarray(result.posterior["months_in_stage"].values, dtype=float)
    conversion = np.asarray(result.posterior["conversion"].values, dtype=float)
    return {"months": months.reshape(-1, *months.shape[2:]), "conversion": conversion.reshape(-1, *conversion.shape[2:]),
            "divergences": result.divergences, "stages": list(result.posterior["months_in_stage"].stage.values)}
