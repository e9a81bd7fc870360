"""Bayesian calibration of scenarios from history, and backtests of their forecasts.

Importing this package is light: PyMC, nutpie and ArviZ load only when a calibration runs.

>>> from revsim.calibrate import calibrate, backtest                                  # doctest: +SKIP
>>> result = calibrate("scenarios/history", "scenarios/history/northwind.yaml", seed=1)   # doctest: +SKIP
>>> result.write("out/calibrated")                                                     # doctest: +SKIP

Modules: :mod:`~revsim.calibrate.history` (the CSV files and their checks), :mod:`~revsim.calibrate.priors`,
one module per group of models (:mod:`~revsim.calibrate.funnel`, :mod:`~revsim.calibrate.retention`,
:mod:`~revsim.calibrate.movements`), :mod:`~revsim.calibrate.fit` (the joint model and the sampler),
:mod:`~revsim.calibrate.scenario_update` (posterior -> scenario), :mod:`~revsim.calibrate.checks`
(posterior-predictive checks), :mod:`~revsim.calibrate.backtest`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__all__ = ["calibrate", "backtest", "read_history"]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.calibrate.backtest import backtest
    from revsim.calibrate.calibration import calibrate
    from revsim.calibrate.history import read_history

_LAZY = {
    "calibrate": "revsim.calibrate.calibration",
    "backtest": "revsim.calibrate.backtest",
    "read_history": "revsim.calibrate.history",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
