"""Validated scenario -> the plain arrays the kernels read.

:func:`compile_scenario` turns the structure (segments, stages, channels, loops, the initial book) into
arrays once per run; :meth:`CompiledScenario.draw_parameters` samples every uncertain input for a range of
draws (keyed per draw and per input, see :mod:`revsim.engine.rng`), honours rank correlations with a
Gaussian copula, and lays the values out per draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from revsim.engine import layout as L
from revsim.engine.draw_data import Book, DrawInputs, Structure
from revsim.engine.rng import input_uniforms
from revsim.errors import InputError, did_you_mean
from revsim.scenario.correlation import (
    check_correlation_matrix,
    correlate_uniforms,
    rank_to_normal_correlation,
)
from revsim.scenario.distributions import Distribution
from revsim.scenario.load import LoadedScenario
from revsim.scenario.schema import ALL_SEGMENTS, MAX_ACV_CV, Scenario, iter_inputs, positive_input_names

#: The largest relative MRR change of an upgrade or a renewal uplift (+1000%).
MAX_RELATIVE_CHANGE = 10.0
#: Largest ACV a draw may take: beyond it a month's new MRR could overflow the kernels' int64 cents.
MAX_ACV = 1e12
#: Fewest draws sampled on several threads (:meth:`CompiledScenario.draw_parameters`): below it starting the
#: threads costs more than they save.
PARALLEL_SAMPLING_DRAWS = 512

__all__ = ["CompiledScenario", "DrawParameters", "compile_scenario", "segment_input_path", "split_evenly"]


@dataclass(frozen=True)
class DrawParameters:
    """Every input's value in draws ``start`` to ``stop - 1``, raw and laid out for the kernel."""

    start: int
    stop: int
    inputs: dict[str, np.ndarray]
    seg_par: np.ndarray  # [draw, segment, N_SEG_PAR]
    conversion: np.ndarray  # [draw, segment, stage]
    hazard: np.ndarray  # [draw, segment, stage]
    ch_par: np.ndarray  # [draw, channel, N_CH_PAR]
    ch_season: np.ndarray  # [draw, channel, 12]: seasonal multipliers, January to December
    loop_coef: np.ndarray  # [draw, loop]
    capacity: np.ndarray  # [draw, month], int64
    initial_stock: np.ndarray  # [draw, segment, stage], int64: members open at start

    def __len__(self) -> int:
        return self.stop - self.start

    def draw(self, i: int) -> DrawInputs:
        """The parameters of the ``i``-th draw of this block (draw ``start + i``), as the kernel reads them."""
        return DrawInputs(self.seg_par[i], self.conversion[i], self.hazard[i], self.ch_par[i], self.ch_season[i],
                          self.loop_coef[i], self.capacity[i], self.initial_stock[i])

    def stacked(self) -> DrawInputs:
        """The parameters of every draw of this block, each field with the draws first (for
        :func:`~revsim.engine.kernels.simulate_draws`)."""
        return DrawInputs(self.seg_par, self.conversion, self.hazard, self.ch_par, self.ch_season, self.loop_coef,
                          self.capacity, self.initial_stock)


