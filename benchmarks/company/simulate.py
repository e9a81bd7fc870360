"""The month loop: one company, one world, simulated member by member and customer by customer.

Each month runs the steps of ``docs/model.md`` section 2 in their order:

1. **channels**: ``N ~ Poisson(mu * G)``, ``G ~ Gamma(1/d, d)`` (``G = 1`` without dispersion), with
   ``mu = volume * (1 + growth) ** t * seasonality[calendar month]``, split across segments by a multinomial
   with the channel's ``segment_mix`` (else the segments' shares); the entries join the channel's stage;
2. **loops**: ``Poisson(coefficient * X_s(t - lag))`` entries per source segment ``s`` at the loop's target
   stage (``X`` the advocates, active customers, new customers or MRR at the end of month ``t - lag``;
   nothing before the start);
3. **stages**, first to last: every member arriving in stage ``k`` (entries and conversions from stage
   ``k - 1`` of the same month) draws, when it arrives, the number of month ends ``J`` it will stay,
   ``P(J = j) = h (1 - h) ** j`` with ``h = 1 / (1 + months)``, and whether it converts when it leaves
   (probability ``conversion``). A member with ``J = 0`` leaves this month and, when it converts, arrives in
   the next stage before that stage is processed: members can cross several stages in a month;
4. **new customers**: the arrivals in the last stage, each with its own MRR ``~ Gamma(1/cv^2, scale
   acv/12 * cv^2)`` (exactly ``acv/12`` without ``acv_cv``) and, under an sBG, its own churn probability per
   renewal ``theta ~ Beta(alpha, beta)`` (the constant ``churn`` otherwise);
5. **customers of age >= 1**, in this order: onboarding failures at age ``max(onboarding.months, 1)``
   (each with probability ``1 - success``); at a renewal (age a multiple of ``contract_months``) each
   remaining customer leaves with its churn probability, then the survivors' MRR grows by
   ``price_uplift``; then every survivor upgrades (probability ``rate``, MRR x ``1 + size``), downgrades
   (probability ``contraction_rate``, MRR x ``1 - contraction_size``) or neither;
6. **advocates**: ``Binomial(adopted customers, rate)`` per segment, adopted meaning an age of at least
   ``adoption_months`` at month end; the month's loop sources are stored.

One ``np.random.default_rng(seed)`` drives everything. Draws are made month by month and never depend on
the number of months simulated, so a longer run with the same seed starts with the same history (what
happened next can be simulated after the fact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.company.run import CompanyRun
from benchmarks.company.truth import Company, month_label, read_truth

__all__ = ["simulate_company", "MAX_ARRIVALS_PER_MONTH"]

#: Members are simulated one by one: a stage receiving more than this in a month is refused (memory, time).
MAX_ARRIVALS_PER_MONTH = 20_000_000


class _Customers:
    """The active customers, one entry per customer (compacted when customers leave)."""

    def __init__(self) -> None:
        self.segment = np.zeros(0, np.int64)
        self.birth = np.zeros(0, np.int64)
        self.mrr = np.zeros(0, np.float64)
        self.churn = np.zeros(0, np.float64)  # churn probability per renewal

    def keep(self, mask: np.ndarray) -> None:
        self.segment, self.birth = self.segment[mask], self.birth[mask]
        self.mrr, self.churn = self.mrr[mask], self.churn[mask]

    def add(self, segment: np.ndarray, birth: int, mrr: np.ndarray, churn: np.ndarray) -> None:
        self.segment = np.concatenate([self.segment, segment])
        self.birth = np.concatenate([self.birth, np.full(len(segment), birth, np.int64)])
        self.mrr = np.concatenate([self.mrr, mrr])
        self.churn = np.concatenate([self.churn, churn])


def _sum_by(index: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(index, weights=weights, minlength=size)[:size]


#: How the MRR of a cohort's customers is held: each customer its own, or the cohort's average (the engine's).
MRR_WITHIN_COHORT = ("individual", "cohort_average")


def simulate_company(truth: dict[str, Any], months: int = 60, seed: int = 0, *,
                     mrr_within_cohort: str = "individual") -> CompanyRun:
    """Simulate ``months`` months of the company described by ``truth``, from nothing at ``truth["start"]``.

    Parameters
    ----------
    truth
        A plain dict in revsim's scenario-file format, every input a constant (see
        :mod:`benchmarks.company.truth`; :mod:`benchmarks.company.shapes` has ready-made ones).
    months
        Months to simulate; month 0 is ``truth["start"]``.
    seed
        Seed of the one ``np.random.default_rng`` that drives every random event.
    mrr_within_cohort
        ``"individual"`` (default): every customer keeps its own MRR, and churners, upgraders and downgraders
        move their own. ``"cohort_average"``: at the end of each month every customer of a cohort holds the
        cohort's average MRR, so that churners, upgraders and downgraders move the cohort's average MRR per
        customer, as revsim's engine does (``docs/model.md`` 4.4-4.5); the money then has the engine's
        distribution exactly (see the package docstring).

    Returns
    -------
    CompanyRun
        Every flow and stock per month (and segment, stage, source), the cohort table, and the truth.
    """
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
        raise ValueError(f"months must be a whole number >= 1, got {months!r}")
    if mrr_within_cohort not in MRR_WITHIN_COHORT:
        raise ValueError(f"mrr_within_cohort must be one of {', '.join(MRR_WITHIN_COHORT)}, got {mrr_within_cohort!r}")
    company = read_truth(truth)
    rng = np.random.default_rng(seed)
    T, S, K = int(months), len(company.segments), len(company.stages)
    C, L = len(company.channels), len(company.loops)
    R = C + L
    out = _Arrays(T, K, S, R, L)
    customers = _Customers()
    a_onboarding = np.maximum(company.onboarding_months, 1)
    for t in range(T):
        _channels(company, rng, t, out)
        _loops(company, rng, t, out)
        _stages(company, rng, t, out)
        _existing_customers(company, rng, t, customers, a_onboarding, out)
        _new_customers(company, rng, t, customers, out)
        if mrr_within_cohort == "cohort_average":
            _pool_cohorts(customers, T, S)
        _month_end(company, rng, t, customers, out)
    arrivals_left = out.entries[:, :-1] - out.converted[:, :-1] - out.lost[:, :-1]  # [T, K-1, S, R]
    open_by_source = np.zeros((T, K, S, R), np.int64)
    open_by_source[:, :-1] = np.cumsum(arrivals_left, axis=0)
    open_in_stage = open_by_source.sum(axis=3)
    return CompanyRun(
        truth=truth, company=company, seed=seed,
        months=[month_label(company.start + t) for t in range(T)],
        direct_entries=out.direct, stage_entries=out.entries, stage_converted=out.converted.sum(axis=3),
        stage_lost=out.lost.sum(axis=3), open_in_stage=open_in_stage,
        new_customers=out.new_customers, churned_customers=out.churned_customers,
        onboarding_churned=out.onboarding_churned, active_customers=out.active_customers,
        advocates=out.advocates, renewals=out.renewals, upgrades=out.upgrades, downgrades=out.downgrades,
        uplift_mrr=out.uplift_mrr, new_mrr=out.new_mrr, expansion_mrr=out.expansion_mrr,
        contraction_mrr=out.contraction_mrr, churned_mrr=out.churned_mrr, mrr=out.mrr,
        loop_entries=out.loop_entries, loop_source=out.loop_source,
        cohort_customers=out.cohort_customers, cohort_mrr=out.cohort_mrr, open_by_source=open_by_source,
    )


class _Arrays:
    """What a run records, preallocated."""

    def __init__(self, T: int, K: int, S: int, R: int, L: int) -> None:
        self.T, self.K, self.S, self.R = T, K, S, R
        self.direct = np.zeros((T, K, S, R), np.int64)  # entries from channels and loops
        self.incoming = np.zeros((T, K, S, R), np.int64)  # conversions from the stage before
        self.entries = np.zeros((T, K, S, R), np.int64)  # direct + incoming, recorded when processed
        self.converted = np.zeros((T, K, S, R), np.int64)  # by the month members leave
        self.lost = np.zeros((T, K, S, R), np.int64)
        self.new_customers = np.zeros((T, S), np.int64)
        self.churned_customers = np.zeros((T, S), np.int64)
        self.onboarding_churned = np.zeros((T, S), np.int64)
        self.active_customers = np.zeros((T, S), np.int64)
        self.advocates = np.zeros((T, S), np.int64)
        self.renewals = np.zeros((T, S), np.int64)
        self.upgrades = np.zeros((T, S), np.int64)
        self.downgrades = np.zeros((T, S), np.int64)
        self.uplift_mrr = np.zeros((T, S))
        self.new_mrr = np.zeros((T, S))
        self.expansion_mrr = np.zeros((T, S))
        self.contraction_mrr = np.zeros((T, S))
        self.churned_mrr = np.zeros((T, S))
        self.mrr = np.zeros((T, S))
        self.loop_entries = np.zeros((T, L), np.int64)
        self.loop_source = np.zeros((T, L))
        self.source = np.zeros((T, 4, S))  # advocates, active customers, new customers, MRR at month end
        self.cohort_customers = np.zeros((T, T, S), np.int64)  # [month observed, month acquired, segment]
        self.cohort_mrr = np.zeros((T, T, S))


_SOURCE_ROW = {"advocates": 0, "active_customers": 1, "new_customers": 2, "mrr": 3}


def _channels(company: Company, rng: np.random.Generator, t: int, out: _Arrays) -> None:
    calendar = (company.start + t) % 12
    for c, channel in enumerate(company.channels):
        mean = channel.volume * (1.0 + channel.growth) ** t * channel.seasonality[calendar]
        if channel.dispersion > 0:
            mean *= rng.gamma(1.0 / channel.dispersion, channel.dispersion)
        count = rng.poisson(mean)
        out.direct[t, channel.stage, :, c] += rng.multinomial(count, channel.mix)


def _loops(company: Company, rng: np.random.Generator, t: int, out: _Arrays) -> None:
    C = len(company.channels)
    for ell, loop in enumerate(company.loops):
        before = t - loop.lag
        if before < 0:  # no source before the start (the book at month -1 is empty)
            continue
        source = out.source[before, _SOURCE_ROW[loop.source]].copy()
        if loop.source_segment is not None:
            keep = np.zeros(len(source), bool)
            keep[loop.source_segment] = True
            source[~keep] = 0.0
        counts = rng.poisson(loop.coefficient * source)
        for s, n in enumerate(counts):
            target = s if loop.segment is None else loop.segment
            out.direct[t, loop.target, target, C + ell] += n
        out.loop_entries[t, ell] = counts.sum()


def _stages(company: Company, rng: np.random.Generator, t: int, out: _Arrays) -> None:
    T, K, S, R = out.T, out.K, out.S, out.R
    for k in range(K):
        arriving = out.direct[t, k] + out.incoming[t, k]  # [S, R]
        out.entries[t, k] = arriving
        if k == K - 1:
            break
        total = int(arriving.sum())
        if total == 0:
            continue
        if total > MAX_ARRIVALS_PER_MONTH:
            raise ValueError(f"{total:,} members arrive in stage {company.stages[k]!r} in month {t}: the "
                             f"independent simulator follows members one by one (at most "
                             f"{MAX_ARRIVALS_PER_MONTH:,} a month); lower the volumes or the loops")
        cell = np.repeat(np.arange(S * R), arriving.ravel())  # segment * R + source, per member
        segment = cell // R
        hazard = 1.0 / (1.0 + company.months_in_stage[k, segment])
        stay = rng.geometric(hazard) - 1  # month ends spent in the stage before leaving (0: this month)
        converts = rng.random(total) < company.conversion[k, segment]
        leave = t + stay
        inside = leave < T
        at = leave[inside] * (S * R) + cell[inside]
        won = converts[inside]
        converted = _sum_by(at[won], T * S * R).reshape(T, S, R)
        out.converted[:, k] += converted
        out.lost[:, k] += _sum_by(at[~won], T * S * R).reshape(T, S, R)
        out.incoming[:, k + 1] += converted


def _existing_customers(company: Company, rng: np.random.Generator, t: int, customers: _Customers,
                        a_onboarding: np.ndarray, out: _Arrays) -> None:
    """Step 5 for the customers won before this month: departures, then MRR movements."""
    if len(customers.segment) == 0:
        return
    renewing = _departures(company, rng, t, customers, a_onboarding, out)
    _mrr_movements(company, rng, t, customers, renewing, out)


def _departures(company: Company, rng: np.random.Generator, t: int, customers: _Customers,
                a_onboarding: np.ndarray, out: _Arrays) -> np.ndarray:
    """Onboarding failures, then churn at renewals; returns which remaining customers renewed this month."""
    S, seg = out.S, customers.segment
    age = t - customers.birth
    at_onboarding = np.flatnonzero(age == a_onboarding[seg])
    failed = np.zeros(len(seg), bool)
    failed[at_onboarding] = rng.random(len(at_onboarding)) >= company.onboarding_success[seg[at_onboarding]]
    renewing = (age % company.contract_months[seg] == 0) & ~failed
    due = np.flatnonzero(renewing)
    churned = np.zeros(len(seg), bool)
    churned[due] = rng.random(len(due)) < customers.churn[due]
    lost = failed | churned
    out.renewals[t] = _sum_by(seg[renewing], S)
    out.churned_customers[t] = _sum_by(seg[lost], S)
    out.onboarding_churned[t] = _sum_by(seg[failed], S)
    out.churned_mrr[t] = _sum_by(seg[lost], S, customers.mrr[lost])
    customers.keep(~lost)
    return renewing[~lost]


def _mrr_movements(company: Company, rng: np.random.Generator, t: int, customers: _Customers,
                   renewing: np.ndarray, out: _Arrays) -> None:
    """Price uplift at renewals, then each survivor upgrades, downgrades or neither (one uniform each)."""
    S, seg = out.S, customers.segment
    uplift = np.where(renewing, customers.mrr * company.price_uplift[seg], 0.0)
    mrr = customers.mrr + uplift
    u = rng.random(len(seg))
    p_up = company.upgrade_rate[seg]
    upgrades = u < p_up
    downgrades = ~upgrades & (u < p_up + company.downgrade_rate[seg])
    upgrade = np.where(upgrades, mrr * company.upgrade_size[seg], 0.0)
    downgrade = np.where(downgrades, mrr * company.downgrade_size[seg], 0.0)
    customers.mrr = mrr + upgrade - downgrade
    out.upgrades[t] = _sum_by(seg[upgrades], S)
    out.downgrades[t] = _sum_by(seg[downgrades], S)
    out.uplift_mrr[t] = _sum_by(seg, S, uplift)
    out.expansion_mrr[t] = out.uplift_mrr[t] + _sum_by(seg, S, upgrade)
    out.contraction_mrr[t] = _sum_by(seg, S, downgrade)


def _new_customers(company: Company, rng: np.random.Generator, t: int, customers: _Customers,
                   out: _Arrays) -> None:
    won = out.entries[t, -1].sum(axis=1)  # [S]
    out.new_customers[t] = won
    for s, n in enumerate(won):
        if n == 0:
            continue
        mean, cv = company.acv[s] / 12.0, company.acv_cv[s]
        mrr = rng.gamma(1.0 / cv**2, mean * cv**2, n) if cv > 0 else np.full(n, mean)
        churn = rng.beta(company.alpha[s], company.beta[s], n) if company.sbg[s] else np.full(n, company.churn[s])
        customers.add(np.full(n, s, np.int64), t, mrr, churn)
        out.new_mrr[t, s] = mrr.sum()


def _pool_cohorts(customers: _Customers, T: int, S: int) -> None:
    """Give every customer its cohort's average MRR (the cohort's total is unchanged up to rounding)."""
    if len(customers.segment) == 0:
        return
    cohort = customers.birth * S + customers.segment
    total = _sum_by(cohort, T * S, customers.mrr)
    count = _sum_by(cohort, T * S)
    customers.mrr = (total / np.maximum(count, 1))[cohort]


def _month_end(company: Company, rng: np.random.Generator, t: int, customers: _Customers, out: _Arrays) -> None:
    T, S = out.T, out.S
    seg = customers.segment
    out.active_customers[t] = _sum_by(seg, S)
    out.mrr[t] = _sum_by(seg, S, customers.mrr)
    cohort = customers.birth * S + seg
    out.cohort_customers[t] = _sum_by(cohort, T * S).reshape(T, S)
    out.cohort_mrr[t] = _sum_by(cohort, T * S, customers.mrr).reshape(T, S)
    adopted = _sum_by(seg[t - customers.birth >= company.adoption_months[seg]], S)
    out.advocates[t] = rng.binomial(adopted, company.advocacy_rate)
    out.source[t] = np.stack([out.advocates[t], out.active_customers[t], out.new_customers[t], out.mrr[t]])
    for ell, loop in enumerate(company.loops):
        row = out.source[t, _SOURCE_ROW[loop.source]]
        out.loop_source[t, ell] = row.sum() if loop.source_segment is None else row[loop.source_segment]
