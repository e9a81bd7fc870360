"""A slow, independent pure-Python reference of one draw, written from ``docs/model.md``.

It shares nothing with the kernel but the addresses of the random events: every count is the SciPy quantile
(``binom.ppf``, ``poisson.ppf``, ``gamma.ppf``) of the uniform of its event, computed with numpy's
``np.random.Philox`` (:func:`revsim.engine.rng.event_uniforms`) rather than the kernel's own Philox, and
taken for every event, even those the kernel skips (whose counts are zero whatever the uniform), so a
correct kernel matches it draw for draw. Money follows the documented rounding
exactly: shares of a cohort's MRR are computed in exact rational arithmetic, capacity is shared by largest
remainders in integers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import stats

from revsim.engine import layout as L
from revsim.engine.compile import CompiledScenario, DrawParameters
from revsim.engine.rng import event_uniforms, kernel_key


def binomial(n: int, p: float, u: float) -> int:
    if n <= 0 or p <= 0.0:
        return 0
    return n if p >= 1.0 else int(stats.binom.ppf(u, n, p))


def poisson(lam: float, u: float) -> tuple[int, bool]:
    if lam >= L.COUNT_CAP:
        return L.COUNT_CAP, True
    return (0 if lam <= 0.0 else int(stats.poisson.ppf(u, lam))), False


def share(cents: int, part: int, whole: int) -> int:
    """round(cents * part / whole), half to even, exactly (the churners' or upgraders' share of the MRR)."""
    return round(Fraction(cents * part, whole)) if part < whole else cents


def largest_remainders(wins: list[int], capacity: int) -> list[int]:
    total = sum(wins)
    if total <= capacity:
        return list(wins)
    allowed = [w * capacity // total for w in wins]
    order = sorted(range(len(wins)), key=lambda s: (-(Fraction(wins[s] * capacity, total) % 1), s))
    for s in order[: capacity - sum(allowed)]:
        allowed[s] += 1
    return allowed


def reference_draw(compiled: CompiledScenario, params: DrawParameters, i: int, seed: int) -> dict[str, np.ndarray]:
    """Draw ``params.start + i`` of ``compiled``: the kernel's output arrays, by name, for that draw."""
    key, draw = kernel_key(seed), params.start + i

    def uniforms(process: int, month: int, a: int, b: int) -> np.ndarray:
        return event_uniforms(key, draw, process, month, a, b)

    T, S, K = compiled.n_months, len(compiled.segments), len(compiled.stages)
    C, n_loops, last = len(compiled.channels), len(compiled.loops), K - 1
    par, conv, haz = params.seg_par[i], params.conversion[i], params.hazard[i]
    ch, coef, cap = params.ch_par[i], params.loop_coef[i], params.capacity[i]
    seg_int, cap_stage = compiled.seg_int, compiled.capacity_stage
    out = {
        "stage_entries": np.zeros((T, S, K), np.int64), "stage_open": np.zeros((T, S, K), np.int64),
        "stage_converted": np.zeros((T, S, K), np.int64), "stage_lost": np.zeros((T, S, K), np.int64),
        "counts": np.zeros((T, S, L.N_COUNTS), np.int64), "money": np.zeros((T, S, L.N_MONEY), np.int64),
        "loop_entries": np.zeros((T, n_loops), np.int64), "flags": np.zeros(n_loops + C + 1, np.int64),
    }
    counts, money = out["counts"], out["money"]
    # a cohort: [segment, birth month, customers, MRR cents, cumulative lost MRR cents]
    cohorts = [[int(s), -int(a), int(n), int(m), 0] for s, n, m, a in
               zip(compiled.book_segment, compiled.book_customers, compiled.book_mrr, compiled.book_age, strict=True)]
    n_book = len(cohorts)
    # loop sources at the end of each month; history[0] is the state at start
    history = [[[0.0] * 4 for _ in range(S)] for _ in range(T + 1)]
    adopted = [0] * S
    for s, birth, n, m, _ in cohorts:
        history[0][s][L.SRC_ACTIVE] += n
        history[0][s][L.SRC_MRR] += m / 100.0
        adopted[s] += n if -birth >= seg_int[s, L.ADOPT_MONTHS] else 0
    for s in range(S):
        history[0][s][L.SRC_ADVOCATES] = binomial(adopted[s], par[s, L.ADV_RATE], uniforms(L.P_ADVOCACY, -1, s, 0)[0])
    stock = [[int(x) for x in row] for row in compiled.initial_stock]
    waiting = [0] * S

    for t in range(T):
        entries = [[0] * K for _ in range(S)]
        for c in range(C):  # channels
            season = params.ch_season[i, c, (compiled.start_calendar_month + t) % 12]
            mu = ch[c, L.VOLUME] * (1.0 + ch[c, L.GROWTH]) ** t * season
            d, (u_noise, u_count, _, _) = ch[c, L.DISPERSION], uniforms(L.P_ARRIVALS, t, c, 0)
            if d > 0 and 0 < mu < L.COUNT_CAP:
                mu *= stats.gamma.ppf(u_noise, 1.0 / d) * d
            left, capped = poisson(mu, u_count)
            if capped and not out["flags"][n_loops + c]:
                out["flags"][n_loops + c] = t + 1
            mix = compiled.ch_mix[c]
            for s in range(S - 1):  # multinomial split as a chain of conditional binomials
                rest = mix[s:].sum()
                k = binomial(left, min(1.0, mix[s] / rest) if rest > 0 else 1.0, uniforms(L.P_ARRIVALS, t, c, 1 + s)[0])
                entries[s][compiled.ch_stage[c]] += k
                left -= k
            entries[S - 1][compiled.ch_stage[c]] += left
        for lp in range(n_loops):  # loops, from the end of month t - lag
            source, stage, lag, target, only = (int(compiled.loop_int[lp, j]) for j in (
                L.SOURCE, L.TARGET_STAGE, L.LAG, L.TARGET_SEGMENT, L.SOURCE_SEGMENT))
            for s in range(S):
                x = history[t - lag + 1][s][source] if t - lag + 1 >= 0 and only in (-1, s) else 0.0
                added, capped = poisson(coef[lp] * x, uniforms(L.P_LOOPS, t, lp, s)[0])
                if capped and not out["flags"][lp]:
                    out["flags"][lp] = t + 1
                entries[s if target < 0 else target][stage] += added
                out["loop_entries"][t, lp] += added
        for s in range(S):
            counts[t, s, L.NEW_ENTRIES] = sum(entries[s])
        moving = [0] * S
        for k in range(last):  # stages
            won = [0] * S
            for s in range(S):
                arriving = entries[s][k] + moving[s]
                out["stage_entries"][t, s, k] = arriving
                stock[s][k] += arriving
                u_leave, u_convert, _, _ = uniforms(L.P_CONVERSION, t, k, s)
                leaving = binomial(stock[s][k], haz[s, k], u_leave)
                won[s] = binomial(leaving, conv[s, k], u_convert)
                stock[s][k] -= leaving
                out["stage_converted"][t, s, k], out["stage_lost"][t, s, k] = won[s], leaving - won[s]
            if k == cap_stage:
                waiting = [w + x for w, x in zip(waiting, won, strict=True)]
                won = largest_remainders(waiting, int(cap[t]))
                waiting = [w - x for w, x in zip(waiting, won, strict=True)]
            moving = won
            for s in range(S):
                out["stage_open"][t, s, k] = stock[s][k] + (waiting[s] if k == cap_stage else 0)
        for s in range(S):  # new cohorts
            n = entries[s][last] + moving[s]
            out["stage_entries"][t, s, last] = n
            u, cv, mean = uniforms(L.P_PRICING, t, s, 0)[0], par[s, L.ACV_CV], par[s, L.MRR_MEAN]
            total = (stats.gamma.ppf(u, n / cv**2) * mean * cv**2 if cv > 0 else n * mean) if n else 0.0
            cents = int(np.rint(total * 100.0))
            cohorts.append([s, t, n, cents, 0])
            counts[t, s, L.NEW_CUSTOMERS] += n
            money[t, s, L.NEW_MRR] += cents
        adopted = [0] * S
        for index, cohort in enumerate(cohorts):  # customers: the book's cohorts first, then (birth, segment)
            s, birth, n, m, loss = cohort
            p, age, term = par[s], t - birth, seg_int[s, L.TERM]
            onboarding = age == max(seg_int[s, L.ONB_MONTHS], 1)
            renewal = age >= 1 and age % term == 0
            event = (L.P_BOOK_CUSTOMERS, t, index, 0) if index < n_book else (L.P_CUSTOMERS, t, birth, s)
            u_onb, u_ren, u_up, u_down = uniforms(*event)
            if n > 0 and age >= 1:
                failed = binomial(n, 1.0 - p[L.ONB_SUCCESS], u_onb) if onboarding else 0
                churned = failed
                if renewal and n - churned > 0:
                    k = age // term
                    stay = 1.0 - p[L.CHURN] if seg_int[s, L.RET_MODEL] == L.RET_CONSTANT else \
                        (p[L.SBG_BETA] + k - 1) / (p[L.SBG_ALPHA] + p[L.SBG_BETA] + k - 1)
                    churned += (n - churned) - binomial(n - churned, stay, u_ren)
                churned_mrr = share(m, churned, n) if churned else 0
                n, m = n - churned, m - churned_mrr
                counts[t, s, L.RENEWED] += n if renewal else 0
                expansion = contraction = 0
                if n > 0:
                    if renewal and p[L.UPLIFT] > 0:
                        expansion = int(np.rint(m * p[L.UPLIFT]))
                        m += expansion
                    up = binomial(n, p[L.EXP_RATE], u_up)
                    p_down = p[L.CON_RATE] / (1.0 - p[L.EXP_RATE]) if p[L.EXP_RATE] < 1 else 0.0
                    down = binomial(n - up, min(p_down, 1.0), u_down)
                    upgrade = int(np.rint(share(m, up, n) * p[L.EXP_SIZE])) if up else 0
                    contraction = int(np.rint(share(m, down, n) * p[L.CON_SIZE])) if down else 0
                    expansion += upgrade
                    m += upgrade - contraction
                loss += churned_mrr + contraction
                cohort[2:] = [n, m, loss]
                counts[t, s, L.ONBOARDING_CHURNED] += failed
                counts[t, s, L.CHURNED_CUSTOMERS] += churned
                money[t, s, L.CHURNED_MRR] += churned_mrr
                money[t, s, L.EXPANSION_MRR] += expansion
                money[t, s, L.CONTRACTION_MRR] += contraction
            counts[t, s, L.ACTIVE_CUSTOMERS] += n
            money[t, s, L.MRR] += m
            if age >= 12:  # for NRR and GRR, extinct cohorts included
                money[t, s, L.MRR_AGED_12] += m
                money[t, s, L.LOSS_AGED_12] += loss
            adopted[s] += n if age >= seg_int[s, L.ADOPT_MONTHS] else 0
        for s in range(S):  # advocates, and the loop sources of this month
            counts[t, s, L.ADVOCATES] = binomial(adopted[s], par[s, L.ADV_RATE], uniforms(L.P_ADVOCACY, t, s, 0)[0])
            row = history[t + 1][s]
            row[L.SRC_ADVOCATES], row[L.SRC_ACTIVE] = counts[t, s, L.ADVOCATES], counts[t, s, L.ACTIVE_CUSTOMERS]
            row[L.SRC_NEW], row[L.SRC_MRR] = counts[t, s, L.NEW_CUSTOMERS], money[t, s, L.MRR] / 100.0
            if max(money[t, s, L.MRR], money[t, s, L.LOSS_AGED_12]) > L.MONEY_CAP:
                out["flags"][n_loops + C] = t + 1
                return out
    return out
