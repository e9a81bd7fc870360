"""Package attributes imported on first use (PEP 562), so that importing a package stays light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` when ``name`` is first asked for.

    Parameters
    ----------
    package
        The package's ``__name__`` (for the error message).
    exports
        Attribute name -> the module that defines it.

    Examples
    --------
    >>> __getattr__ = lazy_getattr(__name__, {"simulate": "revsim.engine.run"})  # doctest: +SKIP
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            # importing a submodule of the same name (revsim.calibrate.backtest) binds the module to the
            # package's attribute; bind the export instead, or `from package import name` gets the module
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
