"""Fixtures of the report tests: small runs written to results.nc like ``revsim run`` does."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parents[2]
SALES_LED = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"
TINY_EUR = Path(__file__).resolve().parent / "data" / "tiny_eur.yaml"


def _run(scenario: Path, out: Path, draws: int, cohorts: bool | None = None) -> Path:
    import revsim

    ds = revsim.simulate(scenario, draws=draws, seed=2, cohorts=cohorts)
    out.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out / "results.nc", engine="h5netcdf")
    return out / "results.nc"


@pytest.fixture(scope="session")
def sales_led_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.nc of the sales-led example (120 draws)."""
    return _run(SALES_LED, tmp_path_factory.mktemp("sales_led"), 120)


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.nc of a 24-month EUR scenario with no costs, loops, book or targets (80 draws)."""
    return _run(TINY_EUR, tmp_path_factory.mktemp("tiny"), 80, cohorts=False)  # retention from the scenario


@pytest.fixture(autouse=True, scope="session")
def _small_rasters():
    """PNG pages at 40 dpi: the tests read text and structure, and small rasters encode quickly."""
    from revsim.plot import style

    dpi, style.DPI = style.DPI, 40
    yield
    style.DPI = dpi
