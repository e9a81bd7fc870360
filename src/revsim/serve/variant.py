"""From the page's settings to the variant scenario, with the functions ``revsim compare`` uses.

The settings are applied in the page's order: each moved control as a lever
(:func:`~revsim.scenario.overrides.apply_lever`, as ``--lever`` does, several one after the other as
``--lever a+b`` does), then the free ``--set`` lines (:func:`~revsim.scenario.overrides.override_scenario`,
as ``--set`` does). A bad value is therefore refused with the message the command line prints for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from revsim.scenario.levers import LeverSpec
    from revsim.scenario.load import LoadedScenario
    from revsim.serve.controls import Control
    from revsim.serve.folder import ScenarioFolder

__all__ = ["Change", "Variant", "VariantError", "build_variant", "set_lines", "MAX_SET_LINES"]

#: Limits of one request: the page never comes near them.
MAX_SET_LINES = 50
MAX_LINE_LENGTH = 2000


class VariantError(Exception):
    """A setting the scenario refuses: ``source`` is the control's id or ``set``; ``message`` is the command
    line's message for the same change."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source
        self.message = message


@dataclass(frozen=True)
class Change:
    """One change of the variant: a control at a setting, or a ``--set`` line."""

    source: str  # a control's id, or "set"
    text: str  # as a reader says it: "MQL -> SQL +3 pts", "--set retention.smb.churn=0.1"
    lever: LeverSpec | None = None
    setting: Any = None
    cli: str | None = None  # the --lever text that applies the same change, when there is one


@dataclass(frozen=True)
class Variant:
    """The variant scenario, what it changes, and the notes of its overrides."""

    scenario: LoadedScenario
    changes: list[Change] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not self.changes


def set_lines(text: str | Sequence[str]) -> list[str]:
    """The ``PATH=VALUE`` lines of the free field (blank lines and ``#`` comments left out)."""
    lines = text.splitlines() if isinstance(text, str) else [str(line) for line in text]
    kept = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if len(kept) > MAX_SET_LINES:
        raise VariantError("set", f"at most {MAX_SET_LINES} --set lines, got {len(kept)}")
    for line in kept:
        if len(line) > MAX_LINE_LENGTH:
            raise VariantError("set", f"a --set line of at most {MAX_LINE_LENGTH} characters, got {len(line)}")
    return kept


def build_variant(base: LoadedScenario, controls: Sequence[Control], settings: Mapping[str, Any],
                  overrides: Sequence[str] = (), *, folder: ScenarioFolder | None = None) -> Variant:
    """The base with the moved controls applied as levers, then the ``--set`` lines.

    Raises
    ------
    VariantError
        For an unknown control, a setting that is not a number, or a change the scenario refuses (with the
        command line's message).
    OutsideFolder
        For a ``--set`` line naming a file outside the scenario's folder.
    """
    from revsim.scenario.overrides import apply_lever
    from revsim.scenario.overrides import override_scenario

    by_id = {c.id: c for c in controls}
    for key in settings:
        if key not in by_id:
            hint = did_you_mean(key, by_id)
            raise VariantError(str(key), f"no control '{key}'" + (f"; did you mean '{hint}'?" if hint else ""))
    loaded, changes, notes = base, [], []
    for control in controls:
        if control.id not in settings:
            continue
        setting = _setting(control, settings[control.id])
        spec = control.spec_at(setting)
        if spec is None:
            continue
        try:
            loaded, more = apply_lever(loaded, spec)
        except InputError as exc:
            raise VariantError(control.id, str(exc)) from None
        notes += more
        shown = control.describe(setting)
        if not control.id.startswith("lever:"):
            text = f"{control.label} {shown}"
        elif spec is control.lever or control.default is None:
            text = f"{control.label} ({shown})"
        else:
            text = f"{control.label} (at {shown} instead of {control.describe(control.default)})"
        changes.append(Change(control.id, text, spec, setting, control.cli_lever(setting)))
    lines = list(overrides)
    if lines:
        if folder is not None:
            folder.check_overrides(loaded, lines)
        try:
            loaded, more = override_scenario(loaded, lines, source="--set")
        except InputError as exc:
            raise VariantError("set", str(exc)) from None
        notes += more
        changes += [Change("set", f"--set {line}") for line in lines]
    return Variant(loaded, changes, lines, list(dict.fromkeys(notes)))


def _setting(control: Control, value: Any) -> float | bool:
    from revsim.serve.controls import snap

    if control.kind == "switch":
        if not isinstance(value, bool):
            raise VariantError(control.id, f"{control.label}: expected on or off (true or false), got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VariantError(control.id, f"{control.label}: expected a number, got {value!r}")
    try:
        return snap(float(value))
    except ValueError as exc:
        raise VariantError(control.id, f"{control.label}: {exc}") from None
