"""Does revsim's engine simulate the companies of the independent simulator in distribution?

For a shape of :mod:`benchmarks.company.shapes`, the truth runs as a revsim scenario (``draws`` draws) and
through the independent simulator (``draws`` seeds), and the two are compared month by month: the mean of
every stock at month end and every flow summed over the trailing 12 months, and their spread (standard
deviation), each with a z-score from its Monte Carlo standard error (for the spread, of the log ratio of
the standard deviations, from the samples' kurtosis).

Run it (about a minute per shape at 500 draws)::

    python -m benchmarks.company_vs_engine [--draws 500] [--months 60] [--mrr-within-cohort MODE] [SHAPE ...]

It prints, per shape, each quantity's worst mean z-score over the months compared and its ratio of standard
deviations (simulator / engine) at the last month. ``tests/company/test_company_vs_engine.py`` runs the same
comparison with fewer draws and fails on a mean z-score above 4.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.company import engine_scenario, shapes, simulate_company

__all__ = ["Comparison", "engine_samples", "simulator_samples", "compare", "main"]

#: Quantities compared per month and segment.
QUANTITIES = ("arr", "active_customers", "new_customers", "churned_customers", "onboarding_churned", "leads",
              "advocates", "new_arr", "expansion_arr", "contraction_arr", "churned_arr")


#: Stocks are compared at month end; every other quantity is a flow, compared as its sum over the trailing
#: :data:`WINDOW` months (sums of monthly flows are far less skewed than a month's few downgrades or churners,
#: so that the normal approximation behind the z-scores holds).
STOCKS = ("arr", "active_customers", "advocates")
WINDOW = 12


def is_stock(name: str) -> bool:
    return name in STOCKS or name.startswith("open:")


def engine_samples(truth: dict[str, Any], months: int, draws: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``name -> [draw, month, segment]`` from revsim's engine (``entries:<stage>``, ``loop:<loop>`` too)."""
    import revsim
    from revsim.scenario.load import scenario_from_dict

    ds = revsim.simulate(scenario_from_dict(engine_scenario(truth, months)), draws=draws, seed=seed, cohorts=False)
    out = {name: np.asarray(ds[name].values, dtype=np.float64) for name in QUANTITIES}
    for k, stage in enumerate(ds.stage.values):
        out[f"entries:{stage}"] = np.asarray(ds.stage_entries.values[..., k], dtype=np.float64)
        out[f"open:{stage}"] = np.asarray(ds.open_in_stage.values[..., k], dtype=np.float64)
    if "loop" in ds.dims:
        for ell, loop in enumerate(ds.loop.values):
            out[f"loop:{loop}"] = np.asarray(ds.loop_entries.values[:, :, ell:ell + 1], dtype=np.float64)
    return out


def simulator_samples(truth: dict[str, Any], months: int, draws: int, first_seed: int = 0,
                      mrr_within_cohort: str = "individual") -> dict[str, np.ndarray]:
    """The same quantities from the independent simulator, one seed per draw."""
    samples: dict[str, list[np.ndarray]] = {}
    for seed in range(first_seed, first_seed + draws):
        run = simulate_company(truth, months=months, seed=seed, mrr_within_cohort=mrr_within_cohort)
        values = {
            "arr": 12 * run.mrr, "active_customers": run.active_customers, "new_customers": run.new_customers,
            "churned_customers": run.churned_customers, "onboarding_churned": run.onboarding_churned,
            "leads": run.direct_entries.sum(axis=(1, 3)), "advocates": run.advocates, "new_arr": 12 * run.new_mrr,
            "expansion_arr": 12 * run.expansion_mrr, "contraction_arr": 12 * run.contraction_mrr,
            "churned_arr": 12 * run.churned_mrr,
        }
        for k, stage in enumerate(run.stages):
            values[f"entries:{stage}"] = run.stage_entries[:, k].sum(axis=2)
            values[f"open:{stage}"] = run.open_in_stage[:, k]
        for ell, loop in enumerate(run.company.loops):
            values[f"loop:{loop.name}"] = run.loop_entries[:, ell:ell + 1]
        for name, value in values.items():
            samples.setdefault(name, []).append(np.asarray(value, dtype=np.float64))
    return {name: np.stack(value) for name, value in samples.items()}


@dataclass(frozen=True)
class Comparison:
    """One quantity at one month (company total, or one segment): engine against simulator."""

    quantity: str
    segment: str | None
    month: int
    engine_mean: float
    simulator_mean: float
    mean_z: float
    engine_sd: float
    simulator_sd: float
    sd_z: float

    @property
    def sd_ratio(self) -> float:
        return self.simulator_sd / self.engine_sd if self.engine_sd > 0 else float("nan")


