"""``write_report``: the files, the PDF's pages and the workbook's sheets and numbers."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from revsim.errors import InputError
from revsim.plot import style
from revsim.report.build import missing_kpi_notes, plan_charts, render_charts, report_targets, write_report
from revsim.report.pages import summary_page
from revsim.report.results_file import open_results
from revsim.report.workbook import SHEETS

#: A phrase of each page of the sales-led report, in page order.
SALES_LED_PAGES = [
    "Northwind Analytics",          # summary
    "ARR grows from",               # fan chart
    "in the first 12 months",       # bridge, first year
    "over 36 months",               # bridge, whole horizon
    "for every customer won",       # bowtie
    "remain after 2 years",         # retention heatmaps
    "NRR ends",                     # NRR and GRR
    "Net revenue retention",        # KPI panel
    "chance of reaching $30M",      # distribution at the horizon
    "chance of reaching $20M",      # distribution at the 2028-12 target
    "most correlated with ARR",      # key assumptions
    "MQL entries grows from",       # marketing (the appendix of team pages)
    "New ARR grows from",           # sales
    "Net revenue retention",        # customer success
    "ARR grows from",               # finance
    "targets are reached together", # targets
    "customers activated from",     # AARRR
    "North Star: Net new ARR",      # North Star
]


def _text(page) -> str:
    return re.sub(r"\s+", " ", page.extract_text())


@pytest.fixture(scope="module")
def sales_led_report(sales_led_results: Path, tmp_path_factory: pytest.TempPathFactory):
    ds = open_results(sales_led_results)
    out = tmp_path_factory.mktemp("report") / "report"
    result = write_report(ds, out, formats=["png"], targets=[25e6])
    return ds, out, result


def test_report_writes_every_file(sales_led_report) -> None:
    _, out, result = sales_led_report
    names = sorted(p.name for p in out.iterdir())
    assert "report.pdf" in names and "forecast.xlsx" in names
    charts = [n for n in names if n.endswith(".png")]
    assert len(charts) == 16 and len(names) == 18
    assert {"team_marketing.png", "team_sales.png", "team_customer_success.png", "team_finance.png", "targets.png",
            "aarrr.png", "north_star.png"} <= set(charts)
    assert not [n for n in names if n.endswith(".partial")]
    assert result.notes == []
    assert sorted(p.name for p in result.written) == names


def test_pdf_has_the_expected_pages(sales_led_report) -> None:
    ds, out, result = sales_led_report
    reader = PdfReader(out / "report.pdf")
    texts = [_text(page) for page in reader.pages]
    assert len(texts) == len(SALES_LED_PAGES) == len(result.pages)
    for text, phrase in zip(texts, SALES_LED_PAGES, strict=True):
        assert phrase in text, (phrase, text[:200])
    assert all("seed 2" in t and "120 draws" in t for t in texts), "every page has the source line"
    assert reader.metadata.title == "revsim forecast: Northwind Analytics (sales-led B2B)"


def test_pdf_summary_prints_each_targets_probability(sales_led_report) -> None:
    ds, out, _ = sales_led_report
    summary = _text(PdfReader(out / "report.pdf").pages[0])
    end = ds["arr"].sum("segment").isel(month=-1).values
    december_2028 = ds["arr"].sum("segment").sel(month="2028-12").values.ravel()
    printed = [int(p) for p in re.findall(r"(\d+)% of draws reach it", summary)]
    assert printed[:2] == [round(100 * np.mean(december_2028 >= 20e6)), round(100 * np.mean(end >= 30e6))]
    from revsim.revops.targets import target_report

    evaluated = [round(100 * t.probability) for t in target_report(ds).targets]
    assert printed == [*evaluated, round(100 * np.mean(end >= 25e6))]  # the scenario's six, then --target 25M


def test_workbook_sheets_and_numbers(sales_led_report) -> None:
    ds, out, _ = sales_led_report
    wb = load_workbook(out / "forecast.xlsx")
    assert tuple(wb.sheetnames) == SHEETS
    arr = wb["ARR"]
    assert [c.value for c in arr[2]][:7] == ["", "Mean", "P5", "P10", "P50 (median)", "P90", "P95"] or \
        [c.value for c in arr[2]][1:7] == ["Mean", "P5", "P10", "P50 (median)", "P90", "P95"]
    values = ds["arr"].sum("segment")
    assert arr.max_row == 2 + ds.sizes["month"]
    for row, month in ((3, 0), (arr.max_row, -1)):
        assert arr.cell(row=row, column=1).value.strftime("%Y-%m") == str(ds["month"].values[month])[:7]
        assert arr.cell(row=row, column=5).value == pytest.approx(float(values.isel(month=month).quantile(0.5)))
        assert arr.cell(row=row, column=2).value == pytest.approx(float(values.isel(month=month).mean()))
    summary = wb["Summary"]
    probabilities = [row[5] for row in summary.iter_rows(values_only=True) if row and row[1] == "arr" and
                     isinstance(row[5], float)]
    end = values.isel(month=-1).values
    assert probabilities[-1] == pytest.approx(float(np.mean(end >= 25e6)))
    assumptions = wb["Assumptions"]
    inputs = [name for name in ds.data_vars if name.startswith("param_")]
    paths = {row[1] for row in assumptions.iter_rows(min_row=2, values_only=True) if row[1]}
    assert {ds[name].attrs["path"] for name in inputs} <= paths


def test_charts_without_their_data_become_notes(tiny_results: Path, tmp_path: Path) -> None:
    """No costs block, no quota, no scenario file: those charts and rows are skipped with a note."""
    ds = open_results(tiny_results)
    # the retention heatmap needs the scenario: neither its file nor a stored copy
    ds.attrs.update(scenario_file=str(tmp_path / "gone.yaml"), scenario_path="", scenario_json="")
    charts = plan_charts(ds, targets=report_targets(ds))
    drawn, notes = render_charts(charts)
    notes += missing_kpi_notes(ds)
    assert [c.name for c, _ in drawn] == [c.name for c in charts if c.name not in ("retention", "team_pages")]
    assert any(note.startswith("Retention by age skipped") and "not found" in note for note in notes)
    assert any(note.startswith("Team KPIs and targets skipped: KPIs need the run's scenario") for note in notes)
    assert any("no costs block" in note and "CAC" in note for note in notes)
    assert any("sales quota" in note for note in notes)
    with style.offscreen():
        page = summary_page(ds, report_targets(ds), [c.title for c, _ in drawn], notes)
    assert any("Retention by age skipped" in t.get_text() for t in page.texts)


def test_report_refuses_to_replace_without_force(sales_led_report, tmp_path: Path) -> None:
    ds, out, _ = sales_led_report
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    with pytest.raises(InputError, match="--force"):
        write_report(ds, copy)
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before


def test_summary_lists_six_targets_and_counts_the_others(sales_led_report) -> None:
    """More targets than the summary page holds: six, then how many more the targets page lists."""
    from revsim.plot.targets import arr_target

    ds, _, _ = sales_led_report
    targets = [arr_target(ds, value) for value in (10e6, 12e6, 14e6, 16e6, 18e6, 20e6, 22e6, 24e6, 26e6)]
    with style.offscreen():
        page = summary_page(ds, targets, ["ARR forecast"], [])
    texts = [t.get_text() for t in page.texts]
    assert sum(t.endswith("of draws reach it") for t in texts) == 6
    assert "and 3 more: every target is on the targets page" in texts
