"""Peak memory of summarising a results.zarr store, against the store's size: ``python -m benchmarks.store_summary``.

Builds stores of the small benchmark scenario (``benchmarks/scenarios/small.yaml``) with ``--draws`` draws
(default 20,000 and 100,000), written block by block (blocks of 5,000 draws simulated with their own seeds and
appended along ``draw``, so that building them never holds the whole run), then, each in a fresh process, opens
the store and computes what a streamed run writes besides the store: ``summary.csv`` (:func:`summary_table`),
the printed summary (:func:`summary_text`, with the targets' P(reach)) and the ``--keep quantiles`` form
(:func:`quantile_dataset`). Printed per store: its size on disk, the size of its variables in memory (what
``open_results`` on a results.nc would load), the summarising process's peak RSS and CPU time.

Target (issue: summaries without holding every draw): the summarising process's peak RSS is bounded by a chunk
and the sketches, not by the store: it grows far less than the store from the small to the large store (the
per-draw totals over segments, draws x months per metric, are all that grows).

    python -m benchmarks.store_summary                       # 20,000 and 100,000 draws
    python -m benchmarks.store_summary --draws 1000000       # one store of a million draws
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "benchmarks" / "scenarios" / "small.yaml"
BLOCK = 5_000


def _size_on_disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_store(path: Path, draws: int) -> None:
    """A results.zarr store of ``draws`` draws of the small scenario, appended a block at a time (each block
    its own seed: a store as large as a streamed run's, built without holding it)."""
    import numpy as np
    import zarr

    from revsim.pipeline import simulate
    from revsim.results.storage import write_store

    for done in range(0, draws, BLOCK):
        n = min(BLOCK, draws - done)
        ds = simulate(SCENARIO, draws=n, seed=1000 + done // BLOCK, threads=2, cohorts=False)
        ds = ds.assign_coords(draw=np.arange(done, done + n))
        if done == 0:
            write_store(ds, path)
            continue
        block = ds[[name for name in ds.data_vars if "draw" in ds[name].dims]]
        for name in block.variables:
            block[name].encoding = {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="zarr")
            block.to_zarr(path, append_dim="draw", write_empty_chunks=True)
    zarr.consolidate_metadata(str(path))


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: the new image's own; ru_maxrss can carry the parent's over
    a spawn), in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarise(path: str) -> dict[str, float]:
    """Open the store and compute the summaries (run in a fresh process: its peak RSS is theirs)."""
    from revsim.results.reading import open_results
    from revsim.results.storage import quantile_dataset
    from revsim.results.summary import summary_table, summary_text

    start = time.process_time()
    before = _peak_rss_mb()  # the interpreter and the imports
    ds = open_results(path)
    in_memory = sum(v.nbytes for v in ds.variables.values())
    table = summary_table(ds)
    text = summary_text(ds)
    quantiles = quantile_dataset(ds)
    return {"draws": int(ds.sizes["draw"]), "in_memory_mb": in_memory / 2**20,
            "rss_before_mb": before, "rss_peak_mb": _peak_rss_mb(),
            "cpu_s": time.process_time() - start, "rows": len(table), "lines": text.count("\n") + 1,
            "quantile_mb": quantiles.nbytes / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--summarise", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.summarise:
        print(json.dumps(summarise(args.summarise)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for draws in args.draws:
            path = Path(folder) / f"d{draws}" / "results.zarr"
            started = time.perf_counter()
            build_store(path, draws)
            built = time.perf_counter() - started
            out = subprocess.run([sys.executable, "-m", "benchmarks.store_summary", "--summarise", str(path)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                raise SystemExit(f"summarising {path} failed:\n{out.stderr}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["store_mb"] = _size_on_disk(path) / 2**20
            row["build_s"] = built
            rows.append(row)
    print(f"summarising a results.zarr of {SCENARIO.name} (load average {os.getloadavg()[0]:.2f})")
    print(f"{'draws':>10} {'store MB':>10} {'in memory MB':>13} {'peak RSS MB':>12} {'of which imports':>17} "
          f"{'CPU s':>8} {'quantile MB':>12}")
    for row in rows:
        print(f"{row['draws']:>10,} {row['store_mb']:>10.1f} {row['in_memory_mb']:>13.1f} {row['rss_peak_mb']:>12.1f} "
              f"{row['rss_before_mb']:>17.1f} {row['cpu_s']:>8.1f} {row['quantile_mb']:>12.2f}")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"from {a['draws']:,} to {b['draws']:,} draws: the store grows {b['store_mb'] / a['store_mb']:.1f}x, "
              f"its variables in memory {b['in_memory_mb'] / a['in_memory_mb']:.1f}x, the summarising process's "
              f"peak RSS {b['rss_peak_mb'] / a['rss_peak_mb']:.2f}x, above the imports "
              f"{(b['rss_peak_mb'] - b['rss_before_mb']) / (a['rss_peak_mb'] - a['rss_before_mb']):.2f}x "
              f"(target: far below the store's growth; peak RSS {b['rss_peak_mb']:.0f} MB for "
              f"{b['in_memory_mb']:.0f} MB of variables)")


if __name__ == "__main__":
    main()
