"""Forecast accuracy: rolling-origin backtests of revsim against naive baselines on several companies.

``python benchmarks/forecast_accuracy.py [--companies worked_example,product_led,enterprise] [--origins 6]
[--holdout 12] [--draws 250] [--tune 250] [--chains 2] [--simulation-draws 500]``

Each company's history is backtested with ``revsim backtest --origins K --holdout N`` (each origin calibrated
through the normal calibration path on the months before it). The companies:

* ``worked_example``: ``scenarios/history`` with ``northwind.yaml`` (a history the engine generated);
* ``product_led``, ``enterprise`` (and any other shape of :mod:`benchmarks.company.shapes`): a history drawn
  by the independent company simulator (:mod:`benchmarks.company`, which does not use the engine), with the
  plan a team would write at the end of the history (:func:`benchmarks.company.plan.plan_scenario`) as the
  scenario. Their ``funnel.csv`` has the ``open`` column (the members open in each stage at month end, as a
  CRM's pipeline report gives them).

Printed, per company: revsim's mean CRPS against the best naive baseline's (the lowest mean CRPS of last
value, linear trend and seasonal naive at that horizon) for ARR and new customers 6 and 12 months ahead
(target: revsim at most the baseline); the 80% interval coverage averaged over the series and origins
(target 70-90%); and revsim's PIT histogram per series (target: flat, no tilt; ``tilt`` is the mean PIT minus
0.5, positive when the actual values run above the forecast), and the posterior median months in the slowest
stage at each origin. Every table of every backtest is written under
``--out``; the figures are also written to ``--json``.

With ``--oracle``, each simulated company's (and the worked example's) cuts are also forecast by the engine from
the company itself: the true parameters and the true state at the cut
(:func:`benchmarks.company.plan.true_scenario`), scored the same way. That is the best forecast a calibration
could give: where it loses to a naive baseline too, the company's own noise at that horizon is the reason, not
the calibration. A second forecast, revsim's calibration with the true funnel (every stage's conversion and
months in stage, and the members open at the cut), tells how much of revsim's error is the funnel's. Printed:
each forecast's 80% coverage per series and the mean width of its 80% interval 1, 6 and 12 months ahead over the
true company's; per origin, the median ARR 6 and 12 months ahead of each forecast, against the actual value and
the naive baselines'. The worked example's true company is ``truth.yaml`` at each cut
(:mod:`benchmarks.worked_example_truth`). With ``--swap-blocks`` too, each block of revsim's calibrated inputs
(:data:`SWAP_BLOCKS`) is put into the true company alone, and the widths and coverage of those forecasts
printed: which inputs widen revsim's intervals.

``--seeds 1-10`` backtests ten histories of each simulated company (each drawn and calibrated with its seed,
written under ``--out/seedN``) and prints the 80% coverage averaged over them, with its standard error over the
histories: one history's coverage is known to about 8 points only (``benchmarks/coverage_spread.py``).

Few posterior draws are enough here: the scores average over origins, horizons and 500 simulated draws, and a
posterior of 2 x 250 draws gives the same intervals to about a percent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))

HORIZONS = (6, 12)
SCORED = ("arr", "new_customers")
#: Independent-simulator companies: (shape, months simulated, first and last month of the history).
COMPANIES = {
    "product_led": ("product_led", 60, "2023-07", "2026-06"),
    "enterprise": ("enterprise", 72, "2023-01", "2026-12"),
    "two_channel_two_segment": ("two_channel_two_segment", 72, "2023-01", "2026-12"),
    "quarterly_uplift": ("quarterly_uplift", 72, "2023-01", "2026-12"),
    "independent_worked_example": ("worked_example", 60, "2024-01", "2026-12"),
}


def company_inputs(name: str, work: Path, seed: int, plan_shift_seed: int | None = None) -> tuple[Path, Path]:
    """(scenario file, history directory) of a company; ``plan_shift_seed`` moves the plan's guesses off the truth
    (:func:`benchmarks.company.plan.plan_scenario`)."""
    if name == "worked_example":
        return ROOT / "scenarios" / "history" / "northwind.yaml", ROOT / "scenarios" / "history"
    import yaml

    from benchmarks.company import shapes, simulate_company

    shape, months, first, last = COMPANIES[name]
    run = simulate_company(getattr(shapes, shape)(), months=months, seed=seed)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    run.write_history(folder, first_month=first, last_month=last)
    scenario = folder / "plan.yaml"
    plan = run.plan_scenario(cut=last, shift_seed=plan_shift_seed)
    scenario.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return scenario, folder


def simulated_run(name: str, seed: int) -> Any:
    """The independent simulator's company ``name`` (as :func:`company_inputs` draws it); for the worked example,
    its true company (:class:`benchmarks.worked_example_truth.WorkedExampleTruth`)."""
    from benchmarks.company import shapes, simulate_company

    if name == "worked_example":
        from benchmarks.worked_example_truth import WorkedExampleTruth

        return WorkedExampleTruth()

    shape, months, _, _ = COMPANIES[name]
    return simulate_company(getattr(shapes, shape)(), months=months, seed=seed)


def oracle_figures(result: Any, run: Any, draws: int, seed: int) -> dict[str, Any]:
    """Scores of the forecasts from the true parameters and state (``oracle``) and of revsim's calibration with
    the true funnel (``true_funnel``) at the backtest's cuts, and every forecast's median ARR 6 and 12 months
    ahead per origin."""
    import tempfile

    import numpy as np
    import pandas as pd

    import revsim
    from revsim.calibrate.backtest import POSTERIOR_FILE, SCENARIO_FILE, forecast_samples
    from revsim.calibrate.backtest_scoring import score_origin, summarise
    from revsim.calibrate.history import month_index
    from revsim.results.write_errors import write_inference_data
    from revsim.scenario.load import scenario_from_dict

    rows: dict[str, list[dict]] = {"oracle": [], "true_funnel": []}
    paths: list[dict[str, Any]] = []
    table = result.table
    for origin in result.origins:
        cut = month_index(origin.cut)
        truth = run.true_scenario(origin.cut, horizon_months=result.holdout)
        true_funnel = dict(origin.scenario_data, funnel=dict(origin.scenario_data["funnel"], stages=truth["funnel"]["stages"],
                                                             open_at_start=truth["funnel"]["open_at_start"]))
        medians: dict[str, Any] = {"origin": origin.cut}
        with tempfile.TemporaryDirectory(prefix="revsim-oracle-") as folder:
            write_inference_data(origin.posterior, Path(folder) / POSTERIOR_FILE)
            for method, data in (("oracle", truth), ("true_funnel", true_funnel)):
                loaded = scenario_from_dict(data, base_dir=folder, file=SCENARIO_FILE)
                forecast = revsim.simulate(loaded, draws=draws, seed=seed)
                samples = {m: forecast_samples(forecast, m) for m in ("arr", "new_customers", "churned_arr")}
                scored = [r for r in score_origin(result.series, samples, cut, result.holdout) if r["method"] == "revsim"]
                rows[method] += [dict(r, method=method) for r in scored]
                for h in HORIZONS:
                    if h <= result.holdout:
                        medians[f"{method}@{h}"] = float(np.median(samples["arr"][:, h - 1]))
        at = table[(table.origin == origin.cut) & (table.metric == "arr")]
        for h in HORIZONS:
            for method, group in at[at.horizon == h].groupby("method"):
                medians[f"{method}@{h}"] = float(group["median"].iloc[0])
                medians[f"actual@{h}"] = float(group["actual"].iloc[0])
        paths.append(medians)
    out: dict[str, Any] = {"crps": {}, "pit_tilt": {}, "median_arr": paths}
    for method, scored in rows.items():
        frame = pd.DataFrame(scored)
        summary = summarise(frame)
        naive = result.summary[result.summary.method != "revsim"]
        for metric in SCORED:
            for h in HORIZONS:
                at = summary[(summary.metric == metric) & (summary.horizon == str(h))]
                best = naive[(naive.metric == metric) & (naive.horizon == str(h))].crps.min()
                if not at.empty:
                    out["crps"].setdefault(method, {})[f"{metric}@{h}"] = {
                        "crps": float(at.crps.iloc[0]), "best_naive": float(best), "ratio": float(at.crps.iloc[0]) / float(best)}
        out["pit_tilt"][method] = {m: float(g.pit.mean() - 0.5) for m, g in frame.groupby("metric")}
        out.setdefault("coverage_80", {})[method] = float(summary[summary.horizon == "all"].coverage_80.mean())
    own = table[table.method == "revsim"]
    for method, frame in (("revsim", own), *((m, pd.DataFrame(r)) for m, r in rows.items())):
        out.setdefault("coverage_80_by_metric", {})[method] = {
            m: float(g.covered_80.mean()) for m, g in frame.groupby("metric")}
        width = frame.assign(width=frame.high_80 - frame.low_80)
        out.setdefault("width_80", {})[method] = {
            m: {str(h): float(g[g.horizon == h].width.mean()) for h in (1, *HORIZONS) if h <= result.holdout}
            for m, g in width.groupby("metric")}
    return out


#: Blocks of calibrated inputs put one at a time into the true company by ``--swap-blocks``: name -> the
#: scenario's top-level keys (``funnel`` holds the stage conversions, months and the pipeline open at the cut).
SWAP_BLOCKS = {"lead volume, growth, seasonality": ("channels",), "funnel and open pipeline": ("funnel",),
               "contract values": ("pricing",), "retention and onboarding": ("retention", "onboarding"),
               "expansion and contraction": ("expansion",), "referral loop": ("loops",),
               "all (revsim)": ("channels", "funnel", "pricing", "retention", "onboarding", "expansion", "loops")}


def swap_widths(result: Any, run: Any, draws: int, seed: int) -> dict[str, Any]:
    """Width of the 80% interval of each scored series 1, 6 and 12 months ahead when one block of revsim's
    calibrated inputs (:data:`SWAP_BLOCKS`) replaces the truth's in the true company at each cut, over the true
    company's own width (1 = no wider), averaged over the cuts; and the coverage of those forecasts."""
    import tempfile

    import numpy as np

    import revsim
    from revsim.calibrate.backtest import POSTERIOR_FILE, SCENARIO_FILE, forecast_samples
    from revsim.calibrate.backtest_scoring import score_origin
    from revsim.calibrate.history import month_index
    from revsim.results.write_errors import write_inference_data
    from revsim.scenario.load import scenario_from_dict

    metrics = ("arr", "new_customers", "churned_arr")
    horizons = [h for h in (1, *HORIZONS) if h <= result.holdout]
    widths: dict[str, dict[str, list[list[float]]]] = {}
    covered: dict[str, dict[str, list[bool]]] = {}
    for origin in result.origins:
        truth = run.true_scenario(origin.cut, horizon_months=result.holdout)
        with tempfile.TemporaryDirectory(prefix="revsim-swap-") as folder:
            write_inference_data(origin.posterior, Path(folder) / POSTERIOR_FILE)
            for name, keys in {"true company": (), **SWAP_BLOCKS}.items():
                data = dict(truth)
                for key in keys:
                    if key in origin.scenario_data:
                        data[key] = origin.scenario_data[key]
                loaded = scenario_from_dict(data, base_dir=folder, file=SCENARIO_FILE)
                forecast = revsim.simulate(loaded, draws=draws, seed=seed)
                samples = {m: forecast_samples(forecast, m) for m in metrics}
                for m in metrics:
                    low, high = np.quantile(samples[m][:, [h - 1 for h in horizons]], [0.1, 0.9], axis=0)
                    widths.setdefault(name, {}).setdefault(m, []).append(list(high - low))
                for row in score_origin(result.series, samples, month_index(origin.cut), result.holdout):
                    if row["method"] == "revsim":
                        covered.setdefault(name, {}).setdefault(row["metric"], []).append(row["covered_80"])
    base = {m: np.mean(widths["true company"][m], axis=0) for m in metrics}
    return {name: {m: {"width": {str(h): float(w) for h, w in zip(horizons, np.mean(by[m], axis=0) / base[m],
                                                                      strict=True)},
                       "coverage_80": float(np.mean(covered[name][m]))} for m in metrics}
            for name, by in widths.items()}


