"""Fit every model the history supports in one joint PyMC model, sample it, and check the sampler.

The blocks share no parameter, so the joint posterior is the product of the blocks' posteriors: fitting
them together costs one compilation instead of one per block. PyMC, PyTensor, nutpie and ArviZ are imported
here, when a calibration runs, never when revsim is imported.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from revsim.calibrate.context import ScenarioContext
from revsim.calibrate.funnel import FunnelBlock, VolumeBlock, funnel_data, volume_data
from revsim.calibrate.history import CohortHistory, FunnelHistory, History, MrrHistory, month_index, month_label
from revsim.calibrate.movements import (
    LoopBlock,
    LoopData,
    PricingBlock,
    PricingData,
    RateBlock,
    rate_data,
)
from revsim.calibrate.retention import RetentionBlock, retention_data
from revsim.errors import InputError
from revsim.interruption import stop_checkpoint

__all__ = ["FitOptions", "Fit", "FitDisplay", "plan_blocks", "fit", "check_complete", "RHAT_LIMIT", "ESS_LIMIT", "SAMPLERS",
           "RETENTION_CHOICES"]

#: Diagnostics thresholds: a warning is printed beyond them.
RHAT_LIMIT = 1.01
ESS_LIMIT = 400
SAMPLERS = ("nutpie", "pymc")
#: Models with at most this many parameters are sampled with nutpie's low-rank mass matrix adaptation.
LOW_RANK_MAX_DIM = 40
RETENTION_CHOICES = ("auto", "sbg", "constant", "both")


@dataclass(frozen=True)
class FitOptions:
    """How to sample: the sampler, draws and tuning steps per chain, chains, seed and cores.

    ``cache`` keeps compiled models in memory and on disk by structure (see
    :mod:`revsim.calibrate.compile_cache`); ``False`` compiles the same code without any cache.
    """

    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 0
    cores: int | None = None
    retention: str = "auto"
    progress: bool = False
    cache: bool = True

    def check(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InputError.single(f"unknown sampler '{self.sampler}'; expected one of {', '.join(SAMPLERS)}",
                                    path=("--sampler",))
        if self.retention not in RETENTION_CHOICES:
            raise InputError.single(f"unknown retention model '{self.retention}'; expected one of "
                                    f"{', '.join(RETENTION_CHOICES)}", path=("--retention",))
        for name, value, low in (("draws", self.draws, 10), ("tune", self.tune, 10), ("chains", self.chains, 1)):
            if not isinstance(value, int) or value < low:
                raise InputError.single(f"{name} must be a whole number >= {low}, got {value!r}", path=(f"--{name}",))


class FitDisplay(Protocol):
    """What a calibration reports while it runs (the command line shows it on one line of a terminal)."""

    def phase(self, text: str) -> None:
        """A new phase begins: ``text`` says what (``compiling the model``...)."""

    def draws(self, done: int, total: int) -> None:
        """Sampling progress: ``done`` draws of ``total`` (all chains, tuning included)."""


@dataclass
class Fit:
    """A sampled calibration: the blocks, the InferenceData and what was learnt about the run."""

    blocks: list[Any]
    idata: Any
    history: History
    context: ScenarioContext
    options: FitOptions
    notes: list[str] = field(default_factory=list)
    retention_choice: dict[str, str] = field(default_factory=dict)  # segment -> sbg / constant
    loo: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)  # variables computed after sampling -> their block
    compiled_from: str = ""  # memory, disk, compiled or uncached: see revsim.calibrate.compile_cache
    model: Any = None  # the PyMC model sampled (its priors give the identification measure)

    def block(self, name: str) -> Any:
        return next((b for b in self.blocks if b.name == name), None)

    @property
    def posterior(self) -> Any:
        return self.idata.posterior

    @property
    def divergences(self) -> int:
        stats = getattr(self.idata, "sample_stats", None)
        if stats is None or "diverging" not in stats:
            return 0
        return int(np.asarray(stats["diverging"].values).sum())


# --------------------------------------------------------------------------------------------------------
# Planning: which blocks the history supports
# --------------------------------------------------------------------------------------------------------


def _segment_order(history: History, context: ScenarioContext) -> list[str] | None:
    """One segment list for every block (scenario order, else first seen); None when no file has segments."""
    seen: list[str] = []
    for part in (history.funnel, history.cohorts, history.mrr):
        for seg in (getattr(part, "segments", None) or []):
            if seg not in seen:
                seen.append(seg)
    if not seen:
        return None
    if context.has_scenario:
        return [s for s in context.segments if s in seen]
    return seen


def align_segments(history: History, segments: list[str] | None) -> History:
    """Every part of the history on the same segment list (parts without segments stay without)."""
    if segments is None:
        return history

    def funnel(part: FunnelHistory | None) -> FunnelHistory | None:
        if part is None or part.segments is None or part.segments == segments:
            return part
        def widen(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            out = np.full(a.shape[:2] + (len(segments),) + a.shape[3:], np.nan)
            for s, seg in enumerate(part.segments):
                out[:, :, segments.index(seg)] = a[:, :, s]
            return out
        return replace(part, segments=list(segments), counts=widen(part.counts), open=widen(part.open))

    def cohorts(part: CohortHistory | None) -> CohortHistory | None:
        if part is None or part.segments is None or part.segments == segments:
            return part
        index = np.array([segments.index(seg) for seg in part.segments])
        return replace(part, segments=list(segments), segment=index[part.segment])

    def mrr(part: MrrHistory | None) -> MrrHistory | None:
        if part is None or part.segments is None or part.segments == segments:
            return part
        def widen(a: np.ndarray | None) -> np.ndarray | None:
            if a is None:
                return None
            out = np.zeros((a.shape[0], len(segments)))
            for s, seg in enumerate(part.segments):
                out[:, segments.index(seg)] = a[:, s]
            return out
        return replace(part, segments=list(segments), new=widen(part.new), expansion=widen(part.expansion),
                       contraction=widen(part.contraction), churn=widen(part.churn),
                       reactivation=widen(part.reactivation), mrr=widen(part.mrr))

    return replace(history, funnel=funnel(history.funnel), cohorts=cohorts(history.cohorts), mrr=mrr(history.mrr))


def _plan_channels(funnel: FunnelHistory, context: ScenarioContext) -> list[str | None]:
    """The scenario's channel behind each channel of the funnel history (None where there is none): the channel
    of the same name, or, without a channel column, the scenario's only channel entering at the first stage."""
    if funnel.channels is not None:
        return [name if name in context.channels else None for name in funnel.channels]
    first = context.stages[0] if context.stages else None
    entering = [name for name, stage in context.channels.items() if stage == first]
    return [entering[0] if len(entering) == 1 else None]


