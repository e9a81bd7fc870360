"""Fixtures of the RevOps tests: the known-answers company, and a small random run of the sales-led example."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from revops_paths import KNOWN, SALES_LED

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def known():
    """The known-answers company (tests/revops/data/known.yaml): 4 draws, all identical."""
    import revsim

    loaded = revsim.load_scenario(KNOWN)
    return loaded, revsim.simulate(loaded, draws=4, seed=3)


@pytest.fixture(scope="session")
def sales_led():
    """The sales-led example: 300 draws (its targets, fiscal years from April, North Star)."""
    import revsim

    loaded = revsim.load_scenario(SALES_LED)
    return loaded, revsim.simulate(loaded, draws=300, seed=5)


@pytest.fixture(scope="session")
def sales_led_file(sales_led, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sales-led run written as results.nc."""
    _, ds = sales_led
    out = tmp_path_factory.mktemp("sales_led") / "results.nc"
    ds.to_netcdf(out, engine="h5netcdf")
    return out