def swap_report(fig: dict[str, Any]) -> str:
    lines = ["  one block of revsim's inputs in the true company: 80% interval width 1/6/12 months ahead over the "
             "true company's, and 80% coverage"]
    for name, by in fig.items():
        parts = ", ".join(f"{m} {'/'.join(f'{w:.2f}' for w in row['width'].values())} ({row['coverage_80']:.0%})"
                          for m, row in by.items())
        lines.append(f"    {name:<34} {parts}")
    return "\n".join(lines)


def oracle_report(fig: dict[str, Any]) -> str:
    lines = []
    names = {"oracle": "true parameters and state", "true_funnel": "revsim with the true funnel"}
    for method, crps in fig["crps"].items():
        parts = "  ".join(f"{key} {row['ratio']:.2f}" for key, row in crps.items())
        tilt = ", ".join(f"{m} {v:+.2f}" for m, v in fig["pit_tilt"][method].items())
        lines.append(f"  {names[method]}: CRPS / best naive {parts}; 80% coverage {fig['coverage_80'][method]:.0%}; "
                     f"PIT tilt {tilt}")
    lines.append("  80% coverage per series, and mean width of the 80% interval 1, 6 and 12 months ahead over the "
                 "true parameters' (oracle = 1.00)")
    oracle_width = fig["width_80"]["oracle"]
    for method in ("revsim", "true_funnel", "oracle"):
        parts = []
        for metric, cover in fig["coverage_80_by_metric"][method].items():
            ratios = "/".join(f"{w / oracle_width[metric][h]:.2f}" for h, w in fig["width_80"][method][metric].items())
            parts.append(f"{metric} {cover:.0%} (width {ratios})")
        lines.append(f"    {method:<12} " + ", ".join(parts))
    methods = ("actual", "revsim", "true_funnel", "oracle", "last_value", "linear_trend")
    for h in HORIZONS:
        lines.append(f"  median ARR {h} months ahead (millions)")
        lines.append(f"    {'origin':<8}" + "".join(f"{m:>14}" for m in methods))
        for row in fig["median_arr"]:
            if f"actual@{h}" in row:
                lines.append(f"    {row['origin']:<8}" + "".join(f"{row.get(f'{m}@{h}', float('nan')) / 1e6:>14.2f}"
                                                              for m in methods))
    return "\n".join(lines)


