"""A company of the shape that calibration used to find hard converges with the default settings.

Two segments (mid-market with constant annual churn, enterprise with sBG retention on annual contracts), a
five-stage funnel fed by two channels, one of them small (80 leads a month next to 3,500), 48 months of
history: the history is drawn by the independent company simulator (``benchmarks.company``, which does not
use the engine), and the plan is the one a finance team would write at its end. ``revsim calibrate`` runs
with its defaults (4 chains x 1000 draws after 1000 tuning steps) in the session's background fits; the
same measurement over ten companies is ``python benchmarks/calibration.py --convergence 10``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

#: The simulated company (benchmarks/convergence.py's seed numbering).
SEED = 2


@pytest.fixture(scope="module")
def calibrated(fits: dict[str, Any]) -> tuple[Any, Path]:
    result = fits["shape"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    return result, Path(result.args[result.args.index("--out") + 1])


def test_the_calibration_passes_the_gate_and_writes_the_scenario(calibrated: tuple[Any, Path]) -> None:
    result, out = calibrated
    assert "diagnostics gate: passed" in result.stdout
    assert (out / "calibrated.yaml").exists()
    assert "# Sampler diagnostics passed the gate" in (out / "calibrated.yaml").read_text(encoding="utf-8")


def test_every_variable_converged(calibrated: tuple[Any, Path]) -> None:
    table = pd.read_csv(calibrated[1] / "diagnostics.csv")
    assert int(table.divergences.iloc[0]) == 0
    worst = table.loc[table.r_hat.idxmax()]
    assert worst.r_hat < 1.01, worst.to_dict()
    lowest = table.loc[table.ess_bulk.idxmin()]
    assert lowest.ess_bulk > 400, lowest.to_dict()
    # the small channel's conversions, which used to split the chains, are among the variables checked
    assert (table.variable == "conversion_by_channel").sum() == 16


def test_the_weakly_identified_inputs_are_named(calibrated: tuple[Any, Path]) -> None:
    result, out = calibrated
    table = pd.read_csv(out / "diagnostics.csv")
    assert {"scale", "prior_sd", "sd_ratio", "weakly_identified"} <= set(table.columns)
    flagged = table[table.weakly_identified & table.forecast_input]
    assert not flagged.empty
    lines = [line for line in result.stdout.splitlines() if line.startswith("weakly identified: ")]
    assert len(lines) >= 1 and all("barely identified by" in line for line in lines)
    # the strongly identified conversions of the large funnel are not flagged
    lead = table[(table.variable == "conversion") & table.coords.str.startswith("stage=lead")]
    assert (lead.sd_ratio < 0.1).all()
