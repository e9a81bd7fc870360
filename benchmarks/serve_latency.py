"""How fast ``revsim serve`` answers: ``python -m benchmarks.serve_latency [--draws N] [--preview-draws N]``.

For each example scenario it starts ``revsim serve`` as a user does (its own process, a free port), then sends
what the page sends when a slider moves: ``POST /api/evaluate`` with a setting the server has not run yet,
first the preview, then the full run. It prints, per scenario, the time to start the server, the preview's and
the full run's answer times (median and worst of ``--repeat`` slider positions), and the server's CPU time
for each (both cores count: on an idle two-core machine the wall time is about half of it, or less), with the
load average before each scenario. The page's target: a preview answers within a second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["saas_sales_led.yaml", "saas_product_led.yaml", "enterprise_expansion.yaml"]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, body: dict) -> tuple[float, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - began, answer


def start(scenario: Path, draws: int, preview: int) -> tuple[subprocess.Popen, str, float, Path]:
    log = Path(tempfile.mkstemp(prefix="serve-latency-", suffix=".log")[1])
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "revsim.cli.main", "serve", str(scenario), "--port", "0",
                                "--draws", str(draws), "--preview-draws", str(preview)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)
    while process.poll() is None:
        found = re.search(r"ready in [\d.]+ s: (http://\S+)", log.read_text())
        if found:
            return process, found.group(1), time.perf_counter() - began, log
        time.sleep(0.05)
    raise RuntimeError(log.read_text())


def measure(scenario: Path, draws: int, preview: int, repeat: int) -> dict:
    load = os.getloadavg()
    process, url, started, log = start(scenario, draws, preview)
    try:
        controls = json.loads(urllib.request.urlopen(url + "api/scenario").read())["controls"]
        control = next(c for c in controls if c["id"].startswith("input:funnel.stages") and c["unit"] == "points")
        rows = []
        for k in range(repeat):
            setting = control["max"] * (k + 1) / (repeat + 1)  # a new position each time: nothing cached
            body = {"settings": {control["id"]: setting}, "client": "bench", "seq": k}
            row = {}
            for phase in ("preview", "full"):
                cpu = cpu_seconds(process.pid)
                seconds, answer = post(url + "api/evaluate", {**body, "phase": phase})
                assert answer["draws"] == (preview if phase == "preview" else draws), answer.get("detail")
                row[phase] = (seconds, cpu_seconds(process.pid) - cpu)
            rows.append(row)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        log.unlink(missing_ok=True)
    out = {"scenario": scenario.name, "control": control["label"], "load_before": load, "load_after": os.getloadavg(),
           "start_s": started}
    for phase in ("preview", "full"):
        walls = [r[phase][0] for r in rows]
        out[phase] = {"median_s": statistics.median(walls), "max_s": max(walls),
                      "cpu_s": statistics.median(r[phase][1] for r in rows)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--preview-draws", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenarios", default=",".join(EXAMPLES))
    args = parser.parse_args(argv)
    print(f"revsim serve: answer times, preview {args.preview_draws:,} draws, full {args.draws:,} draws, "
          f"{args.repeat} slider positions per scenario ({os.cpu_count()} cores)")
    print(f"{'scenario':<28}{'start':>8}{'preview':>10}{'worst':>8}{'cpu':>8}{'full':>9}{'cpu':>8}   load before/after")
    for name in args.scenarios.split(","):
        r = measure(ROOT / "scenarios" / name, args.draws, args.preview_draws, args.repeat)
        p, f = r["preview"], r["full"]
        print(f"{name:<28}{r['start_s']:>7.1f}s{p['median_s']:>9.2f}s{p['max_s']:>7.2f}s{p['cpu_s']:>7.2f}s"
              f"{f['median_s']:>8.2f}s{f['cpu_s']:>7.2f}s   {r['load_before'][0]:.1f} / {r['load_after'][0]:.1f}")


if __name__ == "__main__":
    main()