def plan_blocks(history: History, context: ScenarioContext, *, retention: str = "auto",
                layout: History | None = None) -> tuple[list[Any], History, list[str]]:
    """The model blocks the history supports, the history on one segment list, and notes for the user.

    ``layout``, a longer history of the same company, decides the funnel's parametrisation instead of
    ``history`` (see :attr:`revsim.calibrate.funnel.FunnelBlock.layout`).
    """
    notes: list[str] = []
    order = _segment_order(history, context)
    history = align_segments(history, order)
    layout_funnel = None
    if layout is not None and layout.funnel is not None:
        layout_funnel = funnel_data(align_segments(layout, order).funnel, order=context.stages)
    priors = context.priors
    blocks: list[Any] = []
    funnel = history.funnel
    if funnel is not None:
        data = funnel_data(funnel, order=context.stages)
        if data is None:
            notes.append(f"{funnel.file}: no two consecutive stages are observed for the same segment and channel; "
                         "stage conversions were not estimated")
        else:
            blocks.append(FunnelBlock(data, priors, layout=layout_funnel, plan_months=context.plan_months))
            if funnel.channels is None and context.has_scenario:
                late = [f"channel '{c}' enters at {s}" for c, s in context.channels.items()
                        if s != context.stages[0] and s in data.next_stages]
                late += [f"loop '{lp.name}' targets {lp.target}" for lp in context.loops
                         if lp.target != context.stages[0] and lp.target in data.next_stages]
                if late:
                    notes.append(f"{funnel.file} has no channel column, but {'; '.join(late)}: those entries are "
                                 "counted as conversions of the stage before, which overstates its conversion; add a "
                                 "channel column (with the loop's name for its entries)")
        subtract = None
        loop = context.referral_loop
        if (funnel.channels is None and loop is not None and history.referrals is not None and context.stages
                and loop.target == context.stages[0]):
            subtract = _on_months(history.referrals.referred, history.referrals.months, funnel.months)
        plan_channels = _plan_channels(funnel, context)
        growth = [context.plan_growth.get(name) if name else None for name in plan_channels]
        season = [context.plan_seasonality.get(name) if name else None for name in plan_channels]
        volume = volume_data(funnel, subtract=subtract, order=context.stages,
                             planned_seasonality=any(v is not None for v in season))
        blocks.append(VolumeBlock(volume, priors, plan_growth=growth,
                                  plan_seasonality=np.array([np.zeros(12) if v is None else v for v in season])))
        planned = []
        stages = next((b.planned_stages() for b in blocks if isinstance(b, FunnelBlock)), [])
        if stages:
            planned.append(f"months in stage of {', '.join(stages)}")
        with_growth = [n for n, v in zip(plan_channels, growth, strict=True) if v is not None]
        with_season = [n for n, v in zip(plan_channels, season, strict=True) if v is not None]
        if "growth" not in (priors or {}) and with_growth:
            planned.append(f"growth of {', '.join(with_growth)}")
        if volume.seasonal and with_season:
            planned.append(f"seasonality of {', '.join(with_season)}")
        if planned:
            notes.append(f"the priors of the {'; '.join(planned)} are centred on the scenario's values (a prior in its "
                         "calibration block replaces them)")
        if not volume.seasonal:
            notes.append(f"{funnel.file}: {len(funnel.months)} months of history; monthly seasonality needs 24 "
                         "and was not estimated")
        elif len(funnel.months) < 24:
            notes.append(f"{funnel.file}: {len(funnel.months)} months of history; the monthly seasonality is "
                         "estimated around the scenario's (24 months would be needed without it)")

    if history.cohorts is not None:
        blocks.append(_retention_block(history.cohorts, context, retention, notes))

    if history.mrr is not None:
        rates = _rate_block(history.mrr, context, notes)
        if rates is not None:
            blocks.append(rates)
        pricing = _pricing_block(history, context, notes)
        if pricing is not None:
            blocks.append(pricing)

    if history.referrals is not None:
        loop_block = _loop_block(history, context, notes)
        if loop_block is not None:
            blocks.append(loop_block)
    if not blocks:
        raise InputError.single("the history holds nothing a model can be fitted to", path=("--history",))
    return blocks, history, notes


