"""Calibration benchmark: the time of each model's fit and its effective sample size per second.

``python benchmarks/calibration.py [--quick] [--sampler nutpie|pymc]`` (or ``python -m benchmarks.calibration``).

Each model is fitted in a fresh process, as ``revsim calibrate`` would fit it, on synthetic history drawn
from known parameters (:mod:`revsim.calibrate.synthetic`), then the joint model of the example history
(``scenarios/history`` with ``northwind.yaml``). For each it reports:

* ``compile_s``: building and compiling the model (each case with an empty compiled-model cache, so the
  figure is a compilation: PyTensor's own numba cache of its operations is kept);
* ``sample_s``: sampling (all chains, tuning included);
* ``min_ess``: the lowest bulk effective sample size over the model's named variables;
* ``ess_per_s``: ``min_ess / sample_s`` (sampling efficiency) and ``ess_per_s_total``: ``min_ess`` over the
  whole fit, compilation included (what a user waits for);
* ``max_r_hat`` and ``divergences``.

The load average before each fit is recorded: figures taken on a busy machine are slower. Results are
printed and written to ``benchmarks/calibration_results.json``.

``--targets`` measures the speed targets instead, each a whole ``revsim calibrate`` process: the worked
example cold (nothing cached) and warm, and a retention-only calibration of Fader & Hardie's cohort tables
against PyMC-Marketing's ShiftedBetaGeoModel (see :mod:`benchmarks.calibration_targets`).

``--fastmath-ratio N`` measures what compiling the log-density without numba's fast-math costs (revsim compiles
without it, so that a calibration is bit-identical in every process; see docs/calibration.md): ``N`` rounds of
the example's joint model (``--fastmath-case`` for another case), each round one fit with fast-math and one
without, each in a fresh process, in alternating order (A B, then B A: interleaved, so that the machine's load
falls on both alike), after one unmeasured fit of each that fills the compile caches. It prints every fit and
the median ratio (without / with fast-math) of the compilation, the sampling and the whole fit, in elapsed
time and in CPU time (of every thread of the process; less sensitive to other jobs on a shared machine).

``--funnel-coverage N`` instead measures how often the funnel model's 90% intervals hold the true conversions
and months in stage over ``N`` synthetic histories (one model compiled once, sampled on each history);
``--months`` sets the true months in stage and ``--months-prior MEDIAN`` a lognormal prior (sigma 1) for them.

``--evaluation`` times one evaluation of the worked example's log density and gradient, for the joint model
and each of its blocks (:mod:`benchmarks.log_density_cost`): what decides a warm calibration's sampling time.

``--compile-parts`` compiles the worked example's model with every cache empty, ``--runs`` times, and prints
the CPU of each part's compilation in its own process and one evaluation of each part
(:mod:`benchmarks.compile_parts`): which part a cold calibration waits for.

``--convergence N`` measures the convergence of the default calibration on ``N`` companies of the
two-channel, two-segment shape drawn by the independent simulator (:mod:`benchmarks.convergence`, which
takes ``--variant`` to compare parametrisations).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

CASES = ["retention_sbg", "retention_both", "funnel", "volume", "movements", "pricing", "loops", "example_joint"]
RESULTS = ROOT / "benchmarks" / "calibration_results.json"


def _history(case: str) -> tuple[Any, Any]:
    """(history, loaded scenario or None) of a case."""
    import numpy as np

    from revsim.calibrate.history import History, MrrHistory
    from revsim.calibrate.synthetic import funnel_counts, mrr_movements, referrals, sbg_cohorts

    rng = np.random.default_rng(2027)
    if case.startswith("retention"):
        return History(cohorts=sbg_cohorts(0.8, 6.0, cohorts=24, size=500, rng=rng)), None
    if case in ("funnel", "volume", "pricing"):
        funnel = funnel_counts(volume=3000, growth=0.01, dispersion=0.02, conversion=[0.3, 0.45, 0.25],
                               months_in_stage=[0.5, 1.0, 2.0], months=36, rng=rng,
                               stages=["lead", "mql", "opp", "won"])
        if case == "pricing":
            won = funnel.counts[:, 3, 0, 0]
            mrr = mrr_movements(expansion_rate=0.004, contraction_rate=0.0025, churn_rate=0.02, noise=0.0005,
                                months=36, start_mrr=5e5, new_per_month=3e4, rng=rng)
            new = rng.gamma(np.maximum(won, 1) / 0.16, 1000 * 0.16)
            return History(funnel=funnel, mrr=MrrHistory(**{**mrr.__dict__, "new": new[:, None]})), None
        return History(funnel=funnel), None
    if case == "movements":
        return History(mrr=mrr_movements(expansion_rate=0.004, contraction_rate=0.0025, churn_rate=0.02,
                                         noise=0.0005, months=36, start_mrr=5e5, new_per_month=3e4, rng=rng)), None
    if case == "loops":
        return History(referrals=referrals(coefficient=0.05, source=np.linspace(200, 420, 36).round(), rng=rng)), None
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.history import read_history
    from revsim.scenario.load import load_scenario

    loaded = load_scenario(ROOT / "scenarios" / "history" / "northwind.yaml")
    context = context_from_scenario(loaded)
    return read_history([ROOT / "scenarios" / "history"], stages=context.stages, segments=context.segments), loaded


def run_case(case: str, draws: int, tune: int, chains: int, sampler: str, fastmath: bool = False) -> dict[str, Any]:
    """Fit one case in this process and measure it; ``fastmath``: compile as PyTensor's default does, with numba's
    fast-math flags (revsim compiles without them)."""
    started = time.perf_counter()
    import pymc

    assert pymc.__version__  # imported first: its import time is reported apart

    import_s = time.perf_counter() - started
    from revsim.calibrate.context import context_from_scenario, context_without_scenario
    from revsim.calibrate.diagnostics import diagnostics_table
    from revsim.calibrate import fit as fit_module
    from revsim.calibrate.fit import FitOptions, Fit, build_model, plan_blocks, sample_model

    if fastmath:
        import contextlib

        fit_module.strict_floating_point = contextlib.nullcontext  # PyTensor's default flags
    cpu = _count_nutpie_cpu_time() if sampler == "nutpie" else {}
    history, loaded = _history(case)
    context = context_from_scenario(loaded) if loaded is not None else context_without_scenario(history)
    retention = {"retention_sbg": "sbg", "retention_both": "both", "example_joint": "both"}.get(case, "auto")
    options = FitOptions(sampler=sampler, draws=draws, tune=tune, chains=chains, seed=1, retention=retention)
    blocks, history, _ = plan_blocks(history, context, retention=retention)
    keep = {"volume": ["volume"], "funnel": ["funnel"], "pricing": ["pricing"]}.get(case)
    if keep:
        blocks = [b for b in blocks if b.name in keep]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model = build_model(blocks)
    build_s = time.perf_counter() - start
    idata = sample_model(model, options, timings)
    result = Fit(blocks=blocks, idata=idata, history=history, context=context, options=options)
    posterior = idata.posterior
    result.idata.posterior = posterior.drop_vars([v for v in posterior.data_vars if str(v).endswith("__")])
    table = diagnostics_table(result)
    compile_s = build_s + timings["compile"]
    min_ess = float(table.ess_bulk.min())
    return {
        "case": case, "sampler": sampler, "fastmath": fastmath, "blocks": [b.name for b in blocks], "draws": draws, "tune": tune,
        "chains": chains, "import_pymc_s": round(import_s, 2), "compile_s": round(compile_s, 2),
        "sample_s": round(timings["sample"], 2), "total_s": round(compile_s + timings["sample"], 2),
        "min_ess": round(min_ess, 1), "ess_per_s": round(min_ess / max(timings["sample"], 1e-9), 1),
        "ess_per_s_total": round(min_ess / (compile_s + timings["sample"]), 1),
        "max_r_hat": round(float(table.r_hat.max()), 4), "divergences": result.divergences,
        **{f"{step}_cpu_s": round(seconds, 2) for step, seconds in cpu.items()},
    }


def _count_nutpie_cpu_time() -> dict[str, float]:
    """Wrap nutpie's compilation and sampling to record their CPU time (every thread of this process): less
    sensitive than the elapsed time to other jobs on a shared machine. Returns the dict it fills."""
    import functools

    import nutpie

    cpu: dict[str, float] = {}

    def timed(step: str, function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                cpu[step] = time.process_time() - start
        return wrapper

    nutpie.compile_pymc_model = timed("compile", nutpie.compile_pymc_model)
    nutpie.sample = timed("sample", nutpie.sample)
    return cpu


def funnel_coverage(seeds: int, months: list[float], prior_median: float | None = None) -> dict[str, Any]:
    """Coverage of the funnel model's 90% intervals over ``seeds`` synthetic histories (see the module doc)."""
    import numpy as np
    import nutpie
    import pymc as pm

    from revsim.calibrate.funnel import FunnelBlock, funnel_data
    from revsim.calibrate.priors import parse_prior_override
    from revsim.calibrate.synthetic import funnel_counts

    conversion = [0.3, 0.45, 0.25]
    season = np.exp(0.15 * np.sin(2 * np.pi * np.arange(12) / 12))

    def history(seed: int) -> Any:
        return funnel_counts(volume=3000, growth=0.01, dispersion=0.02, conversion=conversion, months_in_stage=months,
                             months=36, rng=np.random.default_rng(seed), seasonality=season,
                             stages=["lead", "mql", "opp", "won"])

    priors = None
    if prior_median is not None:
        prior = {"dist": "lognormal", "median": prior_median, "sigma": 1}
        priors = {"months_in_stage": parse_prior_override("months_in_stage", prior)}
    block = FunnelBlock(funnel_data(history(0)), priors=priors)
    with pm.Model(coords=block.coords()):
        block.build()
        compiled = nutpie.compile_pymc_model(pm.modelcontext(None))
    held = {"months_in_stage": np.zeros(3), "conversion": np.zeros(3)}
    medians, widths = [], []
    for seed in range(1, seeds + 1):
        d = funnel_data(history(seed))
        values = {"funnel_trials": d.trials, "funnel_first_trials": d.entries_before,
                  "funnel_conversions": d.conversions}
        fitted = compiled.with_data(**{k: v for k, v in values.items() if k in compiled.shared_data})
        idata = nutpie.sample(fitted, draws=300, tune=300, chains=2, cores=1, seed=seed, progress_bar=False)
        for name, variable, truth in (("months_in_stage", "months_typical", months),
                                      ("conversion", "conversion_typical", conversion)):
            draws = idata.posterior[variable].values.reshape(-1, 3)
            low, high = np.quantile(draws, [0.05, 0.95], axis=0)
            held[name] += (low <= truth) & (np.asarray(truth) <= high)
            if name == "months_in_stage":
                medians.append(np.median(draws, axis=0))
                widths.append(high - low)
    return {"seeds": seeds, "true_months": months, "prior_median": prior_median,
            "coverage_months": (held["months_in_stage"] / seeds).round(3).tolist(),
            "coverage_conversion": (held["conversion"] / seeds).round(3).tolist(),
            "mean_median_months": np.mean(medians, axis=0).round(3).tolist(),
            "mean_width_months": np.mean(widths, axis=0).round(3).tolist()}


