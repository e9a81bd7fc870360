"""Who owns which funnel stage: the marketing -> sales hand-off and the closing stage of a scenario.

Marketing owns the stages up to the **hand-off stage** (its conversions are what marketing hands to sales:
MQL -> SQL), sales the stages after it up to the **closing stage** (whose conversions are deals won), and
the last stage is the customer. The hand-off stage is ``kpis.handoff_stage`` when the scenario names it,
else a stage named ``mql``, else the stage just before the closing stage. The closing stage is the sales
capacity's stage, else the stage before the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FunnelStructure", "TEAMS", "TEAM_LABELS"]

#: The teams, in the order of the revenue engine (the two hand-offs between the three teams, then finance).
TEAMS = ("marketing", "marketing_to_sales", "sales", "sales_to_success", "customer_success", "finance")
TEAM_LABELS = {
    "marketing": "Marketing",
    "marketing_to_sales": "Hand-off: marketing to sales",
    "sales": "Sales",
    "sales_to_success": "Hand-off: sales to customer success",
    "customer_success": "Customer success",
    "finance": "Finance",
}
_MQL_NAMES = ("mql", "marketing_qualified", "marketing_qualified_lead")


@dataclass(frozen=True)
class FunnelStructure:
    """The facts of a scenario the KPI catalogue depends on.

    Attributes
    ----------
    stages
        Stage names in funnel order (the last is the customer).
    handoff, closing
        Positions of the hand-off stage and of the closing stage.
    has_costs, has_capacity, has_quota, has_opex, has_loops
        Whether the scenario has a ``costs`` block, a sales capacity, a quota per rep, other operating costs
        (``costs.other_opex``) and growth loops.
    """

    stages: tuple[str, ...]
    handoff: int
    closing: int
    has_costs: bool = False
    has_capacity: bool = False
    has_quota: bool = False
    has_opex: bool = False
    has_loops: bool = False

    @classmethod
    def of(cls, model: Any) -> FunnelStructure:
        """The structure of a validated :class:`~revsim.scenario.schema.Scenario`."""
        stages = tuple(model.stage_names)
        capacity = model.funnel.sales_capacity
        closing = stages.index(capacity.stage) if capacity is not None and capacity.stage in stages else len(stages) - 2
        settings = getattr(model, "kpis", None)
        named = getattr(settings, "handoff_stage", None) if settings is not None else None
        handoff = default_handoff(stages, closing) if named not in stages else stages.index(named)
        costs = model.costs
        return cls(stages=stages, handoff=handoff, closing=closing, has_costs=costs is not None,
                   has_capacity=capacity is not None,
                   has_quota=capacity is not None and capacity.quota_per_rep is not None,
                   has_opex=costs is not None and getattr(costs, "other_opex", None) is not None,
                   has_loops=bool(model.loops))

    @property
    def first(self) -> str:
        return self.stages[0]

    @property
    def marketing_stages(self) -> tuple[int, ...]:
        """Positions of the stages marketing owns (the first stage to the hand-off stage)."""
        return tuple(range(0, self.handoff + 1))

    @property
    def sales_stages(self) -> tuple[int, ...]:
        """Positions of the stages sales owns (after the hand-off stage, to the closing stage)."""
        return tuple(range(self.handoff + 1, self.closing + 1))


def default_handoff(stages: tuple[str, ...], closing: int) -> int:
    """A stage named ``mql`` before the closing stage, else the stage just before the closing stage."""
    for position, name in enumerate(stages[:closing]):
        if name.lower() in _MQL_NAMES:
            return position
    return max(closing - 1, 0)
