"""The Monte Carlo core: one draw of the bowtie, month by month, as a numba kernel.

:func:`simulate_draw` takes a few named structures (:mod:`revsim.engine.draw_data`): the scenario's structure
and initial book, the draw's parameters, its random key (the run's Philox key and the draw's index) and
the output arrays the caller allocated (column layouts in :mod:`revsim.engine.layout`). It runs the steps of
each month below in order, each a function of its own that takes the key and can be called alone. Kernels
release the GIL, so draws run on threads. Counts are int64; money is int64 cents of MRR, so the revenue
bridge ``mrr[t] = mrr[t-1] + new + expansion - contraction - churned`` holds exactly.

Every random event takes its uniform from a Philox block addressed by what the event is (draw, process,
month, channel or stage or cohort, segment: :func:`event_uniforms`), never by the events drawn before it,
and turns it into a count by inversion (:mod:`revsim.engine.sampling`). So an event that cannot happen (a
cohort without customers, a stage without members) takes no uniform, a variant that changes a rate sees the
same uniforms for the same events (common random numbers), and counts downstream of a higher rate can only
be higher (monotone coupling).

Each month of one draw:

1. :func:`channel_entries`: channels add Poisson (or gamma-Poisson) entries, split across segments;
2. :func:`loop_entries`: growth loops add Poisson entries from an earlier month's source;
3. :func:`stage_flows`: every acquisition stage lets each member leave with probability
   ``hazard = 1 / (1 + months)`` and converts a leaver with probability ``conversion``; won deals beyond the
   sales capacity wait, and close first in the following months;
4. :func:`new_cohorts`: the wins of the month form a new cohort per segment, with a gamma-distributed total
   MRR;
5. :func:`customer_month`: every older cohort goes through onboarding failures, renewals (constant or sBG
   retention, price uplift), upgrades and downgrades;
6. :func:`advocates`: advocates are drawn among adopted customers.

(numba caches the kernel by this file: after editing :mod:`revsim.engine.sampling`,
:mod:`revsim.engine.special` or :mod:`revsim.engine.philox` alone, delete the cache,
``find src -name '*.nbi' -delete``.)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from revsim.engine.draw_data import (
    CohortTables,
    Cohorts,
    DrawInputs,
    DrawOutputs,
    FunnelState,
    LoopSources,
    RandomKey,
)
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
    P_ADVOCACY,
    P_ARRIVALS,
    P_BOOK_CUSTOMERS,
    P_CONVERSION,
    P_CUSTOMERS,
    P_LOOPS,
    P_PRICING,
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
from revsim.engine.philox import philox_uniforms
from revsim.engine.sampling import (
    SMALL_MEAN,
    binomial_logs,
    binomial_quantile,
    binomial_quantile_given_logs,
    binomial_zero_terms,
    gamma_quantile,
    poisson_quantile,
    small_binomial_quantile,
)

__all__ = ["simulate_draws", "simulate_draw", "initial_cohorts", "initial_loop_sources", "cohort_tables",
           "funnel_logs", "channel_entries", "loop_entries", "stage_flows", "new_cohorts", "customer_month",
           "advocates", "event_uniforms", "draw_binomial", "draw_poisson_capped", "allocate_capacity"]


#: Products of two counts (or of cents and a count) below this fit in int64 with room for rounding.
_EXACT_PRODUCT_LIMIT = 2**62
#: Cohorts smaller than this draw their churners, upgraders and downgraders with ``(1 - p) ** n`` looked up in
#: a table made once per draw (the exponential would otherwise be most of the cost of a small binomial).
_ZERO_TERMS = 256
#: Columns of the per-segment tables: the probabilities a cohort's customers churn (constant retention),
#: upgrade, and downgrade (given they did not upgrade).
_P_CHURN, _P_UP, _P_DOWN = 0, 1, 2


@njit(cache=True, nogil=True, inline="always")
def event_uniforms(key, process, month, a, b):
    """The four uniforms of the event ``(process, month, a, b)`` of the draw ``key`` (see :mod:`revsim.engine.rng`):
    one Philox block, whose counter is ``(draw, process * 2**32 + month + 1, a, b)``."""
    return philox_uniforms(key.draw, (np.uint64(process) << np.uint64(32)) | np.uint64(month + 1), np.uint64(a),
                           np.uint64(b), key.k0, key.k1)


@njit(cache=True, nogil=True)
def draw_binomial(n, p, u):
    """Binomial(n, p) by inversion of the uniform ``u``."""
    return np.int64(binomial_quantile(n, p, u))


@njit(cache=True, nogil=True)
def draw_poisson_capped(lam, u):
    """Poisson(lam) by inversion of the uniform ``u``, capped at ``COUNT_CAP``; returns (count, capped)."""
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
    ``(1 - p) ** n`` from the tables of :func:`cohort_tables` or negative when n is beyond them. Gives exactly
    what ``binomial_quantile`` gives. (Scalars only: an array argument would cost reference counting.)
    """
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    mean = n * p
    if zero_term >= 0.0 and mean < SMALL_MEAN:
        return np.int64(small_binomial_quantile(n, odds, zero_term, mean, u))
    return np.int64(binomial_quantile(n, p, u))


