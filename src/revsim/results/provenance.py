"""Where a result comes from: one function gives every output its provenance attributes."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["make_attrs", "DEPENDENCIES"]

DEPENDENCIES = ("numpy", "numba", "scipy", "xarray", "pandas", "pydantic", "h5netcdf")


@functools.cache  # asked for every results Dataset built; a lookup reads the installed packages' metadata
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "not installed"


def make_attrs(*, scenario_name: str, scenario_sha256: str, scenario_file: str, seed: int, draws: int,
               command: str | None = None, scenario_data: dict[str, Any] | None = None,
               input_files: dict[str, str] | None = None) -> dict[str, Any]:
    """Provenance attributes for a results Dataset (all netCDF-serialisable strings and numbers).

    A number in a board deck can be traced to the scenario (by its hash), the seed, the number of draws
    and the versions of revsim and its numerical dependencies, and reproduced with ``revsim reproduce``:
    ``scenario_json`` holds the scenario itself (canonical JSON), ``scenario_path`` where its file was,
    and ``input_files`` the SHA-256 of every file it reads.
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
    if scenario_data is not None:
        from revsim.scenario.load import canonical_json

        attrs["scenario_json"] = canonical_json(scenario_data)
        location = Path(scenario_file)
        attrs["scenario_path"] = str(location.resolve()) if location.is_file() else ""
    if input_files is not None:
        attrs["input_files"] = json.dumps(input_files, sort_keys=True)
    return attrs
