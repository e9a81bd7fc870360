"""Streamed runs (results.zarr written block by block): memory, cost, and the dask cluster's memory.

``python -m benchmarks.streaming [--quick] [--full]``. Every measurement runs in a fresh process (its peak
resident memory, ``ru_maxrss``, is its own) and prints one JSON line; the driver prints the figures next to
their targets and writes ``benchmarks/streaming_results.json``.

* **flat memory**: a streamed local run (2 threads) of the board-scale scenario at two sizes; target: the peak
  resident memory of the larger within 20% of the smaller's (default 2,000 and 10,000 draws; ``--full``:
  10,000 and 100,000).
* **cost of streaming**: the same board-scale draws held in memory then written to results.nc (``--keep
  draws``) against streamed into results.zarr, interleaved A, B, A, B; target: streamed time at most 1.10 x.
* **dask, 2 local workers**: board scale and the small scenario streamed on a ``LocalCluster`` of 2 worker
  processes; target: the client's and each worker's peak resident memory under 1.5 GB (default 10,000
  board-scale and 100,000 small draws; ``--full``: 100,000 and 1,000,000).
* **per-chunk figures**: worker seconds and stored bytes per block, client CPU per block, from the dask runs:
  what docs/scaling.md projects 10^7 draws on 32 workers from. The first and last blocks of each dask run's
  store are compared with a local run of the same draws (the tests compare whole runs).

Times are wall and CPU seconds on a shared machine: the load average before each measurement and the cores
other processes used during it are printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.run import SCENARIOS, SEED, Load  # noqa: E402

TARGETS = {"flat_memory_ratio": 1.20, "streaming_time_ratio": 1.10, "peak_rss_mb": 1.5e9 / 2**20}
#: (quick, default, full) sizes.
FLAT_DRAWS = {"quick": (200, 1_000), "default": (2_000, 10_000), "full": (10_000, 100_000)}
COST_DRAWS = {"quick": 200, "default": 2_000, "full": 10_000}
DASK_DRAWS = {"quick": {"board_scale": 400, "small": 20_000}, "default": {"board_scale": 10_000, "small": 100_000},
              "full": {"board_scale": 100_000, "small": 1_000_000}}
#: Draws per dask task: 256 for board scale (about 2 s of work each); small draws are 60 times cheaper.
DASK_CHUNK = {"board_scale": 256, "small": 4_096}


# -- measurements, each in its own process --------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _compiled(name: str):
    from revsim.engine.compile import compile_scenario
    from revsim.scenario.load import load_scenario

    return compile_scenario(load_scenario(ROOT / SCENARIOS[name]))


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement: ``stream`` (run_store, local threads), ``held`` (run_dataset, then results.nc with
    every draw) or ``dask`` (run_store on a local cluster)."""
    from revsim.engine.run import run_draws
    from revsim.pipeline import Backend, run_dataset, run_store

    compiled = _compiled(spec["name"])
    run_draws(compiled, SEED, 0, 1, threads=1)  # the kernels compiled (or loaded from numba's cache)
    folder = Path(tempfile.mkdtemp(prefix="revsim-bench-stream-", dir=spec.get("dir")))
    try:
        start, cpu = time.perf_counter(), _cpu_s()
        out: dict[str, Any] = {"draws": spec["draws"]}
        if spec["kind"] == "held":
            from revsim.results.storage import write_results

            ds, _ = run_dataset(compiled, draws=spec["draws"], seed=SEED, threads=spec["threads"])
            write_results(ds, folder / "results.nc", "draws")
            out["disk_bytes"] = (folder / "results.nc").stat().st_size
        elif spec["kind"] == "stream":
            run_store(compiled, folder / "results.zarr", draws=spec["draws"], seed=SEED, threads=spec["threads"])
            out["disk_bytes"] = _disk_bytes(folder / "results.zarr")
        else:
            from revsim.engine.distributed import dask_client

            started = time.perf_counter()
            with dask_client(workers=spec["workers"]) as client:
                out["cluster_start_s"] = time.perf_counter() - started
                client.run(run_draws, compiled.without_samples(), SEED, 0, 1, threads=1)  # workers load kernels
                start, cpu = time.perf_counter(), _cpu_s()
                run_store(compiled, folder / "results.zarr", draws=spec["draws"], seed=SEED, client=client,
                          backend=Backend("dask", chunk_size=spec["chunk"]))
                out["wall_s"], out["cpu_s"] = time.perf_counter() - start, _cpu_s() - cpu
                out["worker_peak_mb"] = sorted(client.run(_peak_mb).values())
                out["worker_cpu_s"] = sorted(client.run(_cpu_s).values())
            out["peak_mb"] = _peak_mb()  # the run's, before the check below simulates two blocks here
            out["disk_bytes"] = _disk_bytes(folder / "results.zarr")
            out["identical_to_local"] = _same_as_local(compiled, folder / "results.zarr", spec)
            out["peak_after_check_mb"] = _peak_mb()
            out["chunk"] = spec["chunk"]
        out.setdefault("wall_s", time.perf_counter() - start)
        out.setdefault("cpu_s", _cpu_s() - cpu)
        out.setdefault("peak_mb", _peak_mb())
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _same_as_local(compiled: Any, store: Path, spec: dict[str, Any]) -> bool:
    """Whether the first and the last block of the store hold what a local run of those draws gives."""
    import numpy as np

    from revsim.engine.run import run_draws
    from revsim.results.dataset import build_dataset
    from revsim.results.reading import open_results

    draws, chunk = spec["draws"], spec["chunk"]
    with open_results(store) as ds:
        for a in sorted({0, (draws - 1) // chunk * chunk}):
            b = min(a + chunk, draws)
            local = build_dataset(compiled, run_draws(compiled, SEED, a, b, threads=1), seed=SEED, provenance=False)
            part = ds.isel(draw=slice(a, b)).load()
            for name, variable in local.data_vars.items():
                expected = variable.values.astype(part[name].dtype)  # float32 in a large run's store
                if not np.array_equal(part[name].values, expected, equal_nan=True):
                    return False
    return True


# -- the driver -----------------------------------------------------------------------------------------------


def run(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with Load() as load:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.streaming", "--measure", json.dumps(spec)],
                              cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed:\n{proc.stderr}")
    result = {**json.loads(proc.stdout.strip().splitlines()[-1]), **load.record(), "spec": spec}
    workers = f", workers peak {result['worker_peak_mb']} MiB" if "worker_peak_mb" in result else ""
    print(f"  {spec['kind']:6s} {spec['name']:11s} {spec['draws']:>9,} draws  {result['wall_s']:8.1f} s  "
          f"cpu {result['cpu_s']:7.1f} s  peak {result['peak_mb']:7.0f} MiB{workers}  (load "
          f"{load.before[0]:.1f}, others {load.other_cores:.1f} cores)", file=sys.stderr, flush=True)
    return result


def check(lines: list[str], label: str, value: float, target: float, below: bool = True) -> None:
    ok = value <= target if below else value >= target
    lines.append(f"  {'ok  ' if ok else 'MISS'} {label}: {value:.3g} ({'<=' if below else '>='} {target:.3g})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--full", action="store_true", help="the issue's sizes: 100,000 board-scale draws, "
                                                            "1,000,000 small ones (hours on 2 cores)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: flat, cost, dask")
    parser.add_argument("--dir", default=None, help="where the stores are written (default: the temp folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "streaming_results.json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return
    mode = "quick" if args.quick else "full" if args.full else "default"
    skip = {s for s in args.skip.split(",") if s}
    common = {"dir": args.dir}
    results: dict[str, Any] = {"mode": mode, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    lines = [f"streamed runs ({mode}); targets"]
    if "flat" not in skip:
        small, large = FLAT_DRAWS[mode]
        runs = [run({**common, "kind": "stream", "name": "board_scale", "draws": n, "threads": 2})
                for n in (small, large)]
        results["flat"] = runs
        check(lines, f"peak memory of a streamed local run, {large:,} / {small:,} board-scale draws "
                     f"({runs[1]['peak_mb']:.0f} / {runs[0]['peak_mb']:.0f} MiB)",
              runs[1]["peak_mb"] / runs[0]["peak_mb"], TARGETS["flat_memory_ratio"])
    if "cost" not in skip:
        n = COST_DRAWS[mode]
        pairs = [(run({**common, "kind": "held", "name": "board_scale", "draws": n, "threads": 2}),
                  run({**common, "kind": "stream", "name": "board_scale", "draws": n, "threads": 2}))
                 for _ in range(2)]
        results["cost"] = pairs
        held = min(p[0]["wall_s"] for p in pairs)
        streamed = min(p[1]["wall_s"] for p in pairs)
        held_cpu = min(p[0]["cpu_s"] for p in pairs)
        streamed_cpu = min(p[1]["cpu_s"] for p in pairs)
        check(lines, f"streamed / held in memory + results.nc, {n:,} board-scale draws, 2 threads, wall "
                     f"({streamed:.1f} / {held:.1f} s)", streamed / held, TARGETS["streaming_time_ratio"])
        check(lines, f"the same in CPU time ({streamed_cpu:.1f} / {held_cpu:.1f} s)", streamed_cpu / held_cpu,
              TARGETS["streaming_time_ratio"])
    if "dask" not in skip:
        results["dask"] = {}
        for name, draws in DASK_DRAWS[mode].items():
            r = run({**common, "kind": "dask", "name": name, "draws": draws, "workers": 2,
                     "chunk": DASK_CHUNK[name]})
            results["dask"][name] = r
            worst = max(r["worker_peak_mb"])
            check(lines, f"dask, 2 workers, {draws:,} {name} draws: client peak RSS (MiB)", r["peak_mb"],
                  TARGETS["peak_rss_mb"])
            check(lines, f"dask, 2 workers, {draws:,} {name} draws: largest worker peak RSS (MiB)", worst,
                  TARGETS["peak_rss_mb"])
            lines.append(f"  {'ok  ' if r['identical_to_local'] else 'MISS'} its first and last blocks identical to "
                         "a local run of those draws")
            chunks = -(-draws // r["chunk"])
            r["per_chunk"] = {"worker_s": sum(r["worker_cpu_s"]) / chunks, "client_cpu_s": r["cpu_s"] / chunks,
                              "disk_bytes": r["disk_bytes"] / chunks, "draws": r["chunk"]}
            lines.append(f"       per block of {r['chunk']:,} draws: {r['per_chunk']['worker_s']:.2f} s of worker CPU, "
                         f"{r['per_chunk']['client_cpu_s'] * 1e3:.0f} ms of client CPU, "
                         f"{r['per_chunk']['disk_bytes'] / 2**20:.1f} MiB stored; run {r['wall_s']:.1f} s wall")
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
