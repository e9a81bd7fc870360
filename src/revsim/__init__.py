"""revsim: Monte Carlo revenue simulation and forecasting.

Importing :mod:`revsim` is light: the engine (numba) and the results layer (xarray) load on first use.

>>> import revsim
>>> scenario = revsim.load_scenario("scenarios/saas_sales_led.yaml")   # doctest: +SKIP
>>> ds = revsim.simulate(scenario, draws=1000, seed=42)                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__version__ = "0.1.0"

__all__ = ["__version__", "load_scenario", "simulate", "kpis", "compare", "sensitivity", "goal_seek", "apply_overrides"]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.pipeline import simulate
    from revsim.revops.compute import kpis
    from revsim.scenario.load import load_scenario
    from revsim.scenario.overrides import apply_overrides
    from revsim.whatif.compare import compare
    from revsim.whatif.goal import goal_seek
    from revsim.whatif.sensitivity import sensitivity

_LAZY = {
    "load_scenario": "revsim.scenario.load",
    "simulate": "revsim.pipeline",
    "kpis": "revsim.revops.compute",
    "compare": "revsim.whatif.compare",
    "sensitivity": "revsim.whatif.sensitivity",
    "goal_seek": "revsim.whatif.goal",
    "apply_overrides": "revsim.scenario.overrides",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
