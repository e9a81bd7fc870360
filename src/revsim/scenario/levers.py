"""Levers: named what-ifs kept in the scenario file, applied to its data like ``--set``.

A lever names one or more input paths and a change::

    levers:
      - {name: mql_plus_3pts, path: funnel.stages.mql.conversion, change: {add: 0.03}}
      - {name: churn_down_fifth, path: "retention.*.churn", change: {scale: -20%}}
      - {name: two_more_reps, path: funnel.sales_capacity.reps, change: {add: 2}, range: [0, 8]}

``change`` is (:mod:`revsim.scenario.lever_change`)

* **relative**, ``{scale: -20%}`` or a quoted signed percentage ``"+10%"`` (the value times 0.8 or 1.1);
* **additive**, ``{add: 0.03}`` or a quoted signed number or amount ``"+0.03"``, ``"-5k"``;
* **absolute**, ``{set: 0.32}``, or a value without a sign: a number or amount (``14``), or a whole uncertain
  input (``[0.30, 0.36]``, ``{dist: beta, mean: 0.33, sd: 0.02}``), which replaces the value.

A relative or additive change moves every form of uncertain input: a constant; both ends of a
``[low, high]`` interval; the location parameters of a ``dist:`` mapping (``mean``, ``median``, ``mode``,
``low``, ``high``, ``min``, ``max``), with its spread (``sd``, a gamma's ``scale``) scaled by a relative
change and kept by an additive one. A normal's ``low``/``high`` are truncation bounds and stay where they
are. Samples read from a file (``empirical``, ``posterior``) are drawn as ``sample * scale + shift``: an
additive change adds to ``shift``, a relative one multiplies ``scale`` and ``shift``, so every sample moves
by the change while each draw keeps its sample (a posterior's draws stay joint and paired). Changes that have
no meaning are refused with the reason: adding to a beta written with ``alpha``/``beta`` or a gamma written
with ``shape``/``scale`` (write them with ``mean`` and ``sd``).

A change that takes an input outside its domain is refused, not clipped, when the lever is applied, with an
error naming the lever: a beta's mean above 1, or samples of a probability shifted above 1 or below 0 (the
error gives the range the shifted samples would cover). Clipping would pile the draws that overflow on the
bound and change the lever's meaning without saying so.

For goal seeking a lever has a range of **settings**: the amount of its change (a relative change for a
relative lever, an amount for an additive one, the value itself for an absolute one). ``range: [from, to]``
gives it; the default runs from no change to three times the change.

The change is applied like ``--set`` by :func:`revsim.scenario.overrides.apply_lever`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError, Problem, did_you_mean
from revsim.scenario.lever_change import (
    ABSOLUTE,
    ADDITIVE,
    RELATIVE,
    Change,
    lever_items,
    parse_change,
    parse_setting,
)
from revsim.scenario.paths import PathError, ResolvedPath, constant_value, resolve
from revsim.scenario.percent import fractions_from_percentages
from revsim.scenario.schema import Scenario, iter_inputs

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = [
    "RELATIVE",
    "ADDITIVE",
    "ABSOLUTE",
    "Change",
    "LeverSpec",
    "parse_change",
    "parse_setting",
    "scenario_levers",
    "get_lever",
    "lever_from_option",
    "changed_values",
    "default_range",
    "lever_problems",
    "describe_values",
    "input_center",
]

#: A lever's default range of settings runs from no change to this many times its change.
DEFAULT_RANGE_FACTOR = 3.0

#: dist: family -> its location parameters (moved by any change) and its spread parameters (scaled by a
#: relative change). A family's alternative spelling that has no location (beta's alpha/beta, gamma's
#: shape/scale) is handled apart.
_LOCATION = {
    "beta": ("mean",),
    "normal": ("mean",),
    "lognormal": ("median", "mean"),
    "gamma": ("mean",),
    "triangular": ("low", "mode", "high"),
    "pert": ("min", "mode", "max", "low", "high"),
    "uniform": ("low", "high"),
    "interval": ("low", "high"),
}
_SPREAD = {"beta": ("sd",), "normal": ("sd",), "lognormal": ("sd",), "gamma": ("sd",)}


# ---------------------------------------------------------------------------------------------------------
# Levers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeverSpec:
    """A lever ready to apply: its name, the paths it changes, its change and its range of settings."""

    name: str
    paths: tuple[str, ...]
    change: Change
    range: tuple[float, float] | None = None
    description: str = ""

    def describe(self) -> str:
        """``funnel.stages.mql.conversion +0.03``."""
        return f"{', '.join(self.paths)} {self.change.describe()}"


def _spec(name: str, path: Any, change: Any, range_: Any = None, description: str = "") -> LeverSpec:
    paths = (path,) if isinstance(path, str) else tuple(str(p) for p in path)
    bounds = None if range_ is None else (parse_setting(range_[0]), parse_setting(range_[1]))
    return LeverSpec(name, paths, parse_change(change), bounds, description or "")


def scenario_levers(scenario: LoadedScenario | Scenario) -> dict[str, LeverSpec]:
    """The levers a scenario declares, by name."""
    model = getattr(scenario, "model", scenario)
    return {lever.name: _spec(lever.name, lever.path, lever.change, lever.range, lever.description)
            for lever in model.levers}


def get_lever(scenario: LoadedScenario, lever: str | LeverSpec | Mapping[str, Any]) -> LeverSpec:
    """A lever by name (one the scenario declares), as an ad-hoc ``PATH=CHANGE``, or as given.

    Raises
    ------
    InputError
        For an unknown name (with "did you mean") or a malformed definition.
    """
    if isinstance(lever, LeverSpec):
        return lever
    if isinstance(lever, Mapping):
        try:
            return _spec(str(lever.get("name") or lever.get("path")), lever["path"], lever["change"],
                         lever.get("range"), str(lever.get("description", "")))
        except (KeyError, ValueError) as exc:
            raise InputError.single(f"a lever needs 'path' and 'change': {exc}", file=scenario.file) from None
    return lever_from_option(scenario, str(lever))


def lever_from_option(scenario: LoadedScenario, text: str, *, option: str = "--lever") -> LeverSpec:
    """``NAME`` (a lever of the scenario) or ``PATH=CHANGE`` (an ad-hoc one, named after its path)."""
    known = scenario_levers(scenario)
    text = text.strip()
    if "=" in text:
        path, _, change = text.partition("=")
        try:
            spec = _spec(path.strip(), path.strip(), change.strip())
        except ValueError as exc:
            raise InputError.single(str(exc), path=(f"{option} {text}",), file=scenario.file) from None
        problems = _check_spec(scenario.data, scenario.model, spec)
        if problems:
            raise InputError([Problem(m, (f"{option} {text}",), suggestion=s) for m, s in problems],
                             file=scenario.file)
        return spec
    if text in known:
        return known[text]
    if known:
        message = f"the scenario has no lever '{text}' (its levers: {', '.join(known)})"
    else:
        message = (f"the scenario declares no levers (add a levers: block) and '{text}' is not PATH=CHANGE "
                   "(e.g. funnel.stages.mql.conversion=+0.03)")
    raise InputError.single(message, path=(option,), suggestion=did_you_mean(text, known), file=scenario.file)


# ---------------------------------------------------------------------------------------------------------
# Applying a change
# ---------------------------------------------------------------------------------------------------------


def _clean(x: float, like: Any = None) -> float | int:
    """A computed value as the file would say it: 12 significant digits, an integer stays one."""
    value = float(f"{x:.12g}")
    if isinstance(like, int) and not isinstance(like, bool) and value.is_integer():
        return int(value)
    return value


def _operate(change: Change, x: float, *, spread: bool = False) -> float:
    if change.kind == RELATIVE:
        return x * (1.0 + change.amount)
    return x if spread else x + change.amount


def _changed(value: Any, change: Change, where: str) -> Any:
    """``value`` (a file value) after ``change``.

    Raises
    ------
    ValueError
        When the change has no meaning for this form of value.
    """
    if change.kind == ABSOLUTE:
        return copy.deepcopy(change.value) if change.amount is None else _clean(change.amount)
    value = fractions_from_percentages(value)  # "20%" is the fraction 0.2 wherever a lever reads a value
    number = constant_value(value)
    if number is not None:
        return _clean(_operate(change, number), value)
    if isinstance(value, list):
        if len(value) != 2 or any(constant_value(v) is None for v in value):
            raise ValueError(f"{where} is a list but not a [low, high] interval of numbers")
        return [_clean(_operate(change, constant_value(v)), v) for v in value]
    if isinstance(value, Mapping):
        return _changed_distribution(value, change, where)
    raise ValueError(f"{where} is {value!r}, not a number or an uncertain input that a lever can change")


def _changed_distribution(value: Mapping[str, Any], change: Change, where: str) -> dict[str, Any]:
    family = str(value.get("dist", "")).strip().lower()
    out = dict(value)
    if family in ("empirical", "posterior"):
        return _changed_samples(value, change, where)
    if family == "beta" and "alpha" in value:
        raise ValueError(f"{where} is a beta written with alpha and beta, which have no location to move; "
                         "write it with mean and sd to use this lever")
    if family == "gamma" and "shape" in value:
        if change.kind != RELATIVE:
            raise ValueError(f"{where} is a gamma written with shape and scale, which has no location to add "
                             "to; write it with mean and sd, or use a relative change")
        out["scale"] = _clean(_operate(change, _param(value, "scale", where)))
        return out
    if family not in _LOCATION:
        raise ValueError(f"{where} is a '{value.get('dist')}' distribution, which a lever cannot change")
    for key in _LOCATION[family]:
        if key in value:
            out[key] = _clean(_operate(change, _param(value, key, where)), value[key])
    if change.kind == RELATIVE:
        for key in _SPREAD.get(family, ()):
            if key in value:
                out[key] = _clean(abs(_operate(change, _param(value, key, where), spread=True)), value[key])
    return out


def _changed_samples(value: Mapping[str, Any], change: Change, where: str) -> dict[str, Any]:
    """Samples read from a file (``empirical``, ``posterior``), drawn as ``sample * scale + shift``: a relative
    change multiplies both ``scale`` and ``shift``, an additive one adds to ``shift``. The samples themselves,
    and which of them each draw takes, stay the same."""
    out = dict(value)
    shift = _param(value, "shift", where) if "shift" in value else 0.0
    scale = _param(value, "scale", where) if "scale" in value else 1.0
    if change.kind == RELATIVE:
        shift, scale = _operate(change, shift), _operate(change, scale)
    else:
        shift = _operate(change, shift)
    out.pop("shift", None)
    out.pop("scale", None)
    if _clean(scale) != 1:
        out["scale"] = _clean(scale)
    if _clean(shift) != 0:
        out["shift"] = _clean(shift)
    return out


def _param(value: Mapping[str, Any], key: str, where: str) -> float:
    number = constant_value(value[key])
    if number is None:
        raise ValueError(f"{where}.{key} is {value[key]!r}, not a number")
    return number


def _current(target: ResolvedPath, inputs: Mapping[str, Any]) -> Any:
    """The file value at ``target``, or the constant the scenario uses there when the file leaves it out."""
    if target.present and target.value is not None:
        return target.value
    dist = inputs.get(target.input_path)
    if dist is not None and dist.is_constant:
        return float(dist.mean())
    return None


def changed_values(data: dict[str, Any], model: Scenario, lever: LeverSpec,
                   setting: float | None = None) -> dict[str, Any]:
    """The new value of every input the lever changes, by input path (as ``--set`` would give them).

    Parameters
    ----------
    setting
        The amount of the lever's change (None: the lever's own change).

    Raises
    ------
    InputError
        When a path names nothing or the change cannot apply to the value there.
    """
    change = lever.change if setting is None else lever.change.at(setting)
    problems = _check_spec(data, model, lever, change=change)
    if problems:
        raise InputError([Problem(message, (f"lever '{lever.name}'",), suggestion=suggestion)
                          for message, suggestion in problems])
    inputs = dict(iter_inputs(model))
    values: dict[str, Any] = {}
    scratch = copy.deepcopy(data)
    for path in lever.paths:
        for target in resolve(scratch, model, path):
            values[_located_path(target)] = _changed(_current(target, inputs), change, target.input_path)
    return values


def _located_path(target: ResolvedPath) -> str:
    """A path that names exactly ``target`` (list items by position, so it stays unambiguous)."""
    text = ""
    for part in target.loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _check_spec(data: dict[str, Any], model: Scenario, lever: LeverSpec,
                change: Change | None = None) -> list[tuple[str, str | None]]:
    """Problems with a lever on this scenario: (message, suggested path)."""
    change = change or lever.change
    inputs = dict(iter_inputs(model))
    problems: list[tuple[str, str | None]] = []
    scratch = copy.deepcopy(data)
    for path in lever.paths:
        try:
            targets = resolve(scratch, model, path)
        except PathError as exc:
            problems.append((f"{path}: {exc.message}", exc.suggestion))
            continue
        for target in targets:
            current = _current(target, inputs)
            if current is None and change.kind != ABSOLUTE:
                problems.append((f"{target.input_path} is not set in the scenario, so a {change.kind} change has "
                                 "nothing to change; give the lever a value (an absolute change)", None))
                continue
            try:
                _changed(current, change, target.input_path)
            except ValueError as exc:
                problems.append((str(exc), None))
    return problems


def input_center(scenario: LoadedScenario, lever: LeverSpec) -> float:
    """The mean of the (first) input a lever changes: where an absolute lever's settings start."""
    inputs = dict(iter_inputs(scenario.model))
    for target in resolve(copy.deepcopy(scenario.data), scenario.model, lever.paths[0]):
        dist = inputs.get(target.input_path)
        if dist is not None:
            return float(dist.mean())
        number = constant_value(target.value)
        if number is not None:
            return number
    raise InputError.single(f"lever '{lever.name}': {lever.paths[0]} is not a numeric input", file=scenario.file)