@njit(cache=True, nogil=True)
def _retention_probability(model, seg_par, s, renewal):
    """Probability that a customer of segment ``s`` survives its ``renewal``-th renewal (1 = the first)."""
    if model == RET_SBG:
        a = seg_par[s, SBG_ALPHA]
        b = seg_par[s, SBG_BETA]
        return (b + renewal - 1.0) / (a + b + renewal - 1.0)
    return 1.0 - seg_par[s, CHURN]


@njit(cache=True, nogil=True)
def simulate_draws(structure, book, inputs, key, out, first, last):
    """Simulate draws ``first`` to ``last - 1`` of a block with :func:`simulate_draw`, without going back to Python
    between draws (numba would unbox the arguments of every call, holding the GIL).

    ``inputs`` and ``out`` hold every draw of the block, each field with the draws first
    (:meth:`~revsim.engine.compile.DrawParameters.stacked`, :meth:`~revsim.engine.run.RawResults.stacked`);
    ``key.draw`` is the run's index of the block's draw 0.
    """
    for i in range(first, last):
        simulate_draw(
            structure, book,
            DrawInputs(inputs.seg_par[i], inputs.conversion[i], inputs.hazard[i], inputs.ch_par[i],
                       inputs.ch_season[i], inputs.loop_coef[i], inputs.capacity[i], inputs.initial_stock[i]),
            RandomKey(key.k0, key.k1, key.draw + np.uint64(i)),
            DrawOutputs(out.stage_entries[i], out.stage_open[i], out.stage_converted[i], out.stage_lost[i],
                        out.counts[i], out.money[i], out.loop_entries[i], out.flags[i], out.cohort_customers[i],
                        out.cohort_mrr[i]),
        )


@njit(cache=True, nogil=True)
def simulate_draw(structure, book, inputs, key, out):
    """Simulate one draw; write its monthly flows and stocks into ``out`` (zeroed by the caller).

    Parameters
    ----------
    structure, book : Structure, Book
        The scenario's structure and initial book (:mod:`revsim.engine.draw_data`), the same in every draw.
    inputs : DrawInputs
        This draw's parameters.
    key : RandomKey
        This draw's key: the run's Philox key and the draw's index, which address every uniform of the draw.
    out : DrawOutputs
        Where the draw writes; the draw stops at the month MRR grows beyond what can be counted (``out.flags``).
    """
    n_months = out.counts.shape[0]
    n_segments, n_stages = inputs.conversion.shape
    funnel = FunnelState(inputs.initial_stock.copy(), np.zeros((n_segments, n_stages), np.int64),
                         np.zeros(n_segments, np.int64), np.zeros(n_segments, np.int64),
                         np.zeros(n_segments, np.int64), np.zeros(n_segments, np.int64))
    cohorts = initial_cohorts(book, n_months, n_segments)
    sources = initial_loop_sources(structure, book, inputs, key, n_months)
    tables = cohort_tables(structure.seg_int, inputs.seg_par)
    logs = funnel_logs(inputs.hazard, inputs.conversion)
    for t in range(n_months):
        funnel.entries[:, :] = 0
        channel_entries(t, structure, inputs, key, funnel.entries, out.flags)
        loop_entries(t, structure, inputs, key, sources.history, funnel.entries, out)
        stage_flows(t, structure, inputs, logs, key, funnel, out)
        if not new_cohorts(t, inputs, key, funnel, book.segment.shape[0], cohorts, out):
            return
        customer_month(t, structure, inputs, tables, key, book.segment.shape[0] + (t + 1) * n_segments,
                       book.segment.shape[0], cohorts, sources.adopted, out)
        if not advocates(t, inputs, key, sources, out):
            return


