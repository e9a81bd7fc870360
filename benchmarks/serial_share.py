"""The serial share of a run's CPU: the Python work per draw outside the kernel, which holds the GIL and so
bounds the speed-up of more threads: ``python -m benchmarks.serial_share --scenario small --draws 4000``.

On one thread, each figure the fastest of ``--rounds`` (CPU time, per draw):

* *run*: :func:`revsim.engine.run.run_draws`, what a run costs;
* *kernel*: the kernel alone, every draw in one call (its arguments unboxed once): the part that runs
  without the GIL;
* *parameters*: :meth:`~revsim.engine.compile.CompiledScenario.draw_parameters` of the draws, and *outputs*:
  :meth:`~revsim.engine.run.RawResults.zeros`;
* *serial* = run - kernel, its share of run, and the speed-up it allows on 2 threads (Amdahl's law:
  1 / (s + (1 - s) / 2)), printed next to the target of 1.8;
* the parameters sampled on 2 threads, as a run on 2 threads samples them (wall time: the serial part of a
  2-thread run is then run - kernel - parameters + this).

Also printed: the 1-minute load average before the rounds (a busy machine lengthens every figure, but the
fastest of several rounds is the least disturbed).
"""

from __future__ import annotations

import argparse
import os
import time

TARGET_SPEEDUP = 1.8


def _cpu(f) -> float:
    start = time.process_time()
    f()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="small")
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from numba import typeof

    from benchmarks.measure import compiled_scenario
    from revsim.engine.kernels import simulate_draws
    from revsim.engine.rng import draw_key, kernel_key
    from revsim.engine.run import RawResults, run_draws

    compiled = compiled_scenario({"scenario": f"benchmarks/scenarios/{args.scenario}.yaml"})
    n, seed = args.draws, 7
    run_draws(compiled, seed, 0, 1, threads=1)  # compile or load the kernel
    params = compiled.draw_parameters(seed, 0, n)

    def kernel_alone() -> None:
        raw = RawResults.zeros(compiled, params)
        arguments = (compiled.structure, compiled.book, params.stacked(), draw_key(kernel_key(seed), 0),
                     raw.stacked(), 0, n)
        simulate_draws.get_overload(tuple(typeof(a) for a in arguments))(*arguments)

    load = os.getloadavg()[0]
    figures = {name: [] for name in ("run", "kernel", "parameters", "outputs", "parameters_2")}
    for _ in range(args.rounds):  # interleaved, so that the load disturbs each the same
        figures["run"].append(_cpu(lambda: run_draws(compiled, seed, 0, n, threads=1)))
        figures["kernel"].append(_cpu(kernel_alone))
        figures["parameters"].append(_cpu(lambda: compiled.draw_parameters(seed, 0, n)))
        figures["outputs"].append(_cpu(lambda: RawResults.zeros(compiled, params)))
        start = time.perf_counter()
        try:
            compiled.draw_parameters(seed, 0, n, threads=2)
        except TypeError:  # an older revision (on PYTHONPATH) samples on one thread only
            compiled.draw_parameters(seed, 0, n)
        figures["parameters_2"].append(time.perf_counter() - start)
    best = {name: min(values) / n * 1e6 for name, values in figures.items()}
    serial = best["run"] - best["kernel"]
    share = serial / best["run"]
    bound = 1 / (share + (1 - share) / 2)
    print(f"{args.scenario}, {n:,} draws, 1 thread, fastest of {args.rounds} rounds (CPU us per draw; "
          f"load {load:.1f}):")
    print(f"  run {best['run']:.1f}, kernel alone {best['kernel']:.1f}, parameters {best['parameters']:.1f}, "
          f"outputs {best['outputs']:.1f}, the rest {serial - best['parameters'] - best['outputs']:.1f}")
    print(f"  serial (run - kernel) {serial:.1f} us per draw = {share:.1%} of the run: 2 threads at most "
          f"{bound:.2f}x (target {TARGET_SPEEDUP}x)")
    serial_2 = serial - best["parameters"] + best["parameters_2"]
    share_2 = serial_2 / best["run"]
    print(f"  parameters sampled on 2 threads {best['parameters_2']:.1f} (wall): serial on 2 threads "
          f"{serial_2:.1f} us per draw = {share_2:.1%}: at most {1 / (share_2 + (1 - share_2) / 2):.2f}x")


if __name__ == "__main__":
    main()
