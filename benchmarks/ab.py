"""Kernel speed of the working tree against a git revision, interleaved: ``python -m benchmarks.ab --base main``.

The machine is shared and noisy, so absolute times drift; a ratio measured with the two versions run in
turn (A B, B A, A B, ...) is much steadier. Each run is a fresh process that imports revsim from one source
tree (the base revision's ``src/``, extracted with ``git archive`` into a temporary folder, or this working
tree's), warms the kernel up (numba's cache, one draw), then times ``run_draws`` on one thread (or
``--threads``). The answer
is the median over rounds of time(working tree) / time(base): below 1 the working tree is faster.

Options: ``--scenario`` (a name in ``benchmarks/scenarios``, default ``board_scale``), ``--draws``,
``--rounds``, ``--threads`` (a number, or a list such as ``1,2``: then each version's speed-up from the first
to the last is printed too, each ratio taken within a round). The 1-minute load average before the rounds is printed next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
from benchmarks.measure import compiled_scenario
from revsim.engine.run import run_draws
compiled = compiled_scenario({"scenario": sys.argv[1]})
run_draws(compiled, 1, 0, 1, threads=1)
start, cpu = time.perf_counter(), time.process_time()
run_draws(compiled, 7, 0, int(sys.argv[2]), threads=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}))
"""


def extract_source(revision: str, folder: Path) -> Path:
    """The ``src/`` folder of ``revision``, written into ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True,
                             capture_output=True).stdout
    tar_path = folder / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def time_once(source: Path, scenario: str, draws: int, threads: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds of ``draws`` draws of ``scenario`` on ``threads`` threads, revsim imported from
    ``source``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", _CHILD, scenario, str(draws), str(threads)], check=True,
                            capture_output=True, text=True, env=env, cwd=ROOT)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["cpu_seconds"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--scenario", default="board_scale", help="benchmark scenario name (default: board_scale)")
    parser.add_argument("--draws", type=int, default=300, help="draws per timed run (default: 300)")
    parser.add_argument("--rounds", type=int, default=7, help="A/B pairs (default: 7)")
    parser.add_argument("--threads", default="1",
                        help="threads of each timed run, or a list such as 1,2 to measure speed-ups (default: 1)")
    args = parser.parse_args(argv)
    thread_counts = [int(x) for x in args.threads.split(",")]
    scenario = f"benchmarks/scenarios/{args.scenario}.yaml"
    with tempfile.TemporaryDirectory(prefix="revsim-ab-") as tmp:
        sources = {args.base: extract_source(args.base, Path(tmp)), "working tree": ROOT / "src"}
        for source in sources.values():  # compile (or load numba's cache) before timing
            time_once(source, scenario, 1)
        print(f"{args.scenario}, {args.draws} draws on {args.threads} thread(s); "
              f"load average {os.getloadavg()[0]:.2f}")
        times: dict[tuple[str, int], list[float]] = {(name, n): [] for name in sources for n in thread_counts}
        cpu: dict[tuple[str, int], list[float]] = {(name, n): [] for name in sources for n in thread_counts}
        for i in range(args.rounds):
            for threads in thread_counts:
                # A B, then B A: a drift of the machine's load weighs on both sides alike
                order = list(sources) if i % 2 == 0 else list(sources)[::-1]
                for name in order:
                    wall, cpu_seconds = time_once(sources[name], scenario, args.draws, threads)
                    times[name, threads].append(wall)
                    cpu[name, threads].append(cpu_seconds)
                a, b = times[args.base, threads][-1], times["working tree", threads][-1]
                a_cpu, b_cpu = cpu[args.base, threads][-1], cpu["working tree", threads][-1]
                print(f"  round {i + 1}, {threads} thread(s): {args.base} {a:.3f} s, working tree {b:.3f} s, "
                      f"ratio {b / a:.4f}; CPU {a_cpu:.3f} s and {b_cpu:.3f} s, ratio {b_cpu / a_cpu:.4f}")
        for threads in thread_counts:
            ratios = [b / a for a, b in zip(times[args.base, threads], times["working tree", threads], strict=True)]
            cpu_ratios = [b / a for a, b in zip(cpu[args.base, threads], cpu["working tree", threads], strict=True)]
            print(f"{threads} thread(s): working tree / {args.base}: median ratio {statistics.median(ratios):.4f} "
                  f"(min {min(ratios):.4f}, max {max(ratios):.4f}); CPU time {statistics.median(cpu_ratios):.4f} "
                  f"(min {min(cpu_ratios):.4f}, max {max(cpu_ratios):.4f})")
            for name in sources:
                per_draw = statistics.median(times[name, threads]) / args.draws
                print(f"  {name}: median {per_draw * 1e3:.3f} ms per draw, {per_draw * 10_000:.1f} s per 10,000 draws")
        if len(thread_counts) > 1:
            first, last = thread_counts[0], thread_counts[-1]
            for name in sources:
                speedups = [a / b for a, b in zip(times[name, first], times[name, last], strict=True)]
                print(f"{name}: speed-up {first} -> {last} threads, median {statistics.median(speedups):.3f} "
                      f"(min {min(speedups):.3f}, max {max(speedups):.3f})")
        print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
