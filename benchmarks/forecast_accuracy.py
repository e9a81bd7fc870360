"""Forecast accuracy: rolling-origin backtests of revsim against naive baselines on several companies.

``python benchmarks/forecast_accuracy.py [--companies worked_example,product_led,enterprise] [--origins 6]
[--holdout 12] [--draws 250] [--tune 250] [--chains 2] [--simulation-draws 500]``

Each company's history is backtested with ``revsim backtest --origins K --holdout N`` (each origin calibrated
through the normal calibration path on the months before it). The companies:

* ``worked_example``: ``scenarios/history`` with ``northwind.yaml`` (a history the engine generated);
* ``product_led``, ``enterprise`` (and any other shape of :mod:`benchmarks.company.shapes`): a history drawn
  by the independent company simulator (:mod:`benchmarks.company`, which does not use the engine), with the
  plan a team would write at the end of the history (:func:`benchmarks.company.plan.plan_scenario`) as the
  scenario.

Printed, per company: revsim's mean CRPS against the best naive baseline's (the lowest mean CRPS of last
value, linear trend and seasonal naive at that horizon) for ARR and new customers 6 and 12 months ahead
(target: revsim at most the baseline); the 80% interval coverage averaged over the series and origins
(target 70-90%); and revsim's PIT histogram per series (target: flat, no tilt; ``tilt`` is the mean PIT minus
0.5, positive when the actual values run above the forecast). Every table of every backtest is written under
``--out``; the figures are also written to ``--json``.

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
    parser.add_argument("--plan-shift-seed", type=int, default=None,
                        help="move the centre of every guessed interval of the simulated companies' plans off the "
                             "truth (by up to a factor 1.22 either way, the truth staying inside), seeded; by default "
                             "the plan's intervals are centred on the truth")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "forecast_accuracy")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    from revsim.calibrate.backtest import backtest

    results: dict[str, Any] = {"load_average": os.getloadavg()[0], "options": vars(args) | {"out": str(args.out),
                                                                                           "json": str(args.json)}}
    for name in args.companies.split(","):
        scenario, history = company_inputs(name, args.out / "histories", args.seed, args.plan_shift_seed)
        started = time.perf_counter()
        result = backtest(scenario, history, args.holdout, origins=args.origins, spacing=args.spacing,
                          draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
                          retention=args.retention or ("both" if name == "worked_example" else "auto"),
                          simulation_draws=args.simulation_draws,
                          announce=lambda text: print(f"  [{time.perf_counter() - started:5.0f} s] {text}",
                                                      file=sys.stderr, flush=True))
        result.write(args.out / name, force=True)
        fig = figures(result)
        fig["wall_s"] = time.perf_counter() - started
        results[name] = fig
        print(report(name, fig), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
