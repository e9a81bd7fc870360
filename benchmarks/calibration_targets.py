"""The calibration speed targets, each measured as a whole process: ``python benchmarks/calibration.py --targets``.

* **Worked example, cold**: ``revsim calibrate scenarios/history/northwind.yaml --history scenarios/history
  --retention both`` (the README's worked example) with nothing cached: an empty compiled-model cache
  (``REVSIM_CACHE_DIR``) and an empty PyTensor compilation directory (numba's cache of PyTensor's
  operations). Target: at most 30 s on a quiet two-core machine.
* **Worked example, warm**: the same command again, in new processes, the model's structure compiled by the
  first. Target: at most 10 s (median of ``--runs``).
* **Retention only**: ``revsim calibrate --history cohorts.csv --period-months 12`` on each of Fader &
  Hardie's two classic cohort tables (``benchmarks/data/fader_hardie_2007.csv``: 1,000 customers followed
  for 8 annual periods, years 0 to 7 fitted, years 8 to 12 held out), against PyMC-Marketing's
  ``ShiftedBetaGeoModel`` fitted on the same table in a fresh process (import included), when PyMC-Marketing
  is installed (it is not a dependency of revsim; without it revsim's figures are printed alone). Both
  sample 4 chains x 1,000 draws after 1,000 tuning steps. A first run of each (revsim's compiles, or loads
  the structure compiled for the first table; PyMC-Marketing's compiles its C code), then ``--runs`` pairs,
  interleaved, each pair in alternating order, so that a change of load weighs on both alike. Target: the
  median of the pairs' ratios revsim / PyMC-Marketing at most 0.5. The projected survivors of years 8 to 12
  (posterior means, per 1,000) are printed beside the actual ones.

Every figure is the wall time of the process, with its CPU time (user + system of the process and its
children) and the load average (1, 5 and 15 minutes, as ``uptime`` prints it) just before it: on a busy
machine, compare ratios measured in the same run, or the CPU times. ``--part example`` or ``--part retention``
measures one group. Results are written to ``benchmarks/calibration_targets.json``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "fader_hardie_2007.csv"
RESULTS = ROOT / "benchmarks" / "calibration_targets.json"
FITTED_YEARS = 8  # years 0..7, as Fader & Hardie (2007) and PyMC-Marketing's example fit them
TARGETS = {"cold_s": 30.0, "warm_s": 10.0, "retention_ratio": 0.5}
SAMPLING = {"draws": 1000, "tune": 1000, "chains": 4}


def fader_hardie() -> dict[str, list[int]]:
    """Survivors per 1,000 customers, years 0 to 12, of the ``regular`` and ``highend`` tables.

    Fader, P. S. and Hardie, B. G. S. (2007), How to project customer retention, Journal of Interactive
    Marketing 21(1), 76-90, Table 1 (also PyMC-Marketing's ``data/sbg_paper.csv`` and its sBG notebook).
    """
    tables: dict[str, list[int]] = {}
    for line in DATA.read_text(encoding="utf-8").splitlines()[1:]:
        table, year, survivors = line.split(",")
        tables.setdefault(table, []).append(int(survivors))
        assert len(tables[table]) == int(year) + 1, f"{DATA}: years out of order"
    return tables


def write_cohort_table(survivors: list[int], path: Path) -> Path:
    """The fitted years as revsim's ``cohorts.csv`` (one cohort, periods 0..7)."""
    lines = ["cohort,period,customers"] + [f"2000,{k},{n}" for k, n in enumerate(survivors[:FITTED_YEARS])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; its wall and CPU time, the load average before, and its output."""
    load = [round(x, 2) for x in os.getloadavg()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_before": load,
            "stdout": proc.stdout, "stderr": proc.stderr}


def environment(cache: Path, compiledir: Path) -> dict[str, str]:
    """The child's environment: its own compiled-model cache and PyTensor compilation directory."""
    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f and not f.startswith("base_compiledir")]
    return {**os.environ, "REVSIM_CACHE_DIR": str(cache),
            "PYTENSOR_FLAGS": ",".join([*flags, f"base_compiledir={compiledir}"])}


def revsim_calibrate(arguments: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "revsim.cli.main", "calibrate", *arguments, "--out", str(out), "--force",
               "--draws", str(SAMPLING["draws"]), "--tune", str(SAMPLING["tune"]), "--chains",
               str(SAMPLING["chains"])]
    return timed(command, env)


def survival_projection(alpha: Any, beta: Any, years: range) -> list[float]:
    """Posterior mean survivors per 1,000 after each of ``years`` under the sBG."""
    import numpy as np
    from scipy.special import betaln

    a = np.asarray(alpha, dtype=float).ravel()
    b = np.asarray(beta, dtype=float).ravel()
    return [round(float(1000 * np.mean(np.exp(betaln(a, b + t) - betaln(a, b)))), 1) for t in years]


def revsim_survival(out: Path, years: range) -> list[float]:
    import xarray as xr

    with xr.open_dataset(out / "posterior.nc", group="posterior", engine="h5netcdf") as posterior:
        return survival_projection(posterior["sbg_alpha"].values, posterior["sbg_beta"].values, years)


PYMC_MARKETING_FIT = r'''
import json, sys, time
start = time.perf_counter()
import numpy as np
import pandas as pd
from pymc_marketing.clv import ShiftedBetaGeoModel
survivors = json.loads(sys.argv[1])
T = len(survivors)
recency = []
for t in range(1, T):
    recency += [t] * (survivors[t - 1] - survivors[t])
recency += [T] * survivors[-1]
data = pd.DataFrame({"customer_id": np.arange(len(recency)), "recency": recency, "T": T, "cohort": "table"})
model = ShiftedBetaGeoModel(data=data, sampler_config=json.loads(sys.argv[2]))
model.fit(progressbar=False, random_seed=1)
posterior = model.idata.posterior
print(json.dumps({"alpha": posterior["alpha"].values.ravel().tolist(), "beta": posterior["beta"].values.ravel().tolist(),
                  "sampler": str(model.idata.sample_stats.attrs.get("inference_library", "pymc")),
                  "inside_s": time.perf_counter() - start}))
'''


def pymc_marketing_available() -> bool:
    from importlib.util import find_spec

    return find_spec("pymc_marketing") is not None


def pymc_marketing_fit(survivors: list[int], env: dict[str, str], years: range) -> dict[str, Any]:
    row = timed([sys.executable, "-c", PYMC_MARKETING_FIT, json.dumps(survivors[:FITTED_YEARS]), json.dumps(SAMPLING)],
                env)
    result = json.loads(row.pop("stdout").strip().splitlines()[-1])
    row.pop("stderr")
    row["survivors"] = survival_projection(result["alpha"], result["beta"], years)
    row["sampler"] = result["sampler"]
    return row


def run(runs: int = 3, cold: bool = True, parts: tuple[str, ...] = ("example", "retention")) -> dict[str, Any]:
    """Measure every target; returns the report (also printed and written to :data:`RESULTS`)."""
    report: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "targets": TARGETS,
                              "sampling": SAMPLING, "cores": len(os.sched_getaffinity(0))}
    print(f"{report['cores']} cores; every figure: wall time of the whole process (CPU time of the process), and "
          "the load average (1, 5, 15 min) just before it", flush=True)
    with tempfile.TemporaryDirectory(prefix="revsim-calibration-targets-") as tmp:
        work = Path(tmp)
        env = environment(work / "cache", work / "pytensor")
        if "example" in parts:
            example = ["scenarios/history/northwind.yaml", "--history", "scenarios/history", "--retention", "both"]
            if cold:
                row = _keep(revsim_calibrate(example, env, work / "example"))
                report["example_cold"] = row
                _print("worked example, cold (nothing cached)", row,
                       f"TARGET <= {TARGETS['cold_s']:.0f} s: {_verdict(row['wall_s'], TARGETS['cold_s'])}")
            else:  # the warm runs need the structure compiled: an unmeasured first run compiles it
                revsim_calibrate(example, env, work / "example")
            warm = []
            for _ in range(runs):
                warm.append(_keep(revsim_calibrate(example, env, work / "example")))
                _print("worked example, warm (structure compiled before)", warm[-1], "")
            report["example_warm"] = warm
            middle = _median(warm)
            _print(f"worked example, warm: median of {runs}", middle,
                   f"TARGET <= {TARGETS['warm_s']:.0f} s: {_verdict(middle['wall_s'], TARGETS['warm_s'])}")
        if "retention" in parts:
            report["retention"] = {name: _retention(name, survivors, env, work, runs)
                                   for name, survivors in fader_hardie().items()}
            _print_retention(report["retention"], range(FITTED_YEARS, 13))
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return report


