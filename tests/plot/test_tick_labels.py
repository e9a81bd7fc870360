"""Every number on an axis is the value of its tick, and no two texts of a chart overlap, on every example.

A tick label rounded away from its position misleads a reader ("92%" on the gridline at 92.5% puts
"NRR 92%" below the line that says 92%). The checks parse each tick label back to a number and compare it
with the tick's position; the layout checks measure every text's box on the rendered figure.
"""

from __future__ import annotations

import numpy as np
import pytest
from layout import layout_problems, parse_tick_label, tick_label_problems
from matplotlib.figure import Figure
from test_charts_render import CHARTS, _figure

import revsim
from revsim.plot import style

@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_tick_labels_are_their_ticks_values(example, chart: str) -> None:
    with style.offscreen():
        fig = _figure(CHARTS[chart](example))
    assert tick_label_problems(fig) == []


@pytest.mark.parametrize(("low", "high"), [(0.80, 1.0), (0.815, 0.96), (0.9995, 1.0005), (0.0, 0.04), (0.3, 1.7)])
def test_percent_axis_writes_every_tick_exactly(low: float, high: float) -> None:
    with style.offscreen():
        fig, ax = style.house_figure(None, "percentages")
        ax.plot([0, 1], [low, high])
        ax.set_ylim(low, high)
        style.percent_axis(ax)
    assert tick_label_problems(fig) == []
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels


def test_the_nrr_chart_has_no_rounded_gridline(sales_led) -> None:
    # the issue as reported: NRR between 82% and 95% had a "92%" gridline at 92.5%
    with style.offscreen():
        ax = revsim.plot.retention_curves(sales_led)
    tick_label_problems(ax.figure)  # draws the figure, so that the labels are set
    for tick in ax.yaxis.get_major_ticks():
        text = tick.label1.get_text()
        if text:
            assert parse_tick_label(text) == pytest.approx(tick.get_loc(), abs=1e-12), text


@pytest.mark.parametrize("text, value", [("92%", 0.92), ("92.5%", 0.925), ("\u22122%", -0.02), ("$1.25M", 1.25e6),
                                         ("1,5 M EUR", 1.5e6), ("\u2212$850k", -850e3), ("+$1M", 1e6),
                                         ("1,200", 1200.0), ("0", 0.0), ("\u20ac300k", 300e3), ("Jan 2027", None),
                                         ("Lead", None)])
def test_tick_label_parser(text: str, value: float | None) -> None:
    parsed = parse_tick_label(text)
    assert parsed == (None if value is None else pytest.approx(value))


def test_the_checker_catches_a_rounded_label() -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    with style.offscreen():
        fig, ax = style.house_figure(None, "rounded")
        ax.set_ylim(0.9, 0.95)
        ax.yaxis.set_major_locator(MultipleLocator(0.025))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:.0f}%"))
    problems = tick_label_problems(fig)
    assert any("92%" in p for p in problems), problems


@pytest.fixture(scope="module")
def whatif_charts(example_runs) -> dict[str, Figure]:
    """The compare and tornado charts of the sales-led example and of the long-names company (few draws)."""
    from tests_paths import LONG_NAMES, SALES_LED

    figures = {}
    for name, path, levers in (("sales_led", SALES_LED, ["mql_plus_3pts", "two_more_reps+price_up_5pct",
                                                         "retention.*.churn=-20%"]),
                               ("long_names", LONG_NAMES, ["expansion.rate=+50%"])):
        figures[f"{name}_compare"] = revsim.compare(path, levers=levers, draws=60, seed=3).plot()
        figures[f"{name}_tornado"] = revsim.sensitivity(path, draws=60, seed=3, top=3).plot()
    return figures


@pytest.mark.parametrize("chart", ["sales_led_compare", "sales_led_tornado", "long_names_compare",
                                   "long_names_tornado"])
def test_whatif_charts_are_clean(whatif_charts, chart: str) -> None:
    fig = whatif_charts[chart]
    assert tick_label_problems(fig) == []
    assert layout_problems(fig) == []


def test_tornado_and_compare_name_inputs_and_levers_for_readers(whatif_charts) -> None:
    from layout import all_texts

    tornado = " | ".join(all_texts(whatif_charts["sales_led_tornado"]))
    assert "funnel.stages" not in tornado and "conversion" in tornado  # "MQL conversion", not the path
    assert "%" in tornado  # the inputs' values at P10 and P90 in their unit
    compare = " | ".join(all_texts(whatif_charts["sales_led_compare"])).replace("\n", " ")
    assert "MQL -> SQL conversion three points higher" in compare  # the lever's description, not its id
    assert "mql_plus_3pts" not in compare
    assert "Churn per renewal (every segment) -20%" in compare  # an ad-hoc lever, named by its input


def test_report_pages_of_every_example_are_clean(example) -> None:
    from revsim.report.build import report_targets
    from revsim.report.pages import assumptions_page, summary_page

    with style.offscreen():
        pages = [summary_page(example, report_targets(example, [30e6]), ["ARR forecast"]), assumptions_page(example)]
    for fig in pages:
        assert layout_problems(fig) == []


def test_report_pages_fit_long_names(example_runs) -> None:
    from layout import all_texts

    from revsim.report.build import report_targets
    from revsim.report.pages import assumptions_page, summary_page

    ds = example_runs["long_names_small_book"]
    with style.offscreen():
        summary = summary_page(ds, report_targets(ds), ["ARR forecast"])
        assumptions = assumptions_page(ds)
    for fig in (summary, assumptions):
        assert layout_problems(fig) == []
        texts = " ".join(all_texts(fig)).replace("\n", " ")
        assert "\u2026" not in texts, "a name was cut"
    assert "Board-approved stretch target for annual recurring revenue at the end of the plan" in \
        " ".join(all_texts(summary)).replace("\n", " ")
    assert np.isfinite(ds["arr"].values).all()
