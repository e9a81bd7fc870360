"""Fixtures of the chart tests: a small run of every example scenario, drawn headless (Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The example scenarios, and a company with long names everywhere, four customers and amounts in euros
EXAMPLES = [*sorted((REPO_ROOT / "scenarios").glob("*.yaml")),
            Path(__file__).resolve().parent / "data" / "long_names_small_book.yaml"]
DRAWS = 200


@pytest.fixture(scope="session")
def example_runs() -> dict:
    """Every example scenario, simulated once with few draws: {file stem: Dataset}."""
    import revsim

    return {path.stem: revsim.simulate(path, draws=DRAWS, seed=1) for path in EXAMPLES}


@pytest.fixture(params=[path.stem for path in EXAMPLES])
def example(request, example_runs):
    """One example run (the tests using it run once per scenario)."""
    return example_runs[request.param]


@pytest.fixture
def sales_led(example_runs):
    return example_runs["saas_sales_led"]


@pytest.fixture(autouse=True)
def _close_figures():
    """Charts drawn through pyplot are closed after each test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
