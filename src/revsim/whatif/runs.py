"""Running variants of one scenario on common random numbers.

Every what-if run uses the same seed and the same draws ``0 .. draws - 1``. The engine keys each uncertain
input's random stream by the input's path and each process's stream by the draw (:mod:`revsim.engine.rng`),
and every random event uses one uniform at a position fixed by the scenario's structure
(:mod:`revsim.engine.kernels`). So draw ``i`` of a variant is draw ``i`` of the base with only what the
variant changes changed, and the difference of a metric between the two, draw by draw, measures the effect
of the change alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.engine import layout as L
from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover

    from revsim.engine.run import RawResults
    from revsim.scenario.load import LoadedScenario

__all__ = ["ScenarioLike", "Overrides", "load", "total_at", "month_position", "QUANTITIES"]

ScenarioLike = Any  # LoadedScenario | str | os.PathLike[str]
Overrides = Sequence[str] | Mapping[str, Any] | None

#: Totals a target or a goal can be set on, read from the kernels' outputs.
QUANTITIES = ("arr", "active_customers")


def load(scenario: ScenarioLike, overrides: Overrides = None, *,
         source: str = "override") -> tuple[LoadedScenario, list[str]]:
    """A loaded scenario (from a path or as given) with ``overrides`` applied, and the overrides' notes."""
    from revsim.scenario.load import LoadedScenario, load_scenario
    from revsim.scenario.overrides import override_scenario

    if isinstance(scenario, LoadedScenario):
        loaded = scenario
    elif isinstance(scenario, str | os.PathLike):
        loaded = load_scenario(Path(scenario))
    else:
        raise TypeError("expected a scenario (from revsim.load_scenario) or a file name, "
                        f"got {type(scenario).__name__}")
    if not overrides:
        return loaded, []
    return override_scenario(loaded, overrides, source=source)


def total_at(raw: RawResults, quantity: str, month: int) -> np.ndarray:
    """Per draw: ARR (currency) or active customers, summed over segments, at the end of ``month``."""
    if quantity == "arr":
        return raw.money[:, month, :, L.MRR].sum(axis=1) * (12.0 / 100.0)
    if quantity == "active_customers":
        return raw.counts[:, month, :, L.ACTIVE_CUSTOMERS].sum(axis=1).astype(float)
    raise ValueError(f"unknown quantity {quantity!r}; expected one of {', '.join(QUANTITIES)}")


def month_position(loaded: LoadedScenario, at: str | None, *, option: str = "--at") -> int:
    """Index of month ``at`` (``YYYY-MM``; None: the last simulated month).

    Raises
    ------
    InputError
        When ``at`` is not a month or not simulated.
    """
    model = loaded.model
    last = model.horizon_months - 1
    if at is None:
        return last
    text = str(at).strip()
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4 or not 1 <= int(parts[1]) <= 12:
        raise InputError.single(f"expected a month as YYYY-MM (e.g. 2027-12), got '{at}'", path=(option,))
    index = model.month_index(text)
    if not 0 <= index <= last:
        raise InputError.single(f"{text} is not simulated: the scenario covers {model.start} to "
                                f"{model.month_label(last)}", path=(option,))
    return index
