"""Package attributes that load on first use are the functions they name, however they are imported."""

from __future__ import annotations

import subprocess
import sys


def test_from_import_gets_the_function_even_when_a_submodule_has_its_name() -> None:
    # revsim.calibrate exports the function backtest from its submodule revsim.calibrate.backtest: importing
    # the submodule binds the module to the package's attribute, which must not replace the function
    code = ("from revsim.calibrate import backtest, calibrate, read_history\n"
            "import inspect\n"
            "assert inspect.isfunction(backtest), backtest\n"
            "import revsim.calibrate\n"
            "assert revsim.calibrate.backtest is backtest\n"
            "assert 'pymc' not in __import__('sys').modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
