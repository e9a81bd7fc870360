"""Helpers of the calibration tests: the example history and small history files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_HISTORY = REPO_ROOT / "scenarios" / "history"
EXAMPLE_SCENARIO = EXAMPLE_HISTORY / "northwind.yaml"

#: Few draws: enough for the checks and for the diagnostics gate (ESS >= 100 of every forecast input, with a
#: margin: 2 x 200 draws gave the example's slow stages 127), quick on two cores (sampling is seconds; the
#: compilation takes the time).
QUICK = {"draws": 500, "tune": 500, "chains": 2, "seed": 1}


def write(folder: Path, name: str, text: str) -> Path:
    """Write a history file (the text is dedented line by line)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n", encoding="utf-8")
    return path


def assert_calibrate_refuses(history: Path, out: Path, expected: list[str]) -> None:
    """``revsim calibrate`` of the example scenario on ``history``: exit code 2, an error naming each of
    ``expected``, no traceback, and nothing written to ``out``."""
    from click.testing import CliRunner

    from revsim.cli.main import cli

    result = CliRunner().invoke(cli, ["calibrate", str(EXAMPLE_SCENARIO), "--history", str(history), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    for part in expected:
        assert part in result.stderr
    assert not out.exists()


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` in a new Python process (started afresh, not forked) and return its result.

    The calibration tests fit their models there: PyMC, nutpie and the compiled models stay out of the test
    run's own memory, which other tests' child processes would inherit.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


#: A plan with annual contracts and sBG retention, whose concentration prior is vague (lognormal, sigma 10).
UNIDENTIFIED_PLAN = """
name: Annual plans
start: 2026-01
horizon_months: 12
currency: USD
channels:
  - {name: inbound, volume: 100, growth: 0}
funnel:
  stages:
    - {name: lead, conversion: 0.1, months: 1}
    - {name: won}
pricing: {acv: 50000, acv_cv: 0.5}
retention: {model: sbg, alpha: 1, beta: 8, contract_months: 12}
initial_book:
  - {customers: 200, arr: 10M, age_months: 6, spread_months: 24}
calibration:
  priors:
    sbg_concentration: {dist: lognormal, median: 10, sigma: 10}
"""


def unidentified_retention(folder: Path) -> tuple[Path, Path]:
    """A plan and a history that cannot identify the sBG's concentration; returns (plan.yaml, history folder).

    24 monthly cohorts of 30 customers on annual contracts, seen until 2025-12: no cohort reaches a second
    renewal, so the table tells the mean churn at the first renewal and nothing of how it changes after (the
    sBG's concentration, alpha + beta). With a vague prior on the concentration, the chains wander where
    nothing holds them, into regions where the sampler diverges.
    """
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "plan.yaml"
    plan.write_text(UNIDENTIFIED_PLAN.lstrip(), encoding="utf-8")
    rng = np.random.default_rng(5)
    lines = ["cohort,period,customers"]
    for j in range(24):
        label = f"{2024 + j // 12}-{j % 12 + 1:02d}"
        renewed = int(np.sum(rng.random(30) >= rng.beta(1, 8, 30)))  # still there after the first renewal
        lines += [f"{label},{period},{renewed if period >= 12 else 30}" for period in range(24 - j)]
    history = folder / "history"
    write(history, "cohorts.csv", "\n".join(lines))
    return plan, history