def _on_months(values: np.ndarray, months: list[str], target: list[str]) -> np.ndarray:
    """``values`` (one per month of ``months``) on the months ``target``, 0 where unknown."""
    by_month = dict(zip(months, values, strict=True))
    return np.array([by_month.get(m, 0.0) for m in target])


def _retention_block(cohorts: CohortHistory, context: ScenarioContext, retention: str,
                     notes: list[str]) -> RetentionBlock:
    names = cohorts.segment_names
    if cohorts.segments is None and context.has_scenario:
        terms = {context.contract_months[s] for s in context.segments}
        onboarding = {context.onboarding_months[s] for s in context.segments}
        if len(terms) > 1 or len(onboarding) > 1:
            raise InputError.single(
                "the cohort table has no segment column, but the scenario's segments have different contract terms "
                "or onboarding: add a segment column so each cohort is fitted with its segment's renewals",
                file=cohorts.file)
        contract = [next(iter(terms))]
        onboarding_months = [next(iter(onboarding))]
        models = {context.retention_models[s] for s in context.segments}
    else:
        contract = [context.contract_months.get(s, cohorts.period_months) for s in names]
        onboarding_months = [context.onboarding_months.get(s) for s in names]
        models = {context.retention_models.get(s, "sbg") for s in names}
    if retention == "auto":
        chosen = ("sbg",) if models == {"sbg"} else ("constant",) if models == {"constant"} else ("sbg", "constant")
    elif retention == "both":
        chosen = ("sbg", "constant")
    else:
        chosen = (retention,)
    for s, months in zip(names, onboarding_months, strict=True):
        if months is not None and months % cohorts.period_months and cohorts.period_months > 1:
            notes.append(f"{cohorts.file}: segment {s}'s onboarding ends at month {months}, inside a period of "
                         f"{cohorts.period_months} months: its failures are counted at the end of that period")
    data = retention_data(cohorts, contract_months=contract, onboarding_months=onboarding_months)
    return RetentionBlock(data, chosen, context.priors)


