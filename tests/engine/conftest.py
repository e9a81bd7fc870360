"""Small scenarios for the engine tests, built as plain dicts (as a YAML file would hold them)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from revsim.scenario.load import LoadedScenario, load_scenario, scenario_from_dict

EXAMPLE_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "saas_sales_led.yaml"

#: The smallest scenario that validates: one segment, a two-stage funnel that converts nobody, no churn, no
#: onboarding failures, no expansion, no advocates. Tests replace whole top-level blocks to build what they
#: need (an initial book, a channel, a loop...).
BASE_SCENARIO: dict[str, Any] = {
    "name": "engine test",
    "start": "2027-01",
    "horizon_months": 12,
    "funnel": {"stages": [{"name": "lead", "conversion": 0, "months": 1}, {"name": "won"}]},
    "pricing": {"acv": 1200},
    "onboarding": {"success": 1},
    "retention": {"churn": 0},
    "advocacy": {"rate": 0},
}


def funnel(*stages: tuple[float, float], last: str = "won") -> dict[str, Any]:
    """A funnel block from ``(conversion, months)`` pairs, named ``s0``, ``s1``..., then ``last``."""
    return {"stages": [*({"name": f"s{i}", "conversion": p, "months": m} for i, (p, m) in enumerate(stages)),
                       {"name": last}]}


@pytest.fixture
def make_scenario() -> Callable[..., LoadedScenario]:
    """Build a scenario from :data:`BASE_SCENARIO` with some top-level blocks replaced.

    >>> make_scenario(horizon_months=24, initial_book=[{"customers": 100, "mrr": 10_000}])   # doctest: +SKIP
    """

    def make(**blocks: Any) -> LoadedScenario:
        data = copy.deepcopy(BASE_SCENARIO)
        data.update(copy.deepcopy(blocks))
        return scenario_from_dict(data)

    return make


@pytest.fixture
def make_funnel() -> Callable[..., dict[str, Any]]:
    """:func:`funnel` as a fixture, for test modules that cannot import this file."""
    return funnel


@pytest.fixture(scope="session")
def example_scenario() -> LoadedScenario:
    """The sales-led example scenario shipped in ``scenarios/``."""
    return load_scenario(EXAMPLE_SCENARIO)


@pytest.fixture
def example_data(example_scenario: LoadedScenario) -> dict[str, Any]:
    """A fresh deep copy of the example scenario's data, to derive variants from."""
    return copy.deepcopy(example_scenario.data)
