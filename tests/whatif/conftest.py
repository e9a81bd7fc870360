"""Fixtures of the what-if tests: the scenarios of ``whatif_scenarios.py``, and writing them as files."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from whatif_scenarios import FUNNEL_SCENARIO

from revsim.scenario.load import LoadedScenario, scenario_from_dict


@pytest.fixture
def funnel_data() -> dict[str, Any]:
    """A fresh copy of :data:`FUNNEL_SCENARIO`."""
    return copy.deepcopy(FUNNEL_SCENARIO)


@pytest.fixture
def funnel_scenario(funnel_data: dict[str, Any]) -> LoadedScenario:
    return scenario_from_dict(funnel_data)


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Write a scenario dict as a YAML file in the test's directory; return its path."""

    def write(data: dict[str, Any], name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
