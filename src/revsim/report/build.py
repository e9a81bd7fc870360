"""Assembling a report: which charts a run supports, rendering them, and writing every file atomically.

A report is the chart files (one per chart and format), ``report.pdf`` (a summary page, every chart, the key
assumptions) and ``forecast.xlsx``. A chart that needs data the run does not have is skipped with a note
(printed, and listed on the PDF's first page), never an error.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.errors import InputError
from revsim.plot import style
from revsim.plot.targets import ChartTarget, arr_target, scenario_targets

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.figure import Figure

__all__ = ["CHART_FORMATS", "PDF_NAME", "WORKBOOK_NAME", "Chart", "ReportResult", "parse_formats", "parse_period",
           "plan_charts", "render_charts", "write_report", "check_report_dir", "report_targets", "same_goal",
           "missing_kpi_notes"]

CHART_FORMATS = ("png", "svg", "pdf")
PDF_NAME = "report.pdf"
WORKBOOK_NAME = "forecast.xlsx"
#: Files a report may write besides the two above, to refuse overwriting them without ``force``.
_CHART_PATTERNS = ("arr_fan.*", "arr_bridge_*.*", "bowtie.*", "retention.*", "nrr_grr.*", "kpis.*",
                   "arr_distribution_*.*", "team_*.*", "targets.*", "aarrr.*", "north_star.*")


@dataclass
class Chart:
    """One chart of the report: its file name (without extension), its title in the contents, its drawing."""

    name: str
    title: str
    draw: Callable[[], Figure]
    appendix: bool = False  # a RevOps page: after the key assumptions, one line in the contents


@dataclass
class ReportResult:
    """What a report wrote, and the charts it skipped (with why)."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"png,svg"`` -> ``("png", "svg")``; an unknown format is an :class:`InputError`."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = tuple(dict.fromkeys(item.strip().lower().lstrip(".") for item in items if item.strip()))
    unknown = [f for f in formats if f not in CHART_FORMATS]
    if unknown or not formats:
        raise InputError.single(f"unknown chart format '{', '.join(unknown) or text}'; choose from "
                                f"{', '.join(CHART_FORMATS)} (comma-separated)", path=("--format",))
    return formats


def parse_period(ds: xr.Dataset, text: str) -> tuple[int, int]:
    """``2028-01:2028-12`` -> month positions; an :class:`InputError` when malformed or outside the run."""
    from revsim.plot.bridge import resolve_period

    parts = text.split(":")
    if len(parts) != 2:
        raise InputError.single(f"expected a period FROM:TO like 2028-01:2028-12, got '{text}'", path=("--period",))
    try:
        return resolve_period(ds, (parts[0].strip(), parts[1].strip()))
    except ValueError as exc:
        raise InputError.single(f"'{text}': {exc}", path=("--period",)) from None


def report_targets(ds: xr.Dataset, extra: Sequence[float | ChartTarget] = ()) -> list[ChartTarget]:
    """The scenario's targets, then the extra ARR targets (values at the horizon, or targets) that are not
    already among them (``--target 30M`` on a scenario with a 30M target at the horizon adds nothing)."""
    targets = scenario_targets(ds)
    for item in extra:
        target = item if isinstance(item, ChartTarget) else arr_target(ds, float(item))
        if not any(same_goal(target, known) for known in targets):
            targets.append(target)
    return targets


def same_goal(a: ChartTarget, b: ChartTarget) -> bool:
    """Whether two targets are the same goal: the same metric, value, month and direction (names aside)."""
    return (a.metric, a.at, a.direction) == (b.metric, b.at, b.direction) and abs(a.value - b.value) <= \
        1e-9 * max(abs(a.value), abs(b.value), 1.0)


