"""A straightforward vectorised numpy implementation of revsim's model, to measure the numba core against.

It simulates the model of ``docs/model.md`` from the same compiled scenario and the same sampled parameters
(:func:`revsim.engine.compile.compile_scenario` and ``draw_parameters``), one month at a time, each step
vectorised across draws and cohorts with numpy's ``Generator.binomial``, ``poisson`` and ``gamma``. It
returns the same arrays as :func:`revsim.engine.run.run_draws`. Its random numbers are numpy's own (not one
aligned uniform per event, inverted), so it agrees with revsim in distribution, not draw for draw
(``tests/engine/test_numpy_reference.py`` checks that).

A :class:`VariateRecorder` passed to :func:`simulate_numpy` keeps the parameters of every variate drawn, so
that :func:`floor_seconds_per_variate` can time numpy drawing exactly those variates in one vectorised call
each: the random-number floor of the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from revsim.engine import layout as L
from revsim.engine.compile import CompiledScenario, DrawParameters
from revsim.engine.run import RawResults

__all__ = ["VariateRecorder", "simulate_numpy", "floor_seconds_per_variate"]

#: Draws simulated together; bounds the memory of the per-cohort arrays ([draws, cohorts]).
BATCH = 1000


@dataclass
class VariateRecorder:
    """Numpy's samplers, counting every variate drawn and keeping the parameters of the first ``limit``."""

    limit: int = 20_000_000
    counts: dict[str, int] = field(default_factory=lambda: {"binomial": 0, "poisson": 0, "gamma": 0})
    kept: dict[str, list[tuple[np.ndarray, ...]]] = field(
        default_factory=lambda: {"binomial": [], "poisson": [], "gamma": []})
    _kept_total: int = 0

    def _keep(self, kind: str, *arrays: np.ndarray) -> None:
        size = arrays[0].size
        self.counts[kind] += size
        if self._kept_total + size <= self.limit:
            self.kept[kind].append(tuple(a.ravel().copy() for a in arrays))
            self._kept_total += size

    def binomial(self, rng: np.random.Generator, n, p) -> np.ndarray:
        n, p = np.broadcast_arrays(np.asarray(n, np.int64), np.asarray(p, float))
        self._keep("binomial", n, p)
        return rng.binomial(n, p)

    def poisson(self, rng: np.random.Generator, lam) -> np.ndarray:
        lam = np.asarray(lam, float)
        self._keep("poisson", lam)
        return rng.poisson(lam)

    def gamma(self, rng: np.random.Generator, shape) -> np.ndarray:
        shape = np.asarray(shape, float)
        self._keep("gamma", shape)
        return rng.standard_gamma(shape)

    def kept_count(self, kind: str) -> int:
        return sum(arrays[0].size for arrays in self.kept[kind])


def floor_seconds_per_variate(recorder: VariateRecorder, *, seed: int = 0, repeats: int = 3) -> dict[str, float]:
    """Seconds numpy's ``Generator`` needs per variate to draw the kept variates again, by kind.

    Each kind is drawn in one vectorised call over the concatenated parameters (the best of ``repeats``).
    """
    rng = np.random.default_rng(seed)
    result = {}
    for kind, parts in recorder.kept.items():
        if not parts:
            result[kind] = 0.0
            continue
        columns = [np.concatenate(c) for c in zip(*parts, strict=True)]
        draw = {"binomial": lambda: rng.binomial(columns[0], columns[1]),
                "poisson": lambda: rng.poisson(columns[0]),
                "gamma": lambda: rng.standard_gamma(columns[0])}[kind]
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            draw()
            best = min(best, time.perf_counter() - start)
        result[kind] = best / columns[0].size
    return result


def simulate_numpy(compiled: CompiledScenario, params: DrawParameters, seed: int, *,
                   recorder: VariateRecorder | None = None, batch: int = BATCH) -> RawResults:
    """Simulate every draw of ``params`` with numpy; the same arrays as :func:`~revsim.engine.run.run_draws`."""
    n = len(params)
    raw = RawResults.zeros(compiled, params)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, params.start)))
    sampler = recorder or VariateRecorder(limit=0)
    for first in range(0, n, batch):
        _simulate_batch(compiled, params, slice(first, min(first + batch, n)), raw, rng, sampler)
    return raw