# -- the state at the start of a draw ----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def initial_cohorts(book, n_months, n_segments):
    """The cohorts of a draw: the initial book first, then one (empty) per acquisition month and segment."""
    n_book = book.segment.shape[0]
    n_cohorts = n_book + n_months * n_segments
    cohorts = Cohorts(np.zeros(n_cohorts, np.int64), np.zeros(n_cohorts, np.int64), np.zeros(n_cohorts, np.int64),
                      np.zeros(n_cohorts, np.int64), np.zeros(n_cohorts, np.int64))
    for b in range(n_book):
        cohorts.customers[b] = book.customers[b]
        cohorts.mrr[b] = book.mrr[b]
        cohorts.birth[b] = -book.age[b]
        cohorts.segment[b] = book.segment[b]
    for t in range(n_months):
        for s in range(n_segments):
            c = n_book + t * n_segments + s
            cohorts.birth[c] = t
            cohorts.segment[c] = s
    return cohorts


@njit(cache=True, nogil=True)
def initial_loop_sources(structure, book, inputs, key, n_months):
    """The loops' sources before the first month: the book's customers, MRR and advocates (their uniforms are
    those of month -1)."""
    n_segments = inputs.seg_par.shape[0]
    sources = LoopSources(np.zeros((n_months + 1, n_segments, 4)), np.zeros(n_segments, np.int64))
    for b in range(book.segment.shape[0]):
        s = book.segment[b]
        sources.history[0, s, SRC_ACTIVE] += book.customers[b]
        sources.history[0, s, SRC_MRR] += book.mrr[b] / 100.0
        if book.age[b] >= structure.seg_int[s, ADOPT_MONTHS]:
            sources.adopted[s] += book.customers[b]
    for s in range(n_segments):
        if sources.adopted[s] > 0:
            u = event_uniforms(key, P_ADVOCACY, -1, s, 0)[0]
            sources.history[0, s, SRC_ADVOCATES] = draw_binomial(sources.adopted[s], inputs.seg_par[s, ADV_RATE], u)
    return sources


@njit(cache=True, nogil=True)
def cohort_tables(seg_int, seg_par):
    """Per segment, the churn, upgrade and downgrade probabilities of a customer, their odds ``p / (1 - p)``,
    and tables of ``(1 - p) ** n`` (empty when ``p > 1/2`` or, for churn, when retention is not constant)."""
    n_segments = seg_par.shape[0]
    tables = CohortTables(np.zeros((n_segments, 3)), np.zeros((n_segments, 3)), np.zeros((n_segments, 3), np.bool_),
                          np.ones((n_segments, 3, _ZERO_TERMS)))
    for s in range(n_segments):
        par = seg_par[s]
        # the same floating-point probabilities the general formulas use: churners are n - Binomial(n, p_stay)
        tables.probability[s, _P_CHURN] = 1.0 - (1.0 - par[CHURN])
        tables.probability[s, _P_UP] = par[EXP_RATE]
        p_down = par[CON_RATE] / (1.0 - par[EXP_RATE]) if par[EXP_RATE] < 1.0 else 0.0
        tables.probability[s, _P_DOWN] = min(p_down, 1.0)
        for j in range(3):
            p = tables.probability[s, j]
            if 0.0 < p <= 0.5 and (j != _P_CHURN or seg_int[s, RET_MODEL] != RET_SBG):
                tables.tabled[s, j] = True
                tables.odds[s, j] = p / (1.0 - p)
                tables.zero_terms[s, j] = binomial_zero_terms(p, _ZERO_TERMS)
            elif p > 0.0 or (j == _P_CHURN and seg_int[s, RET_MODEL] == RET_SBG):
                tables.zero_terms[s, j] = 0.0  # no uniform is at or below it: the quick test always fails
    return tables