def _mrr_levels(mrr: MrrHistory, context: ScenarioContext, notes: list[str]) -> np.ndarray | None:
    """MRR at the end of every month ``[month, segment]``: the mrr column, else back from the scenario's book."""
    if mrr.mrr is not None:
        return mrr.mrr
    names = mrr.segment_names
    last = month_index(mrr.months[-1])
    if context.has_scenario and context.start == last + 1:
        if mrr.segments is None:
            end = np.array([sum(context.book_mrr.values())])
        else:
            end = np.array([context.book_mrr.get(s, 0.0) for s in names])
        net = mrr.new + mrr.expansion - mrr.contraction - mrr.churn
        if mrr.reactivation is not None:
            net = net + mrr.reactivation
        after = end[None, :] - np.cumsum(net[::-1], axis=0)[::-1] + net  # level at the end of each month
        if np.all(end > 0) and np.all(after >= 0):
            notes.append(f"{mrr.file} has no mrr column: the MRR of each month was rebuilt backwards from the "
                         "scenario's initial book (taken as the MRR at the end of the history)")
            return after
    notes.append(f"{mrr.file} has no mrr column (MRR at month end) and the scenario's initial book does not follow "
                 "the history: expansion, contraction and churn rates were not estimated; add the column")
    return None


def _rate_block(mrr: MrrHistory, context: ScenarioContext, notes: list[str]) -> RateBlock | None:
    levels = _mrr_levels(mrr, context, notes)
    if levels is None:
        return None
    before = levels[:-1]
    moves = {"expansion": mrr.expansion[1:], "contraction": mrr.contraction[1:], "churn": mrr.churn[1:]}
    data = rate_data(before, moves, segments=mrr.segments, months=mrr.months[1:])
    if not data.used.any():
        notes.append(f"{mrr.file}: the MRR is 0 in every month: no rates to estimate")
        return None
    return RateBlock(data, context.priors)


def _new_customers(history: History, context: ScenarioContext) -> tuple[np.ndarray, list[str]] | None:
    """New customers per month and segment ``[month, segment]`` from the funnel's last stage."""
    funnel = history.funnel
    if funnel is None:
        return None
    last = context.stages[-1] if context.stages else funnel.stages[-1]
    if last not in funnel.stages:
        return None
    k = funnel.stages.index(last)
    counts = np.nansum(funnel.counts[:, k], axis=2)  # over channels
    if np.all(np.isnan(funnel.counts[:, k])):
        return None
    return counts, funnel.months


