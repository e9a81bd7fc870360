"""How far one history's interval coverage falls from nominal when the forecast is exactly right.

``python benchmarks/coverage_spread.py [--histories 40] [--observed 0.95] [--shape worked_example]``

A rolling-origin backtest averages its coverage over origins and months ahead, but six origins of one
history, 12 months ahead each, 2 months apart, score only 22 distinct months per series, and one month's
luck (a calm year, a spike) is in up to six forecasts. How unlikely is a given coverage when the forecast is
the true one? For each of ``--histories`` histories of the same company drawn by the independent company
simulator (:mod:`benchmarks.company`, with ``mrr_within_cohort="cohort_average"``: the engine's convention, so
the money has the engine's distribution), every cut of the backtest (by default the worked example's
benchmark: 2025-02 to 2025-12 every 2 months, 12 months ahead) is forecast by the engine from the true
parameters and the true state at the cut (:func:`benchmarks.company.plan.true_scenario`) and scored as ``revsim
backtest`` scores: the 80% interval's coverage of ARR, new customers and churned ARR, averaged over origins,
months ahead and the three series. Printed: the mean of that coverage over the histories (80% when the engine
and the simulator agree), its spread (the standard deviation over histories and the 5th to 95th percentiles),
the share of histories at or above ``--observed`` (and at or below ``1 - (--observed - 0.8)``, its mirror
below 80%), and each series' mean and spread; ``--json`` writes them.

``--worked-example-noise DRAWS`` measures instead how calm the shipped worked example's history is: the
standard deviation of each series' month-to-month changes over 2024-01 to 2026-12, against ``DRAWS``
simulations of ``scenarios/history/truth.yaml`` by the engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))

METRICS = ("arr", "new_customers", "churned_arr")
#: The simulator's series behind each scored series.
SIMULATOR_SERIES = {"arr": "arr", "new_customers": "new_customers", "churned_arr": "churned_arr"}


def history_coverage(shape: str, months: int, first: str, cuts: list[str], holdout: int, seed: int, draws: int
                     ) -> dict[str, float]:
    """Mean 80% coverage per series of the true-parameter forecasts at ``cuts`` of one simulated history."""
    import numpy as np

    import revsim
    from benchmarks.company import shapes, simulate_company
    from revsim.calibrate.backtest import forecast_samples
    from revsim.calibrate.backtest_scoring import score_origin
    from revsim.calibrate.history import month_index, month_label
    from revsim.scenario.load import scenario_from_dict

    run = simulate_company(getattr(shapes, shape)(), months=months, seed=seed, mrr_within_cohort="cohort_average")
    start = month_index(first) - run.month(first)
    labels = [month_label(start + t) for t in range(months)]
    series = {m: (labels, np.asarray(run.series(SIMULATOR_SERIES[m]), dtype=np.float64)) for m in METRICS}
    covered: dict[str, list[bool]] = {m: [] for m in METRICS}
    for cut in cuts:
        loaded = scenario_from_dict(run.true_scenario(cut, horizon_months=holdout), base_dir=ROOT, file="truth.yaml")
        forecast = revsim.simulate(loaded, draws=draws, seed=seed)
        samples = {m: forecast_samples(forecast, m) for m in METRICS}
        for row in score_origin(series, samples, month_index(cut), holdout):
            if row["method"] == "revsim":
                covered[row["metric"]].append(bool(row["covered_80"]))
    return {m: float(np.mean(v)) for m, v in covered.items()}


def worked_example_noise(draws: int, seed: int) -> dict[str, dict[str, float]]:
    """How calm the shipped worked example's history is: for each monthly series of 2024-01 to 2026-12, the
    standard deviation of its month-to-month changes, against the same statistic in ``draws`` simulations of
    ``truth.yaml`` by the engine (the share of them below the history's is its percentile)."""
    import numpy as np
    import pandas as pd

    import revsim
    from benchmarks.worked_example_truth import HISTORY
    from revsim.scenario.load import load_scenario

    truth = load_scenario(HISTORY / "truth.yaml")
    forecast = revsim.simulate(truth, draws=draws, seed=seed)
    mrr = pd.read_csv(HISTORY / "mrr.csv").groupby("month").sum(numeric_only=True)
    funnel = pd.read_csv(HISTORY / "funnel.csv")
    won = funnel[funnel.stage == truth.model.stage_names[-1]].groupby("month")["count"].sum()
    history = {"arr": 12 * mrr.mrr.to_numpy(), "new_customers": won.to_numpy(), "new_arr": 12 * mrr.new.to_numpy(),
               "churned_arr": 12 * mrr.churn.to_numpy(), "expansion_arr": 12 * mrr.expansion.to_numpy(),
               "contraction_arr": 12 * mrr.contraction.to_numpy()}
    months = slice(truth.model.horizon_months - len(mrr), truth.model.horizon_months)
    out = {}
    for name, observed in history.items():
        simulated = forecast["stage_entries"].isel(stage=-1) if name == "new_customers" else forecast[name]
        values = simulated.sum("segment").values[:, months]
        spread = np.diff(values, axis=1).std(axis=1)
        mine = float(np.diff(observed).std())
        out[name] = {"history": mine, "engine_median": float(np.median(spread)),
                     "percentile": float(np.mean(spread < mine))}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="worked_example")
    parser.add_argument("--months", type=int, default=60, help="months simulated from the truth's start")
    parser.add_argument("--cuts", default="2025-02,2025-04,2025-06,2025-08,2025-10,2025-12")
    parser.add_argument("--holdout", type=int, default=12)
    parser.add_argument("--histories", type=int, default=40)
    parser.add_argument("--draws", type=int, default=500, help="simulated draws of each forecast")
    parser.add_argument("--observed", type=float, default=0.95,
                        help="the coverage to place in the spread [default: the worked example's, 0.95]")
    parser.add_argument("--seed", type=int, default=1, help="first history's seed (then +1 each)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worked-example-noise", type=int, default=0, metavar="DRAWS",
                        help="instead, compare the month-to-month changes of the shipped worked example's history "
                             "with DRAWS simulations of its truth.yaml by the engine")
    args = parser.parse_args(argv)

    import numpy as np

    from benchmarks.company import shapes

    if args.worked_example_noise:
        noise = worked_example_noise(args.worked_example_noise, args.seed)
        print(f"worked example, 2024-01 to 2026-12: standard deviation of the month-to-month changes, the history's "
              f"against {args.worked_example_noise} engine simulations of truth.yaml")
        for name, row in noise.items():
            print(f"  {name:<16} history {row['history']:>12,.1f}  simulations' median {row['engine_median']:>12,.1f}"
                  f"  share of simulations calmer than the history {row['percentile']:.1%}")
        if args.json is not None:
            args.json.write_text(json.dumps(noise, indent=1) + "\n", encoding="utf-8")
        return

    first = str(getattr(shapes, args.shape)()["start"])
    cuts = args.cuts.split(",")
    rows = []
    for i in range(args.histories):
        cover = history_coverage(args.shape, args.months, first, cuts, args.holdout, args.seed + i, args.draws)
        rows.append(cover)
        mean = float(np.mean(list(cover.values())))
        print(f"  history {i + 1}/{args.histories} (seed {args.seed + i}): 80% coverage {mean:.0%} ("
              + ", ".join(f"{m} {v:.0%}" for m, v in cover.items()) + ")", file=sys.stderr, flush=True)
    per = {m: np.array([r[m] for r in rows]) for m in METRICS}
    overall = np.mean([per[m] for m in METRICS], axis=0)
    mirror = 0.8 - (args.observed - 0.8)
    out: dict[str, Any] = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "coverage_80": overall.tolist(),
        "mean": float(overall.mean()), "sd": float(overall.std(ddof=1)),
        "p05": float(np.quantile(overall, 0.05)), "p95": float(np.quantile(overall, 0.95)),
        "share_at_or_above_observed": float(np.mean(overall >= args.observed - 1e-9)),
        "share_at_or_below_mirror": float(np.mean(overall <= mirror + 1e-9)),
        "per_series": {m: {"mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                           "share_at_or_above_observed": float(np.mean(v >= args.observed - 1e-9))}
                       for m, v in per.items()},
    }
    print(f"{args.shape}: {args.histories} histories, cuts {cuts[0]} to {cuts[-1]}, {args.holdout} months ahead; "
          f"forecasts from the true parameters and state")
    print(f"  80% coverage over series and origins: mean {out['mean']:.1%} (sd {out['sd']:.1%}; 5-95%: "
          f"{out['p05']:.0%} to {out['p95']:.0%}); at or above {args.observed:.0%}: "
          f"{out['share_at_or_above_observed']:.0%} "
          f"of histories; at or below {mirror:.0%}: {out['share_at_or_below_mirror']:.0%}")
    for m, row in out["per_series"].items():
        print(f"  {m:<14} mean {row['mean']:.1%}  sd {row['sd']:.1%}  at or above {args.observed:.0%}: "
              f"{row['share_at_or_above_observed']:.0%}")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