@njit(cache=True, nogil=True)
def funnel_logs(hazard, conversion):
    """Per segment and stage, :func:`~revsim.engine.sampling.binomial_logs` of the hazard (columns 0, 1) and of
    the conversion (2, 3): the logarithms the funnel's binomials would otherwise take every month."""
    n_segments, n_stages = hazard.shape
    logs = np.empty((n_segments, n_stages, 4))
    for s in range(n_segments):
        for k in range(n_stages):
            logs[s, k, 0], logs[s, k, 1] = binomial_logs(hazard[s, k])
            logs[s, k, 2], logs[s, k, 3] = binomial_logs(conversion[s, k])
    return logs


# -- the steps of a month ---------------------------------------------------------------------------------------
# (each step reads its structures' arrays into local names first: the loops then index plain arrays)


@njit(cache=True, nogil=True, inline="always")
def channel_entries(t, structure, inputs, key, entries, flags):
    """1. Channels add Poisson (or gamma-Poisson) entries, split across segments by a chain of binomials.

    Uniforms: the event ``(channel, 0)`` gives the gamma multiplier's and the count's; ``(channel, 1 + s)`` the
    split's at segment ``s``, drawn only while entries remain."""
    ch_par, ch_season, ch_mix, ch_stage = inputs.ch_par, inputs.ch_season, structure.ch_mix, structure.ch_stage
    n_segments = entries.shape[0]
    n_loops = inputs.loop_coef.shape[0]
    season_index = (structure.start_calendar_month + t) % 12
    for ch in range(ch_par.shape[0]):
        mu = ch_par[ch, VOLUME] * (1.0 + ch_par[ch, GROWTH]) ** t * ch_season[ch, season_index]
        dispersion = ch_par[ch, DISPERSION]
        u_noise, u_count, _, _ = event_uniforms(key, P_ARRIVALS, t, ch, 0)
        if dispersion > 0.0 and 0.0 < mu < COUNT_CAP:
            mu *= gamma_quantile(1.0 / dispersion, u_noise) * dispersion
        arrivals, capped = draw_poisson_capped(mu, u_count)
        if capped and flags[n_loops + ch] == 0:
            flags[n_loops + ch] = t + 1
        # a binomial per segment but the last
        remaining = arrivals
        mass = 1.0
        for s in range(n_segments - 1):
            if remaining == 0:
                break
            share = ch_mix[ch, s]
            u_split = event_uniforms(key, P_ARRIVALS, t, ch, 1 + s)[0]
            k = draw_binomial(remaining, share / mass if mass > share else 1.0, u_split)
            entries[s, ch_stage[ch]] += k
            remaining -= k
            mass -= share
        entries[n_segments - 1, ch_stage[ch]] += remaining


@njit(cache=True, nogil=True, inline="always")
def loop_entries(t, structure, inputs, key, history, entries, out):
    """2. Growth loops add Poisson entries, from their source ``lag`` months earlier (``history[t - lag + 1]``).

    Uniforms: the event ``(loop, segment)``, drawn only when the mean is positive."""
    loop_int, loop_coef, flags, added_by_loop = structure.loop_int, inputs.loop_coef, out.flags, out.loop_entries
    n_segments = entries.shape[0]
    for lp in range(loop_coef.shape[0]):
        h = t - loop_int[lp, LAG] + 1
        for s in range(n_segments):
            source = history[h, s, loop_int[lp, SOURCE]] if h >= 0 else 0.0
            if loop_int[lp, SOURCE_SEGMENT] >= 0 and s != loop_int[lp, SOURCE_SEGMENT]:
                source = 0.0
            mean = loop_coef[lp] * source
            if not mean > 0.0:
                continue
            added, capped = draw_poisson_capped(mean, event_uniforms(key, P_LOOPS, t, lp, s)[0])
            if capped and flags[lp] == 0:
                flags[lp] = t + 1
            target_segment = s if loop_int[lp, TARGET_SEGMENT] < 0 else loop_int[lp, TARGET_SEGMENT]
            entries[target_segment, loop_int[lp, TARGET_STAGE]] += added
            added_by_loop[t, lp] += added


