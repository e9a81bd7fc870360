"""Shared fixtures of the command line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"
BASE_SCENARIO = Path(__file__).resolve().parent / "data" / "base_scenario.yaml"


@pytest.fixture
def example_scenario() -> Path:
    """The sales-led example shipped with revsim."""
    assert EXAMPLE.is_file(), EXAMPLE
    return EXAMPLE


@pytest.fixture
def base_text() -> str:
    """The text of the small valid scenario the bad-input cases are derived from."""
    return BASE_SCENARIO.read_text(encoding="utf-8")


@pytest.fixture
def base_scenario(tmp_path: Path, base_text: str) -> Path:
    """A copy of the small valid scenario in a temporary directory."""
    path = tmp_path / "base.yaml"
    path.write_text(base_text, encoding="utf-8")
    return path