def default_range(scenario: LoadedScenario, lever: LeverSpec) -> tuple[float, float]:
    """The lever's range of settings: its own ``range``, else from no change to three times its change.

    Raises
    ------
    InputError
        For a lever that replaces a whole distribution (it has no settings between), or whose change is
        none.
    """
    if lever.range is not None:
        return lever.range
    change = lever.change
    if not change.numeric:
        raise InputError.single(f"lever '{lever.name}' replaces {', '.join(lever.paths)} with {change.value}, which "
                                "has no settings in between; give it a numeric change", file=scenario.file)
    if change.kind in (RELATIVE, ADDITIVE):
        start, end = 0.0, _clean(DEFAULT_RANGE_FACTOR * change.amount)
    else:
        start = input_center(scenario, lever)
        end = start + DEFAULT_RANGE_FACTOR * (change.amount - start)
    if start == end:
        raise InputError.single(f"lever '{lever.name}' changes nothing ({change.describe()}); give it a change or a "
                                "range", file=scenario.file)
    return start, end


# ---------------------------------------------------------------------------------------------------------
# Checks when a scenario loads
# ---------------------------------------------------------------------------------------------------------


def lever_problems(data: Any, model: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Every lever whose paths name nothing or whose change cannot apply, located in the file.

    Called by the schema once the rest of the scenario is valid: a lever naming a misspelt path fails when
    the scenario loads, not when the lever is first used.
    """
    if not isinstance(data, Mapping):
        return []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    raw = dict(lever_items(data.get("levers")))
    seen: set[str] = set()
    for (key, item), lever in zip(raw.items(), model.levers, strict=False):
        where: tuple[str | int, ...] = ("levers", key)
        if lever.name in seen:
            problems.append(((*where, "name"), f"lever '{lever.name}' is defined twice"))
        seen.add(lever.name)
        spec = _spec(lever.name, lever.path, lever.change, lever.range, lever.description)
        paths = item.get("path") if isinstance(item, Mapping) else None
        for j, path in enumerate(spec.paths):
            at = (*where, "path", j) if isinstance(paths, list) else (*where, "path")
            try:
                resolve(copy.deepcopy(dict(data)), model, path)
            except PathError as exc:
                message = f"no input at {path}: {exc.message}"
                problems.append((at, message + (f"; did you mean '{exc.suggestion}'?" if exc.suggestion else "")))
        if any(p[0][:2] == where for p in problems):
            continue
        for message, suggestion in _check_spec(dict(data), model, spec):
            problems.append(((*where, "change"), message + (f"; did you mean '{suggestion}'?" if suggestion else "")))
    return problems


def describe_values(scenario: LoadedScenario, lever: LeverSpec) -> str:
    """The inputs a lever changes as they are in ``scenario``: ``retention.churn = 0.0377``."""
    inputs = dict(iter_inputs(scenario.model))
    parts = []
    for path in lever.paths:
        for target in resolve(copy.deepcopy(scenario.data), scenario.model, path):
            dist = inputs.get(target.input_path)
            shown = dist.describe() if dist is not None else repr(target.value)
            parts.append(f"{target.input_path} = {shown}")
    return "; ".join(parts)