def _pricing_block(history: History, context: ScenarioContext, notes: list[str]) -> PricingBlock | None:
    mrr = history.mrr
    found = _new_customers(history, context)
    if found is None or mrr is None:
        return None
    counts, months = found
    funnel = history.funnel
    if (funnel.segments is None) != (mrr.segments is None):
        notes.append(f"{mrr.file} and {funnel.file} do not both have a segment column: contract values were not "
                     "estimated")
        return None
    common = [m for m in mrr.months if m in months]
    customers, new_mrr, segment = [], [], []
    for m in common:
        t_m, t_f = mrr.months.index(m), months.index(m)
        for s in range(len(mrr.segment_names)):
            n, value = counts[t_f, s], mrr.new[t_m, s]
            if n > 0 and value > 0:
                customers.append(n)
                new_mrr.append(value)
                segment.append(s)
    if len(customers) < 3:
        return None
    data = PricingData(segments=mrr.segments, customers=np.asarray(customers, np.float64),
                       new_mrr=np.asarray(new_mrr, np.float64), segment=np.asarray(segment, np.int64))
    return PricingBlock(data, context.priors)


def _loop_block(history: History, context: ScenarioContext, notes: list[str]) -> LoopBlock | None:
    referrals = history.referrals
    loop = context.referral_loop
    if context.has_scenario and loop is None:
        notes.append(f"{referrals.file}: the scenario has {'no loop' if not context.loops else 'several loops and none is named referrals'}"
                     "; the referral history was not used")
        return None
    lag = loop.lag if loop is not None else 1
    if referrals.source is not None:
        source = referrals.source
    elif loop is not None and loop.source == "new_customers" and _new_customers(history, context) is not None:
        counts, months = _new_customers(history, context)
        source = _on_months(counts.sum(axis=1), months, referrals.months)
    else:
        notes.append(f"{referrals.file} has no source_count column: the loop coefficient was not estimated (add the "
                     "loop's source, e.g. advocates, per month)")
        return None
    if len(referrals.months) <= lag + 1:
        notes.append(f"{referrals.file}: too few months for a lag of {lag}")
        return None
    data = LoopData(referred=referrals.referred[lag:], source=source[:-lag], months=referrals.months[lag:], lag=lag,
                    loop=loop.name if loop is not None else None)
    if data.source.sum() <= 0:
        notes.append(f"{referrals.file}: the source is 0 in every month; the loop coefficient was not estimated")
        return None
    return LoopBlock(data, context.priors)


# --------------------------------------------------------------------------------------------------------
# Building and sampling
# --------------------------------------------------------------------------------------------------------


def build_model(blocks: list[Any]) -> Any:
    """One PyMC model holding every block."""
    from revsim.calibrate.arviz_numba import import_pymc

    pm = import_pymc()

    coords: dict[str, list[str]] = {}
    for block in blocks:
        for dim, labels in block.coords().items():
            if dim in coords and coords[dim] != labels:
                raise ValueError(f"blocks disagree on the coordinate {dim}: {coords[dim]} and {labels}")  # pragma: no cover
            coords[dim] = labels
    # No check of the distributions' parameters in the log density: every parameter is valid by construction
    # (positive through a log transform, a probability through a logit, the priors' constants validated
    # when read), and a point where arithmetic fails anyway (a log of a negative number) gives a log density
    # that is not finite, which the sampler rejects as it rejects a failed check. The checks were 25 of the
    # worked example's 340 operations to compile.
    with pm.Model(coords=coords, check_bounds=False) as model:
        for block in blocks:
            block.build()
    return model


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


def strict_floating_point() -> Any:
    """A context in which PyTensor compiles for numba without fast-math: the same posterior in every process.

    PyTensor's numba backend compiles with fast-math flags by default (reassociation, contraction into fused
    multiply-adds, approximate functions). The machine code of a model's log-density then depends on which
    of its functions came from numba's on-disk cache (linked as compiled objects) and which were compiled in
    the process (inlined and optimised together across the calls): a calibration run with a cold cache and
    the same run with a warm one computed the log-density differently in its last bits, and NUTS, whose
    trajectories amplify any difference, sampled another posterior. Without fast-math, LLVM keeps the IEEE
    results whatever it inlines. It costs no measurable computation (``benchmarks/calibration.py
    --fastmath-ratio``: on the example's joint model, the sampling's CPU time was 1.01 times and the
    compilation's 1.00 times that with fast-math).
    """
    import pytensor

    return pytensor.config.change_flags(numba__fastmath=False)


