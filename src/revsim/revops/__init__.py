"""RevOps views of a run: team KPIs, targets, AARRR and the North Star.

Marketing, sales and customer success read the same simulated company through their own numbers: the KPIs
each team and each hand-off watches, per month, fiscal quarter or fiscal year (:func:`kpis`); the targets
finance writes on them, with the probability of reaching each, all together, and which conflict
(:mod:`~revsim.revops.targets`); the AARRR view (:mod:`~revsim.revops.aarrr`); and the North Star metric with
the contribution of each input metric (:mod:`~revsim.revops.north_star`). ``docs/kpis.md`` defines every KPI.

Importing this package is light: the modules load on first use.

>>> import revsim
>>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=500, seed=1)          # doctest: +SKIP
>>> revsim.kpis(ds, "quarter", teams="sales").win_rate.median("draw")                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__all__ = ["kpis", "run_kpis", "target_report", "aarrr", "north_star", "driver_tree", "lever_effects"]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.revops.aarrr import aarrr
    from revsim.revops.compute import kpis, run_kpis
    from revsim.revops.levers import lever_effects
    from revsim.revops.north_star import driver_tree, north_star
    from revsim.revops.targets import target_report

_LAZY = {
    "kpis": "revsim.revops.compute",
    "run_kpis": "revsim.revops.compute",
    "target_report": "revsim.revops.targets",
    "aarrr": "revsim.revops.aarrr",
    "north_star": "revsim.revops.north_star",
    "driver_tree": "revsim.revops.north_star",
    "lever_effects": "revsim.revops.levers",
}

__getattr__ = lazy_getattr(__name__, _LAZY)
