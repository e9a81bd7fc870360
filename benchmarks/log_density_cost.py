"""What one evaluation of the worked example's log density and gradient costs, for the joint model and each block.

``python benchmarks/calibration.py --evaluation`` (or ``python -m benchmarks.log_density_cost``).

The sampler spends its time evaluating the log density and its gradient (about 80,000 evaluations for the
worked example's 4 chains x 2,000 steps): this is the cost that decides a warm calibration's sampling time.
Each model (the joint model of ``scenarios/history`` with ``northwind.yaml`` and ``--retention both``, then
each of its blocks alone) is compiled, or loaded from the compiled-model cache, as a calibration would, and
its C entry point, the function nutpie calls, is timed at the sampler's starting point: the median over
``--repeats`` rounds of ``--calls`` calls (the machine's load is printed: other jobs slow every figure).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def entry_point_cost(model: Any, calls: int, repeats: int, entry: Any = None) -> tuple[float, int, str]:
    """Median microseconds per call of ``model``'s compiled log density and gradient, its dimension, and where
    the compiled model came from. ``entry``: another entry point of the compiled model to time (a part's)."""
    import numpy as np

    from revsim.calibrate.compile_cache import compile_model
    from revsim.calibrate.fit import strict_floating_point

    with strict_floating_point():
        compiled, report = compile_model(model)
    n = compiled.n_dim
    point = np.asarray(compiled.initial_point_func(0), dtype=np.float64)
    gradient, value, data = np.zeros(n), np.zeros(()), compiled.user_data
    double = ctypes.POINTER(ctypes.c_double)
    function = (compiled.compiled_logp_func if entry is None else entry).ctypes
    arguments = (n, point.ctypes.data_as(double), gradient.ctypes.data_as(double), value.ctypes.data_as(double),
                 ctypes.c_void_p(data.ctypes.data))
    if function(*arguments) != 0:
        raise RuntimeError("the log density could not be evaluated at the starting point")
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function(*arguments)
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds), n, report.source


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import build_model, plan_blocks
    from revsim.calibrate.history import read_history
    from revsim.scenario.load import load_scenario

    history = read_history([ROOT / "scenarios" / "history"])
    context = context_from_scenario(load_scenario(ROOT / "scenarios" / "history" / "northwind.yaml"))
    blocks, history, _ = plan_blocks(history, context, retention="both")
    print(f"log density and gradient of the worked example (--retention both), one call of the C entry point "
          f"nutpie calls: median of {args.repeats} x {args.calls} calls; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, chosen in [("joint model", blocks), *[(block.name, [block]) for block in blocks]]:
        cost, dimension, source = entry_point_cost(build_model(chosen), args.calls, args.repeats)
        print(f"  {name:<12} {dimension:>4} parameters  {cost:8.1f} us per evaluation  (model {source})")


if __name__ == "__main__":
    main()
