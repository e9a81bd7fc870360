"""Kernel speed of the working tree against a git revision, interleaved: ``python -m benchmarks.ab --base main``.

The machine is shared and noisy, so absolute times drift; a ratio measured with the two versions run in
turn (A B, B A, A B, ...) is much steadier. Each run is a fresh process that imports revsim from one source
tree (the base revision's ``src/``, extracted with ``git archive`` into a temporary folder, or this working
tree's), warms the kernel up (numba's cache, one draw), then times ``run_draws`` on one thread (or
``--threads``). The answer
is the median over rounds of time(working tree) / time(base): below 1 the working tree is faster.

Options: ``--scenario`` (a name in ``benchmarks/scenarios``, default ``board_scale``), ``--draws``,
``--rounds``, ``--threads``. The 1-minute load average before the rounds is printed next to the figures.
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
start = time.perf_counter()
run_draws(compiled, 7, 0, int(sys.argv[2]), threads=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - start}))
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


def time_once(source: Path, scenario: str, draws: int, threads: int = 1) -> float:
    """Seconds of ``draws`` draws of ``scenario`` on ``threads`` threads, revsim imported from ``source``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])}
    result = subprocess.run([sys.executable, "-c", _CHILD, scenario, str(draws), str(threads)], check=True,
                            capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--scenario", default="board_scale", help="benchmark scenario name (default: board_scale)")
    parser.add_argument("--draws", type=int, default=300, help="draws per timed run (default: 300)")
    parser.add_argument("--rounds", type=int, default=7, help="A/B pairs (default: 7)")
    parser.add_argument("--threads", type=int, default=1, help="threads of each timed run (default: 1)")
    args = parser.parse_args(argv)
    scenario = f"benchmarks/scenarios/{args.scenario}.yaml"
    with tempfile.TemporaryDirectory(prefix="revsim-ab-") as tmp:
        base = extract_source(args.base, Path(tmp))
        head = ROOT / "src"
        for source in (base, head):  # compile (or load numba's cache) before timing
            time_once(source, scenario, 1)
        print(f"{args.scenario}, {args.draws} draws on {args.threads} thread(s); "
              f"load average {os.getloadavg()[0]:.2f}")
        ratios = []
        for i in range(args.rounds):
            if i % 2 == 0:  # A B, then B A: a drift of the machine's load weighs on both sides alike
                a, b = (time_once(base, scenario, args.draws, args.threads),
                        time_once(head, scenario, args.draws, args.threads))
            else:
                b, a = (time_once(head, scenario, args.draws, args.threads),
                        time_once(base, scenario, args.draws, args.threads))
            ratios.append(b / a)
            print(f"  round {i + 1}: base {a:.3f} s, working tree {b:.3f} s, ratio {b / a:.4f}")
        print(f"working tree / {args.base}: median ratio {statistics.median(ratios):.4f} "
              f"(min {min(ratios):.4f}, max {max(ratios):.4f}); load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
