"""The numbers printed on the charts are the dataset's numbers.

Expected values are computed here directly from the Dataset's variables, not through the chart modules, so a
chart that reads the wrong month, variable or statistic fails.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from layout import all_texts

import revsim.plot
from revsim.plot import style
from revsim.plot.money import format_money, format_percent
from revsim.plot.targets import arr_target


def _texts_with_gid(fig, prefix: str) -> dict[str, str]:
    found = fig.findobj(lambda artist: (artist.get_gid() or "").startswith(prefix))
    return {t.get_gid()[len(prefix):]: t.get_text() for t in found}


def _share(values: np.ndarray, threshold: float) -> int:
    return round(100 * float(np.mean(values >= threshold)))


def _printed_percent(text: str) -> int:
    match = re.search(r"(\d+)% (chance|reach)", text)
    assert match, text
    return int(match.group(1))


def test_waterfall_labels_are_the_dataset_means(example) -> None:
    ds = example
    currency = ds.attrs["currency"]
    arr = ds["arr"].sum("segment")
    for first, last in ((0, 11), (0, ds.sizes["month"] - 1)):
        window = slice(first, last + 1)
        start = float(ds["initial_arr"].sum())
        flows = {name: float(ds[var].sum("segment").isel(month=window).sum("month").mean())
                 for name, var in (("new", "new_arr"), ("expansion", "expansion_arr"),
                                   ("contraction", "contraction_arr"), ("churn", "churned_arr"))}
        end = float(arr.isel(month=last).mean())
        assert start + flows["new"] + flows["expansion"] - flows["contraction"] - flows["churn"] == \
            pytest.approx(end, rel=1e-9), "the bridge closes in the data"
        with style.offscreen():
            labels = _texts_with_gid(revsim.plot.bridge_waterfall(ds, (first, last)).figure, "bridge-value-")
        assert labels["start"] == format_money(start, currency)
        assert labels["end"] == format_money(end, currency)
        assert labels["new"] == format_money(flows["new"], currency, signed=True)
        assert labels["expansion"] == format_money(flows["expansion"], currency, signed=True)
        assert labels["contraction"] == format_money(-flows["contraction"], currency, signed=True)
        assert labels["churn"] == format_money(-flows["churn"], currency, signed=True)


def test_fan_chart_prints_the_share_of_draws_above_each_target(example) -> None:
    ds = example
    targets = [t for t in json.loads(ds.attrs["targets"]) if t["metric"] == "arr"]
    assert targets, "every example has an ARR target"
    with style.offscreen():
        texts = [t for t in all_texts(revsim.plot.fan_chart(ds).figure) if "chance" in t]
    assert len(texts) == len(targets)
    months = [str(m)[:7] for m in ds["month"].values]
    for target in targets:
        at = target["at"] or months[-1]
        values = ds["arr"].sum("segment").isel(month=months.index(at)).values
        printed = [t for t in texts if t.startswith(format_money(target["value"], ds.attrs["currency"]) + " by")]
        assert len(printed) == 1, texts
        assert _printed_percent(printed[0]) == _share(values, target["value"])


def test_command_line_target_on_fan_and_distribution(sales_led) -> None:
    ds = sales_led
    end = ds["arr"].sum("segment").isel(month=-1).values
    value = float(np.quantile(end, 0.3))  # a target about 70% of draws reach
    target = arr_target(ds, value)
    with style.offscreen():
        fan = all_texts(revsim.plot.fan_chart(ds, targets=[target]).figure)
        dist = all_texts(revsim.plot.arr_distribution(ds, targets=[target]).figure)
    money = format_money(value, ds.attrs["currency"])
    assert [_printed_percent(t) for t in fan if t.startswith(money)] == [_share(end, value)]
    assert [_printed_percent(t) for t in dist if t.strip().endswith(money)] == [_share(end, value)]


def test_distribution_shades_the_scenario_targets(example) -> None:
    ds = example
    with style.offscreen():
        texts = all_texts(revsim.plot.arr_distribution(ds).figure)
    end = ds["arr"].sum("segment").isel(month=-1).values
    months = [str(m)[:7] for m in ds["month"].values]
    for target in json.loads(ds.attrs["targets"]):
        if target["metric"] == "arr" and (target["at"] or months[-1]) == months[-1]:
            money = format_money(target["value"], ds.attrs["currency"])
            # the label sits right of the target's line ("  30% reach $20M") or, without room, left ("... $20M  ")
            printed = [_printed_percent(t) for t in texts if t.strip().endswith(f"reach {money}")]
            assert printed == [_share(end, target["value"])]


def test_kpi_panel_prints_the_medians(example) -> None:
    ds = example
    with style.offscreen():
        medians = _texts_with_gid(revsim.plot.kpi_panel(ds).figure, "kpi-median-")
    last = str(ds["month"].values[-1])[:7]
    assert medians[f"nrr_12m-{last}"] == format_percent(float(np.nanmedian(ds["nrr_12m"].isel(month=-1))))
    assert medians[f"grr_12m-{last}"] == format_percent(float(np.nanmedian(ds["grr_12m"].isel(month=-1))))
    month12 = str(ds["month"].values[11])[:7]
    if "cac" in ds:
        assert medians[f"cac-{month12}"] == format_money(float(np.nanmedian(ds["cac"].isel(month=11))),
                                                         ds.attrs["currency"])
    assert not any(key.startswith("pipeline_coverage") for key in medians) or "pipeline_coverage" in ds


def test_bowtie_conversions_are_the_realised_ones(example) -> None:
    ds = example
    window = slice(ds.sizes["month"] - 12, ds.sizes["month"])
    with style.offscreen():
        fig = revsim.plot.bowtie_chart(ds).figure
    conversions = _texts_with_gid(fig, "bowtie-conversion-")
    values = _texts_with_gid(fig, "bowtie-value-")
    converted = ds["stage_converted"].sum("segment").isel(month=window).sum("month")
    lost = ds["stage_lost"].sum("segment").isel(month=window).sum("month")
    for stage in [str(s) for s in ds["stage"].values[:-1]]:
        rate = float(np.median(converted.sel(stage=stage) / (converted + lost).sel(stage=stage)))
        assert conversions[stage] == format_percent(rate, decimals=1 if rate < 0.1 else 0)
    won = float(np.median(ds["new_customers"].sum("segment").isel(month=window).sum("month")))
    assert values["knot"] == f"{won:,.0f}"
    loops = _texts_with_gid(fig, "bowtie-loop-")
    assert sorted(loops) == sorted(str(lp) for lp in ds["loop"].values)
    for loop, text in loops.items():
        entries = float(np.median(ds["loop_entries"].sel(loop=loop).isel(month=window).sum("month")))
        assert f"{entries:,.0f} entries" in text, text
        assert "of " in text and "entries" in text  # the share of the target stage: the scenario was found


def test_money_axes_follow_the_currency(sales_led) -> None:
    ds = sales_led.copy()
    ds.attrs = {**sales_led.attrs, "currency": "EUR"}
    with style.offscreen():
        ax = revsim.plot.fan_chart(ds)
    assert ax.yaxis.get_major_formatter()(1_200_000, 0) == "1,2 M EUR"
    assert any("M EUR" in t for t in all_texts(ax.figure))
