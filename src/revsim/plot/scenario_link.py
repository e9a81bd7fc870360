"""Finding the scenario a results Dataset came from, for the few facts the Dataset does not hold.

The Dataset keeps every sampled input, but not the scenario's constants (a fixed contract term, a constant
expansion rate) nor where each loop starts and ends. Charts that need them use, in this order: the scenario
they are given; the scenario file of the run (``scenario_path``, then ``scenario_file``) when it still
hashes to ``scenario_sha256``; the copy of the scenario stored in the results (``scenario_json``), when it
validates to the same hash. A scenario edited since the run is never mixed with its results.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.scenario.load import LoadedScenario

__all__ = ["linked_scenario"]


@functools.lru_cache(maxsize=8)
def _load(path: str, modified_ns: int) -> LoadedScenario:
    """A scenario file, loaded once per version of the file (the charts of one report share it)."""
    from revsim.scenario.load import load_scenario

    return load_scenario(path)


@functools.lru_cache(maxsize=8)
def _load_stored(text: str, base_dir: str) -> LoadedScenario:
    """The copy of a scenario stored in results, validated again (files it reads resolve in ``base_dir``)."""
    from revsim.scenario.load import scenario_from_dict

    return scenario_from_dict(json.loads(text), base_dir=base_dir, file="<copy stored in the results>")


def _candidates(ds: xr.Dataset, name: str) -> list[Path]:
    path = Path(name)
    if path.is_absolute():
        return [path]
    found = [Path.cwd() / path]
    source = ds.encoding.get("source") if hasattr(ds, "encoding") else None
    if source:  # a results file kept next to (or under) the scenario's directory
        for parent in list(Path(source).resolve().parents)[:4]:
            found.append(parent / path)
    return found


def _from_files(ds: xr.Dataset, names: list[str], expected: str | None) -> tuple[LoadedScenario | None, str]:
    from revsim.errors import RevsimError

    why = f"the scenario file {names[0]} was not found" if names else "the scenario file is not known"
    for name in names:
        for path in _candidates(ds, name):
            if not path.is_file():
                continue
            try:
                loaded = _load(str(path.resolve()), path.stat().st_mtime_ns)
            except RevsimError:
                why = f"the scenario file {name} no longer loads"
                continue
            if expected and loaded.sha256 != expected:
                why = f"the scenario file {name} has changed since the run"
                continue
            return loaded, ""
    return None, why


def linked_scenario(ds: xr.Dataset, scenario: Any = None) -> tuple[LoadedScenario | None, str]:
    """The run's scenario and an empty note, or None and why it is not available.

    Parameters
    ----------
    ds
        Results of a run.
    scenario
        A :class:`~revsim.scenario.load.LoadedScenario`, or a scenario file path (used as given); default:
        the run's scenario file if unchanged, else the copy stored in the results.
    """
    from revsim.errors import RevsimError
    from revsim.scenario.load import LoadedScenario

    if isinstance(scenario, LoadedScenario):
        return scenario, ""
    if scenario is not None:
        return _from_files(ds, [os.fspath(scenario)], None)
    expected = ds.attrs.get("scenario_sha256")
    names = [str(ds.attrs[key]) for key in ("scenario_path", "scenario_file")
             if ds.attrs.get(key) and not str(ds.attrs[key]).startswith("<")]
    loaded, why = _from_files(ds, names, expected)
    if loaded is not None:
        return loaded, ""
    stored = ds.attrs.get("scenario_json")
    if stored:
        where = Path(names[0]).parent if names else Path.cwd()
        try:
            copy = _load_stored(str(stored), str(where))
        except (RevsimError, ValueError):
            return None, f"{why}, and the copy stored in the results does not validate"
        if not expected or copy.sha256 == expected:
            return copy, ""
        return None, f"{why}, and the copy stored in the results does not match the run"
    return None, why