def _mean_z(a: np.ndarray, b: np.ndarray) -> float:
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    diff = b.mean() - a.mean()
    if se == 0:
        return 0.0 if diff == 0 else float("inf")
    return float(diff / se)


def _sd_z(a: np.ndarray, b: np.ndarray) -> float:
    """z-score of log(sd_b / sd_a): var(log s) ~ (2 / (n - 1) + excess kurtosis / n) / 4 per sample."""
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    if sa == 0 or sb == 0:
        return 0.0 if sa == sb else float("inf")

    def var_log_sd(x: np.ndarray) -> float:
        z = (x - x.mean()) / x.std()
        excess = max(float(np.mean(z**4)) - 3.0, 0.0)
        return (2.0 / (len(x) - 1) + excess / len(x)) / 4.0

    return float(np.log(sb / sa) / np.sqrt(var_log_sd(a) + var_log_sd(b)))


def compare(truth: dict[str, Any], *, months: int, draws: int, at: Sequence[int], engine_seed: int = 0,
            first_seed: int = 0, mrr_within_cohort: str = "individual",
            quantities: Sequence[str] | None = None) -> list[Comparison]:
    """Every quantity (or those named) at the months ``at``, for the company total and for each segment."""
    engine = engine_samples(truth, months, draws, seed=engine_seed)
    simulator = simulator_samples(truth, months, draws, first_seed=first_seed, mrr_within_cohort=mrr_within_cohort)
    if quantities is not None:
        engine = {name: engine[name] for name in quantities}
    segments = [seg if isinstance(seg, str) else seg["name"] for seg in truth.get("segments") or ["all"]]
    out = []
    for name in engine:
        e, s = engine[name], simulator[name]
        if e.shape != s.shape:
            raise AssertionError(f"{name}: engine {e.shape}, simulator {s.shape}")
        columns = [(None, e.sum(axis=2), s.sum(axis=2))]
        if e.shape[2] > 1 and e.shape[2] == len(segments):
            columns += [(seg, e[:, :, j], s[:, :, j]) for j, seg in enumerate(segments)]
        for segment, a, b in columns:
            if not is_stock(name):
                a, b = _trailing(a), _trailing(b)
            for t in at:
                out.append(Comparison(name, segment, t, float(a[:, t].mean()), float(b[:, t].mean()),
                                      _mean_z(a[:, t], b[:, t]), float(a[:, t].std(ddof=1)),
                                      float(b[:, t].std(ddof=1)), _sd_z(a[:, t], b[:, t])))
    return out


def _trailing(x: np.ndarray) -> np.ndarray:
    """``[draw, month]`` sums over the trailing :data:`WINDOW` months (fewer at the start)."""
    total = np.cumsum(x, axis=1)
    shifted = np.zeros_like(total)
    shifted[:, WINDOW:] = total[:, :-WINDOW]
    return total - shifted


def report(name: str, comparisons: list[Comparison]) -> str:
    """A table per quantity (company total): worst mean z over the months, and the last month's figures."""
    lines = [f"{name}: engine vs independent simulator",
             f"  {'quantity':28s} {'max|z| mean':>11s} {'engine mean':>13s} {'sim mean':>13s} "
             f"{'sd ratio':>9s} {'z sd':>6s}  (last month compared; sd ratio = simulator / engine)"]
    totals = [c for c in comparisons if c.segment is None]
    last = max(c.month for c in totals)
    for quantity in dict.fromkeys(c.quantity for c in totals):
        rows = [c for c in totals if c.quantity == quantity]
        worst = max(abs(c.mean_z) for c in rows)
        end = next(c for c in rows if c.month == last)
        label = quantity if is_stock(quantity) else f"{quantity} ({WINDOW}m)"
        lines.append(f"  {label:28s} {worst:11.2f} {end.engine_mean:13,.1f} {end.simulator_mean:13,.1f} "
                     f"{end.sd_ratio:9.3f} {end.sd_z:6.2f}")
    worst = max(comparisons, key=lambda c: abs(c.mean_z))
    lines.append(f"  worst mean z over {len(comparisons)} comparisons (totals and segments): {worst.mean_z:+.2f} "
                 f"({worst.quantity}, {worst.segment or 'total'}, month {worst.month})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", default=list(shapes.SHAPES), help="shapes to compare (default: all)")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--mrr-within-cohort", choices=("individual", "cohort_average"), default="individual",
                        help="the simulator's MRR within a cohort (cohort_average: the engine's convention)")
    args = parser.parse_args(argv)
    at = sorted({5, 11, 23, args.months // 2, args.months - 1})
    for name in args.shapes:
        comparisons = compare(shapes.SHAPES[name].truth(), months=args.months, draws=args.draws, at=at,
                              mrr_within_cohort=args.mrr_within_cohort)
        print(report(f"{name} ({args.mrr_within_cohort} MRR)", comparisons), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