def figures(result: Any) -> dict[str, Any]:
    """The target figures of one backtest."""
    import numpy as np

    summary = result.summary
    out: dict[str, Any] = {"origins": [o.cut for o in result.origins], "crps": {}, "pit": {}}
    for metric in SCORED:
        for h in HORIZONS:
            if h > result.holdout:
                continue
            at = summary[(summary.metric == metric) & (summary.horizon == str(h))]
            if at.empty:
                continue
            model = float(at[at.method == "revsim"].crps.iloc[0])
            naive = at[at.method != "revsim"].sort_values("crps").iloc[0]
            out["crps"][f"{metric}@{h}"] = {"revsim": model, "best_naive": float(naive.crps),
                                            "best_naive_method": str(naive.method), "ratio": model / float(naive.crps)}
    overall = summary[(summary.horizon == "all") & (summary.method == "revsim")]
    out["coverage_80"] = {row.metric: float(row.coverage_80) for row in overall.itertuples()}
    out["coverage_80_mean"] = float(np.mean(list(out["coverage_80"].values())))
    out["coverage_90"] = {row.metric: float(row.coverage_90) for row in overall.itertuples()}
    table = result.table[result.table.method == "revsim"]
    for metric, group in table.groupby("metric", sort=False):
        counts, _ = np.histogram(np.clip(group.pit, 0, 1), bins=np.linspace(0, 1, 11))
        out["pit"][metric] = {"counts": counts.tolist(), "tilt": float(group.pit.mean() - 0.5)}
    out["seconds"] = [o.seconds for o in result.origins]
    out["months_in_stage"] = {o.cut: months_medians(o.posterior.posterior) for o in result.origins}
    return out


