"""Backtests: calibrate on the history before a cut, forecast the months after it, and score the forecast.

With one origin (the default), the cut is the history's last month minus the holdout. With ``origins`` K,
the cuts are K months ``spacing`` apart, the latest one ``holdout`` months before the end (rolling origins,
as Prophet's ``cross_validation``): each is calibrated on what precedes it, through the normal calibration
path, and forecast ``holdout`` months. The forecast starts from the company as the history shows it at the
cut (:mod:`revsim.calibrate.cut_state`), and every calibrated input is drawn from the posterior of the
calibration on the months before the cut.

Three series are scored month by month: ARR (12 x the MRR at month end), new customers (entries into the
last stage) and churned ARR (12 x churned MRR), each against three naive baselines (see
:mod:`revsim.calibrate.scores`); :mod:`revsim.calibrate.backtest_scoring` computes the scores and their
averages per horizon.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.backtest_scoring import METRICS, MODEL
from revsim.calibrate.history import History, month_index, month_label, read_history
from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from revsim.calibrate.calibration import Calibration
    from revsim.calibrate.fit import FitDisplay
    from revsim.calibrate.diagnostics import Gate
    from revsim.scenario.load import LoadedScenario

__all__ = ["Backtest", "Origin", "backtest", "plan_cuts", "METRICS", "OUTPUT_FILES", "MIN_TRAIN_MONTHS"]

BACKTEST_FILE = "backtest.csv"
SUMMARY_FILE = "backtest_summary.csv"
PIT_FILE = "backtest_pit.csv"
DIAGNOSTICS_FILE = "backtest_diagnostics.csv"
CHART_FILE = "backtest.png"
SCORES_CHART_FILE = "backtest_scores.png"
SCENARIO_FILE = "backtest_scenario.yaml"
POSTERIOR_FILE = "posterior.nc"
#: Every file ``revsim backtest`` writes.
OUTPUT_FILES = [BACKTEST_FILE, SUMMARY_FILE, PIT_FILE, DIAGNOSTICS_FILE, CHART_FILE, SCORES_CHART_FILE,
                SCENARIO_FILE, POSTERIOR_FILE]
#: Fewest months of history a calibration is given.
MIN_TRAIN_MONTHS = 12
#: The forecast's series kept for scoring.
FORECAST_VARIABLES = ["arr", "new_customers", "churned_arr"]

Announce = Callable[[str], None]
#: Makes a progress callback for a phase: (label, total draws) -> callable(finished draws) with ``close()``.
ProgressFactory = Callable[[str, int], Any]


@dataclass
class Origin:
    """One cut of a backtest: its calibration (with its diagnostics), the scenario it forecast, and the
    forecast of the scored series."""

    cut: str
    calibration: Calibration
    scenario_data: dict[str, Any]
    posterior: Any  # the InferenceData written as posterior.nc (with the pipeline open at the cut)
    forecast: xr.Dataset
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def diagnostics(self) -> pd.DataFrame:
        """The calibration's diagnostics table (R-hat, ESS, divergences per variable)."""
        return self.calibration.diagnostics

    @property
    def warnings(self) -> list[str]:
        """The calibration's diagnostic warnings."""
        return self.calibration.warnings

    @property
    def compiled_model(self) -> str:
        """Where the calibration's compiled model came from: ``compiled`` (a new structure), ``memory`` (compiled
        by an earlier origin), ``disk`` (the cache of compiled models), ``uncached``; empty with PyMC's sampler."""
        return self.calibration.fit.compiled_from

    @property
    def gate(self) -> Gate | None:
        """The diagnostics gate's decision on the calibration."""
        return self.calibration.gate


class _OriginDisplay:
    """A display that prefixes every phase with the origin's label (``origin 2/6: sampling``)."""

    def __init__(self, display: FitDisplay, label: str) -> None:
        self.display = display
        self.label = label

    def phase(self, text: str) -> None:
        self.display.phase(f"{self.label}: {text}")

    def draws(self, done: int, total: int) -> None:
        self.display.draws(done, total)


