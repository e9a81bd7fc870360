"""What compiling each part of the worked example's log density costs, and one evaluation of each part.

``python benchmarks/calibration.py --compile-parts [--runs N]`` (or ``python -m benchmarks.compile_parts``).

A first calibration compiles the log density in parts (``calibrate/logp_parts.py``), each in a process of its
own on its own core: the cold run waits for the longest. Each run compiles the joint model of
``scenarios/history`` with ``northwind.yaml`` and ``--retention both`` in a fresh process with every cache
empty (compiled-model cache and PyTensor's compilation directory), and prints:

* the compilation's wall time, and for each entry point the CPU and wall time of the process that compiled it,
  from the start of its compilation to its end (PyTensor rewriting the part's graph, then numba and LLVM): what
  decides which part the cold run waits for; numba's compile events alone leave out the rewriting and the
  entry point's own optimisation;
* the parameters each part takes, and one evaluation of each part's entry point and of their sum (median of 5
  rounds of 2,000 calls, at the sampler's starting point).

The machine's load average is printed before each run: other jobs slow every figure, so compare parts within
a run, and versions in interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def measure(record_dir: Path) -> dict[str, Any]:
    """Compile the worked example's model in this process (caches as the environment sets them) and return the
    figures; each process compiling an entry point writes its own into ``record_dir``."""
    import time

    from revsim.calibrate import nutpie_entry

    compile_entry = nutpie_entry._compile_entry

    def timed(entry: Any, module: Any, inner: Any, name: str) -> Any:  # in whichever process compiles it
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return compile_entry(entry, module, inner, name)
        finally:
            figures = {"entry": name, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                       "pid": os.getpid()}
            (record_dir / f"{name}.json").write_text(json.dumps(figures), encoding="utf-8")

    nutpie_entry._compile_entry = timed
    from benchmarks.log_density_cost import entry_point_cost
    from revsim.calibrate.calibration import _calibration_settings
    from revsim.calibrate.compile_cache import compile_model
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import build_model, plan_blocks, strict_floating_point
    from revsim.calibrate.history import read_history
    from revsim.calibrate.model_structure import model_structure
    from revsim.scenario.load import load_scenario

    @_calibration_settings
    def run() -> dict[str, Any]:
        history = read_history([ROOT / "scenarios" / "history"])
        context = context_from_scenario(load_scenario(ROOT / "scenarios" / "history" / "northwind.yaml"))
        blocks, history, _ = plan_blocks(history, context, retention="both")
        model = build_model(blocks)
        start = time.perf_counter()
        with strict_floating_point():
            compiled, report = compile_model(model)
        wall = time.perf_counter() - start
        structure = model_structure(model)
        entries = sorted((json.loads(p.read_text(encoding="utf-8")) for p in record_dir.glob("*.json")),
                         key=lambda e: e["entry"])
        parameters = [[structure.value_names[k] for k in taken] for taken in structure.part_parameters]
        costs = {"logp": entry_point_cost(model, 2000, 5, entry=None)[0]}
        for k, part in enumerate(compiled.entry.parts):
            costs[f"logp_part_{k}"] = entry_point_cost(model, 2000, 5, entry=part)[0]
        return {"compile_wall_s": wall, "source": report.source, "entries": entries, "parameters": parameters,
                "evaluation_us": costs}

    return run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs, each in a fresh process with empty caches")
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)  # one run, in this process
    args = parser.parse_args(argv)
    if args.record is not None:
        print(json.dumps(measure(args.record)))
        return
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="revsim-compile-parts-") as folder:
            work = Path(folder)
            (work / "record").mkdir()
            env = {**os.environ, "REVSIM_CACHE_DIR": str(work / "cache"),
                   "PYTENSOR_FLAGS": f"base_compiledir={work / 'pytensor'}",
                   "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            done = subprocess.run([sys.executable, "-m", "benchmarks.compile_parts", "--record", str(work / "record")],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"run {run + 1} failed")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"run {run + 1} (load {load}): compiling the worked example's model took "
              f"{figures['compile_wall_s']:.1f} s ({figures['source']})")
        for entry in figures["entries"]:
            print(f"  {entry['entry']:<12} CPU {entry['cpu_s']:6.1f} s  wall {entry['wall_s']:6.1f} s  "
                  f"(process {entry['pid']})")
        for k, names in enumerate(figures["parameters"]):
            print(f"  part {k}: {len(names)} parameters ({', '.join(names)})")
        costs = figures["evaluation_us"].items()
        print("  one evaluation: " + ", ".join(f"{name} {cost:.1f} us" for name, cost in costs))


if __name__ == "__main__":
    main()
