"""Convergence of the default calibration on synthetic companies of a hard shape, over several seeds.

``python benchmarks/calibration.py --convergence N [--shape two_channel_two_segment] [--draws D --tune T
--chains C]`` (or ``python -m benchmarks.convergence N``).

For each seed 1..N, the independent company simulator (:mod:`benchmarks.company`, which does not use the
engine) simulates the company of the shape, writes its history (the shape's window: 48 months for
``two_channel_two_segment``) and the plan a finance team would write at the history's end; ``revsim
calibrate``'s Python API then calibrates the plan on the history with the default settings (4 chains x 1000
draws after 1000 tuning steps, nutpie), in a fresh process per seed, as a user would run it. Per seed it
reports the largest R-hat and the smallest bulk ESS over every reported variable (and which), the
divergences, the diagnostics gate's decision, and the time (compilation, sampling, in all).

The target (docs/calibration.md): R-hat below 1.01 and bulk ESS above 400 for every variable in at least 9
of 10 seeds. Results are printed as a Markdown table and written to
``benchmarks/convergence_results.json`` (one entry per ``--variant``: the parametrisations compared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "convergence_results.json"
#: The targets of a converged calibration (every variable, in at least 9 seeds of 10).
TARGET_RHAT = 1.01
TARGET_ESS = 400


def company_history(shape: str, seed: int, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Simulate the shape's company with ``seed``; write its history into ``folder``; return it and the plan."""
    from benchmarks.company import shapes, simulate_company

    spec = shapes.SHAPES[shape]
    run = simulate_company(spec.truth(), months=spec.months, seed=seed)
    history = folder / "history"
    run.write_history(history, first_month=spec.first_month, last_month=spec.last_month)
    plan = run.plan_scenario(cut=spec.last_month, shift_seed=seed)
    return history, plan


#: The parametrisations compared (docs/calibration.md): module constants of revsim.calibrate.funnel.
VARIANTS = {
    "default": {},
    "zerosum-centred": {"CHANNEL_EFFECTS": "zerosum", "SEGMENT_EFFECTS": "centred"},
    "weighted-centred": {"SEGMENT_EFFECTS": "centred"},
    "weighted-noncentred": {"SEGMENT_EFFECTS": "non-centred"},
}


def one_seed(shape: str, seed: int, draws: int, tune: int, chains: int, variant: str = "default") -> dict[str, Any]:
    """Calibrate the plan of seed ``seed`` on its history in this process; its convergence figures."""
    import revsim.calibrate.funnel as funnel
    from revsim.calibrate.calibration import calibrate
    from revsim.scenario.load import scenario_from_dict

    for name, value in VARIANTS[variant].items():
        setattr(funnel, name, value)

    with tempfile.TemporaryDirectory(prefix="revsim-convergence-") as folder:
        history, plan = company_history(shape, seed, Path(folder))
        loaded = scenario_from_dict(plan, base_dir=Path(folder), file="plan.yaml")
        started = time.perf_counter()
        try:
            result = calibrate(history, loaded, draws=draws, tune=tune, chains=chains, seed=seed, checks=False)
        except Exception as exc:  # a sampler that cannot start is a failed seed, reported as such
            return {"seed": seed, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                    "total_s": round(time.perf_counter() - started, 1)}
        total = time.perf_counter() - started
    table = result.diagnostics
    label = table.variable + table.coords.fillna("").map(lambda c: f"[{c}]" if c else "")
    worst_rhat, worst_ess = table.r_hat.idxmax(), table.ess_bulk.idxmin()
    timings = result.fit.timings
    return {
        "seed": seed, "max_r_hat": round(float(table.r_hat.max()), 4), "max_r_hat_variable": label[worst_rhat],
        "min_ess_bulk": round(float(table.ess_bulk.min()), 1), "min_ess_variable": label[worst_ess],
        "divergences": result.fit.divergences,
        "gate": result.gate.summary() if getattr(result, "gate", None) is not None else "",
        "weakly_identified": getattr(result, "weak", []),
        "compile_s": round(timings.get("build", 0) + timings.get("compile", 0), 1),
        "sample_s": round(timings.get("sample", 0), 1), "total_s": round(total, 1),
        "converged": bool(table.r_hat.max() < TARGET_RHAT and table.ess_bulk.min() > TARGET_ESS),
    }


def measure(seeds: int, shape: str = "two_channel_two_segment", draws: int = 1000, tune: int = 1000,
            chains: int = 4, variant: str = "default") -> dict[str, Any]:
    """Every seed in a fresh process, one after the other; the rows and the count of converged seeds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    rows = []
    print("| seed | max r_hat | (variable) | min bulk ESS | (variable) | divergences | gate | time (s) | load |")
    print("|---:|---:|---|---:|---|---:|---|---:|---:|", flush=True)
    for seed in range(1, seeds + 1):
        load = os.getloadavg()[0]
        command = [sys.executable, str(Path(__file__).resolve()), "--seed", str(seed), "--shape", shape,
                   "--draws", str(draws), "--tune", str(tune), "--chains", str(chains), "--variant", variant]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            errors = [line for line in proc.stderr.splitlines() if "Error" in line] or ["failed"]
            row = {"seed": seed, "error": errors[0].strip()}
        else:
            row = json.loads(lines[-1])
        row["load_before"] = round(load, 2)
        rows.append(row)
        if "error" in row:
            print(f"| {seed} | failed: {row['error']} | | | | | | {row.get('total_s', '')} | {load:.1f} |", flush=True)
        else:
            print(f"| {seed} | {row['max_r_hat']:.3f} | {row['max_r_hat_variable']} | {row['min_ess_bulk']:.0f} | "
                  f"{row['min_ess_variable']} | {row['divergences']} | {row['gate']} | {row['total_s']:.0f} | "
                  f"{load:.1f} |", flush=True)
    converged = sum(bool(r.get("converged")) for r in rows)
    print(f"converged (r_hat < {TARGET_RHAT} and bulk ESS > {TARGET_ESS} for every variable): {converged} of {seeds}")
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "shape": shape, "variant": variant,
            "draws": draws,
            "tune": tune, "chains": chains, "seeds": seeds, "converged": converged, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", type=int, nargs="?", default=10, help="seeds 1..N")
    parser.add_argument("--shape", default="two_channel_two_segment")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--variant", choices=list(VARIANTS), default="default",
                        help="a parametrisation of the funnel's channel and segment effects to compare")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # one seed, in this process
    args = parser.parse_args(argv)
    if args.seed is not None:
        print(json.dumps(one_seed(args.shape, args.seed, args.draws, args.tune, args.chains, args.variant)))
        return
    report = measure(args.seeds, args.shape, args.draws, args.tune, args.chains, args.variant)
    saved = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    saved[args.variant] = report
    RESULTS.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
