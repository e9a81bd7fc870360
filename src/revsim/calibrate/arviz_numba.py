"""ArviZ without the numba compilations a calibration does not use.

ArviZ uses numba when it is installed (it is: revsim's engine needs it), and compiles in every process,
without numba's disk cache:

- at import, its ECDF band's ufunc, declared with an explicit signature, so compiled on the spot (0.3 to 0.6 s
  of CPU; PyMC imports ArviZ, so every calibration paid it). :func:`import_pymc` imports ArviZ with that
  decorator made lazy: the ufunc is the same, compiled the first time an ECDF band is drawn, which a
  calibration never does.
- at the first R-hat or ESS, its variance over draws (about 0.3 s). :func:`numpy_statistics` switches
  ArviZ to its NumPy implementation while the calibration's diagnostics are computed, then restores the
  setting: the values agree to rounding (tested), and nothing is compiled.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["import_pymc", "numpy_statistics"]


def import_pymc() -> Any:
    """``import pymc`` (and ArviZ), without compiling ArviZ's ECDF ufunc at import (see the module doc), nor
    importing the modules PyMC loads for nothing in a calibration (:mod:`revsim.calibrate.unused_modules`)."""
    from revsim.calibrate.unused_modules import hidden_modules, pymc_unused_modules

    if "pymc" not in sys.modules:
        with hidden_modules(pymc_unused_modules()):
            return _import_pymc()
    return _import_pymc()


def _import_pymc() -> Any:
    if "arviz" not in sys.modules:
        import numba

        eager = numba.vectorize

        def lazy(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], list | tuple | str):  # signatures given: compiled at decoration
                args = args[1:]
            return eager(*args, **kwargs)

        numba.vectorize = lazy
        try:
            import arviz  # noqa: F401
        finally:
            numba.vectorize = eager
    import pymc

    return pymc


@contextlib.contextmanager
def numpy_statistics() -> Iterator[None]:
    """ArviZ's statistics in NumPy (not numba) inside the block; the previous setting is restored after."""
    from arviz.utils import Numba

    before = Numba.numba_flag
    Numba.numba_flag = False
    try:
        yield
    finally:
        Numba.numba_flag = before