def sample_model(model: Any, options: FitOptions, timings: dict[str, float], *,
                 display: FitDisplay | None = None, notes: list[str] | None = None,
                 compiled_from: list[str] | None = None) -> Any:
    """Sample ``model`` with nutpie (compiled with numba) or PyMC's NUTS; returns InferenceData.

    nutpie's model comes from :func:`revsim.calibrate.compile_cache.compile_model`: compiled once per
    structure, then reused in this process and later ones. Its notes are added to ``notes``, and where the
    compiled model came from to ``compiled_from``.
    """
    import warnings

    cores = options.cores or min(options.chains, available_cores())
    if options.sampler == "nutpie":
        import nutpie

        from revsim.calibrate.compile_cache import compile_model

        start = time.perf_counter()
        phases = {"compiling": "compiling the model (once per model structure; kept for next time)",
                  "loading": "loading the compiled model"}
        progress = None
        if display is not None:
            total = options.chains * (options.draws + options.tune)
            progress = lambda done, _total: display.draws(done, total)  # noqa: E731
        with stop_checkpoint(), warnings.catch_warnings(), strict_floating_point():
            warnings.simplefilter("ignore")
            compiled, report = compile_model(
                model, use_cache=options.cache, progress=progress,
                phase=None if display is None else (lambda name: display.phase(phases.get(name, name))))
        timings["compile"] = time.perf_counter() - start
        timings.update({f"compile_{k}": v for k, v in report.seconds.items()})
        if notes is not None:
            notes.extend(report.notes)
        if compiled_from is not None:
            compiled_from.append(report.source)
        if display is not None:
            display.phase("sampling")
        start = time.perf_counter()
        # a low-rank mass matrix follows the strong correlations of small models (the sBG's mean churn and
        # concentration: six times the effective sample size); on large joint models it adapts too slowly
        low_rank = compiled.n_dim <= LOW_RANK_MAX_DIM
        with stop_checkpoint():  # nutpie returns the draws made so far on an interruption: never keep them
            idata = nutpie.sample(compiled, draws=options.draws, tune=options.tune, chains=options.chains,
                                  cores=cores, seed=options.seed, progress_bar=options.progress and progress is None,
                                  save_warmup=False, low_rank_modified_mass_matrix=low_rank)
        timings["sample"] = time.perf_counter() - start
        if getattr(compiled, "expansion", None) is not None:  # the trace's other variables, from the draws
            start = time.perf_counter()
            idata.posterior = compiled.expand_posterior(idata.posterior)
            timings["expand"] = time.perf_counter() - start
    else:
        import logging

        import pymc as pm

        start = time.perf_counter()
        logger = logging.getLogger("pymc")
        level = logger.level
        if not options.progress:
            logger.setLevel(logging.ERROR)
        try:  # PyMC keeps the draws made so far on an interruption, or fails on them while tuning
            with stop_checkpoint(), model, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                idata = pm.sample(draws=options.draws, tune=options.tune, chains=options.chains, cores=cores,
                                  random_seed=options.seed, progressbar=options.progress,
                                  compute_convergence_checks=False, return_inferencedata=True)
        finally:
            logger.setLevel(level)
        timings["compile"] = 0.0
        timings["sample"] = time.perf_counter() - start
    check_complete(idata, options)
    for group in ("constant_data", "observed_data", "warmup_posterior", "warmup_sample_stats"):
        if group in idata.groups():
            del idata[group]
    return idata


