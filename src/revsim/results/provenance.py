"""Where a result comes from: one function gives every output its provenance attributes."""

from __future__ import annotations

import datetime as _dt
import sys
from importlib import metadata
from typing import Any

__all__ = ["make_attrs", "DEPENDENCIES"]

DEPENDENCIES = ("numpy", "numba", "scipy", "xarray", "pandas", "pydantic", "h5netcdf")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "not installed"


def make_attrs(*, scenario_name: str, scenario_sha256: str, scenario_file: str, seed: int, draws: int,
               command: str | None = None) -> dict[str, Any]:
    """Provenance attributes for a results Dataset (all netCDF-serialisable strings and numbers).

    A number in a board deck can be traced to the scenario (by its hash), the seed, the number of draws
    and the versions of revsim and its numerical dependencies.
    """
    from revsim import __version__

    attrs: dict[str, Any] = {
        "title": f"revsim forecast: {scenario_name}",
        "scenario_name": scenario_name,
        "scenario_sha256": scenario_sha256,
        "scenario_file": scenario_file,
        "seed": int(seed),
        "draws": int(draws),
        "revsim_version": __version__,
        "python_version": sys.version.split()[0],
        "created_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for package in DEPENDENCIES:
        attrs[f"{package}_version"] = _version(package)
    if command:
        attrs["command"] = command
    return attrs
