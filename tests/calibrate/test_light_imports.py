"""PyMC, nutpie and ArviZ load only when a calibration runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from calibration_helpers import REPO_ROOT

HEAVY = ("pymc", "pytensor", "nutpie", "arviz", "numba", "xarray", "pandas", "numpy", "matplotlib")

SCRIPT = """
import json, sys
before = set(sys.modules)
{code}
print(json.dumps(sorted({{m.split('.')[0] for m in set(sys.modules) - before}})))
"""


def loaded_by(code: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(code=code)], capture_output=True, text=True,
                          timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["calibrate", "backtest"])
def test_help_of_the_commands_imports_nothing_heavy(command: str) -> None:
    code = ("import revsim.cli.main as m\ntry:\n    m.main(['%s', '--help'])\nexcept SystemExit:\n    pass" % command)
    assert not set(loaded_by(code)) & set(HEAVY)


def test_importing_the_package_and_reading_priors_is_light() -> None:
    modules = set(loaded_by("import revsim.calibrate, revsim.calibrate.priors"))
    assert not modules & {"pymc", "pytensor", "nutpie", "arviz"}


def test_a_simulation_does_not_import_pymc() -> None:
    code = "import revsim\nrevsim.simulate('scenarios/saas_sales_led.yaml', draws=2, seed=1)"
    modules = set(loaded_by(code))
    assert "numba" in modules and not modules & {"pymc", "pytensor", "nutpie", "arviz"}
