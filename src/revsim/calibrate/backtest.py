"""Backtests: calibrate on all but the last months of history, forecast those months, and score the forecast.

The forecast starts from the company as the history shows it at the cut: the initial book is the cohort
table's customers at that month (each cohort with its true age, its MRR from the table or its share of the
segment's MRR), the open pipeline is estimated from the last months' entries and the fitted times in stage,
and every calibrated input is drawn from the posterior of the calibration on the months before the cut.

Three series are scored month by month: ARR (12 x the MRR at month end), new customers (entries into the
last stage) and churned ARR (12 x churned MRR), each against three naive baselines (see
:mod:`revsim.calibrate.scores`): the coverage of the 50/80/90% intervals, the CRPS, and the absolute
percentage error of the median.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.history import History, month_index, month_label, read_history
from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.calibrate.calibration import Calibration
    from revsim.scenario.load import LoadedScenario

__all__ = ["Backtest", "backtest", "METRICS", "BACKTEST_FILE", "SUMMARY_FILE", "CHART_FILE"]

BACKTEST_FILE = "backtest.csv"
SUMMARY_FILE = "backtest_summary.csv"
CHART_FILE = "backtest.png"
#: metric -> (label, unit)
METRICS = {"arr": ("ARR", "currency"), "new_customers": ("new customers", "customers per month"),
           "churned_arr": ("churned ARR", "currency per month")}
MODEL = "revsim"


@dataclass
class Backtest:
    """A scored backtest: the month-by-month table, the summary, and what produced them."""

    table: pd.DataFrame
    summary: pd.DataFrame
    calibration: Calibration
    scenario_data: dict[str, Any]
    forecast: xr.Dataset
    series: dict[str, tuple[list[str], np.ndarray]]
    cut: str
    holdout: int
    notes: list[str] = field(default_factory=list)

    @property
    def gates(self) -> dict[str, Any]:
        """The diagnostics gate's decision for each origin (month of the cut -> :class:`Gate`)."""
        return {self.cut: self.calibration.gate} if self.calibration.gate is not None else {}

    @property
    def failed_origins(self) -> list[str]:
        """Origins whose calibration failed the gate and was not accepted."""
        return [cut for cut, gate in self.gates.items() if not (gate.passed or gate.accepted)]

    def write(self, out_dir: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
        """Write backtest.csv, backtest_summary.csv, backtest.png, and the scenario and posterior it ran."""
        from revsim.calibrate.calibration import DIAGNOSTICS_FILE, POSTERIOR_FILE, dump_yaml
        from revsim.results.output_dir import check_output_dir, write_files

        out = Path(out_dir)
        diagnostics = self.calibration.diagnostics.assign(origin=self.cut)
        writers = {
            BACKTEST_FILE: lambda p: self.table.to_csv(p, index=False, float_format="%.6g"),
            SUMMARY_FILE: lambda p: self.summary.to_csv(p, index=False, float_format="%.6g"),
            CHART_FILE: lambda p: draw_backtest(self, p),
            "backtest_scenario.yaml": lambda p: Path(p).write_text(
                f"# The forecast scored by revsim backtest: calibrated on history up to {self.cut}.\n"
                + dump_yaml(self.scenario_data), encoding="utf-8"),
            POSTERIOR_FILE: lambda p: self.calibration.written_idata().to_netcdf(str(p), engine="h5netcdf"),
            DIAGNOSTICS_FILE: lambda p: diagnostics.to_csv(p, index=False, float_format="%.6g"),
        }
        check_output_dir(out, list(writers), force=force)
        return write_files(out, writers)

    def summary_text(self) -> str:
        lines = [f"backtest: calibrated on history up to {self.cut}, forecast {self.holdout} month(s)"]
        lines += [f"diagnostics gate, origin {cut}: {gate.summary()}" for cut, gate in self.gates.items()]
        lines += [
                 f"{'metric':<15}{'method':<16}{'cover 50%':>10}{'80%':>7}{'90%':>7}{'CRPS':>14}{'MAPE':>8}"]
        for row in self.summary.itertuples():
            lines.append(f"{row.metric:<15}{row.method:<16}{row.coverage_50:>10.0%}{row.coverage_80:>7.0%}"
                         f"{row.coverage_90:>7.0%}{row.crps:>14,.4g}{row.mape:>8.1%}")
        return "\n".join(lines)


def metric_series(history: History, loaded: LoadedScenario, notes: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """The scored series over the whole history: ARR, new customers and churned ARR."""
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import _mrr_levels

    series: dict[str, tuple[list[str], np.ndarray]] = {}
    if history.mrr is not None:
        levels = _mrr_levels(history.mrr, context_from_scenario(loaded), notes)
        if levels is not None:
            series["arr"] = (history.mrr.months, 12.0 * levels.sum(axis=1))
        series["churned_arr"] = (history.mrr.months, 12.0 * history.mrr.churn.sum(axis=1))
    funnel = history.funnel
    last_stage = loaded.model.stage_names[-1]
    if funnel is not None and last_stage in funnel.stages:
        k = funnel.stages.index(last_stage)
        series["new_customers"] = (funnel.months, np.nansum(funnel.counts[:, k], axis=(1, 2)))
    return series


def _with_levels(history: History, loaded: LoadedScenario, notes: list[str]) -> History:
    """The history with the MRR at month end filled in (rebuilt from the scenario's book when missing)."""
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import _mrr_levels

    if history.mrr is None or history.mrr.mrr is not None:
        return history
    levels = _mrr_levels(history.mrr, context_from_scenario(loaded), [])
    if levels is None:
        return history
    return replace(history, mrr=replace(history.mrr, mrr=levels))


def book_at(history: History, loaded: LoadedScenario, cut: int) -> list[dict[str, Any]]:
    """The initial book at the end of month ``cut``: one entry per cohort still holding customers."""
    cohorts = history.cohorts
    if cohorts is None:
        raise InputError.single("a backtest needs cohorts.csv to know the customers at the cut (with cohorts "
                                "labelled by month, YYYY-MM)", path=("--history",))
    if not cohorts.dated:
        raise InputError.single("the cohorts must be labelled by their month (YYYY-MM) for a backtest: the "
                                "forecast starts from each cohort's customers and age at the cut", file=cohorts.file)
    segments = loaded.model.segment_names
    if cohorts.segments is None and len(segments) > 1:
        raise InputError.single("cohorts.csv has no segment column, but the scenario has several segments: a "
                                "backtest needs to know each cohort's segment", file=cohorts.file)
    p = cohorts.period_months
    entries = []
    for c, label in enumerate(cohorts.labels):
        start = int(cohorts.start[c])
        if start > cut:
            continue
        period = (cut - start) // p
        row = cohorts.customers[c]
        observed = int(np.sum(np.isfinite(row)))
        if period >= observed:
            period = observed - 1
        customers = float(row[period])
        if customers <= 0:
            continue
        seg = cohorts.segment_names[int(cohorts.segment[c])] if cohorts.segments is not None else segments[0]
        mrr = float(cohorts.mrr[c, period]) if cohorts.mrr is not None and np.isfinite(cohorts.mrr[c, period]) else None
        entries.append({"segment": seg, "customers": int(customers), "mrr": mrr, "age_months": cut + 1 - start,
                        "label": label})
    if not entries:
        raise InputError.single(f"no cohort holds customers at {month_label(cut)}: nothing to forecast from",
                                file=cohorts.file)
    # MRR of cohorts without it: their share (by customers) of the segment's MRR at the cut
    mrr = history.mrr
    for seg in {e["segment"] for e in entries}:
        group = [e for e in entries if e["segment"] == seg and e["mrr"] is None]
        if not group:
            continue
        level = None
        if mrr is not None and mrr.mrr is not None and month_label(cut) in mrr.months:
            t = mrr.months.index(month_label(cut))
            level = float(mrr.mrr[t].sum()) if mrr.segments is None else (
                float(mrr.mrr[t, mrr.segments.index(seg)]) if seg in mrr.segments else None)
            if mrr.segments is None and len(segments) > 1:
                total = sum(e["customers"] for e in entries)
                level = level * sum(e["customers"] for e in entries if e["segment"] == seg) / total
        if level is None:
            raise InputError.single(f"cannot tell the MRR of segment {seg} at {month_label(cut)}: give mrr.csv with "
                                    "an mrr column, or an mrr column in cohorts.csv", path=("--history",))
        growth = _net_expansion(mrr, seg, cut)
        weights = [e["customers"] * (1 + growth) ** e["age_months"] for e in group]
        total = sum(weights)
        for e, w in zip(group, weights, strict=True):
            e["mrr"] = level * w / total
    book = []
    for e in entries:
        item = {"segment": e["segment"], "customers": e["customers"], "mrr": round(e["mrr"], 2),
                "age_months": e["age_months"]}
        if len(segments) == 1:
            item.pop("segment")
        book.append(item)
    return book


def _net_expansion(mrr: Any, segment: str, cut: int) -> float:
    """Mean monthly (expansion - contraction) / MRR of a segment up to ``cut``: older cohorts' MRR per customer
    has grown by it every month, so a segment's MRR is shared among cohorts in proportion to
    ``customers x (1 + rate) ** age``."""
    if mrr is None or mrr.mrr is None:
        return 0.0
    s = mrr.segments.index(segment) if mrr.segments is not None and segment in mrr.segments else None
    months = [i for i, m in enumerate(mrr.months) if month_index(m) <= cut and i > 0]
    pick = (lambda a: a[:, s]) if s is not None else (lambda a: a.sum(axis=1))  # noqa: E731
    before = pick(mrr.mrr)[[i - 1 for i in months]]
    net = pick(mrr.expansion)[months] - pick(mrr.contraction)[months]
    used = before > 0
    return float(np.mean(net[used] / before[used])) if used.any() else 0.0


def open_pipeline(calibration: Calibration, history: History, cut: int) -> dict[str, Any]:
    """Members open in each stage at the end of month ``cut``, from the entries and the fitted times in stage."""
    fit = calibration.fit
    block = fit.block("funnel")
    funnel = history.funnel
    if block is None or funnel is None or "months_in_stage" not in fit.posterior:
        return {}
    months = fit.posterior["months_in_stage"].median(("chain", "draw"))
    t_cut = funnel.months.index(month_label(cut)) if month_label(cut) in funnel.months else len(funnel.months) - 1
    out: dict[str, Any] = {}
    for stage in block.data.stages:
        k = funnel.stages.index(stage)
        per_segment = {}
        for s, seg in enumerate(funnel.segment_names):
            m = float(months.sel(stage=stage, segment=seg)) if "segment" in months.dims else \
                float(months.sel(stage=stage))
            h = 1.0 / (1.0 + m)
            entries = np.nansum(funnel.counts[: t_cut + 1, k, s], axis=-1)[::-1]  # cut, cut-1, ...
            stock = float(np.sum(entries * (1 - h) ** (np.arange(entries.size) + 1)))
            per_segment[seg] = int(round(stock))
        out[stage] = per_segment if funnel.segments is not None else per_segment["all"]
    return out


def backtest(
    scenario: str | os.PathLike[str] | LoadedScenario,
    history: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    holdout: int,
    *,
    sampler: str = "nutpie",
    draws: int = 500,
    tune: int = 500,
    chains: int = 4,
    seed: int = 0,
    cores: int | None = None,
    retention: str = "auto",
    period_months: int = 1,
    simulation_draws: int = 1000,
    announce: Callable[[str], None] | None = None,
    accept_diagnostics: bool = False,
) -> Backtest:
    """Calibrate on the history up to ``holdout`` months before its end, forecast those months, and score.

    The calibration goes through the diagnostics gate; the forecast is scored either way, and the gate's
    decision is in :attr:`Backtest.gates` and in the ``diagnostics`` column of the tables (the command exits
    with code 3 when an origin failed and ``accept_diagnostics`` is false).

    Returns
    -------
    Backtest
        ``table``: one row per metric, method and holdout month; ``summary``: one row per metric and method.
    """
    import revsim
    from revsim.calibrate.calibration import POSTERIOR_FILE, calibrate
    from revsim.calibrate.context import context_from_scenario
    from revsim.scenario.load import LoadedScenario, load_scenario, scenario_from_dict

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if not isinstance(holdout, int) or holdout < 1:
        raise InputError.single(f"--holdout must be a whole number of months >= 1, got {holdout!r}",
                                path=("--holdout",))
    context = context_from_scenario(loaded)
    paths = [history] if isinstance(history, str | os.PathLike) else list(history)
    full = read_history(paths, stages=context.stages, segments=context.segments, period_months=period_months)
    notes: list[str] = []
    full = _with_levels(full, loaded, notes)
    last = full.last_month
    series = metric_series(full, loaded, notes)
    if not series:
        raise InputError.single("nothing to score: a backtest needs mrr.csv (ARR, churned ARR) or funnel.csv with "
                                "the last stage (new customers)", path=("--history",))
    cut = last - holdout
    train_months = min(len(m) for m, _ in series.values()) - holdout
    if train_months < 12:
        raise InputError.single(f"--holdout {holdout} leaves {max(train_months, 0)} month(s) to calibrate on; keep at "
                                "least 12", path=("--holdout",))
    for name, (months, _) in series.items():
        if month_index(months[-1]) != last:
            notes.append(f"{METRICS[name][0]}: the history of this series ends in {months[-1]}, before {month_label(last)}")
    cut_history = full.cut(cut)

    data = copy.deepcopy(loaded.data)
    data["start"] = month_label(cut + 1)
    data["horizon_months"] = holdout
    data["initial_book"] = book_at(cut_history, loaded, cut)
    for key in ("targets", "levers"):
        data.pop(key, None)
    data.get("funnel", {}).pop("open_at_start", None)
    base_dir = Path(loaded.file).resolve().parent if loaded.file not in ("<dict>", "<string>") else Path.cwd()
    base = scenario_from_dict(data, base_dir=base_dir, file=loaded.file)
    if announce is not None:
        announce(f"calibrating on the history up to {month_label(cut)}, then forecasting {holdout} month(s)")
    calibration = calibrate(cut_history, base, sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed,
                            cores=cores, retention=retention, period_months=period_months, checks=False,
                            announce=announce, accept_diagnostics=accept_diagnostics)
    assert calibration.scenario_data is not None
    scenario_data = calibration.scenario_data
    pipeline = open_pipeline(calibration, cut_history, cut)
    if pipeline:
        scenario_data.setdefault("funnel", {})["open_at_start"] = pipeline
    with tempfile.TemporaryDirectory(prefix="revsim-backtest-") as folder:
        calibration.written_idata().to_netcdf(str(Path(folder) / POSTERIOR_FILE), engine="h5netcdf")
        run_loaded = scenario_from_dict(scenario_data, base_dir=folder, file="backtest_scenario.yaml")
        forecast = revsim.simulate(run_loaded, draws=simulation_draws, seed=seed)
        forecast = forecast[["arr", "new_customers", "churned_arr"]].load()
    table, summary = score(series, forecast, cut, holdout)
    if calibration.gate is not None:
        for frame in (table, summary):
            frame["diagnostics"] = np.where(frame.method == MODEL, calibration.gate.status, "")
    return Backtest(table=table, summary=summary, calibration=calibration, scenario_data=scenario_data,
                    forecast=forecast, series=series, cut=month_label(cut), holdout=holdout,
                    notes=[*notes, *calibration.notes])


def forecast_samples(forecast: xr.Dataset, metric: str) -> np.ndarray:
    """``[draw, month]`` samples of a scored metric (totals over segments)."""
    return np.asarray(forecast[metric].sum("segment").values, dtype=np.float64)


def score(series: dict[str, tuple[list[str], np.ndarray]], forecast: xr.Dataset, cut: int,
          holdout: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month-by-month scores of the model and the baselines, and their summary."""
    import pandas as pd

    from revsim.calibrate.scores import BASELINES, LEVELS, baseline_samples, crps, interval

    rows = []
    for metric, (months, values) in series.items():
        index = {m: i for i, m in enumerate(months)}
        holdout_months = [month_label(cut + 1 + h) for h in range(holdout)]
        if not all(m in index for m in holdout_months) or month_label(cut) not in index:
            continue
        train = values[: index[month_label(cut)] + 1]
        actual = np.array([values[index[m]] for m in holdout_months])
        methods = {MODEL: forecast_samples(forecast, metric)}
        for name in BASELINES:
            methods[name] = baseline_samples(name, train, holdout)
        for method, samples in methods.items():
            for h, month in enumerate(holdout_months):
                column = samples[:, h]
                median = float(np.median(column))
                row = {"metric": metric, "method": method, "month": month, "horizon": h + 1,
                       "actual": float(actual[h]), "median": median}
                for level in LEVELS:
                    low, high = interval(column, level)
                    pct = int(level * 100)
                    row[f"low_{pct}"], row[f"high_{pct}"] = low, high
                    row[f"covered_{pct}"] = bool(low <= actual[h] <= high)
                row["crps"] = crps(column, float(actual[h]))
                row["ape"] = abs(median - actual[h]) / abs(actual[h]) if actual[h] != 0 else float("nan")
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        raise InputError.single("no scored series covers the holdout months", path=("--holdout",))
    summary = (table.groupby(["metric", "method"], sort=False)
               .agg(months=("month", "size"), coverage_50=("covered_50", "mean"), coverage_80=("covered_80", "mean"),
                    coverage_90=("covered_90", "mean"), crps=("crps", "mean"), mape=("ape", "mean"))
               .reset_index())
    return table, summary


def draw_backtest(result: Backtest, path: Path) -> None:
    """One panel per metric: the history, the holdout actuals, the forecast's bands and the baselines' medians."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if m in set(result.table.metric)]
    fig, axes = plt.subplots(len(metrics), 1, figsize=(9, 3.0 * len(metrics)), squeeze=False)
    cut = month_index(result.cut)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        months, values = result.series[metric]
        idx = [month_index(m) for m in months]
        shown = [i for i, m in enumerate(idx) if m > cut - 24]
        ax.plot([idx[i] - cut for i in shown], [values[i] for i in shown], color="#252525", linewidth=1.2,
                label="history")
        rows = result.table[(result.table.metric == metric) & (result.table.method == MODEL)]
        x = rows.horizon.to_numpy()
        ax.fill_between(x, rows.low_90, rows.high_90, color="#9ecae1", alpha=0.7, linewidth=0, label="revsim 90%")
        ax.fill_between(x, rows.low_50, rows.high_50, color="#4292c6", alpha=0.7, linewidth=0, label="revsim 50%")
        ax.plot(x, rows["median"], color="#08519c", linewidth=1.2, label="revsim median")
        styles = {"last_value": ":", "linear_trend": "--", "seasonal_naive": "-."}
        for method, style in styles.items():
            base = result.table[(result.table.metric == metric) & (result.table.method == method)]
            ax.plot(base.horizon, base["median"], style, color="#737373", linewidth=1, label=method.replace("_", " "))
        ax.axvline(0.5, color="#bdbdbd", linewidth=0.8)
        label, unit = METRICS[metric]
        ax.set_title(f"{label} ({unit}): months after {result.cut}", fontsize=9, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, frameon=False, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