def check_complete(idata: Any, options: FitOptions) -> None:
    """Refuse a trace with fewer chains or draws than asked for: a posterior is only ever written whole.

    Raises
    ------
    SimulationError
        When a sampler returned a partial trace without being interrupted.
    """
    from revsim.errors import SimulationError

    posterior = getattr(idata, "posterior", None)
    sizes = dict(posterior.sizes) if posterior is not None else {}
    chains, draws = sizes.get("chain", 0), sizes.get("draw", 0)
    if (chains, draws) != (options.chains, options.draws):
        raise SimulationError(f"the {options.sampler} sampler returned {chains} chain(s) x {draws} draws instead of "
                              f"{options.chains} x {options.draws}: the posterior is incomplete and was not written")


def fit(history: History, context: ScenarioContext, options: FitOptions,
        announce: Callable[[str], None] | None = None, display: FitDisplay | None = None,
        layout: History | None = None, on_model: Callable[[Any, list[Any]], None] | None = None) -> Fit:
    """Plan, build, sample and post-process a calibration.

    A second fit of a model with the same structure (the same blocks, segments, stages and priors; other
    data) reuses the model compiled by the first, in this process or, through the disk cache, an earlier one.
    ``on_model`` is called with the PyMC model and its blocks once the model is built, before it is compiled
    and sampled (a calibration starts its prior draws there).
    """
    options.check()
    timings: dict[str, float] = {}
    blocks, history, notes = plan_blocks(history, context, retention=options.retention, layout=layout)
    if announce is not None:
        announce(f"fitting {', '.join(b.name for b in blocks)} with {options.sampler}: {options.chains} chains x "
                 f"{options.draws} draws")
    if display is not None:
        display.phase("building the model")
    start = time.perf_counter()
    model = build_model(blocks)
    timings["build"] = time.perf_counter() - start
    if on_model is not None:
        on_model(model, blocks)
    compiled_from: list[str] = []
    idata = sample_model(model, options, timings, display=display, notes=notes, compiled_from=compiled_from)
    result = Fit(blocks=blocks, idata=idata, history=history, context=context, options=options, notes=notes,
                 timings=timings, compiled_from=compiled_from[0] if compiled_from else "", model=model)
    _rename(result)
    _choose_retention(result)
    return result


def _rename(result: Fit) -> None:
    posterior = result.idata.posterior
    # nutpie also returns the unconstrained values (``x_log__``): only the model's own variables are kept
    posterior = posterior.drop_vars([v for v in posterior.data_vars if str(v).endswith("__")])
    for block in result.blocks:
        for old, new in block.rename().items():
            if old in posterior and new not in posterior:
                posterior[new] = posterior[old]
                posterior = posterior.drop_vars(old)
    result.idata.posterior = posterior


@dataclass(frozen=True)
class SegmentComparison:
    """sBG against constant churn by LOO over one segment's cohorts."""

    segment: str | None  # None: a table without segments
    cohorts: int
    elpd_sbg: float
    elpd_constant: float
    difference: float  # elpd sBG - elpd constant
    se: float  # standard error of the difference

    @property
    def best(self) -> str:
        """The sBG when it is better by more than twice the standard error; otherwise the simpler constant churn."""
        return "sbg" if self.difference > 0 and self.difference > 2 * self.se else "constant"

    def describe(self) -> str:
        verdict = ("the sBG fits clearly better" if self.best == "sbg" else
                   "the simpler constant churn is kept (the sBG is not better by more than twice the standard error)")
        where = f"retention, {self.segment}" if self.segment is not None else "retention"
        return (f"{where}: LOO over {self.cohorts} cohorts, elpd sBG {self.elpd_sbg:.1f}, constant "
                f"{self.elpd_constant:.1f} (difference {self.difference:.1f} +/- {self.se:.1f}): {verdict}")


