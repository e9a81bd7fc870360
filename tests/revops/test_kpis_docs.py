"""docs/kpis.md defines every KPI with the formula the code computes (for the sales-led example's stages)."""

from __future__ import annotations

import dataclasses

from revops_paths import REPO_ROOT, SALES_LED

import revsim
from revsim.revops.catalogue import catalogue
from revsim.revops.structure import FunnelStructure

DOC = (REPO_ROOT / "docs" / "kpis.md").read_text(encoding="utf-8")


def test_every_kpi_is_documented_with_its_formula() -> None:
    structure = dataclasses.replace(FunnelStructure.of(revsim.load_scenario(SALES_LED).model), has_opex=True)
    rows = {line.split("|")[1].strip(): line for line in DOC.splitlines()
            if line.startswith("| `") and line.count("|") == 7}  # the rows of the KPI tables
    for kpi in catalogue(structure):
        row = next((line for key, line in rows.items() if key.startswith(f"`{kpi.name}`")), None)
        assert row is not None, f"{kpi.name} is not in docs/kpis.md"
        assert kpi.formula in row and kpi.label in row, (kpi.name, row)


def test_the_documented_commands_exist() -> None:
    from revsim.cli.main import COMMANDS

    assert "kpis" in COMMANDS
    for option in ("--team", "--period", "--fiscal-year-start", "--out", "--drivers", "--scenario", "--force"):
        assert f"`{option}" in DOC, option