def plan_charts(ds: xr.Dataset, *, targets: Sequence[ChartTarget], periods: Sequence[tuple[int, int]] | None = None,
                scenario: Any = None) -> list[Chart]:
    """The charts of the report, in page order."""
    from revsim.plot.bowtie import bowtie_chart
    from revsim.plot.bridge import bridge_waterfall, default_periods, period_label
    from revsim.plot.distribution import arr_distribution, distribution_months
    from revsim.plot.draws import is_quantile_form
    from revsim.plot.fan import fan_chart
    from revsim.plot.kpis import kpi_panel
    from revsim.plot.retention import retention_curves, retention_heatmaps

    months = ds["month"].values
    charts = [Chart("arr_fan", "ARR forecast: median and ranges, targets",
                    lambda: fan_chart(ds, targets=targets).figure)]
    for first, last in periods or default_periods(ds):
        name = f"arr_bridge_{str(months[first])[:7]}_{str(months[last])[:7]}"
        charts.append(Chart(name, f"ARR bridge, {period_label(ds, (first, last))}",
                            lambda p=(first, last): bridge_waterfall(ds, p).figure))
    charts.append(Chart("bowtie", "Bowtie: funnel, customers and loops",
                        lambda: bowtie_chart(ds, scenario=scenario).figure))
    charts.append(Chart("retention", "Retention by age", lambda: retention_heatmaps(ds, scenario=scenario)))
    charts.append(Chart("nrr_grr", "NRR and GRR", lambda: retention_curves(ds).figure))
    charts.append(Chart("kpis", "KPI panel", lambda: kpi_panel(ds).figure))
    if is_quantile_form(ds):  # one note for the histograms, which need every draw
        charts.append(Chart("arr_distribution", "ARR distribution", lambda: arr_distribution(ds, -1)))
        return charts + revops_charts(ds, scenario)
    for index in distribution_months(ds, targets):
        month = str(months[index])[:7]
        charts.append(Chart(f"arr_distribution_{month}", f"ARR distribution, {style.month_label(month)}",
                            lambda i=index: arr_distribution(ds, i, targets=targets).figure))
    return charts + revops_charts(ds, scenario)


def revops_charts(ds: xr.Dataset, scenario: Any = None) -> list[Chart]:
    """The team, targets, AARRR and North Star pages (:mod:`revsim.report.revops_pages`); none, with a note,
    when the run's scenario is not available."""
    from revsim.errors import RevsimError
    from revsim.plot.unavailable import ChartUnavailable
    from revsim.report.revops_pages import revops_sections
    from revsim.revops.compute import run_kpis

    try:
        run = run_kpis(ds, scenario=scenario)
    except RevsimError as exc:
        reason = str(exc.problems[0].message if getattr(exc, "problems", None) else exc)

        def unavailable() -> Figure:
            raise ChartUnavailable(reason)

        return [Chart("team_pages", "Team KPIs and targets", unavailable, appendix=True)]
    return [Chart(name, title, draw, appendix=True) for name, title, draw in revops_sections(run)]


def render_charts(charts: Sequence[Chart]) -> tuple[list[tuple[Chart, Figure]], list[str]]:
    """Draw each chart off screen; a chart whose data the run lacks becomes a note instead."""
    from revsim.plot.unavailable import ChartUnavailable

    drawn, notes = [], []
    with style.offscreen():
        for chart in charts:
            try:
                drawn.append((chart, chart.draw()))
            except ChartUnavailable as exc:
                notes.append(f"{chart.title} skipped: {exc}.")
    return drawn, notes


def missing_kpi_notes(ds: xr.Dataset) -> list[str]:
    """One note per missing input of the KPI panel: ``KPI panel: CAC, LTV...: the run has no costs block.``"""
    from revsim.plot.kpis import missing_kpis

    needs: dict[str, list[str]] = {}
    for name, need in missing_kpis(ds):
        needs.setdefault(need, []).append(name.split(" (")[0])
    return [f"KPI panel without {', '.join(names)}: the run has no {need.removeprefix('a ')}."
            for need, names in needs.items()]


def check_report_dir(out_dir: Path, *, force: bool, names: Sequence[str] = ()) -> None:
    """Refuse to replace an earlier report in ``out_dir`` without ``force`` (as ``revsim run`` does)."""
    from revsim.results.output_dir import check_output_dir

    check_output_dir(out_dir, sorted({PDF_NAME, WORKBOOK_NAME, *names} | _report_files(out_dir)), force=force)


