"""Changing a scenario from outside its file: ``--set PATH=VALUE``, and levers applied the same way.

Values are named by dotted paths (:mod:`revsim.scenario.paths` says how a path walks the file, what it may
name that the file leaves out, and its "did you mean").

Overrides change the plain data before validation, and the result is validated exactly like a file: an
override that makes the scenario invalid gets the file's messages, naming the override instead of a line.
The scenario's hash is that of the changed data, so results record the overrides.

>>> loaded = load_scenario("scenarios/saas_sales_led.yaml")                       # doctest: +SKIP
>>> apply_overrides(loaded, ["funnel.stages.mql.conversion=0.32"])               # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError, Problem
from revsim.scenario.levers import LeverSpec, changed_values, get_lever
from revsim.scenario.paths import PathError, constant_value, parse_assignment, parse_path, parse_value, resolve
from revsim.scenario.schema import Scenario

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["ScenarioNote", "apply_overrides", "override_scenario", "apply_lever",
           # the paths' names, read here by older code
           "PathError", "parse_path", "resolve", "parse_value", "parse_assignment", "constant_value"]


class ScenarioNote(UserWarning):
    """Something an override did besides setting its value, which a careful reader should know."""


# ---------------------------------------------------------------------------------------------------------
# Applying overrides
# ---------------------------------------------------------------------------------------------------------


def apply_overrides(scenario: LoadedScenario, overrides: Sequence[str] | Mapping[str, Any], *,
                    base_dir: str | Path | None = None, source: str = "--set") -> LoadedScenario:
    """The scenario with some of its values replaced, validated like a file.

    Parameters
    ----------
    scenario
        A loaded (valid) scenario.
    overrides
        ``PATH=VALUE`` texts (values read as YAML, as ``--set`` does), or a mapping from path to a value as
        the file would hold it (``{"retention.smb.churn": [0.1, 0.2]}``). Later ones win.
    base_dir
        Where files named by the scenario (empirical samples, posteriors) are; default: next to the
        scenario's file, else the current directory.
    source
        How messages name an override (``--set`` on the command line).

    Returns
    -------
    LoadedScenario
        Its ``data`` and ``sha256`` include the overrides. What the overrides did besides setting values
        (a correlation dropped because an input became a constant) is issued as a :class:`ScenarioNote`
        warning.

    Raises
    ------
    InputError
        For a path that names nothing (with "did you mean"), a value that is not YAML, or a scenario the
        overrides make invalid (each problem naming the override).
    """
    loaded, notes = override_scenario(scenario, overrides, base_dir=base_dir, source=source)
    for note in notes:
        warnings.warn(note, ScenarioNote, stacklevel=2)
    return loaded


def override_scenario(scenario: LoadedScenario, overrides: Sequence[str] | Mapping[str, Any], *,
                      base_dir: str | Path | None = None, source: str = "--set",
                      labels: Sequence[str] | None = None) -> tuple[LoadedScenario, list[str]]:
    """:func:`apply_overrides`, returning the notes instead of warning them.

    ``labels`` names each override in messages (default: ``SOURCE PATH=VALUE``).
    """
    from revsim.scenario.load import validate_document
    from revsim.scenario.yaml_source import YamlDocument

    entries = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides)
    if labels is not None and len(labels) != len(entries):
        raise ValueError("one label per override")
    data = copy.deepcopy(scenario.data)
    problems: list[Problem] = []
    touched: list[tuple[tuple[str | int, ...], str, str]] = []  # (data location, input path, label)
    for j, entry in enumerate(entries):
        if isinstance(entry, tuple):
            (path, value), label = entry, f"{source} {entry[0]}"
        else:
            label = f"{source} {entry}"
            try:
                path, value = parse_assignment(entry)
            except ValueError as exc:
                problems.append(Problem(str(exc), (labels[j] if labels else label,)))
                continue
        label = labels[j] if labels else label
        try:
            targets = resolve(data, scenario.model, str(path))
        except PathError as exc:
            problems.append(Problem(exc.message, (label,), suggestion=exc.suggestion))
            continue
        for target in targets:
            written = value
            if isinstance(entry, str) and target.loc[:1] == ("levers",) and target.loc[-1] == "change" \
                    and entry.partition("=")[2].strip().startswith("+"):
                written = entry.partition("=")[2].strip()  # a lever's `+0.03` is additive: keep its sign
            target.set(copy.deepcopy(written))
            touched.append((target.loc, target.input_path, label))
    if problems:
        raise InputError(problems, file=scenario.file)
    if not touched:
        return scenario, []

    notes = _drop_correlations_of_constants(data, scenario.model, touched)
    touched_locs = [loc for loc, _, _ in touched]
    locations = {p: v for p, v in scenario.locations.items() if not any(p[:len(loc)] == loc for loc in touched_locs)}
    document = YamlDocument(data=data, locations=locations, file=scenario.file, text="")
    try:
        return validate_document(document, _base_dir(scenario, base_dir)), notes
    except InputError as exc:
        raise _attributed(exc, touched) from None


def _base_dir(scenario: LoadedScenario, base_dir: str | Path | None) -> Path:
    if base_dir is not None:
        return Path(base_dir)
    location = Path(scenario.file)
    return location.resolve().parent if location.is_file() else Path.cwd()


def _drop_correlations_of_constants(data: dict[str, Any], model: Scenario,
                                    touched: list[tuple[tuple[str | int, ...], str, str]]) -> list[str]:
    """Remove the rank correlations of inputs that an override made constant (a constant has no draws to
    correlate); return a note for each."""
    correlations = data.get("correlations")
    if not isinstance(correlations, list) or not touched:
        return []
    changed = {input_path: label for _, input_path, label in touched}
    keep, notes = [], []
    for item in correlations:
        between = item.get("between") if isinstance(item, dict) else None
        fixed = []
        for path in between if isinstance(between, list) else []:
            if not any(str(path) == p or str(path).startswith(p + ".") for p in changed):
                continue
            try:
                targets = resolve(copy.deepcopy(data), model, str(path))
            except PathError:
                continue
            if targets and all(constant_value(t.value) is not None for t in targets):
                fixed.append(str(path))
        if fixed:
            others = [str(p) for p in between if str(p) not in fixed]
            partner = f" with {others[0]}" if others else ""
            notes.append(f"{fixed[0]} is now a constant, so its rank correlation{partner} no longer applies "
                         f"(the correlated input keeps its distribution but draws independently)")
        else:
            keep.append(item)
    if len(keep) != len(correlations):
        data["correlations"] = keep
    return notes


def _attributed(error: InputError, touched: list[tuple[tuple[str | int, ...], str, str]]) -> InputError:
    """The validation problems of an overridden scenario, each naming the override(s) it comes from.

    The file itself was valid, so every problem comes from an override: the one whose location contains the
    problem's (or is contained in it), else all of them.
    """
    labels_all = list(dict.fromkeys(label for _, _, label in touched))
    problems = []
    for problem in error.problems:
        path = tuple(problem.path)
        related = [label for loc, _, label in touched if path[:len(loc)] == loc or loc[:len(path)] == path]
        labels = list(dict.fromkeys(related)) or labels_all
        inside = any(path[:len(loc)] == loc for loc, _, _ in touched)
        problems.append(Problem(
            f"{problem.message} (from {', '.join(labels)})",
            problem.path,
            None if inside else problem.line,
            None if inside else problem.column,
            problem.suggestion,
        ))
    return InputError(problems, file=error.file)


def apply_lever(scenario: LoadedScenario, lever: str | LeverSpec, setting: float | None = None, *,
                base_dir: Any = None) -> tuple[LoadedScenario, list[str]]:
    """The scenario with the lever applied (at ``setting``, else its own change), validated like a file.

    Returns the scenario and notes (see :func:`override_scenario`).

    Raises
    ------
    InputError
        When the changed scenario is not valid (a churn below 0...), naming the lever.
    """
    spec = get_lever(scenario, lever) if not isinstance(lever, LeverSpec) else lever
    values = changed_values(scenario.data, scenario.model, spec, setting)
    shown = spec.change.describe() if setting is None else spec.change.describe_setting(setting)
    label = f"lever '{spec.name}' ({shown})"
    return override_scenario(scenario, values, base_dir=base_dir, labels=[label] * len(values))
