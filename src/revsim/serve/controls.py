"""The page's sliders: the scenario's levers and its main inputs, each a lever whose setting the slider moves.

Every control is a :class:`~revsim.scenario.levers.LeverSpec` and a range of settings. Moving the slider to
setting ``x`` applies the lever with its change at ``x`` (:meth:`Control.spec_at`), exactly as
``revsim compare --lever`` applies a lever, so a control at a setting is an ordinary lever:

* a lever of the scenario's ``levers:`` block runs over its ``range`` (default: no change to three times its
  change), widened to include "no change"; a lever that sets a value (an absolute change) is a switch;
* the main inputs, in the order of the file:

  ==============================  ===========================  =====================================
  input                           change                       range
  ==============================  ===========================  =====================================
  a channel's volume              relative                     -50% to +50%
  a stage's conversion            additive, in points          about half the rate either way, at
                                  (with its segment overrides)  most 15 points
  sales reps                      additive                     -half to +the team
  ACV                             relative                     -30% to +30%
  churn per renewal               relative                     -50% to +50%
  an sBG's alpha                  relative                     -50% to +50%
  a loop's coefficient            relative                     -50% to +100%
  ==============================  ===========================  =====================================

Each range is checked when the page starts: a range end that would make the scenario invalid (a conversion
above 1) is brought towards "no change" until it is valid, so no slider position is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError
from revsim.scenario.levers import ABSOLUTE, ADDITIVE, RELATIVE, Change, LeverSpec, default_range, scenario_levers
from revsim.scenario.overrides import apply_lever

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.load import LoadedScenario

__all__ = ["Control", "scenario_controls", "snap"]

#: The groups of controls, in page order.
GROUPS = ("Levers", "Acquisition", "Customers", "Growth loops")

#: How many times a range end is brought halfway towards "no change" before the control is dropped.
_SHRINK_TRIES = 6


@dataclass(frozen=True)
class Control:
    """One slider (or switch) of the page.

    Attributes
    ----------
    id
        ``lever:NAME`` for a lever of the scenario, ``input:PATH`` for a main input.
    lever
        The lever the control applies; its change is the control's own setting (for a lever of the
        scenario, its change as written).
    kind
        ``slider``, or ``switch`` for a lever that sets a value.
    minimum, maximum, step
        The slider's range and step, in the change's unit (a fraction for relative changes: -0.2 is -20%).
    neutral
        The setting that changes nothing (0); None for a switch.
    default
        The lever's own setting, marked on the slider (None for a main input).
    unit
        How the page writes a setting: ``percent`` (relative), ``points`` (added to a rate), ``count``,
        ``money`` or ``number``.
    base_value
        The input's mean in the base scenario as text (``35%``, ``$10.9k``); empty for several inputs.
    """

    id: str
    group: str
    label: str
    lever: LeverSpec
    kind: str
    minimum: float
    maximum: float
    step: float
    neutral: float | None
    default: float | None
    unit: str
    base_value: str = ""
    hint: str = ""

    @property
    def paths(self) -> tuple[str, ...]:
        return self.lever.paths

    def spec_at(self, setting: float | bool) -> LeverSpec | None:
        """The lever at ``setting`` (None when the setting changes nothing)."""
        if self.kind == "switch":
            return self.lever if setting else None
        value = snap(float(setting))
        if self.neutral is not None and value == self.neutral:
            return None
        if self.id.startswith("lever:") and self.default is not None and value == self.default:
            return self.lever  # the lever as written: `--lever NAME`
        return replace(self.lever, change=self.lever.change.at(value))

    def describe(self, setting: float | bool) -> str:
        """The setting as a reader says it: ``+3 pts``, ``-20%``, ``+2``, ``on``."""
        if self.kind == "switch":
            return "on" if setting else "off"
        return describe_setting(float(setting), self.unit, self.lever.change.kind)

    def cli_lever(self, setting: float | bool) -> str | None:
        """The ``--lever`` text that applies the same change (None when no single option does)."""
        spec = self.spec_at(setting)
        if spec is None:
            return None
        if spec is self.lever and self.id.startswith("lever:"):
            return spec.name
        if len(spec.paths) != 1 or not spec.change.numeric:
            return None
        return f"{spec.paths[0]}={spec.change.describe()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "group": self.group, "label": self.label, "kind": self.kind, "min": self.minimum,
            "max": self.maximum, "step": self.step, "neutral": self.neutral, "default": self.default,
            "unit": self.unit, "change_kind": self.lever.change.kind, "base_value": self.base_value,
            "hint": self.hint, "paths": list(self.paths), "description": self.lever.description,
            "default_text": None if self.default is None else self.describe(self.default),
        }


def snap(value: float) -> float:
    """A setting with 12 significant digits: 0.030000000000000002 from a browser is 0.03."""
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(f"{value:.12g}")


def describe_setting(value: float, unit: str, kind: str) -> str:
    if unit == "percent":
        return f"{value * 100:+.4g}%"
    if unit == "points":
        return f"{value * 100:+.3g} pts"
    if kind == ABSOLUTE:
        return f"{value:.6g}"
    if unit == "count":
        return f"{value:+.4g}"
    return f"{value:+.6g}"


# ---------------------------------------------------------------------------------------------------------
# Building the controls
# ---------------------------------------------------------------------------------------------------------


def scenario_controls(scenario: LoadedScenario) -> list[Control]:
    """The controls of a scenario: its levers, then its main inputs, each with a range checked valid."""
    candidates = [*_lever_controls(scenario), *_input_controls(scenario)]
    controls = []
    for control in candidates:
        checked = _checked(scenario, control)
        if checked is not None:
            controls.append(checked)
    return controls


def _lever_controls(scenario: LoadedScenario) -> list[Control]:
    from revsim.scenario.schema import iter_inputs

    inputs = dict(iter_inputs(scenario.model))
    controls = []
    for spec in scenario_levers(scenario).values():
        label = spec.description[:1].upper() + spec.description[1:] if spec.description else spec.name
        unit = _unit(scenario, spec.paths, spec.change.kind, inputs)
        if not spec.change.numeric or spec.change.kind == ABSOLUTE:
            controls.append(Control(f"lever:{spec.name}", "Levers", label, spec, "switch", 0, 1, 1, None, None, unit,
                                    hint=spec.describe()))
            continue
        try:
            low, high = default_range(scenario, spec)
        except InputError:
            continue
        low, high = min(low, high, 0.0), max(low, high, 0.0)
        controls.append(Control(f"lever:{spec.name}", "Levers", label, spec, "slider", low, high,
                                _step(high - low, unit, spec.change.amount), 0.0, snap(spec.change.amount), unit,
                                hint=spec.describe()))
    return controls


def _unit(scenario: LoadedScenario, paths: tuple[str, ...], kind: str, inputs: dict[str, Any]) -> str:
    from revsim.results.dataset import input_units

    if kind == RELATIVE:
        return "percent"
    units = input_units(_input_path(paths[0]), scenario.model.currency)
    if units == "ratio" and paths[0].rsplit(".", 1)[-1] not in ("alpha", "beta"):
        return "points"
    if units.startswith(scenario.model.currency):
        return "money"
    if units == "reps":
        return "count"
    return "number"


def _input_path(path: str) -> str:
    return path.replace("*.", "")


def _step(span: float, unit: str, amount: float | None = None) -> float:
    """A slider step: about a hundredth of the span, on a round number of the unit."""
    if unit == "count" and (amount is None or float(amount).is_integer()):
        return 1.0
    if span <= 0:
        return 1.0
    raw = span / 100
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return snap(factor * magnitude)
    return snap(10 * magnitude)  # pragma: no cover


def _input_controls(scenario: LoadedScenario) -> list[Control]:
    from revsim.plot.input_labels import format_input, input_label
    from revsim.plot.style import display_name
    from revsim.results.dataset import input_units
    from revsim.scenario.schema import iter_inputs

    model = scenario.model
    currency = model.currency
    inputs = dict(iter_inputs(model))
    stages = model.stage_names
    controls: list[Control] = []

    def value_text(path: str) -> str:
        dist = inputs[path]
        return format_input(float(dist.mean()), input_units(path, currency), currency, float(dist.mean()))

    def relative(path: str, group: str, label: str, low: float, high: float, hint: str = "") -> Control:
        spec = LeverSpec(path, (path,), Change(RELATIVE, high))
        return Control(f"input:{path}", group, label, spec, "slider", low, high, 0.01, 0.0, None, "percent",
                       value_text(path), hint)

    for path in inputs:
        parts = path.split(".")
        leaf = parts[-1]
        if parts[0] == "channels" and leaf == "volume" and len(parts) == 3:
            channel = next(c for c in model.channels if c.name == parts[1])
            entry = display_name(channel.stage or stages[0])
            controls.append(relative(path, "Acquisition", f"{display_name(parts[1])} volume", -0.5, 0.5,
                                     f"{entry}s per month"))
        elif parts[:2] == ["funnel", "stages"] and leaf == "conversion" and len(parts) == 4:
            controls.append(_conversion_control(scenario, parts[2], inputs, value_text(path)))
        elif path == "funnel.sales_capacity.reps":
            reps = float(inputs[path].mean())
            spec = LeverSpec(path, (path,), Change(ADDITIVE, max(1.0, round(reps))))
            controls.append(Control(f"input:{path}", "Acquisition", "Sales reps", spec, "slider",
                                    -float(math.floor(reps / 2)), float(max(1, round(reps))), 1.0, 0.0, None, "count",
                                    value_text(path), "reps at the start"))
        elif parts[0] == "pricing" and leaf == "acv":
            controls.append(relative(path, "Customers", input_label(path), -0.3, 0.3, "average contract value"))
        elif parts[0] == "retention" and leaf == "churn":
            controls.append(relative(path, "Customers", input_label(path), -0.5, 0.5))
        elif parts[0] == "retention" and leaf == "alpha":
            controls.append(relative(path, "Customers", f"Churn, {input_label(path)}", -0.5, 0.5,
                                     "a higher alpha means more churn"))
        elif parts[0] == "loops" and leaf == "coefficient":
            controls.append(relative(path, "Growth loops", f"{display_name(parts[1])} loop strength", -0.5, 1.0,
                                     "entries per source per month"))
    order = {name: i for i, name in enumerate(GROUPS)}
    return sorted(controls, key=lambda c: order[c.group])


def _conversion_control(scenario: LoadedScenario, stage: str, inputs: dict[str, Any], base_value: str) -> Control:
    """A stage's conversion, with its segment overrides, moved by the same number of points."""
    from revsim.plot.style import display_name

    stages = scenario.model.stage_names
    following = stages[stages.index(stage) + 1] if stage in stages[:-1] else ""
    prefix = f"funnel.stages.{stage}."
    paths = [p for p in inputs if p == prefix + "conversion" or
             (p.startswith(prefix + "by_segment.") and p.endswith(".conversion"))]
    lowest = min(float(inputs[p].mean()) for p in paths)
    span = min(0.5 * lowest, 0.15)
    unit_step = 0.005 if span >= 0.02 else 0.001
    span = max(unit_step, math.floor(span / unit_step) * unit_step)
    spec = LeverSpec(paths[0], tuple(paths), Change(ADDITIVE, snap(span)))
    label = f"{display_name(stage)} \u2192 {display_name(following)}" if following else f"{display_name(stage)} conversion"
    hint = "conversion" + (", every segment" if len(paths) > 1 else "")
    return Control(f"input:{paths[0]}", "Acquisition", label, spec, "slider", -snap(span), snap(span),
                   _step(2 * span, "points"), 0.0, None, "points", base_value, hint)


def _checked(scenario: LoadedScenario, control: Control) -> Control | None:
    """The control with each end of its range brought towards "no change" until the lever applies there."""
    if control.kind == "switch":
        try:
            apply_lever(scenario, control.lever)
        except InputError:
            return None
        return control
    neutral = control.neutral or 0.0
    ends = []
    for end in (control.minimum, control.maximum):
        for _ in range(_SHRINK_TRIES):
            if end == neutral or _applies(scenario, control, end):
                break
            end = _round_to(neutral + (end - neutral) / 2, control.step)
        else:
            end = neutral
        ends.append(end)
    low, high = ends
    if low == high:
        return None
    default = control.default
    if default is not None and not low <= default <= high:
        default = None
    return replace(control, minimum=low, maximum=high, default=default)


def _applies(scenario: LoadedScenario, control: Control, setting: float) -> bool:
    spec = control.spec_at(setting)
    if spec is None:
        return True
    try:
        apply_lever(scenario, spec)
    except InputError:
        return False
    return True


def _round_to(value: float, step: float) -> float:
    return snap(round(value / step) * step) if step > 0 else snap(value)
