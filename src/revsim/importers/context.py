"""What a scenario tells an import: its funnel stages, segments, channels and contract terms."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ScenarioNames", "scenario_names"]


@dataclass(frozen=True)
class ScenarioNames:
    """The names an import maps onto (None: no scenario, any name is accepted as written).

    ``contract_months`` is each segment's contract term in months (``retention.<segment>.contract_months``).
    """

    file: str | None = None
    stages: list[str] | None = None
    segments: list[str] | None = None
    channels: list[str] | None = None
    contract_months: dict[str, int] = field(default_factory=dict)


def scenario_names(path: str | None) -> ScenarioNames:
    """Load the scenario (validated as by ``revsim validate``) and keep the names an import needs."""
    if path is None:
        return ScenarioNames()
    from revsim.scenario.load import load_scenario

    model = load_scenario(path).model
    segments = list(model.segment_names)
    channels = [c.name for c in model.channels] + [loop.name for loop in getattr(model, "loops", None) or []]
    terms = {}
    for segment in segments:
        retention = model.settings("retention", segment)
        terms[segment] = int(getattr(retention, "contract_months", 1) or 1)
    return ScenarioNames(file=str(path), stages=list(model.stage_names), segments=segments, channels=channels,
                         contract_months=terms)