@njit(cache=True, nogil=True, inline="always")
def stage_flows(t, structure, inputs, logs, key, funnel, out):
    """3. Acquisition stages, in order, so a member can move through several stages in a month: each member
    leaves with probability ``hazard``, a leaver converts with probability ``conversion``; won deals beyond the
    month's sales capacity wait, already won, and close first in the following months.

    Leaves in ``funnel.carried`` the members who reach the last stage (won) this month. Uniforms: the event
    ``(stage, segment)`` gives the leavers' and the converters', drawn only when the stage has members.
    ``logs`` holds the logarithms of the hazards and conversions (:func:`funnel_logs`)."""
    stock, entries, wins, allowed, waiting, carried = funnel
    hazard, conversion = inputs.hazard, inputs.conversion
    n_segments, n_stages = stock.shape
    carried[:] = 0
    for s in range(n_segments):
        out.counts[t, s, NEW_ENTRIES] = entries[s].sum()
    for k in range(n_stages - 1):
        for s in range(n_segments):
            arriving = entries[s, k] + carried[s]
            out.stage_entries[t, s, k] = arriving
            stock[s, k] += arriving
            leaving = np.int64(0)
            wins[s] = 0
            if stock[s, k] > 0:
                u_leave, u_convert, _, _ = event_uniforms(key, P_CONVERSION, t, k, s)
                leaving = np.int64(binomial_quantile_given_logs(stock[s, k], hazard[s, k], u_leave, logs[s, k, 0],
                                                                logs[s, k, 1]))
                wins[s] = np.int64(binomial_quantile_given_logs(leaving, conversion[s, k], u_convert, logs[s, k, 2],
                                                                logs[s, k, 3]))
            stock[s, k] -= leaving
            out.stage_converted[t, s, k] = wins[s]
            out.stage_lost[t, s, k] = leaving - wins[s]
        at_capacity = k == structure.capacity_stage
        if at_capacity:
            for s in range(n_segments):
                waiting[s] += wins[s]
            allocate_capacity(waiting, inputs.capacity[t], allowed)
            for s in range(n_segments):
                waiting[s] -= allowed[s]
                wins[s] = allowed[s]
        for s in range(n_segments):
            carried[s] = wins[s]
            out.stage_open[t, s, k] = stock[s, k] + (waiting[s] if at_capacity else 0)


@njit(cache=True, nogil=True, inline="always")
def new_cohorts(t, inputs, key, funnel, n_book, cohorts, out):
    """4. This month's wins become a cohort per segment, with a gamma-distributed total MRR (uniform: the event
    ``(segment, 0)``, drawn only when there are wins).

    Returns False when that MRR is beyond what int64 cents can sum (the draw stops: ``out.flags``)."""
    seg_par, entries, carried = inputs.seg_par, funnel.entries, funnel.carried
    n_segments, n_stages = entries.shape
    last = n_stages - 1
    for s in range(n_segments):
        won = entries[s, last] + carried[s]
        out.stage_entries[t, s, last] = won
        if won == 0:
            continue
        u_price = event_uniforms(key, P_PRICING, t, s, 0)[0]
        mean_mrr = seg_par[s, MRR_MEAN]
        cv = seg_par[s, ACV_CV]
        if cv > 0.0:
            # the sum of `won` gamma-distributed contract values with mean mean_mrr and spread cv
            total = gamma_quantile(won / (cv * cv), u_price) * mean_mrr * cv * cv
        else:
            total = won * mean_mrr
        if not total * 100.0 < MONEY_CAP:
            out.flags[out.flags.shape[0] - 1] = t + 1
            return False
        cents = np.int64(np.rint(total * 100.0))
        c = n_book + t * n_segments + s
        cohorts.customers[c] = won
        cohorts.mrr[c] = cents
        out.counts[t, s, NEW_CUSTOMERS] += won
        out.money[t, s, NEW_MRR] += cents
    return True


