"""revsim's benchmark suite: ``python -m benchmarks [--quick]`` or ``python benchmarks/run.py [--quick]``.

For three scenarios (``benchmarks/scenarios``: small, board scale, loop heavy) it measures, each in a fresh
process (:mod:`benchmarks.measure`):

* revsim with 1 and 2 threads: wall time, cohort-months per second, peak resident memory;
* the vectorised numpy reference (:mod:`benchmarks.numpy_reference`) on the same scenario: revsim / numpy;
* the random-number floor, numpy drawing just the variates the run draws: revsim / floor;
* numba compilation, cold (an empty cache directory) and cached;
* scaling: time at 1x, 2x and 4x the draws, the months and the cohorts (segments);
* ``revsim --help`` and a cached ``revsim run`` of an example, end to end;
* the dask backend with 1 and 2 local workers.

It prints tables and writes ``benchmarks/results.json``. Every measurement records the load averages before
it and the CPU other processes used while it ran (``other_cores``), so figures taken on a busy machine can be
told apart. ``--quick`` runs in a minute or two; the full suite (10,000 draws per scenario) takes much longer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(ROOT))

SCENARIOS = {
    "small": "benchmarks/scenarios/small.yaml",
    "board_scale": "benchmarks/scenarios/board_scale.yaml",
    "loop_heavy": "benchmarks/scenarios/loop_heavy.yaml",
}
#: Draws per scenario: (full, quick).
DRAWS = {"small": (10_000, 1_000), "board_scale": (10_000, 60), "loop_heavy": (10_000, 300)}
#: The numpy reference runs as many draws as revsim unless ``--numpy-draws`` caps them (its time is linear in
#: draws beyond one batch of 1,000; ratios are per draw).
#: Draws of the floor's sample (the parameters of every variate drawn are kept).
FLOOR_SAMPLE = (100, 10)
#: Base draws of the scaling runs on the board-scale scenario (x1, x2, x4).
SCALING_DRAWS = (200, 25)
DASK_DRAWS = (2_000, 60)
EXAMPLE = "scenarios/saas_sales_led.yaml"
SEED = 20270101
#: Targets of the performance issue, checked in the summary.
TARGETS = {"floor_ratio_1_thread": 1.3, "speedup_1_to_2_threads": 1.85, "numpy_over_revsim_2_threads": 3.0,
           "board_scale_10000_draws_2_threads_s": 30.0, "small_speedup_1_to_2_threads": 1.8, "help_s": 0.3,
           "cached_run_s": 3.0}


# -- machine and load --------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        memory_kb = next(int(line.split()[1]) for line in handle if line.startswith("MemTotal"))
    import numba
    import numpy

    import revsim

    def digest(path: str) -> str:
        return hashlib.sha256((ROOT / path).read_bytes()).hexdigest()[:12]

    return {
        "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
        "memory_gib": round(memory_kb / 2**20, 1), "python": platform.python_version(),
        "numpy": numpy.__version__, "numba": numba.__version__, "revsim": revsim.__version__,
        "kernels_sha256": digest("src/revsim/engine/kernels.py"),
        "sampling_sha256": digest("src/revsim/engine/sampling.py"),
    }


def cpu_busy_seconds() -> float:
    """CPU time every process on the machine has used since boot (from /proc/stat), in seconds."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Load:
    """The load averages before a measurement, and the cores other processes kept busy while it ran."""

    def __enter__(self) -> Load:
        self.before = [round(x, 2) for x in os.getloadavg()]
        self._busy, self._ours, self._start = cpu_busy_seconds(), children_cpu_seconds(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._start
        others = (cpu_busy_seconds() - self._busy) - (children_cpu_seconds() - self._ours)
        self.other_cores = round(max(0.0, others / wall), 2) if wall > 0 else 0.0

    def record(self) -> dict[str, Any]:
        return {"load_before": self.before, "other_cores": self.other_cores}


# -- measurements ---------------------------------------------------------------------------------------------------


#: Times each timed measurement is repeated (the fastest is kept): other processes on the machine come and go.
REPEAT = {"value": 1}


def measure(spec: dict[str, Any], *, env: dict[str, str] | None = None, repeat: int | None = None) -> dict[str, Any]:
    """Run a measurement of :mod:`benchmarks.measure` in fresh processes, ``repeat`` times; keep the fastest.

    Every run's wall time, load averages and other processes' CPU are kept in ``runs``.
    """
    runs = [_measure_once(spec, env) for _ in range(repeat or REPEAT["value"])]
    best = dict(min(runs, key=lambda r: r.get("wall_s", r.get("floor_s", r.get("first_draw_s", 0.0)))))
    best["runs"] = [{k: r[k] for k in ("wall_s", "load_before", "other_cores") if k in r} for r in runs]
    return best


def _measure_once(spec: dict[str, Any], env: dict[str, str] | None) -> dict[str, Any]:
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    with Load() as load:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.measure", json.dumps(spec)], cwd=ROOT,
                              env=environment, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(load.record(), spec=spec)
    wall = result.get("wall_s", result.get("floor_s", result.get("first_draw_s", 0.0)))
    print(f"  {spec['kind']:8s} {spec.get('name', ''):12s} {_spec_text(spec):34s} {wall:9.2f} s  "
          f"(load {load.before[0]:.2f}, others {load.other_cores:.2f} cores)", file=sys.stderr, flush=True)
    return result


def _spec_text(spec: dict[str, Any]) -> str:
    parts = [f"{spec['draws']:,} draws" if "draws" in spec else ""]
    for key, label in (("threads", "threads"), ("workers", "workers"), ("months", "months"),
                       ("segments", "segments")):
        if key in spec:
            parts.append(f"{spec[key]} {label}")
    return ", ".join(p for p in parts if p)


def timed_command(args: list[str], repeats: int) -> dict[str, Any]:
    """Best and all wall times of a command (the first run warms caches and is not counted)."""
    times = []
    with Load() as load:
        for i in range(repeats + 1):
            start = time.perf_counter()
            subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
            if i:
                times.append(time.perf_counter() - start)
    print(f"  command  {' '.join(args[1:4]):47s} {min(times):9.2f} s  (load {load.before[0]:.2f}, others "
          f"{load.other_cores:.2f} cores)", file=sys.stderr, flush=True)
    return {"best_s": min(times), "times_s": times, **load.record()}


def scenario_suite(name: str, draws: int, numpy_draws: int, floor_sample: int, skip: set[str]) -> dict[str, Any]:
    path = SCENARIOS[name]
    out: dict[str, Any] = {}
    for threads in (1, 2):
        out[f"revsim_{threads}"] = measure({"kind": "revsim", "name": name, "scenario": path, "draws": draws,
                                             "threads": threads, "seed": SEED})
    if "numpy" not in skip:
        out["numpy"] = measure({"kind": "numpy", "name": name, "scenario": path, "draws": min(draws, numpy_draws),
                                "seed": SEED})
    if "floor" not in skip:
        out["floor"] = measure({"kind": "floor", "name": name, "scenario": path, "draws": draws,
                                "sample_draws": min(draws, floor_sample), "seed": SEED}, repeat=1)
    return out


def compile_suite() -> dict[str, Any]:
    cache = tempfile.mkdtemp(prefix="revsim-numba-cache-")
    try:
        spec = {"kind": "compile", "name": "small", "scenario": SCENARIOS["small"], "seed": SEED}
        cold = measure(spec, env={"NUMBA_CACHE_DIR": cache}, repeat=1)
        cached = measure(spec, env={"NUMBA_CACHE_DIR": cache}, repeat=1)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {"cold": cold, "cached": cached}


def scaling_suite(base: int) -> dict[str, Any]:
    path = SCENARIOS["board_scale"]
    spec = {"kind": "revsim", "name": "board_scale", "scenario": path, "threads": 1, "seed": SEED}
    return {
        "draws": [measure({**spec, "draws": base * f}) for f in (1, 2, 4)],
        "months": [measure({**spec, "draws": base, "months": m}) for m in (30, 60, 120)],
        "cohorts": [measure({**spec, "draws": base, "segments": s}) for s in (3, 6, 12)],
    }


def cli_suite(quick: bool) -> dict[str, Any]:
    script = Path(sys.executable).with_name("revsim")
    revsim = [str(script)] if script.exists() else [sys.executable, "-c", "from revsim.cli.main import main; main()"]
    out_dir = tempfile.mkdtemp(prefix="revsim-bench-run-")
    run = [*revsim, "run", EXAMPLE, "--seed", "42", "--out", out_dir, "--force", "--quiet"]
    try:
        out = {"help": timed_command([*revsim, "--help"], repeats=3 if quick else 5),
               "run_example_1000": timed_command(run, repeats=1 if quick else 3)}
        if not quick:
            out["run_example_2000"] = timed_command([*run, "--draws", "2000"], repeats=3)
        return out
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def dask_suite(draws: int, chunk_size: int) -> dict[str, Any]:
    spec = {"kind": "dask", "name": "board_scale", "scenario": SCENARIOS["board_scale"], "draws": draws,
            "chunk_size": chunk_size, "seed": SEED}
    local = measure({"kind": "revsim", "name": "board_scale", "scenario": SCENARIOS["board_scale"], "draws": draws,
                     "threads": 1, "seed": SEED})
    return {"local_1_thread": local, "workers_1": measure({**spec, "workers": 1}),
            "workers_2": measure({**spec, "workers": 2})}


# -- report ---------------------------------------------------------------------------------------------------


def derived(results: dict[str, Any]) -> dict[str, Any]:
    """Rates and ratios from the raw measurements (per draw, so runs of different sizes compare)."""
    out: dict[str, Any] = {}
    for name, r in results.get("scenarios", {}).items():
        one, two = r["revsim_1"], r["revsim_2"]
        per_draw_1, per_draw_2 = one["wall_s"] / one["draws"], two["wall_s"] / two["draws"]
        row = {
            "cohort_months_per_s_1": one["cohort_months"] / one["wall_s"],
            "cohort_months_per_s_2": two["cohort_months"] / two["wall_s"],
            "speedup_1_to_2_threads": one["wall_s"] / two["wall_s"],
            "variates_per_run": one["variates"],
            "ns_per_variate_1": one["wall_s"] / one["variates"] * 1e9,
            "extrapolated_10000_draws_2_threads_s": per_draw_2 * 10_000,
        }
        if "numpy" in r:
            numpy_per_draw = r["numpy"]["wall_s"] / r["numpy"]["draws"]
            row.update(revsim_over_numpy_1=per_draw_1 / numpy_per_draw, revsim_over_numpy_2=per_draw_2 / numpy_per_draw,
                       numpy_cohort_months_per_s=r["numpy"]["cohort_months"] / r["numpy"]["wall_s"])
        if "floor" in r:
            row.update(revsim_over_floor_1=one["wall_s"] / r["floor"]["floor_s"],
                       revsim_over_floor_2=two["wall_s"] / r["floor"]["floor_s"])
        out[name] = row
    if "scaling" in results:
        out["scaling"] = {}
        for axis, runs in results["scaling"].items():
            base = runs[0]["wall_s"] / runs[0]["cohort_months"]
            out["scaling"][axis] = [{"time_ratio": r["wall_s"] / runs[0]["wall_s"],
                                     "work_ratio": r["cohort_months"] / runs[0]["cohort_months"],
                                     "time_per_cohort_month_ratio": r["wall_s"] / r["cohort_months"] / base}
                                    for r in runs]
    if "dask" in results:
        d = results["dask"]
        out["dask"] = {"speedup_2_workers": d["workers_1"]["wall_s"] / d["workers_2"]["wall_s"],
                       "workers_1_over_local_1_thread": d["workers_1"]["wall_s"] / d["local_1_thread"]["wall_s"]}
    return out


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True))
    body = ["  ".join(f"{str(c):>{w}}" for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([title, line, "-" * len(line), *body, ""])


def _load(result: dict[str, Any]) -> str:
    return f"{result['load_before'][0]:.1f}/{result['other_cores']:.1f}"


def _pair(row: dict[str, Any], name: str) -> str:
    return f"{row[name + '_1']:.2f}/{row[name + '_2']:.2f}" if name + "_1" in row else "-"


def _scaling_rows(results: dict[str, Any]) -> list[list[Any]]:
    """The scaling runs as table rows, for the printed report and the Markdown one."""
    rows = []
    for axis, runs in results["scaling"].items():
        for r, x in zip(runs, results["derived"]["scaling"][axis], strict=True):
            rows.append([axis, f"{r['draws']:,}", r["months"], r["segments"], f"{r['cohort_months']:.3g}",
                         f"{r['wall_s']:.2f}", f"{x['time_ratio']:.2f}", f"{x['work_ratio']:.2f}",
                         f"{x['time_per_cohort_month_ratio']:.2f}", f"{r['rss_peak_mb']:,.0f}",
                         f"{r['output_mb']:,.0f}", _load(r)])
    return rows


def report(results: dict[str, Any]) -> str:
    d = results["derived"]
    text = []
    m = results["machine"]
    text.append(f"revsim {m['revsim']} benchmarks ({results['mode']}), {results['started']}: {m['cpu_model']}, "
                f"{m['cpus_usable']} cores, {m['memory_gib']} GiB; numpy {m['numpy']}, numba {m['numba']}; "
                f"kernels {m['kernels_sha256']}\n(load = 1-minute load average before / cores other processes used "
                "during the measurement)\n")
    rows = []
    for name, r in results.get("scenarios", {}).items():
        one, two, x = r["revsim_1"], r["revsim_2"], d[name]
        rows.append([name, f"{one['draws']:,}", f"{one['cohorts']:,}", f"{one['cohort_months']:.3g}",
                     f"{one['variates']:.3g}", f"{one['wall_s']:.2f}", f"{two['wall_s']:.2f}",
                     f"{x['speedup_1_to_2_threads']:.2f}", f"{x['cohort_months_per_s_2']:.3g}",
                     f"{x['ns_per_variate_1']:.1f}", f"{one['rss_peak_mb']:.0f}/{two['rss_peak_mb']:.0f}",
                     _pair(x, "revsim_over_numpy"), _pair(x, "revsim_over_floor"),
                     f"{_load(one)} {_load(two)}"])
    text.append(_table("revsim per scenario (1 and 2 threads; ratios are times, lower is faster)",
                       ["scenario", "draws", "cohorts", "cohort-mo", "variates", "1 thr s", "2 thr s", "speedup",
                        "cm/s 2thr", "ns/variate", "peak MiB 1/2", "/numpy 1/2", "/floor 1/2", "load 1t, 2t"], rows))
    rows = []
    for name, r in results.get("scenarios", {}).items():
        if "numpy" in r:
            n = r["numpy"]
            rows.append([name, "numpy reference", f"{n['draws']:,}", f"{n['wall_s']:.2f}",
                         f"{n['wall_s'] / n['draws'] * 1e3:.2f}", f"{n['rss_peak_mb']:.0f}", _load(n)])
        if "floor" in r:
            f = r["floor"]
            ns = ", ".join(f"{k} {v:.0f}" for k, v in f["ns_per_variate"].items())
            rows.append([name, f"floor ({ns} ns)", f"{f['draws']:,}", f"{f['floor_s']:.2f}",
                         f"{f['floor_s'] / f['draws'] * 1e3:.2f}", f"{f['rss_peak_mb']:.0f}" if "rss_peak_mb" in f
                         else "-", _load(f)])
    if rows:
        text.append(_table("numpy side by side (one thread)", ["scenario", "what", "draws", "s", "ms/draw",
                                                               "peak MiB", "load"], rows))
    if "compile" in results:
        c = results["compile"]
        rows = [[k, f"{v['compile_s']:.2f}", f"{v['first_draw_s']:.2f}", f"{v['import_and_compile_scenario_s']:.2f}",
                 _load(v)] for k, v in c.items()]
        text.append(_table("numba compilation (small scenario, first draw less a steady draw)",
                           ["cache", "compile s", "first draw s", "imports s", "load"], rows))
    if "scaling" in results:
        rows = _scaling_rows(results)
        text.append(_table("scaling (board scale, 1 thread): time per cohort-month should stay at 1",
                           ["axis", "draws", "months", "segments", "cohort-mo", "s", "time x", "work x",
                            "per c-m x", "peak MiB", "output MiB", "load"], rows))
    if "cli" in results:
        rows = [[k, f"{v['best_s']:.3f}", ", ".join(f"{t:.3f}" for t in v["times_s"]), _load(v)]
                for k, v in results["cli"].items()]
        text.append(_table("command line, end to end (best of the runs after a warm-up)",
                           ["command", "best s", "runs s", "load"], rows))
    if "dask" in results:
        k = results["dask"]
        rows = [[name, f"{v['draws']:,}", f"{v['wall_s']:.2f}", f"{v.get('cluster_start_s', 0):.1f}", _load(v)]
                for name, v in k.items()]
        text.append(_table(f"dask backend, board scale (speed-up 1 -> 2 workers: {d['dask']['speedup_2_workers']:.2f})",
                           ["run", "draws", "s", "cluster start s", "load"], rows))
    text.append(targets_text(results))
    return "\n".join(text)


def markdown(results: dict[str, Any]) -> str:
    """The figures of a results file as Markdown tables, for docs/performance.md."""
    d, m = results["derived"], results["machine"]
    out = [f"Measured {results['started']} ({results['mode']} suite, {results['elapsed_s'] / 60:.0f} minutes); "
           f"revsim {m['revsim']}, kernels `{m['kernels_sha256']}`, sampling `{m['sampling_sha256']}`; "
           f"Python {m['python']}, numpy {m['numpy']}, numba {m['numba']}.", ""]

    def table(header: list[str], rows: list[list[str]]) -> None:
        out.extend(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                    *("| " + " | ".join(str(c) for c in row) + " |" for row in rows), ""])

    rows = []
    for name, r in results.get("scenarios", {}).items():
        one, two, x = r["revsim_1"], r["revsim_2"], d[name]
        rows.append([name, f"{one['draws']:,}", f"{one['cohorts']:,}", f"{one['cohort_months']:.3g}",
                     f"{one['variates']:.3g}", f"{one['wall_s']:.1f}", f"{two['wall_s']:.1f}",
                     f"{x['speedup_1_to_2_threads']:.2f}", f"{x['cohort_months_per_s_1']:.3g}",
                     f"{x['cohort_months_per_s_2']:.3g}", f"{x['ns_per_variate_1']:.0f}",
                     f"{one['rss_peak_mb']:,.0f} / {two['rss_peak_mb']:,.0f}", f"{_load(one)}, {_load(two)}"])
    table(["scenario", "draws", "cohorts", "cohort-months", "variates", "1 thread s", "2 threads s", "speed-up",
           "cohort-months/s, 1 thread", "cohort-months/s, 2 threads", "ns per variate, 1 thread",
           "peak RSS MiB, 1 / 2 threads", "load"], rows)
    rows = []
    for name, r in results.get("scenarios", {}).items():
        x = d[name]
        if "numpy" in r and "floor" in r:
            n, f = r["numpy"], r["floor"]
            ns = ", ".join(f"{k} {v:.0f}" for k, v in f["ns_per_variate"].items())
            rows.append([name, f"{n['draws']:,}", f"{n['wall_s']:.1f}", f"{n['rss_peak_mb']:,.0f}",
                         _pair(x, "revsim_over_numpy").replace("/", " / "), f"{f['floor_s']:.1f}", ns,
                         _pair(x, "revsim_over_floor").replace("/", " / "), f"{_load(n)}, {_load(f)}"])
    if rows:
        table(["scenario", "numpy draws", "numpy s", "numpy peak RSS MiB", "revsim / numpy, 1 / 2 threads",
               "floor s", "floor ns per variate", "revsim / floor, 1 / 2 threads", "load"], rows)
    if "compile" in results:
        table(["numba cache", "compile s", "first draw s", "load"],
              [[k, f"{v['compile_s']:.2f}", f"{v['first_draw_s']:.2f}", _load(v)]
               for k, v in results["compile"].items()])
    if "scaling" in results:
        rows = _scaling_rows(results)
        table(["axis", "draws", "months", "segments", "cohort-months", "s", "time x", "cohort-months x",
               "time per cohort-month x", "peak RSS MiB", "outputs MiB", "load"], rows)
    if "cli" in results:
        table(["command", "best s", "runs s", "load"],
              [[k, f"{v['best_s']:.2f}", ", ".join(f"{t:.2f}" for t in v["times_s"]), _load(v)]
               for k, v in results["cli"].items()])
    if "dask" in results:
        table(["run", "draws", "s", "cluster start s", "load"],
              [[k, f"{v['draws']:,}", f"{v['wall_s']:.1f}", f"{v.get('cluster_start_s', 0.0):.1f}", _load(v)]
               for k, v in results["dask"].items()])
    out.append("Load: 1-minute load average before the measurement / cores used by other processes during it.")
    return "\n".join(out) + "\n"


def targets_text(results: dict[str, Any]) -> str:
    d = results["derived"]
    lines = ["targets"]

    def check(label: str, value: float | None, target: float, below: bool) -> None:
        if value is None:
            return
        ok = value <= target if below else value >= target
        lines.append(f"  {'ok  ' if ok else 'MISS'} {label}: {value:.3g} ({'<=' if below else '>='} {target:g})")

    board = d.get("board_scale", {})
    check("board scale, revsim / floor, 1 thread", board.get("revsim_over_floor_1"),
          TARGETS["floor_ratio_1_thread"], True)
    check("board scale, speed-up 1 -> 2 threads", board.get("speedup_1_to_2_threads"),
          TARGETS["speedup_1_to_2_threads"], False)
    if "revsim_over_numpy_2" in board:
        check("board scale, numpy / revsim with 2 threads", 1 / board["revsim_over_numpy_2"],
              TARGETS["numpy_over_revsim_2_threads"], False)
    check("board scale, 10,000 draws with 2 threads (s, extrapolated per draw)",
          board.get("extrapolated_10000_draws_2_threads_s"), TARGETS["board_scale_10000_draws_2_threads_s"], True)
    check("small scenario, speed-up 1 -> 2 threads", d.get("small", {}).get("speedup_1_to_2_threads"),
          TARGETS["small_speedup_1_to_2_threads"], False)
    cli = results.get("cli", {})
    if cli:
        check("revsim --help (s)", cli["help"]["best_s"], TARGETS["help_s"], True)
        check("cached revsim run of the example, 1,000 draws (s)", cli["run_example_1000"]["best_s"],
              TARGETS["cached_run_s"], True)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="revsim's benchmark suite (see docs/performance.md).")
    parser.add_argument("--quick", action="store_true", help="few draws: a minute or two")
    parser.add_argument("--draws", type=int, help="draws of every scenario (default: 10,000; quick: fewer)")
    parser.add_argument("--numpy-draws", type=int, help="most draws of the numpy reference (default: as revsim)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: numpy, floor, compile, scaling, "
                                                   "cli, dask")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--repeat", type=int, help="runs of each timed measurement, the fastest kept (default: 2; "
                                                   "quick: 1)")
    parser.add_argument("--markdown", type=Path, metavar="RESULTS_JSON",
                        help="measure nothing: print the figures of a results file as Markdown tables")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return
    which = 1 if args.quick else 0
    REPEAT["value"] = args.repeat or (1 if args.quick else 2)
    skip = {s for s in args.skip.split(",") if s}
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "repeat": REPEAT["value"],
                               "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine(), "scenarios": {}}
    start = time.monotonic()
    # numba's cache of a function is invalidated only when its own file changes, not the files it calls (a
    # kernel cached before sampling.py changed keeps the old sampling): measure with a cache of this run's own
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="revsim-bench-numba-")
    print("measuring (each line: one fresh process)", file=sys.stderr)
    for name in [s for s in args.scenarios.split(",") if s]:
        draws = args.draws or DRAWS[name][which]
        results["scenarios"][name] = scenario_suite(name, draws, args.numpy_draws or draws, FLOOR_SAMPLE[which],
                                                    skip)
    if "compile" not in skip:
        results["compile"] = compile_suite()
    if "scaling" not in skip:
        results["scaling"] = scaling_suite(SCALING_DRAWS[which])
    if "cli" not in skip:
        results["cli"] = cli_suite(args.quick)
    if "dask" not in skip:
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            print("  dask.distributed is not installed: no dask figures", file=sys.stderr)
        else:
            results["dask"] = dask_suite(DASK_DRAWS[which], chunk_size=125 if not args.quick else 16)
    results["elapsed_s"] = time.monotonic() - start
    results["derived"] = derived(results)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(report(results))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"({results['elapsed_s'] / 60:.1f} minutes)")
    shutil.rmtree(os.environ.pop("NUMBA_CACHE_DIR"), ignore_errors=True)


if __name__ == "__main__":
    main()
