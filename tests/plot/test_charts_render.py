"""Every chart renders for every example scenario, headless, with no clipped or overlapping text."""

from __future__ import annotations

import pytest
from layout import all_texts, layout_problems
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

import revsim.plot
from revsim.plot import style
from revsim.plot.bridge import default_periods
from revsim.plot.distribution import distribution_months

CHARTS = {
    "fan_chart": lambda ds: revsim.plot.fan_chart(ds),
    "bridge_first_year": lambda ds: revsim.plot.bridge_waterfall(ds, default_periods(ds)[0]),
    "bridge_horizon": lambda ds: revsim.plot.bridge_waterfall(ds),
    "bowtie_chart": lambda ds: revsim.plot.bowtie_chart(ds),
    "retention_heatmaps": lambda ds: revsim.plot.retention_heatmaps(ds),
    "retention_curves": lambda ds: revsim.plot.retention_curves(ds),
    "kpi_panel": lambda ds: revsim.plot.kpi_panel(ds),
    "arr_distribution": lambda ds: revsim.plot.arr_distribution(ds),
}


def _figure(drawn) -> Figure:
    return drawn if isinstance(drawn, Figure) else drawn.figure


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_chart_renders_cleanly(example, chart: str) -> None:
    with style.offscreen():
        fig = _figure(CHARTS[chart](example))
    assert layout_problems(fig) == []  # draws the figure with Agg: every artist renders
    texts = all_texts(fig)
    assert any(example.attrs["scenario_name"] in t and "seed 1" in t and "200 draws" in t for t in texts), \
        "the source line names the scenario, seed and draws"


def test_every_target_month_gets_a_distribution_that_renders(sales_led) -> None:
    months = distribution_months(sales_led)
    assert len(months) == 2  # the horizon and the 2028-12 target
    with style.offscreen():
        for month in months:
            assert layout_problems(revsim.plot.arr_distribution(sales_led, month).figure) == []


def test_charts_draw_into_given_axes_and_through_pyplot(sales_led) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(16, 10))
    assert revsim.plot.fan_chart(sales_led, ax=axes[0, 0]) is axes[0, 0]
    assert revsim.plot.bridge_waterfall(sales_led, ax=axes[0, 1]) is axes[0, 1]
    assert revsim.plot.arr_distribution(sales_led, ax=axes[1, 0]) is axes[1, 0]
    assert revsim.plot.kpi_panel(sales_led, ax=axes[1, 1]) is axes[1, 1]
    assert not [t for t in fig.texts if "Source:" in t.get_text()], "a given figure is not signed or titled"
    ax = revsim.plot.fan_chart(sales_led)  # no ax and not off screen: a pyplot figure, as in a notebook
    assert isinstance(ax, Axes) and ax.figure.number in plt.get_fignums()


def test_layout_check_catches_overlaps_and_clipping() -> None:
    """The layout check itself: it must fail on the faults it is meant to find."""
    fig = Figure(figsize=(4, 3))
    fig.text(0.1, 0.5, "overlapping text")
    fig.text(0.12, 0.5, "overlapping text")
    fig.text(0.9, 0.9, "runs off the page")
    problems = layout_problems(fig)
    assert any(p.startswith("overlap") for p in problems)
    assert any(p.startswith("clipped") for p in problems)
    assert all(isinstance(t, Text) for t in fig.texts)


def test_fan_chart_draws_history(sales_led) -> None:
    import matplotlib.dates as mdates
    import pandas as pd

    history = pd.Series([6.9e6, 7.3e6, 7.6e6, 8.0e6], index=["2026-09", "2026-10", "2026-11", "2026-12"])
    with style.offscreen():
        ax = revsim.plot.fan_chart(sales_led, history=history)
    assert "Actual" in all_texts(ax.figure)
    assert ax.get_xlim()[0] <= mdates.date2num(pd.Timestamp("2026-09-01"))
    assert layout_problems(ax.figure) == []


def test_fan_chart_reads_an_mrr_history(sales_led) -> None:
    """The MRR history of a calibration (months, MRR at month end per segment) is drawn as ARR."""
    from types import SimpleNamespace

    import numpy as np

    from revsim.plot.fan import history_of

    history = SimpleNamespace(months=["2026-11", "2026-12"], mrr=np.array([[300e3, 330e3], [310e3, 340e3]]))
    series = history_of(sales_led, history)
    assert list(series.values) == [12 * 630e3, 12 * 650e3]
    assert str(series.index[-1])[:7] == "2026-12"
