"""Board-ready charts of a run, in one house style (matplotlib, imported only when a chart is drawn).

Every chart takes the results Dataset (from :func:`revsim.simulate` or ``results.nc``) and an optional
``ax``; without one it makes a slide-sized figure titled with its finding and signed with the run's source
line. Each returns the matplotlib Axes it drew on (``ax.figure`` is the figure).

>>> import revsim, revsim.plot
>>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=500)   # doctest: +SKIP
>>> revsim.plot.fan_chart(ds).figure.savefig("arr_fan.png")             # doctest: +SKIP

=========================  ==========================================================================
``fan_chart``              ARR median and 50/80/90% bands, history, targets with their probability
``bridge_waterfall``       ARR bridge for a period: start, + new, + expansion, - contraction, - churn, end
``bowtie_chart``           the funnel narrowing to the purchase and the customer stages, with loops
``cohort_heatmap``         retention by cohort (or segment) and age, from a table
``expected_retention``     the model's expected logo and revenue retention by age (a table)
``retention_curves``       NRR and GRR over the horizon
``kpi_panel``              NRR, GRR, churn, CAC, payback, LTV, pipeline, win rate...: median and P10-P90
``arr_distribution``       ARR in a month: histogram and density, the probability of each target shaded
=========================  ==========================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revsim.lazy_exports import lazy_getattr

__all__ = [
    "fan_chart", "bridge_waterfall", "bowtie_chart", "cohort_heatmap", "expected_retention", "retention_curves",
    "kpi_panel", "arr_distribution", "retention_heatmaps", "ChartUnavailable",
]

if TYPE_CHECKING:  # pragma: no cover
    from revsim.plot.bowtie import bowtie_chart
    from revsim.plot.bridge import bridge_waterfall
    from revsim.plot.distribution import arr_distribution
    from revsim.plot.fan import fan_chart
    from revsim.plot.kpis import kpi_panel
    from revsim.plot.retention import cohort_heatmap, expected_retention, retention_curves, retention_heatmaps
    from revsim.plot.unavailable import ChartUnavailable

_LAZY = {
    "fan_chart": "revsim.plot.fan",
    "bridge_waterfall": "revsim.plot.bridge",
    "bowtie_chart": "revsim.plot.bowtie",
    "cohort_heatmap": "revsim.plot.retention",
    "expected_retention": "revsim.plot.retention",
    "retention_curves": "revsim.plot.retention",
    "kpi_panel": "revsim.plot.kpis",
    "arr_distribution": "revsim.plot.distribution",
    "retention_heatmaps": "revsim.plot.retention",
    "ChartUnavailable": "revsim.plot.unavailable",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
