"""``revsim --help`` and the subcommands' help must not import the heavy libraries.

Each check runs in a fresh interpreter and looks at ``sys.modules`` after the help was printed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["numba", "llvmlite", "xarray", "pandas", "scipy", "pydantic", "yaml", "matplotlib", "pymc", "numpy",
         "h5netcdf", "h5py", "fastapi", "uvicorn", "starlette"]

SCRIPT = """
import json
import sys

before = set(sys.modules)
import revsim
import revsim.cli.main

code = None
try:
    revsim.cli.main.main({args!r})
except SystemExit as exc:
    code = exc.code
new = set(sys.modules) - before
tops = sorted({{name.split(".")[0] for name in new}} - set(sys.stdlib_module_names))
print(json.dumps({{"code": code, "modules": sorted(new), "tops": tops}}))
"""


def imported_by(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(args=args)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-arguments"),
        pytest.param(["--help"], id="group-help"),
        pytest.param(["--version"], id="version"),
        pytest.param(["run", "--help"], id="run-help"),
        pytest.param(["validate", "--help"], id="validate-help"),
        pytest.param(["serve", "--help"], id="serve-help"),
        pytest.param(["import", "--help"], id="import-help"),
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    result = imported_by(args)
    assert result["code"] in (0, 2, None)  # click exits with 2 when a group is called without a command
    heavy = sorted(
        name for name in result["modules"] if name.split(".")[0] in HEAVY
    )
    assert heavy == [], f"revsim {' '.join(args)} imported {heavy}"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="group-help"),
        pytest.param(["run", "--help"], id="run-help"),
        pytest.param(["validate", "--help"], id="validate-help"),
        pytest.param(["serve", "--help"], id="serve-help"),
    ],
)
def test_help_imports_only_click_besides_the_standard_library(args: list[str]) -> None:
    result = imported_by(args)
    assert result["code"] == 0
    assert set(result["tops"]) <= {"click", "revsim"}, result["tops"]


def test_import_revsim_alone_is_light() -> None:
    script = (
        "import sys; before = set(sys.modules); import revsim; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['revsim']"


def test_group_help_lists_the_subcommands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "revsim.cli.main", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "run" in proc.stdout and "validate" in proc.stdout
    assert "Simulate a scenario" in proc.stdout
