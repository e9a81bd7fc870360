"""The documented example (docs/examples/retention_levers.py): retention against each acquisition conversion,
on paired draws, ARR and gross profit at 36 months, with its chart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
from revops_paths import REPO_ROOT

import revsim
from revsim.revops.levers import lever_effects, retention_and_conversion_levers

EXAMPLE = REPO_ROOT / "docs" / "examples" / "retention_levers.py"


def test_the_documented_example_runs(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("retention_levers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    out = tmp_path / "levers.png"
    module.main(["--draws", "40", "--out", str(out)])
    assert out.stat().st_size > 10_000 and "Retention +5 points" in capsys.readouterr().out
    table = pd.read_csv(out.with_suffix(".csv"))
    assert list(table["lever"].unique()) == ["Retention +5 points", "Lead conversion +5 points",
                                             "MQL conversion +5 points", "SQL conversion +5 points",
                                             "Opportunity conversion +5 points"]
    assert set(table["kpi"]) == {"arr", "gross_profit"} and (table["window"] == "2027-01 to 2029-12").all()
    assert (table["diff_mean"] > 4 * table["diff_se"]).all()  # every lever adds ARR and gross profit


def test_levers_are_paired_and_exact(tmp_path: Path) -> None:
    """The retention lever lowers churn by 5 points in both segments; paired differences are per draw, and a
    lever that changes nothing differs by exactly zero."""
    loaded = revsim.load_scenario(REPO_ROOT / "scenarios" / "saas_sales_led.yaml")
    levers = retention_and_conversion_levers(loaded, 0.05)
    assert levers[0]["path"] == ["retention.smb.churn", "retention.mid_market.churn"] and levers[0]["change"] == "-0.05"
    assert levers[4]["path"] == ["funnel.stages.opportunity.conversion",
                                 "funnel.stages.opportunity.by_segment.mid_market.conversion"]
    effects = lever_effects(loaded, [levers[0], {"name": "nothing", "path": "pricing.smb.acv", "change": "+0%"}],
                            kpis=("arr", "logo_churn"), draws=30, seed=3, until="2027-12")
    assert effects.window == "2027-01 to 2027-12"
    assert np.all(effects.differences[("nothing", "arr")] == 0)
    churn = effects.table.set_index(["lever", "kpi"]).loc[("Retention +5 points", "logo_churn")]
    assert churn["diff_mean"] < 0 and churn["p_higher"] == 0  # fewer customers lost in every draw