def _retention(name: str, survivors: list[int], env: dict[str, str], work: Path, runs: int) -> dict[str, Any]:
    """revsim and PyMC-Marketing on one table: a first run of each, then ``runs`` pairs, interleaved.

    The pairs alternate which tool runs first, so that a change of the machine's load during the measurement
    weighs on both alike; the ratio of each pair is kept.
    """
    years = range(FITTED_YEARS, 13)
    table = write_cohort_table(survivors, work / f"cohorts_{name}.csv")
    arguments = ["--history", str(table), "--period-months", "12"]
    out = work / f"retention_{name}"
    other = pymc_marketing_available()

    def ours() -> dict[str, Any]:
        return _keep(revsim_calibrate(arguments, env, out))

    def theirs() -> dict[str, Any]:
        return pymc_marketing_fit(survivors, env, years)

    entry: dict[str, Any] = {"actual": survivors[FITTED_YEARS:], "revsim_first": ours(), "revsim_warm": []}
    entry["revsim_survivors"] = revsim_survival(out, years)
    if other:
        entry["pymc_marketing_first"] = theirs()
        entry["pymc_marketing"] = []
        entry["ratios"] = []
    for i in range(runs):
        if not other:
            entry["revsim_warm"].append(ours())
            continue
        if i % 2 == 0:
            a = ours()
            b = theirs()
        else:
            b = theirs()
            a = ours()
        entry["revsim_warm"].append(a)
        entry["pymc_marketing"].append(b)
        entry["ratios"].append({"wall": round(a["wall_s"] / b["wall_s"], 3), "cpu": round(a["cpu_s"] / b["cpu_s"], 3)})
    return entry


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"not met here ({value / target:.1f}x the target)"