def months_medians(posterior: Any) -> dict[str, float]:
    """The posterior median of every stage's months in stage (per segment), ``stage/segment`` -> months."""
    import numpy as np

    if "months_in_stage" not in posterior:
        return {}
    months = posterior["months_in_stage"]
    out = {}
    for stage in months.stage.values:
        cell = months.sel(stage=stage)
        for seg in (cell.segment.values if "segment" in cell.dims else [None]):
            values = cell.sel(segment=seg) if seg is not None else cell
            out[f"{stage}/{seg}" if seg is not None else str(stage)] = float(np.median(values.values))
    return out


def report(name: str, fig: dict[str, Any]) -> str:
    lines = [f"{name}: {len(fig['origins'])} origins {fig['origins'][0]} to {fig['origins'][-1]}"]
    for key, row in fig["crps"].items():
        verdict = "meets" if row["ratio"] <= 1 else "misses"
        lines.append(f"  CRPS {key:<18} revsim {row['revsim']:>12,.4g}  best naive {row['best_naive']:>12,.4g} "
                     f"({row['best_naive_method']})  ratio {row['ratio']:.2f}  {verdict}")
    cover = ", ".join(f"{m} {v:.0%}" for m, v in fig["coverage_80"].items())
    lines.append(f"  80% coverage {fig['coverage_80_mean']:.0%} over series and origins ({cover}); target 70-90%")
    for metric, pit in fig["pit"].items():
        lines.append(f"  PIT {metric:<14} {' '.join(f'{c:3d}' for c in pit['counts'])}   tilt {pit['tilt']:+.2f}")
    slowest = [key for key in next(iter(fig["months_in_stage"].values()), {}) if key.split("/")[0] ==
               max(fig["months_in_stage"][fig["origins"][-1]], key=fig["months_in_stage"][fig["origins"][-1]].get).split("/")[0]]
    for key in slowest:
        lines.append(f"  months in {key} (posterior median) per origin: "
                     + ", ".join(f"{fig['months_in_stage'][o][key]:.1f}" for o in fig["origins"]))
    return "\n".join(lines)