@dataclass
class Backtest:
    """A scored backtest: the rows per origin, metric, method and month; their summary; every origin."""

    table: pd.DataFrame
    summary: pd.DataFrame
    pit: pd.DataFrame
    origins: list[Origin]
    series: dict[str, tuple[list[str], np.ndarray]]
    holdout: int
    spacing: int
    notes: list[str] = field(default_factory=list)

    @property
    def latest(self) -> Origin:
        return self.origins[-1]

    @property
    def currency(self) -> str:
        return str(self.latest.scenario_data.get("currency", "USD"))

    @property
    def origin_count(self) -> int:
        return len(self.origins)

    @property
    def cut(self) -> str:
        """The latest origin's cut."""
        return self.latest.cut

    @property
    def calibration(self) -> Calibration:
        return self.latest.calibration

    @property
    def scenario_data(self) -> dict[str, Any]:
        return self.latest.scenario_data

    @property
    def forecast(self) -> xr.Dataset:
        return self.latest.forecast

    @property
    def gates(self) -> dict[str, Gate]:
        """The diagnostics gate's decision for each origin (month of the cut -> :class:`Gate`)."""
        return {o.cut: o.gate for o in self.origins if o.gate is not None}

    @property
    def failed_origins(self) -> list[str]:
        """Origins whose calibration failed the gate and was not accepted."""
        return [cut for cut, gate in self.gates.items() if not (gate.passed or gate.accepted)]

    def diagnostics_table(self) -> pd.DataFrame:
        """Every origin's calibration diagnostics, one block per origin (column ``origin``), with the gate's
        decision on that origin (column ``gate``)."""
        import pandas as pd

        gates = self.gates
        blocks = [o.diagnostics.assign(origin=o.cut, gate=gates[o.cut].status if o.cut in gates else "",
                                       compiled_model=o.compiled_model) for o in self.origins]
        return pd.concat(blocks, ignore_index=True)[["origin", "gate", *self.origins[0].diagnostics.columns,
                                                     "compiled_model"]]

    def compile_text(self) -> str:
        """How many calibrations compiled their model and how long calibrating and forecasting took."""
        sources = [o.compiled_model for o in self.origins]
        compiled = sum(s in ("compiled", "uncached") for s in sources)
        calibrating = sum(o.seconds.get("calibrate", 0.0) for o in self.origins)
        simulating = sum(o.seconds.get("simulate", 0.0) for o in self.origins)
        if not any(sources):
            models = "sampled with PyMC"
        else:
            parts = [f"compiled {compiled} time(s)"] if compiled else []
            for source, text in (("memory", "reused from an earlier origin"), ("disk", "loaded from the cache")):
                n = sources.count(source)
                if n:
                    parts.append(f"{text} {n} time(s)")
            models = "model " + ", ".join(parts)
        return (f"{len(sources)} calibration(s): {models}; calibrating {calibrating:.0f} s, "
                f"forecasting {simulating:.0f} s")

    def write(self, out_dir: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
        """Write the tables, the charts, and the latest origin's scenario and posterior."""
        from revsim.calibrate.calibration import dump_yaml
        from revsim.plot.backtest import draw_backtest, draw_backtest_scores
        from revsim.results.output_dir import check_output_dir, write_files
        from revsim.results.write_errors import write_inference_data

        out = Path(out_dir)
        latest = self.latest
        writers = {
            BACKTEST_FILE: lambda p: self.table.to_csv(p, index=False, float_format="%.6g"),
            SUMMARY_FILE: lambda p: self.summary.to_csv(p, index=False, float_format="%.6g"),
            PIT_FILE: lambda p: self.pit.to_csv(p, index=False, float_format="%.6g"),
            DIAGNOSTICS_FILE: lambda p: self.diagnostics_table().to_csv(p, index=False, float_format="%.6g"),
            CHART_FILE: lambda p: draw_backtest(self, p),
            SCORES_CHART_FILE: lambda p: draw_backtest_scores(self, p),
            SCENARIO_FILE: lambda p: Path(p).write_text(
                f"# The forecast scored by revsim backtest: calibrated on history up to {latest.cut}.\n"
                + dump_yaml(latest.scenario_data), encoding="utf-8"),
            POSTERIOR_FILE: lambda p: write_inference_data(latest.posterior, p),
        }
        check_output_dir(out, list(writers), force=force)
        return write_files(out, writers)

    def summary_text(self) -> str:
        first = self.origins[0].cut
        if self.origin_count == 1:
            lines = [f"backtest: calibrated on history up to {self.cut}, forecast {self.holdout} month(s)"]
        else:
            lines = [f"backtest: {self.origin_count} origins from {first} to {self.cut} ({self.spacing} month(s) "
                     f"apart), each forecast {self.holdout} month(s); scores averaged over origins and months ahead"]
        lines.append(self.compile_text())
        lines += [f"diagnostics gate, origin {cut}: {gate.summary()}" for cut, gate in self.gates.items()]
        lines.append(f"{'metric':<15}{'method':<16}{'cover 50%':>10}{'80%':>7}{'90%':>7}{'CRPS':>14}{'MAPE':>8}")
        overall = self.summary[self.summary.horizon == "all"]
        for row in overall.itertuples():
            lines.append(f"{row.metric:<15}{row.method:<16}{row.coverage_50:>10.0%}{row.coverage_80:>7.0%}"
                         f"{row.coverage_90:>7.0%}{row.crps:>14,.4g}{row.mape:>8.1%}")
        if self.holdout > 1:
            lines.append("CRPS by months ahead (revsim / the best naive baseline at that horizon):")
            per_h = self.summary[self.summary.horizon != "all"]
            shown = sorted({1, (self.holdout + 1) // 2, self.holdout})
            for metric in dict.fromkeys(per_h.metric):
                parts = []
                for h in shown:
                    at = per_h[(per_h.metric == metric) & (per_h.horizon == str(h))]
                    model = at[at.method == MODEL].crps
                    naive = at[at.method != MODEL].crps
                    if len(model) and len(naive):
                        parts.append(f"{h}: {float(model.iloc[0]):,.4g} / {float(naive.min()):,.4g}")
                lines.append(f"  {metric:<15}" + "   ".join(parts))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# The scored series
# --------------------------------------------------------------------------------------------------------


def metric_series(history: History, loaded: LoadedScenario, notes: list[str]
                  ) -> tuple[dict[str, tuple[list[str], np.ndarray]], dict[str, str]]:
    """The scored series over the whole history (ARR, new customers, churned ARR), and each one's file."""
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import _mrr_levels

    series: dict[str, tuple[list[str], np.ndarray]] = {}
    files: dict[str, str] = {}
    if history.mrr is not None:
        levels = _mrr_levels(history.mrr, context_from_scenario(loaded), notes)
        if levels is not None:
            series["arr"] = (history.mrr.months, 12.0 * levels.sum(axis=1))
            files["arr"] = history.mrr.file
        series["churned_arr"] = (history.mrr.months, 12.0 * history.mrr.churn.sum(axis=1))
        files["churned_arr"] = history.mrr.file
    funnel = history.funnel
    last_stage = loaded.model.stage_names[-1]
    if funnel is not None and last_stage in funnel.stages:
        k = funnel.stages.index(last_stage)
        series["new_customers"] = (funnel.months, np.nansum(funnel.counts[:, k], axis=(1, 2)))
        files["new_customers"] = funnel.file
    return series, files


def _with_levels(history: History, loaded: LoadedScenario) -> History:
    """The history with the MRR at month end filled in (rebuilt from the scenario's book when missing)."""
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import _mrr_levels

    if history.mrr is None or history.mrr.mrr is not None:
        return history
    levels = _mrr_levels(history.mrr, context_from_scenario(loaded), [])
    if levels is None:
        return history
    return replace(history, mrr=replace(history.mrr, mrr=levels))


def plan_cuts(series: dict[str, tuple[list[str], np.ndarray]], files: dict[str, str], last: int, holdout: int,
              origins: int, spacing: int | None) -> tuple[list[int], int]:
    """The cut months (oldest first) and the spacing between them.

    Every cut leaves at least :data:`MIN_TRAIN_MONTHS` months of every scored series to calibrate on. Without a
    spacing, the cuts are ``holdout // 2`` months apart (Prophet's default period is half the horizon), closer
    when that leaves too few months for the oldest cut, and at least 1.

    Raises
    ------
    InputError
        When the history is too short: names the shortest file and the months it holds.
    """
    if not isinstance(holdout, int) or holdout < 1:
        raise InputError.single(f"--holdout must be a whole number of months >= 1, got {holdout!r}",
                                path=("--holdout",))
    if not isinstance(origins, int) or origins < 1:
        raise InputError.single(f"--origins must be a whole number >= 1, got {origins!r}", path=("--origins",))
    # months of each series up to the end of the history
    available = {name: sum(1 for m in months if month_index(m) <= last) for name, (months, _) in series.items()}
    shortest = min(available, key=lambda name: available[name])
    months_held = available[shortest]
    first = series[shortest][0][0]
    where = f"{files[shortest]} holds {months_held} month(s) ({first} to {month_label(last)})"
    if holdout >= months_held:
        advice = (f"; hold out at most {months_held - MIN_TRAIN_MONTHS} to leave {MIN_TRAIN_MONTHS} to calibrate on"
                  if months_held > MIN_TRAIN_MONTHS else "")
        raise InputError.single(f"{holdout} month(s) held out is as long as the history: {where}{advice}",
                                path=("--holdout",))
    room = months_held - holdout - MIN_TRAIN_MONTHS  # months the oldest cut can move back
    if room < 0:
        raise InputError.single(f"holding out {holdout} month(s) leaves {months_held - holdout} month(s) to calibrate "
                                f"on: {where}; keep at least {MIN_TRAIN_MONTHS}", path=("--holdout",))
    if spacing is None:
        spacing = max(1, holdout // 2)
        if origins > 1:
            spacing = max(1, min(spacing, room // (origins - 1)))
    elif not isinstance(spacing, int) or spacing < 1:
        raise InputError.single(f"--spacing must be a whole number of months >= 1, got {spacing!r}",
                                path=("--spacing",))
    if (origins - 1) * spacing > room:
        most = room // spacing + 1
        raise InputError.single(
            f"{origins} origins do not fit the history: {where}; {origins} origins {spacing} month(s) apart, "
            f"each with {MIN_TRAIN_MONTHS} months to calibrate on and {holdout} to forecast, need "
            f"{MIN_TRAIN_MONTHS + holdout + (origins - 1) * spacing}; at most {most} origin(s) fit"
            + ("" if spacing == 1 else " (or choose a smaller --spacing)"), path=("--origins",))
    latest = last - holdout
    return [latest - spacing * (origins - 1 - i) for i in range(origins)], spacing


# --------------------------------------------------------------------------------------------------------
# One origin
# --------------------------------------------------------------------------------------------------------


def forecast_scenario(loaded: LoadedScenario, cut_history: History, cut: int, holdout: int) -> Any:
    """The scenario to calibrate at ``cut``: it starts the month after, runs ``holdout`` months, from the book
    at the cut; targets, levers and the scenario's own open pipeline are dropped."""
    from revsim.calibrate.cut_state import book_at
    from revsim.scenario.load import scenario_from_dict

    data = copy.deepcopy(loaded.data)
    data["start"] = month_label(cut + 1)
    data["horizon_months"] = holdout
    data["initial_book"] = book_at(cut_history, loaded, cut)
    for key in ("targets", "levers"):
        data.pop(key, None)
    data.get("funnel", {}).pop("open_at_start", None)
    base_dir = Path(loaded.file).resolve().parent if loaded.file not in ("<dict>", "<string>") else Path.cwd()
    return scenario_from_dict(data, base_dir=base_dir, file=loaded.file)


def run_origin(loaded: LoadedScenario, full: History, cut: int, holdout: int, *, label: str,
               calibrate_options: dict[str, Any], simulation_draws: int, seed: int,
               announce: Announce | None, progress: ProgressFactory | None,
               display: FitDisplay | None = None) -> Origin:
    """Calibrate on the history up to ``cut``, then simulate the ``holdout`` months after it."""
    import revsim
    from revsim.calibrate.calibration import calibrate
    from revsim.calibrate.cut_state import OPEN_VARIABLE, open_pipeline_draws, pipeline_references
    from revsim.scenario.load import scenario_from_dict

    say = announce or (lambda text: None)
    cut_history = full.cut(cut)
    base = forecast_scenario(loaded, cut_history, cut, holdout)
    started = time.perf_counter()
    say(f"{label}: calibrating on the history up to {month_label(cut)}")
    calibration = calibrate(cut_history, base, seed=seed, checks=False, announce=announce, layout=full,
                            display=None if display is None else _OriginDisplay(display, label), **calibrate_options)
    seconds = {"calibrate": time.perf_counter() - started}
    assert calibration.scenario_data is not None
    scenario_data = calibration.scenario_data
    posterior = calibration.written_idata()
    stock = open_pipeline_draws(calibration.fit, cut_history, cut)
    if stock is not None:
        posterior.posterior[OPEN_VARIABLE] = stock
        has_segments = cut_history.funnel is not None and cut_history.funnel.segments is not None
        scenario_data.setdefault("funnel", {})["open_at_start"] = pipeline_references(stock, has_segments,
                                                                                      POSTERIOR_FILE)
    started = time.perf_counter()
    say(f"{label}: simulating {simulation_draws:,} draws of the {holdout} month(s) after {month_label(cut)}")
    bar = progress(f"{label}: simulating", simulation_draws) if progress is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="revsim-backtest-") as folder:
            posterior.to_netcdf(str(Path(folder) / POSTERIOR_FILE), engine="h5netcdf")
            run_loaded = scenario_from_dict(scenario_data, base_dir=folder, file=SCENARIO_FILE)
            forecast = revsim.simulate(run_loaded, draws=simulation_draws, seed=seed, progress=bar)
            forecast = forecast[FORECAST_VARIABLES].load()
    finally:
        if bar is not None:
            bar.close()
    seconds["simulate"] = time.perf_counter() - started
    return Origin(cut=month_label(cut), calibration=calibration, scenario_data=scenario_data, posterior=posterior,
                  forecast=forecast, seconds=seconds)


def forecast_samples(forecast: xr.Dataset, metric: str) -> np.ndarray:
    """``[draw, month]`` samples of a scored metric (totals over segments)."""
    return np.asarray(forecast[metric].sum("segment").values, dtype=np.float64)


# --------------------------------------------------------------------------------------------------------
# The backtest
# --------------------------------------------------------------------------------------------------------


def backtest(
    scenario: str | os.PathLike[str] | LoadedScenario,
    history: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    holdout: int,
    *,
    origins: int = 1,
    spacing: int | None = None,
    sampler: str = "nutpie",
    draws: int = 500,
    tune: int = 500,
    chains: int = 4,
    seed: int = 0,
    cores: int | None = None,
    retention: str = "auto",
    period_months: int = 1,
    simulation_draws: int = 1000,
    announce: Announce | None = None,
    progress: ProgressFactory | None = None,
    display: FitDisplay | None = None,
    accept_diagnostics: bool = False,
) -> Backtest:
    """Calibrate on the history before each cut, forecast the ``holdout`` months after it, and score.

    Parameters
    ----------
    scenario, history
        The scenario (file or loaded) and the history (directory or files).
    holdout
        Months forecast from each cut (the latest cut is this many months before the end of the history).
    origins, spacing
        Number of cuts, and months between consecutive cuts (default: half the holdout, closer when the
        history is short).
    sampler, draws, tune, chains, seed, cores, retention, period_months
        As :func:`revsim.calibrate.calibrate`.
    simulation_draws
        Monte Carlo draws of each forecast.
    announce, progress
        Called with a line of text at every phase of every origin; and, for the simulation, ``progress(label,
        total)`` returns a callback counting finished draws (with ``close()``).
    display
        Told each origin's calibration phases (``origin 2/6: compiling the model``, ``... sampling``) and the
        sampling progress. The origins share one compiled model while their model's structure is the same
        (:mod:`revsim.calibrate.compile_cache`): only the first origin of a structure compiles.
    accept_diagnostics
        Accept calibrations that fail the diagnostics gate. Each origin's calibration goes through the gate
        either way and every forecast is scored; the decisions are in :attr:`Backtest.gates`, in the
        ``diagnostics`` column of the tables and the ``gate`` column of the diagnostics table (``revsim
        backtest`` exits with code 3 when an origin failed and this is false).

    Returns
    -------
    Backtest
        ``table``: one row per origin, metric, method and holdout month; ``summary``: mean scores per metric,
        method and horizon (and over all horizons); ``pit``: the PIT histograms; ``origins``: each cut's
        calibration (with its diagnostics), scenario and forecast.
    """
    import pandas as pd

    from revsim.calibrate.backtest_scoring import pit_histogram, score_origin, summarise
    from revsim.calibrate.context import context_from_scenario
    from revsim.scenario.load import LoadedScenario, load_scenario

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    context = context_from_scenario(loaded)
    paths = [history] if isinstance(history, str | os.PathLike) else list(history)
    full = read_history(paths, stages=context.stages, segments=context.segments, period_months=period_months)
    notes: list[str] = []
    full = _with_levels(full, loaded)
    last = full.last_month
    series, files = metric_series(full, loaded, notes)
    if not series:
        raise InputError.single("nothing to score: a backtest needs mrr.csv (ARR, churned ARR) or funnel.csv with "
                                "the last stage (new customers)", path=("--history",))
    cuts, spacing = plan_cuts(series, files, last, holdout, origins, spacing)
    for name, (months, _) in series.items():
        if month_index(months[-1]) != last:
            notes.append(f"{METRICS[name][0]}: the history of this series ends in {months[-1]}, before {month_label(last)}")
    options = dict(sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores, retention=retention,
                   period_months=period_months, accept_diagnostics=accept_diagnostics)
    done: list[Origin] = []
    rows: list[dict] = []
    for i, cut in enumerate(cuts):
        label = f"origin {i + 1}/{len(cuts)}" if len(cuts) > 1 else "backtest"
        origin = run_origin(loaded, full, cut, holdout, label=label, calibrate_options=options,
                            simulation_draws=simulation_draws, seed=seed, announce=announce, progress=progress,
                            display=display)
        done.append(origin)
        forecasts = {metric: forecast_samples(origin.forecast, metric) for metric in FORECAST_VARIABLES}
        scored = score_origin(series, forecasts, cut, holdout)
        if origin.gate is not None:
            for row in scored:
                row["diagnostics"] = origin.gate.status if row["method"] == MODEL else ""
        rows += scored
        for note in origin.calibration.notes:
            if note not in notes:
                notes.append(note)
    table = pd.DataFrame(rows)
    if table.empty:
        raise InputError.single("no scored series covers the holdout months", path=("--holdout",))
    summary = summarise(table)
    if "diagnostics" in table:
        summary["diagnostics"] = np.where(summary.method == MODEL, gates_status([o.gate for o in done]), "")
    return Backtest(table=table, summary=summary, pit=pit_histogram(table), origins=done, series=series,
                    holdout=holdout, spacing=spacing, notes=notes)


def gates_status(gates: Sequence[Gate | None]) -> str:
    """The gate's decision over several origins: ``passed`` when every one passed, else how many failed
    (``failed at 1 of 3 origin(s)``, with ``, accepted`` when every failure was accepted)."""
    decided = [g for g in gates if g is not None]
    failed = [g for g in decided if not g.passed]
    if not failed:
        return "passed"
    if len(decided) == 1:
        return failed[0].status
    accepted = ", accepted" if all(g.accepted for g in failed) else ""
    return f"failed at {len(failed)} of {len(decided)} origin(s){accepted}"
