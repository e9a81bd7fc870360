"""The Monte Carlo core: one draw of the bowtie, month by month, as a numba kernel.

Kernels take plain arrays and scalars (column layouts in :mod:`revsim.engine.layout`) and one
``np.random.Generator`` per process, and write into output arrays the caller allocated. They release the GIL,
so draws run on threads. Counts are int64; money is int64 cents of MRR, so the revenue bridge
``mrr[t] = mrr[t-1] + new + expansion - contraction - churned`` holds exactly.

Every random event takes exactly one uniform from its process's generator, at a position fixed by the
scenario's structure (month, channel, stage, segment, cohort), and turns it into a count by inversion
(:mod:`revsim.engine.sampling`). So a variant that changes a rate sees the same uniforms for the same events
(common random numbers), and counts downstream of a higher rate can only be higher (monotone coupling).

Each month of one draw:

1. channels add Poisson (or gamma-Poisson) entries, split across segments;
2. growth loops add Poisson entries from an earlier month's source;
3. every acquisition stage lets each member leave with probability ``hazard = 1 / (1 + months)`` and
   converts a leaver with probability ``conversion``; won deals beyond the sales capacity wait, and close
   first in the following months;
4. the wins of the month form a new cohort per segment, with a gamma-distributed total MRR;
5. every older cohort goes through onboarding failures, renewals (constant or sBG retention, price
   uplift), upgrades and downgrades;
6. advocates are drawn among adopted customers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from revsim.engine.layout import (
    ACTIVE_CUSTOMERS,
    ACV_CV,
    ADOPT_MONTHS,
    ADV_RATE,
    ADVOCATES,
    CHURN,
    CHURNED_CUSTOMERS,
    CHURNED_MRR,
    CON_RATE,
    CON_SIZE,
    CONTRACTION_MRR,
    COUNT_CAP,
    DISPERSION,
    EXP_RATE,
    EXP_SIZE,
    EXPANSION_MRR,
    GROWTH,
    LAG,
    LOSS_AGED_12,
    MONEY_CAP,
    MRR,
    MRR_AGED_12,
    MRR_MEAN,
    NEW_CUSTOMERS,
    NEW_ENTRIES,
    NEW_MRR,
    ONB_MONTHS,
    ONB_SUCCESS,
    ONBOARDING_CHURNED,
    RENEWED,
    RET_MODEL,
    RET_SBG,
    SBG_ALPHA,
    SBG_BETA,
    SOURCE,
    SOURCE_SEGMENT,
    SRC_ACTIVE,
    SRC_ADVOCATES,
    SRC_MRR,
    SRC_NEW,
    TARGET_SEGMENT,
    TARGET_STAGE,
    TERM,
    UPLIFT,
    VOLUME,
)
from revsim.engine.sampling import (
    SMALL_MEAN,
    binomial_quantile,
    binomial_zero_terms,
    gamma_quantile,
    poisson_quantile,
    small_binomial_quantile,
)

__all__ = ["simulate_draw", "draw_binomial", "draw_poisson_capped", "allocate_capacity"]


#: Products of two counts (or of cents and a count) below this fit in int64 with room for rounding.
_EXACT_PRODUCT_LIMIT = 2**62
#: Cohorts smaller than this draw their churners, upgraders and downgraders with ``(1 - p) ** n`` looked up in
#: a table made once per draw (the exponential would otherwise be most of the cost of a small binomial).
_ZERO_TERMS = 256
#: Columns of the per-segment tables: the probabilities a cohort's customers churn (constant retention),
#: upgrade, and downgrade (given they did not upgrade).
_P_CHURN, _P_UP, _P_DOWN = 0, 1, 2


@njit(cache=True, nogil=True)
def draw_binomial(rng, n, p):
    """Binomial(n, p) by inversion of the next uniform of ``rng``; always consumes exactly one uniform."""
    return np.int64(binomial_quantile(n, p, rng.random()))


@njit(cache=True, nogil=True)
def draw_poisson_capped(rng, lam):
    """Poisson(lam) by inversion, capped at ``COUNT_CAP``; returns (count, capped). Consumes one uniform."""
    u = rng.random()
    if lam >= COUNT_CAP:
        return np.int64(COUNT_CAP), True
    return np.int64(poisson_quantile(lam, u)), False


@njit(cache=True, nogil=True)
def allocate_capacity(wins, capacity, allowed):
    """Share ``capacity`` deals among segments in proportion to their ``wins`` (largest remainders).

    Writes the deals each segment may close into ``allowed``; the total is min(sum(wins), capacity).
    """
    total = wins.sum()
    n = wins.shape[0]
    if total <= capacity:
        for s in range(n):
            allowed[s] = wins[s]
        return
    given = 0
    remainders = np.empty(n)
    exact_integers = total < _EXACT_PRODUCT_LIMIT // max(capacity, 1)
    for s in range(n):
        if exact_integers:  # wins * capacity / total in integers: ties are exact, and go to the first segment
            product = wins[s] * capacity
            allowed[s] = product // total
            remainders[s] = product - allowed[s] * total
        else:
            exact = wins[s] * (capacity / total)
            allowed[s] = np.int64(np.floor(exact))
            remainders[s] = exact - allowed[s]
        given += allowed[s]
    order = np.argsort(-remainders, kind="mergesort")
    i = 0
    while given < capacity:
        s = order[i % n]
        if allowed[s] < wins[s]:
            allowed[s] += 1
            given += 1
        i += 1


@njit(cache=True, nogil=True)
def _share(cents, part, whole):
    """The part of ``cents`` held by ``part`` of ``whole`` customers, in whole cents."""
    if part <= 0:
        return np.int64(0)
    if part >= whole:
        return cents
    if cents < _EXACT_PRODUCT_LIMIT // part:
        # cents * part / whole rounded half to even, in integers
        product = cents * part
        quotient = product // whole
        twice_remainder = 2 * (product - quotient * whole)
        if twice_remainder > whole or (twice_remainder == whole and quotient % 2 == 1):
            quotient += 1
        return quotient
    return np.int64(np.rint(cents * (part / whole)))


@njit(cache=True, nogil=True)
def _cohort_binomial(n, p, odds, zero_term, u):
    """``binomial_quantile(n, p, u)`` for ``p <= 1/2``, given the odds ``p / (1 - p)`` and ``zero_term``, which is
    ``(1 - p) ** n`` from the tables of :func:`_cohort_tables` or negative when n is beyond them. Gives exactly
    what ``binomial_quantile`` gives. (Scalars only: an array argument would cost reference counting.)
    """
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    mean = n * p
    if zero_term >= 0.0 and mean < SMALL_MEAN:
        return np.int64(small_binomial_quantile(n, odds, zero_term, mean, u))
    return np.int64(binomial_quantile(n, p, u))


@njit(cache=True, nogil=True)
def _cohort_tables(seg_int, seg_par):
    """Per segment, the churn, upgrade and downgrade probabilities of a customer, their odds ``p / (1 - p)``,
    and tables of ``(1 - p) ** n`` (empty when ``p > 1/2`` or, for churn, when retention is not constant)."""
    n_segments = seg_par.shape[0]
    probability = np.zeros((n_segments, 3))
    odds = np.zeros((n_segments, 3))
    tabled = np.zeros((n_segments, 3), np.bool_)
    zero_terms = np.ones((n_segments, 3, _ZERO_TERMS))
    for s in range(n_segments):
        par = seg_par[s]
        # the same floating-point probabilities the general formulas use: churners are n - Binomial(n, p_stay)
        probability[s, _P_CHURN] = 1.0 - (1.0 - par[CHURN])
        probability[s, _P_UP] = par[EXP_RATE]
        p_down = par[CON_RATE] / (1.0 - par[EXP_RATE]) if par[EXP_RATE] < 1.0 else 0.0
        probability[s, _P_DOWN] = min(p_down, 1.0)
        for j in range(3):
            p = probability[s, j]
            if 0.0 < p <= 0.5 and (j != _P_CHURN or seg_int[s, RET_MODEL] != RET_SBG):
                tabled[s, j] = True
                odds[s, j] = p / (1.0 - p)
                zero_terms[s, j] = binomial_zero_terms(p, _ZERO_TERMS)
    return probability, odds, tabled, zero_terms


@njit(cache=True, nogil=True)
def _retention_probability(model, seg_par, s, renewal):
    """Probability that a customer of segment ``s`` survives its ``renewal``-th renewal (1 = the first)."""
    if model == RET_SBG:
        a = seg_par[s, SBG_ALPHA]
        b = seg_par[s, SBG_BETA]
        return (b + renewal - 1.0) / (a + b + renewal - 1.0)
    return 1.0 - seg_par[s, CHURN]


@njit(cache=True, nogil=True)
def simulate_draw(
    start_calendar_month,
    seg_int,
    ch_stage,
    ch_mix,
    ch_season,
    loop_int,
    capacity_stage,
    initial_stock,
    book_segment,
    book_customers,
    book_mrr,
    book_age,
    seg_par,
    conversion,
    hazard,
    ch_par,
    loop_coef,
    capacity,
    rng_arrivals,
    rng_conversion,
    rng_pricing,
    rng_onboarding,
    rng_retention,
    rng_expansion,
    rng_advocacy,
    rng_loops,
    out_stage_entries,
    out_stage_open,
    out_stage_converted,
    out_stage_lost,
    out_counts,
    out_money,
    out_loop_entries,
    out_flags,
    out_cohort_customers,
    out_cohort_mrr,
):
    """Simulate one draw; write its monthly flows and stocks into the ``out_*`` arrays (zeroed by the caller).

    Parameters
    ----------
    start_calendar_month
        Calendar month of the first simulated month, 0 = January (indexes ``ch_season``).
    seg_int, ch_stage, ch_mix, ch_season, loop_int, capacity_stage
        Structure of the scenario, the same in every draw (see :mod:`revsim.engine.layout`).
    initial_stock
        ``[segment, stage]``: members already in each stage at the start.
    book_segment, book_customers, book_mrr, book_age
        The initial book: one row per existing cohort (segment, customers, MRR in cents, age in months).
    seg_par, conversion, hazard, ch_par, loop_coef, capacity
        This draw's parameters: per-segment values, stage conversion and leaving probabilities
        ``[segment, stage]``, channel volume/growth/dispersion, loop coefficients, deals that can close
        each month.
    rng_*
        One generator per process; a draw's generators are used by no other draw.
    out_stage_entries, out_stage_open, out_stage_converted, out_stage_lost
        ``[month, segment, stage]``: entries into each stage, members still open at month end (won deals
        waiting for sales capacity included), members who converted to the next stage, members lost.
    out_counts, out_money
        ``[month, segment, column]``: customer counts and MRR movements in cents.
    out_loop_entries
        ``[month, loop]``.
    out_flags
        ``[n_loops + n_channels + 1]``: first month (+1) a loop or channel was capped as runaway, and
        the month (+1) MRR grew beyond what can be counted (the draw stops there).
    out_cohort_customers, out_cohort_mrr
        ``[acquisition month, segment, age]``: each simulated cohort's customers and MRR (cents) at each age,
        or arrays of size 0 when per-cohort detail is not asked for.
    """
    n_months = out_counts.shape[0]
    n_segments = seg_par.shape[0]
    n_stages = conversion.shape[1]
    n_channels = ch_par.shape[0]
    n_loops = loop_coef.shape[0]
    n_book = book_segment.shape[0]
    last = n_stages - 1
    keep_cohorts = out_cohort_customers.shape[0] > 0

    # cohorts: the initial book first, then one per (acquisition month, segment)
    n_cohorts = n_book + n_months * n_segments
    c_customers = np.zeros(n_cohorts, np.int64)
    c_mrr = np.zeros(n_cohorts, np.int64)
    c_loss = np.zeros(n_cohorts, np.int64)
    c_birth = np.zeros(n_cohorts, np.int64)
    c_segment = np.zeros(n_cohorts, np.int64)
    for b in range(n_book):
        c_customers[b] = book_customers[b]
        c_mrr[b] = book_mrr[b]
        c_birth[b] = -book_age[b]
        c_segment[b] = book_segment[b]
    for t in range(n_months):
        for s in range(n_segments):
            c = n_book + t * n_segments + s
            c_birth[c] = t
            c_segment[c] = s

    # loop sources by month: index 0 is the state before the first month
    src_history = np.zeros((n_months + 1, n_segments, 4))
    adopted = np.zeros(n_segments, np.int64)
    for b in range(n_book):
        s = book_segment[b]
        src_history[0, s, SRC_ACTIVE] += book_customers[b]
        src_history[0, s, SRC_MRR] += book_mrr[b] / 100.0
        if book_age[b] >= seg_int[s, ADOPT_MONTHS]:
            adopted[s] += book_customers[b]
    for s in range(n_segments):
        src_history[0, s, SRC_ADVOCATES] = draw_binomial(rng_advocacy, adopted[s], seg_par[s, ADV_RATE])

    probability, odds, tabled, zero_terms = _cohort_tables(seg_int, seg_par)
    stock = initial_stock.copy()
    entries = np.zeros((n_segments, n_stages), np.int64)
    wins = np.zeros(n_segments, np.int64)
    allowed = np.zeros(n_segments, np.int64)
    waiting = np.zeros(n_segments, np.int64)  # won deals waiting for sales capacity
    n_cohorts_now = n_book

    for t in range(n_months):
        entries[:, :] = 0

        # 1. channels
        season_index = (start_calendar_month + t) % 12
        for ch in range(n_channels):
            mu = ch_par[ch, VOLUME] * (1.0 + ch_par[ch, GROWTH]) ** t * ch_season[ch, season_index]
            dispersion = ch_par[ch, DISPERSION]
            u_noise = rng_arrivals.random()  # the gamma multiplier's uniform, drawn even without dispersion
            if dispersion > 0.0 and 0.0 < mu < COUNT_CAP:
                mu *= gamma_quantile(1.0 / dispersion, u_noise) * dispersion
            arrivals, capped = draw_poisson_capped(rng_arrivals, mu)
            if capped and out_flags[n_loops + ch] == 0:
                out_flags[n_loops + ch] = t + 1
            # split across segments by a chain of binomials (one uniform per segment but the last)
            remaining = arrivals
            mass = 1.0
            for s in range(n_segments - 1):
                share = ch_mix[ch, s]
                k = draw_binomial(rng_arrivals, remaining, share / mass if mass > share else 1.0)
                entries[s, ch_stage[ch]] += k
                remaining -= k
                mass -= share
            entries[n_segments - 1, ch_stage[ch]] += remaining

        # 2. growth loops, from the source `lag` months earlier (index t - lag + 1 of the history)
        for lp in range(n_loops):
            h = t - loop_int[lp, LAG] + 1
            for s in range(n_segments):
                source = src_history[h, s, loop_int[lp, SOURCE]] if h >= 0 else 0.0
                if loop_int[lp, SOURCE_SEGMENT] >= 0 and s != loop_int[lp, SOURCE_SEGMENT]:
                    source = 0.0
                added, capped = draw_poisson_capped(rng_loops, loop_coef[lp] * source)
                if capped and out_flags[lp] == 0:
                    out_flags[lp] = t + 1
                target_segment = s if loop_int[lp, TARGET_SEGMENT] < 0 else loop_int[lp, TARGET_SEGMENT]
                entries[target_segment, loop_int[lp, TARGET_STAGE]] += added
                out_loop_entries[t, lp] += added

        # 3. acquisition stages, in order, so a member can move through several stages in a month
        carried = np.zeros(n_segments, np.int64)
        for s in range(n_segments):
            out_counts[t, s, NEW_ENTRIES] = entries[s].sum()
        for k in range(last):
            for s in range(n_segments):
                arriving = entries[s, k] + carried[s]
                out_stage_entries[t, s, k] = arriving
                stock[s, k] += arriving
                leaving = draw_binomial(rng_conversion, stock[s, k], hazard[s, k])
                wins[s] = draw_binomial(rng_conversion, leaving, conversion[s, k])
                stock[s, k] -= leaving
                out_stage_converted[t, s, k] = wins[s]
                out_stage_lost[t, s, k] = leaving - wins[s]
            if k == capacity_stage:
                # won deals beyond the month's capacity wait, already won, and close first next month
                for s in range(n_segments):
                    waiting[s] += wins[s]
                allocate_capacity(waiting, capacity[t], allowed)
                for s in range(n_segments):
                    waiting[s] -= allowed[s]
                    wins[s] = allowed[s]
            for s in range(n_segments):
                carried[s] = wins[s]
                out_stage_open[t, s, k] = stock[s, k] + (waiting[s] if k == capacity_stage else 0)

        # 4. this month's wins become a cohort per segment
        for s in range(n_segments):
            won = entries[s, last] + carried[s]
            out_stage_entries[t, s, last] = won
            u_price = rng_pricing.random()
            if won == 0:
                continue
            mean_mrr = seg_par[s, MRR_MEAN]
            cv = seg_par[s, ACV_CV]
            if cv > 0.0:
                # the sum of `won` gamma-distributed contract values with mean mean_mrr and spread cv
                total = gamma_quantile(won / (cv * cv), u_price) * mean_mrr * cv * cv
            else:
                total = won * mean_mrr
            if not total * 100.0 < MONEY_CAP:  # beyond what int64 cents can sum: stop the draw here
                out_flags[n_loops + n_channels] = t + 1
                return
            cents = np.int64(np.rint(total * 100.0))
            c = n_book + t * n_segments + s
            c_customers[c] = won
            c_mrr[c] = cents
            out_counts[t, s, NEW_CUSTOMERS] += won
            out_money[t, s, NEW_MRR] += cents
        n_cohorts_now = n_book + (t + 1) * n_segments

        # 5. the customers: onboarding, renewals, upgrades and downgrades
        adopted[:] = 0
        for c in range(n_cohorts_now):
            n = c_customers[c]
            s = c_segment[c]
            age = t - c_birth[c]
            # every cohort draws the uniforms of its events, empty or not, so that the streams stay aligned
            onboarding_due = age == max(seg_int[s, ONB_MONTHS], 1)
            term = seg_int[s, TERM]
            renewal = age >= 1 and (term == 1 or age % term == 0)
            u_onboarding = rng_onboarding.random() if onboarding_due else 0.0
            u_renewal = rng_retention.random() if renewal else 0.0
            u_up = rng_expansion.random() if age >= 1 else 0.0
            u_down = rng_expansion.random() if age >= 1 else 0.0
            if n == 0:
                # a cohort that has died out still counts its losses in GRR's 12-month window
                if c_loss[c] > 0 and age >= 12:
                    out_money[t, s, LOSS_AGED_12] += c_loss[c]
                continue
            if age >= 1:
                mrr = c_mrr[c]
                churned = np.int64(0)
                if onboarding_due:
                    failed = np.int64(binomial_quantile(n, 1.0 - seg_par[s, ONB_SUCCESS], u_onboarding))
                    churned += failed
                    out_counts[t, s, ONBOARDING_CHURNED] += failed
                if renewal and n - churned > 0:
                    if tabled[s, _P_CHURN]:
                        # n - Binomial(n, 1 - churn) at u is Binomial(n, churn) at 1 - u
                        m = n - churned
                        churned += _cohort_binomial(m, probability[s, _P_CHURN], odds[s, _P_CHURN],
                                                    zero_terms[s, _P_CHURN, m] if m < _ZERO_TERMS else -1.0,
                                                    1.0 - u_renewal)
                    else:
                        p_stay = _retention_probability(seg_int[s, RET_MODEL], seg_par, s, age // term)
                        churned += (n - churned) - binomial_quantile(n - churned, p_stay, u_renewal)
                churned_mrr = _share(mrr, churned, n)
                n -= churned
                mrr -= churned_mrr
                if renewal:
                    out_counts[t, s, RENEWED] += n
                expansion = np.int64(0)
                contraction = np.int64(0)
                if n > 0:
                    if renewal and seg_par[s, UPLIFT] > 0.0:
                        expansion += np.int64(np.rint(mrr * seg_par[s, UPLIFT]))
                        mrr += expansion
                    if tabled[s, _P_UP]:
                        up = _cohort_binomial(n, probability[s, _P_UP], odds[s, _P_UP],
                                              zero_terms[s, _P_UP, n] if n < _ZERO_TERMS else -1.0, u_up)
                    else:
                        up = np.int64(binomial_quantile(n, probability[s, _P_UP], u_up))
                    if tabled[s, _P_DOWN]:
                        m = n - up
                        down = _cohort_binomial(m, probability[s, _P_DOWN], odds[s, _P_DOWN],
                                                zero_terms[s, _P_DOWN, m] if m < _ZERO_TERMS else -1.0, u_down)
                    else:
                        down = np.int64(binomial_quantile(n - up, probability[s, _P_DOWN], u_down))
                    if up > 0 and seg_par[s, EXP_SIZE] > 0.0:
                        upgrade = np.int64(np.rint(_share(mrr, up, n) * seg_par[s, EXP_SIZE]))
                        expansion += upgrade
                    else:
                        upgrade = np.int64(0)
                    if down > 0 and seg_par[s, CON_SIZE] > 0.0:
                        contraction = np.int64(np.rint(_share(mrr, down, n) * seg_par[s, CON_SIZE]))
                    mrr += upgrade - contraction
                c_customers[c] = n
                c_mrr[c] = mrr
                c_loss[c] += churned_mrr + contraction
                out_counts[t, s, CHURNED_CUSTOMERS] += churned
                out_money[t, s, CHURNED_MRR] += churned_mrr
                out_money[t, s, EXPANSION_MRR] += expansion
                out_money[t, s, CONTRACTION_MRR] += contraction
            out_counts[t, s, ACTIVE_CUSTOMERS] += n
            out_money[t, s, MRR] += c_mrr[c]
            if keep_cohorts and c >= n_book:
                out_cohort_customers[c_birth[c], s, age] = n
                out_cohort_mrr[c_birth[c], s, age] = c_mrr[c]
            if age >= 12:
                out_money[t, s, MRR_AGED_12] += c_mrr[c]
                out_money[t, s, LOSS_AGED_12] += c_loss[c]
            if age >= seg_int[s, ADOPT_MONTHS]:
                adopted[s] += n

        # 6. advocates, and this month's loop sources
        for s in range(n_segments):
            advocates = draw_binomial(rng_advocacy, adopted[s], seg_par[s, ADV_RATE])
            out_counts[t, s, ADVOCATES] = advocates
            src_history[t + 1, s, SRC_ADVOCATES] = advocates
            src_history[t + 1, s, SRC_ACTIVE] = out_counts[t, s, ACTIVE_CUSTOMERS]
            src_history[t + 1, s, SRC_NEW] = out_counts[t, s, NEW_CUSTOMERS]
            src_history[t + 1, s, SRC_MRR] = out_money[t, s, MRR] / 100.0
            if out_money[t, s, MRR] > MONEY_CAP or out_money[t, s, LOSS_AGED_12] > MONEY_CAP:
                out_flags[n_loops + n_channels] = t + 1
                return
