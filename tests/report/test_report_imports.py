"""Charts and reports load matplotlib and openpyxl only when they draw or write."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
{code}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def loaded_by(code: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(code=code)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import revsim.plot, revsim.report", id="import-packages"),
        pytest.param("import revsim.cli.main\ntry:\n    revsim.cli.main.main(['report', '--help'])\n"
                     "except SystemExit:\n    pass", id="report-help"),
        pytest.param("import revsim.cli.main\ntry:\n    revsim.cli.main.main(['run', '--help'])\n"
                     "except SystemExit:\n    pass", id="run-help"),
    ],
)
def test_no_matplotlib_or_openpyxl_until_drawing(code: str) -> None:
    loaded = loaded_by(code)
    assert not loaded & {"matplotlib", "openpyxl", "numpy", "xarray", "pandas"}, sorted(loaded)