def _report_files(out_dir: Path) -> set[str]:
    """The chart files of a report already in ``out_dir`` (named as this module names them)."""
    if not out_dir.is_dir():
        return set()
    return {Path(p).name for pattern in _CHART_PATTERNS for p in glob.glob(str(out_dir / pattern))
            if Path(p).suffix.lstrip(".") in CHART_FORMATS}


def _save(figure: Figure, fmt: str) -> Callable[[Path], None]:
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]

    def write(path: Path) -> None:
        figure.savefig(path, format=fmt, dpi=style.DPI, metadata=metadata)

    return write


def _pdf_writer(ds: xr.Dataset, figures: Sequence[Figure]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        from matplotlib.backends.backend_pdf import PdfPages

        metadata = {"Title": f"revsim forecast: {ds.attrs.get('scenario_name', '')}", "Author": "revsim",
                    "Subject": "Revenue forecast", "Creator": "revsim", "CreationDate": None}
        with PdfPages(path, metadata=metadata) as pdf:
            for figure in figures:
                pdf.savefig(figure)

    return write


def write_report(ds: xr.Dataset, out_dir: str | Path, *, formats: Sequence[str] = ("png",),
                 targets: Sequence[float | ChartTarget] = (), periods: Sequence[tuple[int, int]] | None = None,
                 scenario: Any = None, force: bool = False) -> ReportResult:
    """Write the charts, ``report.pdf`` and ``forecast.xlsx`` of a run into ``out_dir``.

    Parameters
    ----------
    ds
        Results of a run.
    out_dir
        Directory to write into (created if needed). Existing report files are replaced only with ``force``.
    formats
        Formats of the chart files: ``png``, ``svg``, ``pdf``.
    targets
        Extra ARR targets at the horizon (values), or :class:`~revsim.plot.targets.ChartTarget` objects, on top of
        the scenario's.
    periods
        Periods of the ARR bridge as (first, last) month positions; default the first 12 months and the whole
        horizon.
    scenario
        The run's scenario (loaded or its file), for the retention heatmap and the loops of the bowtie; default
        the run's ``scenario_file`` when it is found unchanged.
    force
        Replace an earlier report in ``out_dir``: its files are overwritten, and its chart files this report
        does not write (other formats, other periods or months) are removed.

    Returns
    -------
    ReportResult
        The written files and the notes of skipped charts.
    """
    from revsim.report.pages import assumptions_page, summary_page
    from revsim.report.workbook import write_workbook
    from revsim.results.output_dir import write_files

    out_dir = Path(out_dir)
    formats = parse_formats(formats)
    chosen = report_targets(ds, targets)
    charts = plan_charts(ds, targets=chosen, periods=periods, scenario=scenario)
    names = [f"{c.name}.{fmt}" for c in charts for fmt in formats]
    check_report_dir(out_dir, force=force, names=names)

    drawn, notes = render_charts(charts)
    notes += missing_kpi_notes(ds)
    main = [(chart, figure) for chart, figure in drawn if not chart.appendix]
    appendix = [(chart, figure) for chart, figure in drawn if chart.appendix]
    with style.offscreen():
        assumptions = assumptions_page(ds)
        titles = [chart.title for chart, _ in main] + ["Key assumptions"]
        contents = titles + ([f"Teams, targets, AARRR (to page {len(titles) + 1 + len(appendix)})"] if appendix else [])
        summary = summary_page(ds, chosen, contents, notes)
    writers: dict[str, Callable[[Path], None]] = {}
    for chart, figure in drawn:
        for fmt in formats:
            writers[f"{chart.name}.{fmt}"] = _save(figure, fmt)
    writers[PDF_NAME] = _pdf_writer(ds, [summary, *(f for _, f in main), assumptions, *(f for _, f in appendix)])
    writers[WORKBOOK_NAME] = lambda path: write_workbook(ds, path, chosen)
    stale = _report_files(out_dir) - set(writers)
    written = write_files(out_dir, writers)
    for name in sorted(stale):  # charts of the earlier report this one replaces (other formats or periods)
        (out_dir / name).unlink(missing_ok=True)
    return ReportResult(written=written, notes=notes, pages=["Summary", *titles, *(c.title for c, _ in appendix)])
