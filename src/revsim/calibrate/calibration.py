"""Calibrate a scenario (or what the history supports) from history, and write the results.

>>> from revsim.calibrate import calibrate                                          # doctest: +SKIP
>>> result = calibrate("scenarios/history", "scenarios/history/northwind.yaml", draws=500, seed=1)
>>> result.write("out/calibrated")                                                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revsim.calibrate.context import context_from_scenario, context_without_scenario
from revsim.calibrate.fit import Fit, FitDisplay, FitOptions
from revsim.calibrate.history import History, read_history

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.calibrate.diagnostics import Gate
    from revsim.scenario.load import LoadedScenario

__all__ = ["Calibration", "calibrate", "OUTPUT_FILES", "POSTERIOR_FILE", "SCENARIO_FILE", "INPUTS_FILE",
           "DIAGNOSTICS_FILE"]

POSTERIOR_FILE = "posterior.nc"
SCENARIO_FILE = "calibrated.yaml"
INPUTS_FILE = "calibrated_inputs.yaml"
DIAGNOSTICS_FILE = "diagnostics.csv"
OUTPUT_FILES = [POSTERIOR_FILE, SCENARIO_FILE, INPUTS_FILE, DIAGNOSTICS_FILE]


@dataclass
class Calibration:
    """A finished calibration: the fit, its diagnostics and the calibrated scenario (when there is one)."""

    fit: Fit
    diagnostics: pd.DataFrame
    warnings: list[str]
    notes: list[str]
    loaded: LoadedScenario | None
    scenario_data: dict[str, Any] | None
    inputs: dict[str, Any]
    calibrated_paths: list[str] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)
    gate: Gate | None = None
    weak: list[str] = field(default_factory=list)  # weakly identified forecast inputs, one sentence per group
    command: str | None = None
    drawn: Any = None  # the charts a child process draws meanwhile (revsim.calibrate.chart_process), if any

    @property
    def forecast_ready(self) -> bool:
        """Whether calibrated.yaml (or calibrated_inputs.yaml) is written: the gate passed, or its failure was
        accepted."""
        return self.gate is None or self.gate.passed or self.gate.accepted

    @property
    def scenario_file(self) -> str:
        return SCENARIO_FILE if self.scenario_data is not None else INPUTS_FILE

    @property
    def idata(self) -> Any:
        return self.fit.idata

    @property
    def posterior(self) -> Any:
        return self.fit.idata.posterior

    def write(self, out_dir: str | os.PathLike[str], *, force: bool = False, charts: bool = True) -> list[Path]:
        """Write posterior.nc, calibrated.yaml (or calibrated_inputs.yaml), diagnostics.csv and the charts.

        When the diagnostics gate failed (and the failure was not accepted), calibrated.yaml is not written,
        and one left there by an earlier calibration is removed (it would read the new posterior.nc): the
        posterior, the diagnostics and the charts are written for inspection.
        """
        from revsim.calibrate.unused_modules import without_dask

        with without_dask():
            return self._write(Path(out_dir), force=force, charts=charts)

    def _write(self, out: Path, *, force: bool, charts: bool) -> list[Path]:
        from revsim.calibrate.checks import chart_file, chart_writers
        from revsim.results.output_dir import check_output_dir, write_files
        from revsim.results.write_errors import write_inference_data

        names = [POSTERIOR_FILE, DIAGNOSTICS_FILE, self.scenario_file]
        charts_writers = chart_writers(self.checks, self.drawn) if charts else {}
        check_output_dir(out, [*names, *charts_writers], force=force)
        idata = self.written_idata()
        writers = {
            POSTERIOR_FILE: lambda path: write_inference_data(idata, path),
            DIAGNOSTICS_FILE: lambda path: self.diagnostics.to_csv(path, index=False, float_format="%.6g"),
        }
        if self.forecast_ready and self.scenario_data is not None:
            writers[SCENARIO_FILE] = lambda path: Path(path).write_text(self.scenario_text(), encoding="utf-8")
        elif self.forecast_ready:
            writers[INPUTS_FILE] = lambda path: Path(path).write_text(self.inputs_text(), encoding="utf-8")
        writers.update(charts_writers)
        try:
            written = write_files(out, writers)
            order = {name: i for i, name in enumerate([*names, *(chart_file(c) for c in self.checks)])}
            written.sort(key=lambda path: order.get(path.name, len(order)))  # the charts were written in reverse
        finally:
            if self.drawn is not None:
                self.drawn.close()
                self.drawn = None
        if not self.forecast_ready:
            (out / self.scenario_file).unlink(missing_ok=True)
        return written

    def written_idata(self) -> Any:
        """The InferenceData written to posterior.nc: the named variables only (not the models' internal
        offsets and pooled values), with the sampler's statistics and the cohorts' log-likelihoods."""
        from revsim.calibrate.diagnostics import reported_variables

        idata = self.fit.idata
        keep = [name for _, name in reported_variables(self.fit)]
        keep += [name for name in ("conversion_typical", "months_typical") if name in idata.posterior]
        slim = idata.copy()
        slim.posterior = idata.posterior[keep]
        slim.posterior.attrs.update(self.record())
        return slim

    def record(self) -> dict[str, Any]:
        """The calibration's provenance, kept as attributes of posterior.nc's posterior group: how it was
        made and what the diagnostics gate decided (``revsim run`` reads ``revsim_diagnostics``)."""
        import datetime as _dt

        from revsim import __version__
        from revsim.calibrate.fit import describe_months

        fit = self.fit
        attrs: dict[str, Any] = {
            "revsim_calibration": f"revsim calibrate from {', '.join(Path(f).name for f in fit.history.files)} "
                                  f"({describe_months(fit.history)})",
            "revsim_version": __version__,
            "revsim_created_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revsim_sampler": f"{fit.options.sampler}: {fit.options.chains} chains x {fit.options.draws} draws after "
                              f"{fit.options.tune} tuning steps, seed {fit.options.seed}",
        }
        if self.command:
            attrs["revsim_command"] = self.command
        if self.gate is not None:
            attrs.update(self.gate.attrs())
        if self.weak:
            attrs["revsim_weakly_identified"] = "\n".join(self.weak)
        return attrs

    def header(self) -> str:
        from revsim.calibrate.fit import describe_months

        fit = self.fit
        lines = [
            f"# Calibrated by revsim calibrate from {', '.join(Path(f).name for f in fit.history.files)}"
            f" ({describe_months(fit.history)}).",
            f"# {fit.options.chains} chains x {fit.options.draws} draws ({fit.options.sampler}, seed "
            f"{fit.options.seed}); the inputs marked 'dist: posterior' are drawn jointly from {POSTERIOR_FILE}.",
        ]
        gate = self.gate
        if gate is not None and gate.passed:
            lines.append(f"# Sampler diagnostics passed the gate ({gate.attrs()['revsim_diagnostics_gate']}).")
        elif gate is not None:
            lines.append("# WARNING: this calibration FAILED its sampler diagnostics and was written anyway "
                         "(--accept-diagnostics):")
            lines += [f"#   {problem}" for problem in gate.problems()]
            lines.append(f"#   Forecasts from it rest on chains that disagree; see {DIAGNOSTICS_FILE}.")
        if self.weak:
            lines.append("# Weakly identified (the forecast's spread for them is mostly the prior's):")
            lines += [f"#   {text}" for text in self.weak]
        return "\n".join(lines) + "\n"

    def scenario_text(self) -> str:
        assert self.scenario_data is not None
        return self.header() + dump_yaml(self.scenario_data)

    def inputs_text(self) -> str:
        text = ("# The scenario inputs this history calibrates, as 'dist: posterior' references to posterior.nc.\n"
                "# Copy them into a scenario (next to posterior.nc), or run revsim calibrate with the scenario.\n")
        return self.header() + text + dump_yaml(self.inputs)


def dump_yaml(data: Any) -> str:
    """YAML as people write scenarios: small mappings and lists of numbers on one line."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def scalar(value: Any) -> bool:
        return value is None or isinstance(value, str | int | float | bool)

    def small(value: Any) -> bool:
        if isinstance(value, dict):
            return all(scalar(v) or (isinstance(v, dict) and all(scalar(x) for x in v.values()))
                       for v in value.values())
        if isinstance(value, list):
            return all(scalar(v) for v in value)
        return False

    def represent_dict(dumper: Any, value: dict) -> Any:
        return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=small(value) or None)

    def represent_list(dumper: Any, value: list) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=small(value) or None)

    Dumper.add_representer(dict, represent_dict)
    Dumper.add_representer(list, represent_list)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=120)