def _share(cents: np.ndarray, part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """round(cents * part / whole): the MRR carried by ``part`` of a cohort's ``whole`` customers."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.rint(cents * (part / whole)).astype(np.int64)
    return np.where(part >= whole, cents, np.where(part > 0, share, 0))


def _largest_remainders(wins: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Share ``capacity[d]`` deals among the segments of each draw in proportion to ``wins[d]``."""
    total = wins.sum(axis=1, keepdims=True)
    over = total[:, 0] > capacity
    allowed = wins.copy()
    if over.any():
        w, c, tot = wins[over], capacity[over][:, None], total[over]
        floor = (w * c) // tot
        remainder = (w * c) % tot
        left = c[:, 0] - floor.sum(axis=1)
        order = np.argsort(-remainder, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(w.shape[1])[None, :].repeat(len(w), 0), axis=1)
        allowed[over] = floor + (rank < left[:, None])
    return allowed


def _per_segment(values: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """[draw, cohort] -> [draw, segment] sums, ``columns[s]`` the cohorts of segment ``s``."""
    return np.stack([values[:, c].sum(axis=1) for c in columns], axis=1)


def _simulate_batch(compiled: CompiledScenario, params: DrawParameters, rows: slice, raw: RawResults,
                    rng: np.random.Generator, sampler: VariateRecorder) -> None:
    T, S, K = compiled.n_months, len(compiled.segments), len(compiled.stages)
    n_loops, n_channels, last = len(compiled.loops), len(compiled.channels), K - 1
    seg_par, conversion, hazard = params.seg_par[rows], params.conversion[rows], params.hazard[rows]
    ch_par, loop_coef, capacity = params.ch_par[rows], params.loop_coef[rows], params.capacity[rows]
    d = seg_par.shape[0]
    stage_entries, stage_open = raw.stage_entries[rows], raw.stage_open[rows]
    stage_converted, stage_lost = raw.stage_converted[rows], raw.stage_lost[rows]
    counts, money, loop_entries, flags = raw.counts[rows], raw.money[rows], raw.loop_entries[rows], raw.flags[rows]
    seg_int = compiled.seg_int

    # cohorts: the book, then one per (month, segment); columns of [draw, cohort] arrays
    n_book = len(compiled.book_segment)
    n_cohorts = n_book + T * S
    segment = np.concatenate([compiled.book_segment, np.tile(np.arange(S), T)]).astype(np.int64)
    birth = np.concatenate([-compiled.book_age, np.repeat(np.arange(T), S)]).astype(np.int64)
    customers = np.zeros((d, n_cohorts), np.int64)
    mrr = np.zeros((d, n_cohorts), np.int64)
    loss = np.zeros((d, n_cohorts), np.int64)
    customers[:, :n_book] = compiled.book_customers
    mrr[:, :n_book] = compiled.book_mrr

    history = np.zeros((T + 1, d, S, 4))
    book_columns = [np.flatnonzero(compiled.book_segment == s) for s in range(S)]
    history[0, :, :, L.SRC_ACTIVE] = [compiled.book_customers[c].sum() for c in book_columns]
    history[0, :, :, L.SRC_MRR] = [compiled.book_mrr[c].sum() / 100.0 for c in book_columns]
    adopted = np.array([compiled.book_customers[c][compiled.book_age[c] >= seg_int[s, L.ADOPT_MONTHS]].sum()
                        for s, c in enumerate(book_columns)])
    history[0, :, :, L.SRC_ADVOCATES] = sampler.binomial(rng, adopted[None, :], seg_par[:, :, L.ADV_RATE])

    stock = np.repeat(compiled.initial_stock[None], d, axis=0).astype(np.int64)
    waiting = np.zeros((d, S), np.int64)
    for t in range(T):
        entries = np.zeros((d, S, K), np.int64)
        # 1. channels: Poisson or gamma-Poisson entries, split across segments by a chain of binomials
        for ch in range(n_channels):
            mu = ch_par[:, ch, L.VOLUME] * (1.0 + ch_par[:, ch, L.GROWTH]) ** t \
                * params.ch_season[rows, ch, (compiled.start_calendar_month + t) % 12]
            dispersion = ch_par[:, ch, L.DISPERSION]
            noisy = (dispersion > 0) & (mu > 0) & (mu < L.COUNT_CAP)
            if noisy.any():
                mu[noisy] *= sampler.gamma(rng, 1.0 / dispersion[noisy]) * dispersion[noisy]
            capped = mu >= L.COUNT_CAP
            arrivals = sampler.poisson(rng, np.where(capped, 0.0, mu))
            arrivals[capped] = L.COUNT_CAP
            flags[:, n_loops + ch] = np.where((flags[:, n_loops + ch] == 0) & capped, t + 1, flags[:, n_loops + ch])
            stage, mass = compiled.ch_stage[ch], 1.0
            for s in range(S - 1):
                share = compiled.ch_mix[ch, s]
                k = sampler.binomial(rng, arrivals, share / mass if mass > share else 1.0)
                entries[:, s, stage] += k
                arrivals = arrivals - k
                mass -= share
            entries[:, S - 1, stage] += arrivals
        # 2. growth loops, from the source at the end of month t - lag
        for lp in range(n_loops):
            h = t - compiled.loop_int[lp, L.LAG] + 1
            source = history[h, :, :, compiled.loop_int[lp, L.SOURCE]].copy() if h >= 0 else np.zeros((d, S))
            if compiled.loop_int[lp, L.SOURCE_SEGMENT] >= 0:
                source[:, np.arange(S) != compiled.loop_int[lp, L.SOURCE_SEGMENT]] = 0.0
            lam = loop_coef[:, lp, None] * source
            capped = lam >= L.COUNT_CAP
            added = sampler.poisson(rng, np.where(capped, 0.0, lam))
            added[capped] = L.COUNT_CAP
            flags[:, lp] = np.where((flags[:, lp] == 0) & capped.any(axis=1), t + 1, flags[:, lp])
            target, stage = compiled.loop_int[lp, L.TARGET_SEGMENT], compiled.loop_int[lp, L.TARGET_STAGE]
            if target < 0:
                entries[:, :, stage] += added
            else:
                entries[:, target, stage] += added.sum(axis=1)
            loop_entries[:, t, lp] = added.sum(axis=1)
        counts[:, t, :, L.NEW_ENTRIES] = entries.sum(axis=2)
        # 3. acquisition stages, in order
        carried = np.zeros((d, S), np.int64)
        for k in range(last):
            arriving = entries[:, :, k] + carried
            stage_entries[:, t, :, k] = arriving
            stock[:, :, k] += arriving
            leaving = sampler.binomial(rng, stock[:, :, k], hazard[:, :, k])
            wins = sampler.binomial(rng, leaving, conversion[:, :, k])
            stock[:, :, k] -= leaving
            stage_converted[:, t, :, k] = wins
            stage_lost[:, t, :, k] = leaving - wins
            if k == compiled.capacity_stage:
                waiting += wins
                wins = _largest_remainders(waiting, capacity[:, t])
                waiting -= wins
            carried = wins
            stage_open[:, t, :, k] = stock[:, :, k] + (waiting if k == compiled.capacity_stage else 0)
        # 4. new cohorts, with gamma-distributed total MRR
        won = entries[:, :, last] + carried
        stage_entries[:, t, :, last] = won
        cv, mean = seg_par[:, :, L.ACV_CV], seg_par[:, :, L.MRR_MEAN]
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = sampler.gamma(rng, np.where(cv > 0, won / (cv * cv), 0.0))
        total = np.where(cv > 0, gamma * mean * cv * cv, won * mean)
        new = slice(n_book + t * S, n_book + (t + 1) * S)
        customers[:, new] = won
        mrr[:, new] = np.rint(total * 100.0).astype(np.int64)
        counts[:, t, :, L.NEW_CUSTOMERS] = won
        money[:, t, :, L.NEW_MRR] = mrr[:, new]
        # 5. customers: onboarding, renewals, upgrades and downgrades, vectorised over draws and cohorts
        alive = n_book + (t + 1) * S
        age = t - birth[:alive]
        seg = segment[:alive]
        columns = [np.flatnonzero(seg == s) for s in range(S)]
        aged = np.flatnonzero(age >= 1)
        sa, agea = seg[aged], age[aged]
        n, m = customers[:, aged], mrr[:, aged]

        def par(column: int, cohorts: np.ndarray | slice = slice(None)) -> np.ndarray:
            """A per-segment parameter for the aged cohorts, as [draw, cohort]."""
            return seg_par[:, sa[cohorts], column]

        churned = np.zeros_like(n)
        failed = np.zeros_like(n)
        onboarding = np.flatnonzero(agea == np.maximum(seg_int[sa, L.ONB_MONTHS], 1))
        if onboarding.size:
            failed[:, onboarding] = sampler.binomial(rng, n[:, onboarding], 1.0 - par(L.ONB_SUCCESS, onboarding))
            churned += failed
        renewing = np.flatnonzero(agea % seg_int[sa, L.TERM] == 0)
        if renewing.size:
            renewal = agea[renewing] // seg_int[sa[renewing], L.TERM]
            alpha, beta = par(L.SBG_ALPHA, renewing), par(L.SBG_BETA, renewing)
            sbg = seg_int[sa[renewing], L.RET_MODEL] == L.RET_SBG
            with np.errstate(divide="ignore", invalid="ignore"):
                p_stay = np.where(sbg, (beta + renewal - 1.0) / (alpha + beta + renewal - 1.0),
                                  1.0 - par(L.CHURN, renewing))
            before = n[:, renewing] - churned[:, renewing]
            churned[:, renewing] += before - sampler.binomial(rng, before, p_stay)
        churned_mrr = _share(m, churned, n)
        n = n - churned
        m = m - churned_mrr
        renewed = np.zeros_like(n)
        renewed[:, renewing] = n[:, renewing]
        expansion = np.zeros_like(m)
        if renewing.size:
            uplift = par(L.UPLIFT, renewing)
            expansion[:, renewing] = np.where(n[:, renewing] > 0, np.rint(m[:, renewing] * uplift), 0).astype(np.int64)
            m = m + expansion
        rate, contraction_rate = par(L.EXP_RATE), par(L.CON_RATE)
        up = sampler.binomial(rng, n, rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_down = np.where(rate < 1.0, contraction_rate / (1.0 - rate), 0.0)
        down = sampler.binomial(rng, n - up, np.minimum(p_down, 1.0))
        upgrade = np.rint(_share(m, up, n) * par(L.EXP_SIZE)).astype(np.int64)
        contraction = np.rint(_share(m, down, n) * par(L.CON_SIZE)).astype(np.int64)
        expansion += upgrade
        m = m + upgrade - contraction
        customers[:, aged] = n
        mrr[:, aged] = m
        loss[:, aged] += churned_mrr + contraction
        aged_columns = [np.flatnonzero(sa == s) for s in range(S)]
        counts[:, t, :, L.ONBOARDING_CHURNED] = _per_segment(failed, aged_columns)
        counts[:, t, :, L.CHURNED_CUSTOMERS] = _per_segment(churned, aged_columns)
        counts[:, t, :, L.RENEWED] = _per_segment(renewed, aged_columns)
        money[:, t, :, L.CHURNED_MRR] = _per_segment(churned_mrr, aged_columns)
        money[:, t, :, L.EXPANSION_MRR] = _per_segment(expansion, aged_columns)
        money[:, t, :, L.CONTRACTION_MRR] = _per_segment(contraction, aged_columns)
        counts[:, t, :, L.ACTIVE_CUSTOMERS] = _per_segment(customers[:, :alive], columns)
        money[:, t, :, L.MRR] = _per_segment(mrr[:, :alive], columns)
        old = [c[age[c] >= 12] for c in columns]
        money[:, t, :, L.MRR_AGED_12] = _per_segment(mrr[:, :alive], old)
        money[:, t, :, L.LOSS_AGED_12] = _per_segment(loss[:, :alive], old)
        adopted_columns = [c[age[c] >= seg_int[s, L.ADOPT_MONTHS]] for s, c in enumerate(columns)]
        # 6. advocates, and this month's loop sources
        adopted = _per_segment(customers[:, :alive], adopted_columns)
        advocates = sampler.binomial(rng, adopted, seg_par[:, :, L.ADV_RATE])
        counts[:, t, :, L.ADVOCATES] = advocates
        history[t + 1, :, :, L.SRC_ADVOCATES] = advocates
        history[t + 1, :, :, L.SRC_ACTIVE] = counts[:, t, :, L.ACTIVE_CUSTOMERS]
        history[t + 1, :, :, L.SRC_NEW] = won
        history[t + 1, :, :, L.SRC_MRR] = money[:, t, :, L.MRR] / 100.0
        over = (money[:, t, :, L.MRR] > L.MONEY_CAP).any(axis=1)
        flags[:, n_loops + n_channels] = np.where((flags[:, n_loops + n_channels] == 0) & over, t + 1,
                                                  flags[:, n_loops + n_channels])