def _fit_in_fresh_process(case: str, quick: bool, sampler: str, fastmath: bool = False) -> dict[str, Any] | None:
    """``run_case`` in a new Python process; None (and the error printed) when it failed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    load = os.getloadavg()[0]
    command = [sys.executable, str(Path(__file__).resolve()), "--case", case, "--sampler", sampler]
    command += ["--quick"] if quick else []
    command += ["--fastmath"] if fastmath else []
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        print(f"{case}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["load_before"] = round(load, 2)
    return row


def fastmath_ratio(rounds: int, case: str, quick: bool) -> dict[str, Any]:
    """Interleaved fits with and without fast-math (see the module doc); the median ratios, without / with."""
    import statistics

    for fastmath in (True, False):  # fill the compile caches of both
        _fit_in_fresh_process(case, quick, "nutpie", fastmath)
    rows: list[dict[str, Any]] = []
    for r in range(rounds):
        for fastmath in ((True, False) if r % 2 == 0 else (False, True)):
            row = _fit_in_fresh_process(case, quick, "nutpie", fastmath)
            if row is None:
                raise SystemExit(1)
            rows.append(row)
            print(f"round {r + 1}  fast-math {'on ' if fastmath else 'off'}  elapsed: compile {row['compile_s']:>6.1f} s"
                  f"  sample {row['sample_s']:>6.2f} s  total {row['total_s']:>6.1f} s;  CPU: compile "
                  f"{row['compile_cpu_s']:>6.1f} s  sample {row['sample_cpu_s']:>6.2f} s  (load {row['load_before']:.1f})",
                  flush=True)
    pairs = [sorted(pair, key=lambda row: not row["fastmath"]) for pair in zip(rows[::2], rows[1::2], strict=True)]
    keys = ("compile_s", "sample_s", "total_s", "compile_cpu_s", "sample_cpu_s")
    ratios = {key: round(statistics.median(off[key] / on[key] for on, off in pairs), 3) for key in keys}
    print(f"{case}: without / with fast-math, median over {rounds} interleaved pairs: elapsed: compile "
          f"{ratios['compile_s']:.2f}  sampling {ratios['sample_s']:.2f}  whole fit {ratios['total_s']:.2f};  CPU: "
          f"compile {ratios['compile_cpu_s']:.2f}  sampling {ratios['sample_cpu_s']:.2f}")
    return {"case": case, "rounds": rounds, "ratios": ratios, "fits": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer draws (500 per chain, 2 chains)")
    parser.add_argument("--sampler", choices=["nutpie", "pymc"], default="nutpie")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one case, in this process
    parser.add_argument("--fastmath", action="store_true", help=argparse.SUPPRESS)  # with --case: PyTensor's flags
    parser.add_argument("--fastmath-ratio", type=int, metavar="N",
                        help="N interleaved pairs of fits with and without numba fast-math")
    parser.add_argument("--fastmath-case", choices=CASES, default="example_joint", help="the case --fastmath-ratio fits")
    parser.add_argument("--funnel-coverage", type=int, metavar="N", help="coverage over N synthetic histories")
    parser.add_argument("--months", default="0.5,1,2", help="true months in stage of the three stages")
    parser.add_argument("--months-prior", type=float, metavar="MEDIAN", help="lognormal prior of months in stage")
    parser.add_argument("--targets", action="store_true",
                        help="the speed targets: the worked example cold and warm, retention only against "
                             "PyMC-Marketing (see benchmarks/calibration_targets.py)")
    parser.add_argument("--runs", type=int, default=3, help="--targets: runs of each warm measurement")
    parser.add_argument("--no-cold", action="store_true", help="--targets: skip the cold worked example (an unmeasured run compiles the model first)")
    parser.add_argument("--part", choices=["example", "retention"], action="append",
                        help="--targets: only the worked example, or only retention against PyMC-Marketing "
                             "(repeatable; default both)")
    parser.add_argument("--convergence", type=int, metavar="N",
                        help="convergence of the default calibration over N synthetic companies (benchmarks/convergence.py)")
    parser.add_argument("--variant", default="default", help="with --convergence: the parametrisation to measure")
    parser.add_argument("--evaluation", action="store_true",
                        help="the cost of one evaluation of the worked example's log density and gradient, per block "
                             "(benchmarks/log_density_cost.py)")
    parser.add_argument("--compile-parts", action="store_true",
                        help="the CPU each part of the worked example's log density takes to compile, cold, and one "
                             "evaluation of each (benchmarks/compile_parts.py; --runs runs)")
    args = parser.parse_args(argv)
    if args.compile_parts:
        from benchmarks.compile_parts import main as compile_parts

        compile_parts(["--runs", str(args.runs)])
        return
    if args.evaluation:
        from benchmarks.log_density_cost import main as evaluation

        evaluation([])
        return
    if args.targets:
        from benchmarks.calibration_targets import run

        run(runs=args.runs, cold=not args.no_cold, parts=tuple(args.part or ("example", "retention")))
        return
    if args.convergence:
        sys.path.insert(0, str(ROOT))
        from benchmarks.convergence import main as convergence

        convergence([str(args.convergence), "--variant", args.variant])
        return
    if args.funnel_coverage:
        months = [float(x) for x in args.months.split(",")]
        print(json.dumps(funnel_coverage(args.funnel_coverage, months, args.months_prior)))
        return
    draws, tune, chains = (500, 500, 2) if args.quick else (1000, 1000, 4)
    if args.case:
        print(json.dumps(run_case(args.case, draws, tune, chains, args.sampler, args.fastmath)))
        return
    if args.fastmath_ratio:
        fastmath_ratio(args.fastmath_ratio, args.fastmath_case, args.quick)
        return
    rows = []
    import tempfile

    cache = tempfile.mkdtemp(prefix="revsim-calibration-benchmark-")  # every case compiles (no earlier cache)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "REVSIM_CACHE_DIR": cache}
    for case in CASES:
        row = _fit_in_fresh_process(case, args.quick, args.sampler)
        if row is None:
            continue
        load = row["load_before"]
        rows.append(row)
        print(f"{case:<16} compile {row['compile_s']:>6.1f} s  sample {row['sample_s']:>6.1f} s  "
              f"min ESS {row['min_ess']:>7.0f}  ESS/s {row['ess_per_s']:>8.1f} (with compile "
              f"{row['ess_per_s_total']:>6.1f})  r_hat {row['max_r_hat']:.3f}  divergences {row['divergences']}  "
              f"(load {load:.1f})", flush=True)
    import shutil

    shutil.rmtree(cache, ignore_errors=True)
    report = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "python": platform.python_version(), "cores": len(os.sched_getaffinity(0)), "quick": args.quick,
              "results": rows}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