def _keep(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of a run, with the line of revsim's summary that splits compile and sampling time."""
    summary = next((line for line in row["stdout"].splitlines() if line.startswith("calibrated ")), "")
    return {k: row[k] for k in ("wall_s", "cpu_s", "load_before")} | {"summary": summary}


def _median(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"wall_s": statistics.median(r["wall_s"] for r in rows),
            "cpu_s": statistics.median(r["cpu_s"] for r in rows),
            "load_before": [round(statistics.median(r["load_before"][i] for r in rows), 2) for i in range(3)]}


def _print(label: str, row: dict[str, Any], target: str) -> None:
    load = " ".join(f"{x:.2f}" for x in row["load_before"])
    print(f"{label:<56} {row['wall_s']:7.1f} s  (CPU {row['cpu_s']:6.1f} s; load {load})  {target}", flush=True)


def _print_retention(results: dict[str, Any], years: range) -> None:
    print("retention only: revsim calibrate --history cohorts.csv --period-months 12, and PyMC-Marketing's "
          f"ShiftedBetaGeoModel when installed, {SAMPLING['chains']} chains x {SAMPLING['draws']} draws each",
          flush=True)
    for name, entry in results.items():
        first = entry["revsim_first"]
        _print(f"{name}: revsim, first run", first, "(compiled)" if "compile " in first["summary"]
               else "(the structure came from the cache)")
        if "pymc_marketing_first" in entry:
            other = entry["pymc_marketing_first"]
            _print(f"{name}: PyMC-Marketing ({other['sampler']}), first run", other, "")
            print(f"{'':<56} first runs: revsim / PyMC-Marketing {first['wall_s'] / other['wall_s']:.2f} "
                  f"(CPU {first['cpu_s'] / other['cpu_s']:.2f})", flush=True)
        warm = _median(entry["revsim_warm"])
        _print(f"{name}: revsim, median of {len(entry['revsim_warm'])}", warm, "")
        if entry.get("pymc_marketing"):
            other = _median(entry["pymc_marketing"])
            _print(f"{name}: PyMC-Marketing, median of {len(entry['pymc_marketing'])} (interleaved)", other, "")
            ratio = statistics.median(r["wall"] for r in entry["ratios"])
            cpu = statistics.median(r["cpu"] for r in entry["ratios"])
            print(f"{'':<56} revsim / PyMC-Marketing, median of the pairs' ratios: {ratio:.2f} (CPU {cpu:.2f})  "
                  f"TARGET <= {TARGETS['retention_ratio']}: {_verdict(ratio, TARGETS['retention_ratio'])}",
                  flush=True)
        other_survivors = entry.get("pymc_marketing_first", {}).get("survivors")
        print(f"{'':<56} survivors per 1,000 in years {years.start}-{years.stop - 1}: actual {entry['actual']}, "
              f"revsim {entry['revsim_survivors']}"
              + (f", PyMC-Marketing {other_survivors}" if other_survivors is not None else ""), flush=True)
    if not any("pymc_marketing_first" in e for e in results.values()):
        print("PyMC-Marketing is not installed (it is not a dependency of revsim): pip install pymc-marketing to "
              "compare; revsim's figures above stand alone", flush=True)