@dataclass(frozen=True)
class CompiledScenario:
    """A scenario's structure as arrays, and the recipe to draw its parameters."""

    source: LoadedScenario
    segments: list[str]
    stages: list[str]
    channels: list[str]
    loops: list[str]
    months: np.ndarray  # datetime64[M] labels of the simulated months
    start_calendar_month: int
    seg_int: np.ndarray
    ch_stage: np.ndarray
    ch_mix: np.ndarray
    loop_int: np.ndarray
    capacity_stage: int
    initial_stock: np.ndarray  # [segment, stage]: members open at start (each count's mean when uncertain)
    book_segment: np.ndarray
    book_customers: np.ndarray
    book_mrr: np.ndarray  # cents
    book_age: np.ndarray
    inputs: dict[str, Distribution]
    correlated: list[str] = field(default_factory=list)
    normal_correlation: np.ndarray | None = None

    @property
    def model(self) -> Scenario:
        """The validated scenario."""
        return self.source.model

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def structure(self) -> Structure:
        """The structure as the kernel reads it."""
        return Structure(self.start_calendar_month, self.seg_int, self.ch_stage, self.ch_mix, self.loop_int,
                         self.capacity_stage)

    @property
    def book(self) -> Book:
        """The initial book as the kernel reads it."""
        return Book(self.book_segment, self.book_customers, self.book_mrr, self.book_age)

    @property
    def uncertain_inputs(self) -> list[str]:
        """Paths of the inputs that vary between draws."""
        return [path for path, dist in self.inputs.items() if not dist.is_constant]

    def without_samples(self) -> CompiledScenario:
        """This scenario without the samples of its file-based inputs (``empirical``, ``posterior``), for
        machines that receive the draws' sampled inputs (:class:`DrawParameters`) instead of drawing them.

        The structure, the validated settings and every input's description stay; what a file held is
        replaced by :class:`~revsim.scenario.distributions.samples.SampledElsewhere`, so the result's size does
        not grow with the posterior's. It cannot draw parameters.
        """
        import dataclasses

        from revsim.scenario.distributions.samples import SampledElsewhere, _Samples

        def slim(value: object) -> object:
            from pydantic import BaseModel

            if isinstance(value, _Samples):
                return SampledElsewhere.of(value)
            if isinstance(value, BaseModel):
                changed = {name: slim(getattr(value, name)) for name in type(value).model_fields}
                return value.model_copy(update=changed)
            if isinstance(value, dict):
                return {key: slim(item) for key, item in value.items()}
            if type(value) in (list, tuple):
                return type(value)(slim(item) for item in value)
            return value

        source = dataclasses.replace(self.source, model=slim(self.model), locations={})
        inputs = {path: slim(dist) for path, dist in self.inputs.items()}
        return dataclasses.replace(self, source=source, inputs=inputs)  # type: ignore[arg-type]

    def draw_parameters(self, seed: int, start: int, stop: int, *, threads: int = 1) -> DrawParameters:
        """Sample every input for draws ``start`` to ``stop - 1``.

        Draw ``i``'s values depend only on ``seed``, ``i`` and each input's path. With ``threads`` above 1, a
        block of at least :data:`PARALLEL_SAMPLING_DRAWS` draws is sampled in that many pieces at once (the
        quantile functions, most of the time, release the GIL), with the same values.
        """
        n = stop - start
        if threads > 1 and n >= PARALLEL_SAMPLING_DRAWS:
            from concurrent.futures import ThreadPoolExecutor

            edges = [start + n * i // threads for i in range(threads + 1)]
            with ThreadPoolExecutor(max_workers=threads) as pool:
                pieces = list(pool.map(lambda a, b: self._sampled_values(seed, a, b), edges[:-1], edges[1:]))
            values = {path: np.concatenate([piece[path] for piece in pieces]) for path in self.inputs}
        else:
            values = self._sampled_values(seed, start, stop)
        self._check_ranges(values, start)
        return self._layout(values, start, stop)

    def _sampled_values(self, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
        """Every input's values in draws ``start`` to ``stop - 1``, by path (row ``i`` depends on draw ``i``
        only, also for correlated inputs: :func:`~revsim.scenario.correlation.correlate_uniforms`)."""
        n = stop - start
        uniforms: dict[str, np.ndarray] = {}
        for path, dist in self.inputs.items():
            if not dist.is_constant:
                uniforms[path] = input_uniforms(seed, self._stream_name(path, dist), start, stop)
        if self.correlated:
            block = np.column_stack([uniforms[p] for p in self.correlated])
            block = correlate_uniforms(block, self.normal_correlation)
            for j, path in enumerate(self.correlated):
                uniforms[path] = block[:, j]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # _check_ranges names non-finite draws
            return {
                path: (np.full(n, float(dist.mean())) if dist.is_constant else np.asarray(dist.ppf(uniforms[path]), float))
                for path, dist in self.inputs.items()
            }

    # -- internals -------------------------------------------------------------------------------------------

    def _stream_name(self, path: str, dist: Distribution) -> str:
        """The input stream of ``path``: its own, or its group's (all draws of one posterior file share one,
        named by the file's samples, so that moving the file, or writing the same draws again, does not change
        the draws: :meth:`~revsim.scenario.posterior_file.PosteriorFile.samples_sha256`)."""
        if dist.group is None:
            return path
        from revsim.scenario.posterior_file import posterior_file

        source = getattr(dist, "path", "") or getattr(dist, "source", "") or dist.group
        return "group:" + (posterior_file(source).samples_sha256() if Path(source).is_file() else dist.group)

    def _check_ranges(self, values: dict[str, np.ndarray], start: int) -> None:
        """Refuse draws the model cannot use, naming the input and the first such draw."""
        problems = []

        def refuse(bad: np.ndarray, path: tuple[str | int, ...], message: str) -> None:
            if bad.any():
                problems.append((f"{message}; draw {start + int(np.argmax(bad))} has one", path, None))

        for path, value in values.items():
            refuse(~np.isfinite(value), tuple(path.split(".")), f"input '{path}' drew a value that is not finite")
        positive = positive_input_names()
        for path, value in values.items():
            if path.rsplit(".", 1)[-1] in positive:  # as the constant 0 is refused, so is a distribution at 0
                refuse(value <= 0, tuple(path.split(".")), f"input '{path}' must be positive but drew 0: its "
                       "distribution is so close to 0 that its draws are 0 (the constant 0 is refused too)")
        for path, value in values.items():
            if path.startswith(OPEN_PREFIX):
                refuse(value > 1e9, tuple(path.split(".")), "more than 1e9 members open in a stage")
        for i, channel in enumerate(self.channels):
            refuse(values[f"channels.{channel}.growth"] <= -1, ("channels", i, "growth"),
                   "a monthly growth rate must be above -1 (-100%)")
        model = self.model
        for key in model.pricing:
            base = ("pricing",) if key == ALL_SEGMENTS else ("pricing", key)
            refuse(values[".".join((*base, "acv"))] > MAX_ACV, (*base, "acv"),
                   f"an ACV above {MAX_ACV:.3g} {model.currency} a year cannot be counted (money is counted in "
                   "int64 cents)")
            refuse(values[".".join((*base, "acv_cv"))] > MAX_ACV_CV, (*base, "acv_cv"),
                   f"acv_cv (the spread of deal values) must be at most {MAX_ACV_CV:g}")
        for key, settings in model.expansion.items():
            base = ("expansion",) if key == ALL_SEGMENTS else ("expansion", key)
            prefix = ".".join(base)
            for name in ("size", "price_uplift"):
                refuse(values[f"{prefix}.{name}"] > MAX_RELATIVE_CHANGE, (*base, name),
                       f"{name} is a relative change and must be at most {MAX_RELATIVE_CHANGE:g} (+{MAX_RELATIVE_CHANGE:.0%})")
            refuse(values[f"{prefix}.rate"] + values[f"{prefix}.contraction_rate"] > 1.0, base,
                   "rate + contraction_rate must be at most 1 (a customer cannot both upgrade and downgrade in a month)")
        if problems:
            raise self.source.error(problems)

    def _layout(self, values: dict[str, np.ndarray], start: int, stop: int) -> DrawParameters:
        model = self.model
        n, S, K = stop - start, len(self.segments), len(self.stages)
        seg_par = np.zeros((n, S, L.N_SEG_PAR))
        conversion = np.zeros((n, S, K))
        hazard = np.zeros((n, S, K))
        for s, seg in enumerate(self.segments):
            def get(block: str, name: str, seg: str = seg) -> np.ndarray:
                return values[segment_input_path(model, block, seg, name)]

            seg_par[:, s, L.MRR_MEAN] = get("pricing", "acv") / 12.0
            seg_par[:, s, L.ACV_CV] = get("pricing", "acv_cv")
            seg_par[:, s, L.ONB_SUCCESS] = get("onboarding", "success")
            retention = model.settings("retention", seg)
            if retention.model == "sbg":
                seg_par[:, s, L.SBG_ALPHA] = get("retention", "alpha")
                seg_par[:, s, L.SBG_BETA] = get("retention", "beta")
            else:
                seg_par[:, s, L.CHURN] = get("retention", "churn")
            seg_par[:, s, L.EXP_RATE] = get("expansion", "rate")
            seg_par[:, s, L.EXP_SIZE] = get("expansion", "size")
            seg_par[:, s, L.CON_RATE] = get("expansion", "contraction_rate")
            seg_par[:, s, L.CON_SIZE] = get("expansion", "contraction_size")
            seg_par[:, s, L.UPLIFT] = get("expansion", "price_uplift")
            seg_par[:, s, L.ADV_RATE] = get("advocacy", "rate")
            for k, stage in enumerate(model.funnel.stages[:-1]):
                conversion[:, s, k] = values[stage_input_path(stage, seg, "conversion")]
                hazard[:, s, k] = 1.0 / (1.0 + values[stage_input_path(stage, seg, "months")])

        ch_par = np.zeros((n, len(self.channels), L.N_CH_PAR))
        ch_season = np.ones((n, len(self.channels), 12))
        for c, channel in enumerate(self.channels):
            ch_par[:, c, L.VOLUME] = values[f"channels.{channel}.volume"]
            ch_par[:, c, L.GROWTH] = values[f"channels.{channel}.growth"]
            ch_par[:, c, L.DISPERSION] = values[f"channels.{channel}.dispersion"]
            if model.channels[c].seasonality is not None:
                for month in range(12):
                    ch_season[:, c, month] = values[f"channels.{channel}.seasonality.{month}"]

        loop_coef = np.zeros((n, len(self.loops)))
        for j, loop in enumerate(self.loops):
            loop_coef[:, j] = values[f"loops.{loop}.coefficient"]

        capacity = np.zeros((n, self.n_months), np.int64)
        if model.funnel.sales_capacity is not None:
            reps = values["funnel.sales_capacity.reps"][:, None]
            hires = values["funnel.sales_capacity.hires_per_month"][:, None]
            per_rep = values["funnel.sales_capacity.deals_per_rep_per_month"][:, None]
            months = np.arange(self.n_months)[None, :]
            capacity[:] = np.floor((reps + hires * months) * per_rep + 1e-9).astype(np.int64)
        initial_stock = open_stock(model, values)
        return DrawParameters(start, stop, values, seg_par, conversion, hazard, ch_par, ch_season, loop_coef,
                              capacity, initial_stock)


#: Input paths of the members open at start.
OPEN_PREFIX = "funnel.open_at_start."


def open_stock(model: Scenario, values: dict[str, np.ndarray]) -> np.ndarray:
    """Members open in each stage at start ``[draw, segment, stage]``: each count rounded to whole members;
    a count given for the whole stage is split across segments by their shares (largest remainders)."""
    segments, stages = model.segment_names, model.stage_names
    n = len(next(iter(values.values()))) if values else 1
    stock = np.zeros((n, len(segments), len(stages)), np.int64)
    shares = np.array([seg.share for seg in model.segments], float)
    mix = shares / shares.sum() if shares.sum() > 0 else np.full(len(segments), 1.0 / len(segments))
    for stage, counts in model.funnel.open_at_start.items():
        k = stages.index(stage)
        if isinstance(counts, dict):
            for seg in counts:
                stock[:, segments.index(seg), k] = np.rint(values[f"{OPEN_PREFIX}{stage}.{seg}"])
        else:
            totals = np.rint(values[f"{OPEN_PREFIX}{stage}"]).astype(np.int64)
            for i, total in enumerate(totals):
                stock[i, :, k] = split_evenly(int(total), mix)
    return stock


def segment_input_path(model: Scenario, block: str, segment: str, name: str) -> str:
    """The input path that holds ``segment``'s ``name`` in a per-segment block (``retention.smb.churn``)."""
    key = model.segment_key(block, segment)
    return f"{block}.{name}" if key == ALL_SEGMENTS else f"{block}.{key}.{name}"


def stage_input_path(stage, segment: str, name: str) -> str:
    """The input path of a stage's ``conversion`` or ``months`` for ``segment`` (override or the stage's)."""
    override = stage.by_segment.get(segment)
    if override is not None and getattr(override, name) is not None:
        return f"funnel.stages.{stage.name}.by_segment.{segment}.{name}"
    return f"funnel.stages.{stage.name}.{name}"


def split_evenly(total: int, weights: np.ndarray) -> np.ndarray:
    """Split a whole number in proportion to ``weights`` (largest remainders): the parts sum to ``total``."""
    exact = total * np.asarray(weights, float) / np.sum(weights)
    parts = np.floor(exact).astype(np.int64)
    shortfall = int(total - parts.sum())
    if shortfall > 0:
        parts[np.argsort(-(exact - parts), kind="stable")[:shortfall]] += 1
    return parts


def compile_scenario(source: LoadedScenario) -> CompiledScenario:
    """Lay a validated scenario out as arrays.

    Raises
    ------
    InputError
        When a correlation names an input that does not exist or is not uncertain, or the correlations are
        inconsistent.
    """
    model = source.model
    segments = model.segment_names
    stages = model.stage_names
    channels = model.channel_names
    seg_index = {name: i for i, name in enumerate(segments)}
    stage_index = {name: i for i, name in enumerate(stages)}
    S = len(segments)

    seg_int = np.zeros((S, L.N_SEG_INT), np.int64)
    for s, seg in enumerate(segments):
        retention = model.settings("retention", seg)
        seg_int[s, L.TERM] = retention.contract_months
        seg_int[s, L.ONB_MONTHS] = model.settings("onboarding", seg).months
        seg_int[s, L.ADOPT_MONTHS] = model.settings("advocacy", seg).adoption_months
        seg_int[s, L.RET_MODEL] = L.RET_SBG if retention.model == "sbg" else L.RET_CONSTANT

    shares = np.array([seg.share for seg in model.segments], float)
    default_mix = shares / shares.sum() if shares.sum() > 0 else np.full(S, 1.0 / S)
    ch_stage = np.zeros(len(channels), np.int64)
    ch_mix = np.zeros((len(channels), S))
    for c, channel in enumerate(model.channels):
        ch_stage[c] = stage_index[channel.stage] if channel.stage else 0
        if channel.segment_mix is not None:
            mix = np.array([channel.segment_mix.get(seg, 0.0) for seg in segments])
            ch_mix[c] = mix / mix.sum()
        else:
            ch_mix[c] = default_mix

    loop_int = np.zeros((len(model.loops), L.N_LOOP_INT), np.int64)
    for j, loop in enumerate(model.loops):
        loop_int[j, L.SOURCE] = L.LOOP_SOURCE_CODES[loop.source]
        loop_int[j, L.TARGET_STAGE] = stage_index[loop.target]
        loop_int[j, L.LAG] = loop.lag
        loop_int[j, L.TARGET_SEGMENT] = seg_index[loop.segment] if loop.segment else -1
        loop_int[j, L.SOURCE_SEGMENT] = seg_index[loop.source_segment] if loop.source_segment else -1

    initial_stock = open_stock(model, {path: np.array([dist.mean()]) for path, dist in iter_inputs(model)
                                       if path.startswith(OPEN_PREFIX)})[0]

    capacity_stage = -1
    if model.funnel.sales_capacity is not None:
        name = model.funnel.sales_capacity.stage or stages[-2]
        capacity_stage = stage_index[name]

    book_rows = []  # (segment, customers, MRR in cents, age), a cohort spread over ages becomes several rows
    for cohort in model.initial_book:
        segment = seg_index[cohort.segment] if cohort.segment else 0
        customers = split_evenly(cohort.customers, np.ones(cohort.spread_months))
        if cohort.customers == 0:
            continue
        cents = split_evenly(round(cohort.monthly_revenue * 100), customers)  # MRR follows the customers
        for offset in range(cohort.spread_months):
            if customers[offset] > 0:
                book_rows.append((segment, customers[offset], cents[offset], cohort.age_months + offset))
    book_segment, book_customers, book_mrr, book_age = (
        np.array([row[i] for row in book_rows], np.int64) for i in range(4))

    year, month = (int(x) for x in model.start.split("-"))
    months = np.arange(
        np.datetime64(f"{year:04d}-{month:02d}", "M"),
        np.datetime64(f"{year:04d}-{month:02d}", "M") + model.horizon_months,
    )
    inputs = dict(iter_inputs(model))
    correlated, normal_corr = _correlations(source, inputs)
    return CompiledScenario(
        source=source,
        segments=segments,
        stages=stages,
        channels=channels,
        loops=[loop.name for loop in model.loops],
        months=months,
        start_calendar_month=month - 1,
        seg_int=seg_int,
        ch_stage=ch_stage,
        ch_mix=ch_mix,
        loop_int=loop_int,
        capacity_stage=capacity_stage,
        initial_stock=initial_stock,
        book_segment=book_segment,
        book_customers=book_customers,
        book_mrr=book_mrr,
        book_age=book_age,
        inputs=inputs,
        correlated=correlated,
        normal_correlation=normal_corr,
    )


def _correlations(source: LoadedScenario, inputs: dict[str, Distribution]) -> tuple[list[str], np.ndarray | None]:
    pairs = source.model.correlations
    if not pairs:
        return [], None
    problems: list[tuple[str, tuple[str | int, ...], str | None]] = []
    uncertain = [p for p, d in inputs.items() if not d.is_constant]
    for i, pair in enumerate(pairs):
        for j, path in enumerate(pair.between):
            where = ("correlations", i, "between", j)
            if path not in inputs:
                problems.append((f"no input named '{path}'", where, did_you_mean(path, inputs)))
            elif inputs[path].is_constant:
                problems.append((f"'{path}' is a constant; only uncertain inputs can be correlated", where, None))
            elif inputs[path].group is not None:
                problems.append((f"'{path}' is drawn from a posterior, whose draws carry their own correlations",
                                 where, None))
        if pair.between[0] == pair.between[1]:
            problems.append(("an input cannot be correlated with itself", ("correlations", i), None))
    if problems:
        raise source.error(problems)
    names = sorted({p for pair in pairs for p in pair.between}, key=uncertain.index)
    index = {name: i for i, name in enumerate(names)}
    rank = np.eye(len(names))
    for pair in pairs:
        a, b = index[pair.between[0]], index[pair.between[1]]
        rank[a, b] = rank[b, a] = pair.rank
    try:
        check_correlation_matrix(rank, names)
    except InputError as exc:
        raise source.error([(p.message, ("correlations",), None) for p in exc.problems]) from None
    normal = rank_to_normal_correlation(rank)
    np.fill_diagonal(normal, 1.0)
    return names, normal
