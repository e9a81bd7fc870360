"""Reproduce a run from its results: read the provenance, find the scenario, compare the numbers.

The results (``results.nc`` or a streamed run's ``results.zarr``) record the run's seed and draws, the hash of its scenario, the scenario itself (canonical
JSON), where the scenario file was, and the hash of every file it read. :func:`read_recorded_run` reads
that; :func:`recorded_scenario` finds the scenario again (the file when it has not changed since the run,
else the copy stored in the results); :func:`compare_results` lists every difference between two runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.scenario.load import LoadedScenario

__all__ = ["RecordedRun", "read_recorded_run", "recorded_scenario", "compare_results", "version_changes",
           "as_recorded"]

#: Attributes a results file needs to be reproduced.
REQUIRED_ATTRS = ("seed", "draws", "scenario_sha256", "scenario_file")
#: Attributes that describe the results themselves (the others describe when and how they were made).
COMPARED_ATTRS = ("seed", "draws", "scenario_sha256", "currency", "start", "horizon_months", "warnings", "targets")
#: Most differences listed in a message.
MAX_LISTED = 8


@dataclass(frozen=True)
class RecordedRun:
    """A results file and the provenance needed to run it again."""

    file: str
    dataset: xr.Dataset = field(repr=False)
    seed: int
    draws: int
    scenario_sha256: str
    scenario_file: str
    scenario_path: str
    scenario_json: str | None
    input_files: dict[str, str]

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.dataset.attrs)

    @property
    def has_cohorts(self) -> bool:
        """Whether the run kept per-cohort detail (so that running it again keeps it too)."""
        return "cohort_customers" in self.dataset.variables or "cohort_customers_mean" in self.dataset.variables


def read_recorded_run(path: str | os.PathLike[str]) -> RecordedRun:
    """Read the results of a run (``results.nc``, a ``results.zarr`` store opened lazily, or the output folder
    holding one; see :func:`revsim.results.reading.open_results`) and their provenance attributes.

    Raises
    ------
    InputError
        When the path is not a run's results, cannot be read, or lacks the provenance attributes.
    """
    from revsim.results.reading import open_results, results_path

    file = os.fspath(results_path(path))
    dataset = open_results(file)
    attrs = dataset.attrs
    missing = [name for name in REQUIRED_ATTRS if name not in attrs]
    if missing:
        raise InputError.single(
            f"the file has no provenance attribute{'s' if len(missing) > 1 else ''} {', '.join(missing)}: it was "
            "not written by revsim run, so it cannot be reproduced", file=file)
    try:
        seed, draws = int(attrs["seed"]), int(attrs["draws"])
    except (TypeError, ValueError):
        raise InputError.single(f"the provenance attributes seed and draws must be whole numbers, got "
                                f"'{attrs['seed']}' and '{attrs['draws']}'", file=file) from None
    from revsim.engine.run import MAX_DRAWS

    if not 1 <= draws <= MAX_DRAWS or not 0 <= seed < 2**63:
        raise InputError.single(
            f"the provenance attributes seed and draws are {seed:,} and {draws:,}: revsim run writes a seed from 0 "
            f"to 2^63 - 1 and 1 to {MAX_DRAWS:,} draws; the file was edited or damaged", file=file)
    input_files: dict[str, str] = {}
    if attrs.get("input_files"):
        try:
            input_files = dict(json.loads(str(attrs["input_files"])))
        except (ValueError, TypeError):
            raise InputError.single("the provenance attribute input_files is not valid JSON", file=file) from None
    return RecordedRun(
        file=file,
        dataset=dataset,
        seed=seed,
        draws=draws,
        scenario_sha256=str(attrs["scenario_sha256"]),
        scenario_file=str(attrs["scenario_file"]),
        scenario_path=str(attrs.get("scenario_path", "") or ""),
        scenario_json=str(attrs["scenario_json"]) if attrs.get("scenario_json") else None,
        input_files=input_files,
    )


def recorded_scenario(run: RecordedRun, *, from_file: bool = False) -> tuple[LoadedScenario, str]:
    """The scenario of a recorded run, and a sentence saying where it was found.

    The scenario file is used when it still exists (where the run found it, or as named relative to the
    current directory) and its hash is the recorded one. Otherwise the copy of the scenario stored in the
    results is used, unless ``from_file``.

    Raises
    ------
    InputError
        When the file changed or is gone and ``from_file`` is set, when no usable copy is stored, or when a
        file the scenario reads has changed since the run.
    """
    from revsim.scenario.load import load_scenario

    recorded = run.scenario_sha256
    location = _scenario_location(run)
    reason: str
    if location is None:
        reason = f"the scenario file '{run.scenario_file}' no longer exists"
        if from_file:
            raise InputError.single(f"{reason}; reproduce without --from-file to use the copy of the scenario "
                                    "stored in the results", file=run.file)
    else:
        try:
            loaded = load_scenario(location)
        except InputError:
            if from_file:
                raise
            reason = f"the scenario file '{location}' has changed since the run and is no longer valid"
        else:
            if loaded.sha256 == recorded:
                return loaded, f"the scenario file {location} (unchanged since the run)"
            reason = f"the scenario file '{location}' has changed since the run{_what_changed(run, loaded)}"
            if _used_overrides(run):
                reason = f"the run changed the scenario file '{location}' with --set"
            if from_file:
                raise InputError.single(
                    f"{reason}: its hash is now {loaded.sha256[:12]}..., the run recorded {recorded[:12]}...; "
                    "reproduce without --from-file to use the copy of the scenario stored in the results",
                    file=run.file)
    return _stored_scenario(run, reason), f"the copy of the scenario stored in {run.file} ({reason})"


def compare_results(old: xr.Dataset, new: xr.Dataset) -> list[str]:
    """Every difference between two runs' results (values, dimensions, coordinates, descriptive attributes).

    Returns an empty list when the results are identical. Dates of creation, command lines and versions are
    not compared (see :func:`version_changes`).
    """
    differences: list[str] = []
    for name in sorted(set(old.data_vars) - set(new.data_vars)):
        differences.append(f"{name}: in the recorded results, missing from the new ones")
    for name in sorted(set(new.data_vars) - set(old.data_vars)):
        differences.append(f"{name}: in the new results, missing from the recorded ones")
    for name in [*old.coords, *old.data_vars]:  # one variable at a time: a recorded store is read lazily
        if name not in new.variables:
            if name in old.coords:
                differences.append(f"coordinate {name}: missing from the new results")
            continue
        difference = _compare_variable(old[name], new[name])
        if difference:
            differences.append(f"{'coordinate ' if name in old.coords else ''}{name}: {difference}")
    for name in COMPARED_ATTRS:
        a, b = old.attrs.get(name), new.attrs.get(name)
        if str(a) != str(b):
            differences.append(f"attribute {name}: recorded {_short(a)}, now {_short(b)}")
    return differences


def as_recorded(new: xr.Dataset, recorded: xr.Dataset) -> xr.Dataset:
    """``new`` in the form the recorded results hold it: :func:`~revsim.results.storage.stored_form` for a
    ``results.nc``; its quantile form summarised from chunks of draws as the recorded one was (attribute
    ``revsim_quantiles = "sketch"``); for a ``results.zarr`` store, each variable cast to the type the store
    holds it in."""
    from revsim.results.storage import stored_form

    keep = str(recorded.attrs.get("revsim_keep", "draws"))
    if keep == "quantiles" and recorded.attrs.get("revsim_quantiles") == "sketch":
        from revsim.results.storage import quantile_dataset  # summarised from a store: the same way again

        return quantile_dataset(new.chunk({"draw": int(recorded.attrs.get("revsim_draw_chunk", 256))}))
    if recorded.attrs.get("revsim_store") != "zarr":
        return stored_form(new, keep if keep in ("draws", "quantiles") else "draws")
    out = new.copy()
    for name, da in new.data_vars.items():
        if name in recorded.data_vars and recorded[name].dtype != da.dtype and recorded[name].dtype.kind in "iuf":
            out[name] = da.astype(recorded[name].dtype)
    out.attrs = {**new.attrs, "revsim_keep": keep, "revsim_store": "zarr"}
    return out


def version_changes(old: xr.Dataset, new: xr.Dataset) -> list[str]:
    """The versions of revsim and its dependencies that differ between two runs (``numpy 1.26.4 -> 2.0.1``)."""
    changes = []
    for key in sorted(k for k in new.attrs if str(k).endswith("_version")):
        before, after = old.attrs.get(key), new.attrs.get(key)
        if before is not None and str(before) != str(after):
            changes.append(f"{str(key)[: -len('_version')]} {before} -> {after}")
    return changes


# --------------------------------------------------------------------------------------------------- helpers


def _scenario_location(run: RecordedRun) -> Path | None:
    candidates = [run.scenario_path, run.scenario_file]
    for candidate in candidates:
        if candidate and not candidate.startswith("<") and Path(candidate).is_file():
            return Path(candidate)
    return None


def _used_overrides(run: RecordedRun) -> bool:
    """Whether the recorded command changed the scenario with ``--set`` (so the file alone is not the scenario)."""
    import shlex

    try:
        words = shlex.split(str(run.attrs.get("command", "")))
    except ValueError:
        return False
    return any(word == "--set" or word.startswith("--set=") for word in words)


def _what_changed(run: RecordedRun, loaded: LoadedScenario) -> str:
    """Say whether the scenario itself or a file it reads changed (when the run recorded enough to tell)."""
    from revsim.scenario.load import referenced_files, scenario_hash

    if run.scenario_json is None:
        return ""
    try:
        same_text = scenario_hash(json.loads(run.scenario_json)) == scenario_hash(loaded.data)
    except ValueError:
        return ""
    if not same_text:
        return " (its content differs)"
    changed = _changed_files(run.input_files, referenced_files(loaded.model))
    return f" (files it reads changed: {', '.join(changed)})" if changed else ""


def _changed_files(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    changed = [name for name in sorted(set(recorded) | set(now)) if recorded.get(name) != now.get(name)]
    return [name if name in now else f"{name} (gone)" for name in changed]


def _stored_scenario(run: RecordedRun, reason: str) -> LoadedScenario:
    """The scenario stored in the results, validated again; files it reads resolve where the scenario was."""
    from revsim.scenario.load import referenced_files, scenario_from_dict

    if run.scenario_json is None:
        raise InputError.single(f"{reason}, and the results hold no copy of the scenario (they were written by an "
                                "older revsim); restore the scenario file to reproduce them", file=run.file)
    try:
        data = json.loads(run.scenario_json)
    except ValueError as exc:
        raise InputError.single(f"{reason}, and the copy of the scenario stored in the results is not valid JSON "
                                f"({exc})", file=run.file) from None
    if not isinstance(data, dict):
        raise InputError.single(f"{reason}, and the copy of the scenario stored in the results is not a mapping",
                                file=run.file)
    where = Path(run.scenario_path).parent if run.scenario_path else Path(run.scenario_file).parent
    loaded = scenario_from_dict(data, base_dir=where, file=f"{run.file} (stored copy of {run.scenario_file})")
    if loaded.sha256 != run.scenario_sha256:
        changed = _changed_files(run.input_files, referenced_files(loaded.model))
        if changed:
            raise InputError.single(
                f"files the scenario reads have changed since the run: {', '.join(changed)}; the results cannot be "
                "reproduced without them", file=run.file)
        raise InputError.single("the copy of the scenario stored in the results does not match the recorded "
                                "scenario_sha256: the file was edited after the run", file=run.file)
    return loaded


def _compare_variable(old: xr.DataArray, new: xr.DataArray) -> str | None:
    if old.dims != new.dims:
        return f"dimensions {old.dims} recorded, {new.dims} now"
    if old.shape != new.shape:
        return f"shape {old.shape} recorded, {new.shape} now"
    a, b = np.asarray(old.values), np.asarray(new.values)
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            a, b = a.astype(np.float64), b.astype(np.float64)
        except (TypeError, ValueError):
            return "values of different kinds"
        same = (a == b) | (np.isnan(a) & np.isnan(b))
    elif a.dtype.kind in "iub" and b.dtype.kind in "iub":
        same = a == b
    elif a.dtype.kind == "M" or b.dtype.kind == "M":
        same = a.astype("datetime64[ns]") == b.astype("datetime64[ns]")
    else:  # text: numpy's variable-width strings (a store's coordinates) go through object to compare
        same = a.astype(object).astype(str) == b.astype(object).astype(str)
    same = np.asarray(same)
    if same.all():
        return None
    bad = int((~same).sum())
    first = np.unravel_index(int(np.argmax(~same)), same.shape) if same.ndim else ()
    where = ", ".join(f"{dim} {_label(old, dim, i)}" for dim, i in zip(old.dims, first, strict=True))
    text = f"{bad:,} of {same.size:,} values differ (first at {where}: recorded {_short(a[first])}, now " \
           f"{_short(b[first])})" if where else f"recorded {_short(a)}, now {_short(b)}"
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            gap = np.nanmax(np.abs(np.where(same, 0.0, a - b)))
        if np.isfinite(gap):
            text += f"; largest difference {gap:.6g}"
    return text


def _label(array: xr.DataArray, dim: str, index: int) -> str:
    if dim in array.coords:
        value = array.coords[dim].values[index]
        if isinstance(value, np.datetime64):
            return str(value)[:7]
        return str(value)
    return str(index)


def _short(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."