@njit(cache=True, nogil=True, inline="always")
def customer_month(t, structure, inputs, tables, key, n_cohorts, n_book, cohorts, adopted, out):
    """5. Every cohort of age 1 and more goes through onboarding failures, renewals (constant or sBG retention,
    price uplift), upgrades and downgrades; then the month's stocks and the adopted customers are counted.

    A cohort's month takes one Philox block (the event ``(book index, 0)`` of the book's process for the book,
    ``(acquisition month, segment)`` of the customers' process for the others), whose four uniforms are the
    onboarding failures', the renewal's, the upgrades' and the downgrades'; a cohort without customers takes
    none. (The cohort loop is written out here: a function called per cohort would cost its arrays'
    reference counts.)"""
    seg_int, seg_par = structure.seg_int, inputs.seg_par
    customers, cohort_mrr, loss, birth, segment = cohorts
    probability, odds, tabled, zero_terms = tables
    counts, money = out.counts, out.money
    keep_cohorts = out.cohort_customers.shape[0] > 0
    adopted[:] = 0
    for c in range(n_cohorts):
        s = segment[c]
        age = t - birth[c]
        onboarding_due = age == max(seg_int[s, ONB_MONTHS], 1)
        term = seg_int[s, TERM]
        renewal = age >= 1 and (term == 1 or age % term == 0)
        n = customers[c]
        if n == 0:
            # a cohort that has died out still counts its losses in GRR's 12-month window
            if loss[c] > 0 and age >= 12:
                money[t, s, LOSS_AGED_12] += loss[c]
            continue
        quiet = False
        if age >= 1:
            if c < n_book:
                u_onboarding, u_renewal, u_up, u_down = event_uniforms(key, P_BOOK_CUSTOMERS, t, c, 0)
            else:
                u_onboarding, u_renewal, u_up, u_down = event_uniforms(key, P_CUSTOMERS, t, birth[c], s)
            if (not onboarding_due and n < _ZERO_TERMS and u_up <= zero_terms[s, _P_UP, n]
                    and u_down <= zero_terms[s, _P_DOWN, n]
                    and (not renewal or 1.0 - u_renewal <= zero_terms[s, _P_CHURN, n])):
                # the quick test: nobody churns, upgrades or downgrades (each binomial's zero at its uniform)
                if renewal:
                    counts[t, s, RENEWED] += n
                    if seg_par[s, UPLIFT] > 0.0:
                        uplift = np.int64(np.rint(cohort_mrr[c] * seg_par[s, UPLIFT]))
                        cohort_mrr[c] += uplift
                        money[t, s, EXPANSION_MRR] += uplift
                quiet = True
        if age >= 1 and not quiet:
            # churn: onboarding failures, then the renewal's churners among the others
            churned = np.int64(0)
            if onboarding_due:
                failed = np.int64(binomial_quantile(n, 1.0 - seg_par[s, ONB_SUCCESS], u_onboarding))
                churned += failed
                counts[t, s, ONBOARDING_CHURNED] += failed
            m = n - churned
            if renewal and m > 0:
                if tabled[s, _P_CHURN]:  # m - Binomial(m, 1 - churn) at u is Binomial(m, churn) at 1 - u
                    churned += _cohort_binomial(m, probability[s, _P_CHURN], odds[s, _P_CHURN],
                                                zero_terms[s, _P_CHURN, m] if m < _ZERO_TERMS else -1.0,
                                                1.0 - u_renewal)
                else:
                    p_stay = _retention_probability(seg_int[s, RET_MODEL], seg_par, s, age // term)
                    churned += m - binomial_quantile(m, p_stay, u_renewal)
            churned_mrr = _share(cohort_mrr[c], churned, n)
            n -= churned
            mrr = cohort_mrr[c] - churned_mrr
            if renewal:
                counts[t, s, RENEWED] += n
            # movements: the renewal's price uplift, upgrades, downgrades among those who did not upgrade
            expansion = np.int64(0)
            contraction = np.int64(0)
            if n > 0:
                if renewal and seg_par[s, UPLIFT] > 0.0:
                    expansion += np.int64(np.rint(mrr * seg_par[s, UPLIFT]))
                    mrr += expansion
                up = _cohort_binomial(n, probability[s, _P_UP], odds[s, _P_UP],
                                      zero_terms[s, _P_UP, n] if tabled[s, _P_UP] and n < _ZERO_TERMS else -1.0, u_up)
                m = n - up
                down = _cohort_binomial(m, probability[s, _P_DOWN], odds[s, _P_DOWN],
                                        zero_terms[s, _P_DOWN, m] if tabled[s, _P_DOWN] and m < _ZERO_TERMS else -1.0,
                                        u_down)
                upgrade, contraction = _movement_mrr(mrr, n, up, down, seg_par[s, EXP_SIZE], seg_par[s, CON_SIZE])
                expansion += upgrade
                mrr += upgrade - contraction
            customers[c] = n
            cohort_mrr[c] = mrr
            loss[c] += churned_mrr + contraction
            counts[t, s, CHURNED_CUSTOMERS] += churned
            money[t, s, CHURNED_MRR] += churned_mrr
            money[t, s, EXPANSION_MRR] += expansion
            money[t, s, CONTRACTION_MRR] += contraction
        counts[t, s, ACTIVE_CUSTOMERS] += n
        money[t, s, MRR] += cohort_mrr[c]
        if keep_cohorts and c >= n_book:
            out.cohort_customers[birth[c], s, age] = n
            out.cohort_mrr[birth[c], s, age] = cohort_mrr[c]
        if age >= 12:
            money[t, s, MRR_AGED_12] += cohort_mrr[c]
            money[t, s, LOSS_AGED_12] += loss[c]
        if age >= seg_int[s, ADOPT_MONTHS]:
            adopted[s] += n


@njit(cache=True, nogil=True)
def _movement_mrr(mrr, n, up, down, upgrade_size, downgrade_size):
    """The MRR (cents) gained by ``up`` of a cohort's ``n`` customers upgrading by ``upgrade_size`` and lost by
    ``down`` downgrading by ``downgrade_size``."""
    upgrade = np.int64(0)
    contraction = np.int64(0)
    if up > 0 and upgrade_size > 0.0:
        upgrade = np.int64(np.rint(_share(mrr, up, n) * upgrade_size))
    if down > 0 and downgrade_size > 0.0:
        contraction = np.int64(np.rint(_share(mrr, down, n) * downgrade_size))
    return upgrade, contraction


@njit(cache=True, nogil=True, inline="always")
def advocates(t, inputs, key, sources, out):
    """6. Advocates are drawn among adopted customers (uniform: the event ``(segment, 0)``, drawn only when some
    are adopted); the month's loop sources are recorded.

    Returns False when MRR (or the losses GRR counts) grew beyond what can be counted (the draw stops)."""
    for s in range(inputs.seg_par.shape[0]):
        count = np.int64(0)
        if sources.adopted[s] > 0:
            count = draw_binomial(sources.adopted[s], inputs.seg_par[s, ADV_RATE],
                                  event_uniforms(key, P_ADVOCACY, t, s, 0)[0])
        out.counts[t, s, ADVOCATES] = count
        sources.history[t + 1, s, SRC_ADVOCATES] = count
        sources.history[t + 1, s, SRC_ACTIVE] = out.counts[t, s, ACTIVE_CUSTOMERS]
        sources.history[t + 1, s, SRC_NEW] = out.counts[t, s, NEW_CUSTOMERS]
        sources.history[t + 1, s, SRC_MRR] = out.money[t, s, MRR] / 100.0
        if out.money[t, s, MRR] > MONEY_CAP or out.money[t, s, LOSS_AGED_12] > MONEY_CAP:
            out.flags[out.flags.shape[0] - 1] = t + 1
            return False
    return True
