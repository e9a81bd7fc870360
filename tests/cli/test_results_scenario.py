"""``--scenario`` of report and kpis: refused unless it is the scenario the results were made from."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("command", ["report", "kpis"])
def test_another_scenario_than_the_runs_is_refused(command: str, tmp_path: Path) -> None:
    ran = CliRunner().invoke(cli, ["run", str(EXAMPLES / "saas_sales_led.yaml"), "--draws", "5", "--seed", "1",
                                   "--out", str(tmp_path / "run"), "-q"])
    assert ran.exit_code == 0, ran.output
    other = EXAMPLES / "saas_product_led.yaml"
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [command, str(tmp_path / "run" / "results.nc"), "--scenario", str(other),
                                      "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "is not the scenario these results were made from (its content differs)" in result.stderr
    assert str(other) in result.stderr and "--scenario" in result.stderr
    assert not out.exists()