#: Allocations between two collections of Python's youngest generation while a calibration runs (Python's
#: default is 700): building, compiling and summarising a PyMC model allocate millions of objects, and the
#: cyclic garbage collector's passes over them took about 5% of a calibration's CPU time.
GC_THRESHOLD = 50_000
#: Collections of the youngest generation between two of the middle one (Python's default is 10): the middle
#: generation holds every object that survived up to this many collections of the youngest (a graph being
#: built or rewritten survives them), and each of its collections rescanned hundreds of thousands of them
#: (about 25 ms each; 0.2 s of a warm run of the worked example, for no memory: its peak was the same).
GC_THRESHOLD_OLDER = 100


def _calibration_settings(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` with the garbage collector's youngest generation collected less often, without
    importing dask (:func:`revsim.calibrate.unused_modules.without_dask`), and without PyTensor's stack traces
    (all restored after).

    PyTensor records, for every variable and operation it creates, the user's stack where it was created
    (``traceback__limit``, 8 frames by default), for its error messages: about 10% of building, splitting and
    compiling a calibration's graphs. revsim builds those graphs itself, so those frames would only ever
    point into revsim.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from revsim.calibrate.unused_modules import without_dask

        with fewer_collections(), without_dask(), _without_stack_traces():
            return function(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's garbage collector at :data:`GC_THRESHOLD` and :data:`GC_THRESHOLD_OLDER` inside the block
    (restored after). ``revsim calibrate`` keeps them until it has written its results: restored between
    the calibration and the writing, the collector's next pass went over everything the calibration had left
    (0.25 s)."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, GC_THRESHOLD_OLDER, *before[2:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def _without_stack_traces() -> Iterator[None]:
    import pytensor

    with pytensor.config.change_flags(traceback__limit=0):
        yield


@_calibration_settings
def calibrate(
    history: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | History,
    scenario: str | os.PathLike[str] | LoadedScenario | None = None,
    *,
    sampler: str = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    cores: int | None = None,
    retention: str = "auto",
    period_months: int = 1,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    checks: bool = True,
    charts_in_background: bool = False,
    prior_in_background: bool = False,
    announce: Callable[[str], None] | None = None,
    display: FitDisplay | None = None,
    cache: bool = True,
    layout: History | None = None,
    accept_diagnostics: bool = False,
    command: str | None = None,
) -> Calibration:
    """Learn a scenario's parameters from history with PyMC.

    Parameters
    ----------
    history
        A directory holding ``funnel.csv``, ``cohorts.csv``, ``mrr.csv``, ``referrals.csv`` (any of them),
        the files themselves, or a :class:`~revsim.calibrate.history.History` already read.
    scenario
        The scenario to calibrate (a file or a loaded scenario). Without one, every model the history
        supports is fitted and the calibrated inputs are listed without a scenario to put them in.
    sampler
        ``nutpie`` (compiled with numba, fast) or ``pymc`` (PyMC's own NUTS).
    draws, tune, chains, seed, cores
        Draws kept and tuning steps per chain, number of chains, seed, and cores (default: one per chain,
        up to the cores available).
    retention
        ``auto`` (the scenario's retention models; sBG without a scenario), ``sbg``, ``constant``, or
        ``both`` (both fitted, the better one by LOO).
    period_months
        Months per period of the cohort table (12 for annual contracts).
    out_dir
        Where ``calibrated.yaml`` will be written, so that files the scenario names keep resolving.
    charts_in_background
        Draw the posterior-predictive charts in a child process (where the system can fork one), for a
        :meth:`Calibration.write` that follows: the child imports matplotlib while the model is prepared, and
        draws the charts while the diagnostics are computed and the other files written
        (:mod:`revsim.calibrate.chart_process`).
    prior_in_background
        Draw the priors of the identification measure in a child process (where the system can fork one),
        started once the model is built, while the model's structure is analysed and its compiled code
        loaded (:func:`revsim.calibrate.identification.start_prior_draws`); the same draws.
    announce
        Called with one line of text once the history is read, before the models are compiled and sampled.
    display
        Told each phase (compiling, sampling, checking) and the sampling progress (the command line shows
        them on a terminal).
    cache
        Reuse compiled models of the same structure, from this process or the disk cache
        (:mod:`revsim.calibrate.compile_cache`); ``False`` compiles without any cache.
    layout
        A longer history of the same company that decides the funnel's parametrisation (a backtest gives each
        origin the whole history, so that all origins share one model structure and one compiled model).
    accept_diagnostics
        Write the calibrated scenario even when the diagnostics gate fails (recorded in its header and in
        posterior.nc).
    command
        The command line, recorded in posterior.nc.

    Returns
    -------
    Calibration
    """
    from revsim.calibrate.diagnostics import (
        diagnostic_warnings,
        diagnostics_gate,
        diagnostics_table,
        forecast_inputs,
        used_by_forecast,
    )
    from revsim.calibrate.fit import fit
    from revsim.calibrate.identification import add_identification, prior_draws, start_prior_draws, weak_descriptions
    from revsim.calibrate.scenario_update import add_derived, assignments, calibrated_scenario, inputs_fragment

    options = FitOptions(sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed, cores=cores,
                         retention=retention, progress=progress, cache=cache)
    options.check()
    charts = None
    if checks and charts_in_background:
        from revsim.calibrate.chart_process import start_chart_process

        charts = start_chart_process()  # imports matplotlib on the other core, then waits for the checks
    loaded = _load(scenario)
    context = context_from_scenario(loaded) if loaded is not None else None
    if isinstance(history, History):
        data = history
    else:
        paths = [history] if isinstance(history, str | os.PathLike) else list(history)
        data = read_history(paths, stages=context.stages if context else None,
                            segments=context.segments if context else None, period_months=period_months)
    if context is None:
        context = context_without_scenario(data)
    _check_priors(loaded, context)
    early: list[Any] = []  # the prior draws, started in a child once the model is built (see prior_draws)

    def start_priors(model: Any, blocks: list[Any]) -> None:
        if prior_in_background:
            early.append(start_prior_draws(model, blocks, seed=seed))

    try:
        result = fit(data, context, options, announce=announce, display=display, layout=layout,
                     on_model=start_priors)
    except BaseException:
        for drawn in early:
            if drawn is not None:
                drawn.discard()
        raise
    if display is not None:
        display.phase("checking the fit")
    add_derived(result, loaded)
    predictive = drawn = None
    if checks:
        from revsim.calibrate.checks import predictive_checks

        predictive = predictive_checks(result, seed=seed)
        if charts is not None:
            drawn = charts.draw(predictive)
    notes = list(data.notes) + result.notes
    last = data.last_month
    if loaded is not None and last is not None and context.start is not None and context.start <= last:
        from revsim.calibrate.history import month_label

        notes.append(f"the history runs to {month_label(last)}, past the scenario's start ({loaded.model.start}): "
                     "the forecast overlaps months the history already holds")
    items, mapping_notes = assignments(result, loaded)
    notes += mapping_notes
    scenario_data = None
    paths: list[str] = []
    if loaded is not None:
        source_dir = Path(loaded.file).resolve().parent if loaded.file not in ("<dict>", "<string>") else Path.cwd()
        target = Path(out_dir) if out_dir is not None else source_dir
        scenario_data, more, paths = calibrated_scenario(loaded, result, source_dir=source_dir, out_dir=target)
        notes += more
    table = diagnostics_table(result)
    table["forecast_input"] = used_by_forecast(table, forecast_inputs(items))
    started = time.perf_counter()
    table = add_identification(table, result, prior_draws(result, loaded, seed=seed,
                                                          drawn=early[0] if early else None))
    result.timings["prior_draws"] = time.perf_counter() - started
    warnings = diagnostic_warnings(table, result.divergences)
    gate = diagnostics_gate(table, result.divergences, accepted=accept_diagnostics)
    calibration = Calibration(fit=result, diagnostics=table, warnings=warnings, notes=notes, loaded=loaded,
                              scenario_data=scenario_data, inputs=inputs_fragment(items), calibrated_paths=paths,
                              gate=gate, weak=weak_descriptions(table, result), command=command, drawn=drawn)
    if predictive is not None:
        calibration.checks = predictive
    return calibration


def _load(scenario: Any) -> LoadedScenario | None:
    if scenario is None:
        return None
    from revsim.scenario.load import LoadedScenario, load_scenario

    if isinstance(scenario, LoadedScenario):
        return scenario
    return load_scenario(scenario)


def _check_priors(loaded: LoadedScenario | None, context: Any) -> None:
    """Priors given for one stage must name a stage that converts."""
    if loaded is None:
        return
    stages = context.stages[:-1]
    problems = []
    for key, prior in context.priors.items():
        if prior.stage is not None and prior.stage not in stages:
            from revsim.errors import did_you_mean

            problems.append((f"'{prior.stage}' is not a stage that converts ({', '.join(stages)})",
                             ("calibration", "priors", key), did_you_mean(prior.stage, stages)))
    if problems:
        raise loaded.error(problems)