@dataclass(frozen=True)
class RetentionComparison:
    """sBG against constant churn by PSIS-LOO over cohorts (each cohort's log-likelihood is one observation),
    segment by segment: each segment keeps the model its own cohorts prefer."""

    segments: list[SegmentComparison]
    pointwise: dict[str, np.ndarray]  # model -> [chain, draw, cohort] log-likelihood

    @property
    def choice(self) -> dict[str | None, str]:
        """Segment -> the model LOO chooses for it."""
        return {c.segment: c.best for c in self.segments}

    def describe(self) -> list[str]:
        """One line per segment."""
        return [c.describe() for c in self.segments]


def compare_retention(block: RetentionBlock, posterior: Any) -> RetentionComparison:
    """Compare the two retention models of ``block`` (fitted together) by PSIS-LOO, per segment.

    The pointwise (per cohort) LOO values are computed once over every cohort; a segment's expected log
    predictive density is the sum over its cohorts, and the standard error of the difference between the
    two models is :math:`\\sqrt{n\\,\\mathrm{Var}(d_i)}` over its ``n`` cohorts (Vehtari, Gelman and Gabry,
    2017). The sBG is chosen for a segment when its density is higher by more than twice that standard error;
    otherwise the simpler constant churn.
    """
    import warnings

    import arviz as az

    from revsim.calibrate.arviz_numba import numpy_statistics

    loo_i, pointwise = {}, {}
    for model in ("sbg", "constant"):
        ll = block.pointwise_loglik(posterior, model)
        pointwise[model] = ll
        data = az.from_dict(posterior={"draw_index": np.zeros(ll.shape[:2])}, log_likelihood={"cohorts": ll})
        with np.errstate(all="ignore"), warnings.catch_warnings(), numpy_statistics():
            warnings.simplefilter("ignore")
            loo_i[model] = np.asarray(az.loo(data, pointwise=True).loo_i, dtype=np.float64)
    d = block.data
    comparisons = []
    for s, name in enumerate(d.segment_names):
        rows = d.cohort_segment == s
        if not rows.any():
            continue
        diff = loo_i["sbg"][rows] - loo_i["constant"][rows]
        comparisons.append(SegmentComparison(
            segment=name if d.segments is not None else None, cohorts=int(rows.sum()),
            elpd_sbg=float(loo_i["sbg"][rows].sum()), elpd_constant=float(loo_i["constant"][rows].sum()),
            difference=float(diff.sum()), se=float(np.sqrt(diff.size * np.var(diff)))))
    return RetentionComparison(segments=comparisons, pointwise=pointwise)


def _choose_retention(result: Fit) -> None:
    """Per segment, the retention model to use; by LOO (over the segment's cohorts) when both were fitted on
    request."""
    block = result.block("retention")
    if block is None:
        return
    names = block.data.segment_names
    context = result.context
    if len(block.models) == 1:
        result.retention_choice = dict.fromkeys(names, block.models[0])
        return
    import xarray as xr

    comparison = compare_retention(block, result.idata.posterior)
    if result.options.retention == "both" or not context.has_scenario:
        chosen = comparison.choice
        # a segment without cohorts keeps its scenario's model (sBG without a scenario)
        result.retention_choice = {s: chosen.get(s if block.data.segments is not None else None,
                                                 context.retention_models.get(s, "sbg")) for s in names}
        result.notes.extend(comparison.describe())
    else:
        result.retention_choice = {s: context.retention_models.get(s, "sbg") for s in names}
    result.loo = comparison
    result.idata.add_groups(log_likelihood=xr.Dataset({
        f"{model}_cohorts": (("chain", "draw", "cohort"), comparison.pointwise[model]) for model in block.models
    }))


def describe_months(history: History) -> str:
    """``2024-01 to 2026-12`` for the months the history covers."""
    first = [month_index(p.months[0]) for p in (history.funnel, history.mrr, history.referrals) if p is not None]
    last = history.last_month
    if not first or last is None:
        return ""
    return f"{month_label(min(first))} to {month_label(last)}"