def run_company(name: str, seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Backtest one company (its history drawn with ``seed``), print and return its figures."""
    from revsim.calibrate.backtest import backtest

    scenario, history = company_inputs(name, out / "histories", seed, args.plan_shift_seed)
    started = time.perf_counter()
    result = backtest(scenario, history, args.holdout, origins=args.origins, spacing=args.spacing,
                      draws=args.draws, tune=args.tune, chains=args.chains, seed=seed,
                      retention=args.retention or ("both" if name == "worked_example" else "auto"),
                      simulation_draws=args.simulation_draws,
                      announce=lambda text: print(f"  [{time.perf_counter() - started:5.0f} s] {text}",
                                                  file=sys.stderr, flush=True))
    result.write(out / name, force=True)
    fig = figures(result)
    fig["wall_s"] = time.perf_counter() - started
    print(report(name if args.seeds is None else f"{name} (seed {seed})", fig), flush=True)
    if args.oracle and (name in COMPANIES or name == "worked_example"):
        truth = simulated_run(name, seed)
        fig["oracle"] = oracle_figures(result, truth, args.simulation_draws, seed)
        print(oracle_report(fig["oracle"]), flush=True)
        if args.swap_blocks:
            fig["swap_blocks"] = swap_widths(result, truth, args.simulation_draws, seed)
            print(swap_report(fig["swap_blocks"]), flush=True)
    return fig


def parse_seeds(text: str) -> list[int]:
    """``1-10`` or ``1,4,7`` -> the seeds."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def over_seeds(by_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """80% coverage per series averaged over the histories (with its standard error over them), revsim's and,
    with ``--oracle``, the true parameters'."""
    import numpy as np

    methods: dict[str, list[dict[str, float]]] = {"revsim": [fig["coverage_80"] for fig in by_seed.values()]}
    if all("oracle" in fig for fig in by_seed.values()):
        methods["oracle"] = [fig["oracle"]["coverage_80_by_metric"]["oracle"] for fig in by_seed.values()]
    out: dict[str, Any] = {"seeds": list(by_seed)}
    for method, rows in methods.items():
        metrics = list(rows[0])
        means = np.array([[row[m] for m in metrics] for row in rows])
        overall = means.mean(axis=1)
        se = float(overall.std(ddof=1) / np.sqrt(len(overall))) if len(overall) > 1 else float("nan")
        out[method] = {"coverage_80": {m: float(means[:, i].mean()) for i, m in enumerate(metrics)},
                       "coverage_80_mean": float(overall.mean()), "standard_error": se,
                       "per_history": overall.tolist()}
    return out


def seeds_report(name: str, summary: dict[str, Any]) -> str:
    seeds = summary["seeds"]
    lines = [f"{name}: {len(seeds)} histories (seeds {seeds[0]} to {seeds[-1]})"]
    for method, row in summary.items():
        if method == "seeds":
            continue
        cover = ", ".join(f"{m} {v:.1%}" for m, v in row["coverage_80"].items())
        label = "revsim" if method == "revsim" else "true parameters and state"
        lines.append(f"  {label}: 80% coverage {row['coverage_80_mean']:.1%} (standard error "
                     f"{row['standard_error']:.1%} over histories; {min(row['per_history']):.0%} to {max(row['per_history']):.0%}) ({cover}); "
                     f"target 70-90%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", default="worked_example,product_led,enterprise")
    parser.add_argument("--origins", type=int, default=6)
    parser.add_argument("--holdout", type=int, default=12)
    parser.add_argument("--spacing", type=int, default=None)
    parser.add_argument("--draws", type=int, default=250)
    parser.add_argument("--tune", type=int, default=250)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--simulation-draws", type=int, default=500)
    parser.add_argument("--retention", default=None,
                        help="retention models [default: both for the worked example, whose plan has constant churn "
                             "where the history has sBG retention; auto (the plan's) for the others]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", default=None,
                        help="several histories of each simulated company, e.g. 1-10: each is drawn and calibrated "
                             "with its seed, and the 80%% coverage averaged over them is printed (with --oracle, the "
                             "true parameters' too)")
    parser.add_argument("--plan-shift-seed", type=int, default=None,
                        help="move the centre of every guessed interval of the simulated companies' plans off the "
                             "truth (by up to a factor 1.22 either way, the truth staying inside), seeded; by default "
                             "the plan's intervals are centred on the truth")
    parser.add_argument("--oracle", action="store_true",
                        help="also forecast each simulated company from its true parameters and state, and revsim's "
                             "calibration with the true funnel, at the same cuts (see the module doc)")
    parser.add_argument("--swap-blocks", action="store_true",
                        help="with --oracle: put each block of revsim's calibrated inputs into the true company at "
                             "every cut, one at a time, and print how much each widens the 80%% intervals")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "forecast_accuracy")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
    results: dict[str, Any] = {"load_average": os.getloadavg()[0], "options": vars(args) | {"out": str(args.out),
                                                                                           "json": str(args.json)}}
    for name in args.companies.split(","):
        if len(seeds) == 1:
            results[name] = run_company(name, seeds[0], args, args.out)
            continue
        by_seed = {seed: run_company(name, seed, args, args.out / f"seed{seed}") for seed in seeds}
        results[name] = {"by_seed": by_seed, "over_seeds": over_seeds(by_seed)}
        print(seeds_report(name, results[name]["over_seeds"]), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
