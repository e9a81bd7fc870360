"""One benchmark measurement, in a fresh process: ``python -m benchmarks.measure '<json spec>'``.

Each measurement runs in its own interpreter so that its peak resident memory (``ru_maxrss``) and its numba
compilation state are its own. The spec says what to measure (``kind``) and on what; the result is printed as
one JSON line on standard output. :mod:`benchmarks.run` starts these processes and gathers their results.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def rss_now_mb() -> float:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_peak_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scenario_data(path: str, *, months: int | None = None, segments: int | None = None) -> dict[str, Any]:
    """A benchmark scenario's data, optionally with another horizon or another number of segments.

    More segments repeat the scenario's first segment and its initial book entries (those of the first
    segment), so each new segment is like the others; the segment names must be ``s0``, ``s1``... .
    """
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    data.pop("targets", None)
    if months is not None:
        data["horizon_months"] = months
    if segments is not None:
        names = [f"s{i}" for i in range(segments)]
        first = data["segments"][0] if isinstance(data["segments"][0], str) else data["segments"][0]["name"]
        data["segments"] = names
        book = [entry for entry in data.get("initial_book", []) if entry.get("segment") == first]
        data["initial_book"] = [{**copy.deepcopy(entry), "segment": name} for name in names for entry in book]
    return data


def compiled_scenario(spec: dict[str, Any]):
    from revsim.engine.compile import compile_scenario
    from revsim.scenario.load import scenario_from_dict

    data = scenario_data(str(ROOT / spec["scenario"]), months=spec.get("months"), segments=spec.get("segments"))
    return compile_scenario(scenario_from_dict(data, base_dir=str(ROOT / Path(spec["scenario"]).parent)))


def structure(compiled, draws: int) -> dict[str, Any]:
    from revsim.engine.variates import cohort_months, count_uniforms

    count = count_uniforms(compiled, draws)
    return {
        "draws": draws,
        "months": compiled.n_months,
        "segments": len(compiled.segments),
        "cohorts": len(compiled.book_segment) + compiled.n_months * len(compiled.segments),
        "cohort_months": cohort_months(compiled) * draws,
        "variates": count.total,
        "variates_by_process": {k: v * draws for k, v in count.per_draw.items()},
    }


def raw_bytes(raw) -> int:
    import dataclasses

    import numpy as np

    return sum(getattr(raw, f.name).nbytes for f in dataclasses.fields(raw)
               if isinstance(getattr(raw, f.name), np.ndarray))


def measure_revsim(spec: dict[str, Any]) -> dict[str, Any]:
    """Wall time of ``run_draws`` (the kernel on a thread pool, parameters included), after a warm-up draw."""
    from revsim.engine.run import run_draws

    compiled = compiled_scenario(spec)
    start = time.perf_counter()
    run_draws(compiled, spec["seed"], 0, 1, threads=1)  # compiles, or loads numba's cache
    first = time.perf_counter() - start
    before = rss_now_mb()
    start = time.perf_counter()
    raw = run_draws(compiled, spec["seed"], 0, spec["draws"], threads=spec["threads"])
    wall = time.perf_counter() - start
    return {**structure(compiled, spec["draws"]), "wall_s": wall, "first_draw_s": first,
            "rss_before_mb": before, "rss_peak_mb": rss_peak_mb(), "output_mb": raw_bytes(raw) / 2**20}


def measure_numpy(spec: dict[str, Any]) -> dict[str, Any]:
    """Wall time of the vectorised numpy reference (parameters included), one thread."""
    from benchmarks.numpy_reference import simulate_numpy

    compiled = compiled_scenario(spec)
    before = rss_now_mb()
    start = time.perf_counter()
    params = compiled.draw_parameters(spec["seed"], 0, spec["draws"])
    raw = simulate_numpy(compiled, params, spec["seed"])
    wall = time.perf_counter() - start
    return {**structure(compiled, spec["draws"]), "wall_s": wall, "rss_before_mb": before,
            "rss_peak_mb": rss_peak_mb(), "output_mb": raw_bytes(raw) / 2**20}


def measure_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """The random-number floor: numpy drawing the model's binomial, Poisson and gamma variates, vectorised.

    The numpy reference runs a sample of draws keeping the parameters of every variate; each kind is then drawn
    again in one vectorised call, and its time per variate is applied to the number of variates of that kind
    revsim draws in the whole run (from the scenario's structure).
    """
    from benchmarks.numpy_reference import VariateRecorder, floor_seconds_per_variate, simulate_numpy

    compiled = compiled_scenario(spec)
    sample = spec["sample_draws"]
    recorder = VariateRecorder(limit=spec.get("limit", 40_000_000))
    simulate_numpy(compiled, compiled.draw_parameters(spec["seed"], 0, sample), spec["seed"], recorder=recorder)
    per_variate = floor_seconds_per_variate(recorder, seed=spec["seed"])
    info = structure(compiled, spec["draws"])
    by_process = info["variates_by_process"]
    T, C = compiled.n_months, len(compiled.channels)
    draws = spec["draws"]
    gamma = draws * T * C + by_process["pricing"]  # channel noise and new cohorts' MRR
    poisson = draws * T * C + by_process["loops"]  # channel entries and loop entries
    kinds = {"binomial": info["variates"] - gamma - poisson, "poisson": poisson, "gamma": gamma}
    floor = sum(kinds[k] * per_variate[k] for k in kinds)
    return {**info, "floor_s": floor, "ns_per_variate": {k: v * 1e9 for k, v in per_variate.items()},
            "variates_by_kind": kinds, "sample_draws": sample,
            "sample_variates": {k: recorder.kept_count(k) for k in recorder.kept}}


def measure_compile(spec: dict[str, Any]) -> dict[str, Any]:
    """Time of the first draw (numba compiles, or loads its cache from NUMBA_CACHE_DIR) less a steady draw."""
    start = time.perf_counter()
    from revsim.engine.run import run_draws

    compiled = compiled_scenario(spec)
    imported = time.perf_counter() - start
    start = time.perf_counter()
    run_draws(compiled, spec["seed"], 0, 1, threads=1)
    first = time.perf_counter() - start
    start = time.perf_counter()
    run_draws(compiled, spec["seed"], 1, 2, threads=1)
    steady = time.perf_counter() - start
    return {"import_and_compile_scenario_s": imported, "first_draw_s": first, "steady_draw_s": steady,
            "compile_s": first - steady, "rss_peak_mb": rss_peak_mb()}


def measure_dask(spec: dict[str, Any]) -> dict[str, Any]:
    """The dask backend on a local cluster of ``workers`` processes: start-up, a warm-up, then the timed run."""
    from revsim.engine.distributed import dask_client, run_draws_distributed
    from revsim.engine.run import run_draws

    compiled = compiled_scenario(spec)
    start = time.perf_counter()
    with dask_client(workers=spec["workers"]) as client:
        started = time.perf_counter() - start
        start = time.perf_counter()
        client.run(run_draws, compiled, spec["seed"], 0, 1, threads=1)  # every worker loads the kernels
        warm = time.perf_counter() - start
        start = time.perf_counter()
        run_draws_distributed(compiled, spec["seed"], 0, spec["draws"], client=client,
                              chunk_size=spec["chunk_size"])
        wall = time.perf_counter() - start
    return {**structure(compiled, spec["draws"]), "wall_s": wall, "cluster_start_s": started,
            "warm_up_s": warm, "workers": spec["workers"], "chunk_size": spec["chunk_size"]}


KINDS = {"revsim": measure_revsim, "numpy": measure_numpy, "floor": measure_floor, "compile": measure_compile,
         "dask": measure_dask}


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    result = KINDS[spec["kind"]](spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
