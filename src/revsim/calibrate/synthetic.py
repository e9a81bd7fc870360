"""Synthetic histories drawn from known parameters, for parameter-recovery tests and benchmarks.

Each function draws data from exactly the likelihood the corresponding calibration model assumes, so a
fit on its output should recover the parameters it was given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from revsim.calibrate.history import CohortHistory, FunnelHistory, MrrHistory, ReferralHistory, month_label

__all__ = ["sbg_cohorts", "funnel_counts", "mrr_movements", "referrals"]


def sbg_cohorts(
    alpha: float | Sequence[float],
    beta: float | Sequence[float],
    *,
    cohorts: int = 24,
    size: int | Sequence[int] = 500,
    rng: np.random.Generator,
    segments: Sequence[str] | None = None,
    first_month: str = "2024-01",
) -> CohortHistory:
    """A ragged monthly cohort table: cohort ``j`` of ``cohorts`` is observed for ``cohorts - j`` periods.

    Each customer draws a churn probability from Beta(alpha, beta) and leaves at each period with it. With
    ``segments``, ``alpha``, ``beta`` (and ``size``) are given per segment and every segment gets
    ``cohorts`` cohorts.
    """
    names = list(segments) if segments else ["all"]
    a = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (len(names),))
    b = np.broadcast_to(np.asarray(beta, dtype=np.float64), (len(names),))
    n = np.broadcast_to(np.asarray(size, dtype=np.int64), (len(names),))
    first = int(first_month[:4]) * 12 + int(first_month[5:7]) - 1
    rows, segs, labels, starts = [], [], [], []
    for s in range(len(names)):
        for j in range(cohorts):
            periods = cohorts - j
            theta = rng.beta(a[s], b[s], int(n[s]))
            life = rng.geometric(theta)  # the period at which each customer leaves (1, 2, ...)
            counts = [(life > k).sum() for k in range(periods)]
            rows.append(counts)
            segs.append(s)
            labels.append(month_label(first + j))
            starts.append(first + j)
    width = max(len(r) for r in rows)
    customers = np.full((len(rows), width), np.nan)
    for c, r in enumerate(rows):
        customers[c, : len(r)] = r
    return CohortHistory(file="<synthetic cohorts>", labels=labels, segment=np.asarray(segs, np.int64),
                         segments=list(segments) if segments else None, customers=customers, mrr=None,
                         start=np.asarray(starts, np.int64), period_months=1,
                         lines=np.zeros(customers.shape, np.int64))


def funnel_counts(
    *,
    volume: float,
    growth: float,
    dispersion: float,
    conversion: Sequence[float] | Sequence[Sequence[float]],
    months_in_stage: Sequence[float] | Sequence[Sequence[float]],
    months: int,
    rng: np.random.Generator,
    seasonality: Sequence[float] | None = None,
    burn_in: int = 24,
    stages: Sequence[str] | None = None,
    first_month: str = "2024-01",
    segments: Sequence[str] | None = None,
    shares: Sequence[float] | None = None,
    with_open: bool = False,
) -> FunnelHistory:
    """Monthly entries into each stage of a funnel, simulated with revsim's stage equations.

    Entries into the first stage are negative binomial with mean ``volume * (1 + growth)**t * season``;
    each month every member of stage ``k`` leaves with probability ``1 / (1 + months_in_stage[k])`` and a
    leaver converts with probability ``conversion[k]``, arriving in stage ``k + 1`` the same month. The
    first ``burn_in`` months are simulated and dropped, so the history starts in a steady state.

    With ``segments``, the entries are split across them by a multinomial of ``shares`` (equal by default)
    and ``conversion`` and ``months_in_stage`` are given per segment (``conversion[segment][stage]``).
    With ``with_open``, the history holds the members open in each stage at month end (``open``; NaN for the
    last stage), as a CRM's open pipeline gives them; the counts are the same with or without.
    """
    names_s = list(segments) if segments else ["all"]
    S = len(names_s)
    conv = np.broadcast_to(np.asarray(conversion, dtype=np.float64), (S, np.shape(conversion)[-1]))
    stay = np.broadcast_to(np.asarray(months_in_stage, dtype=np.float64), conv.shape)
    weights = np.full(S, 1.0 / S) if shares is None else np.asarray(shares, dtype=np.float64) / np.sum(shares)
    K = conv.shape[1] + 1
    names = list(stages) if stages else [f"stage{k}" for k in range(K)]
    season = np.ones(12) if seasonality is None else np.asarray(seasonality, dtype=np.float64)
    first = int(first_month[:4]) * 12 + int(first_month[5:7]) - 1
    stock = np.zeros((S, K - 1), np.int64)
    out = np.zeros((months, K, S))
    open_counts = np.full((months, K, S), np.nan)
    for t in range(-burn_in, months):
        mu = volume * (1 + growth) ** t * season[(first + t) % 12]
        if dispersion > 0:
            mu = mu * rng.gamma(1 / dispersion, dispersion)
        split = rng.multinomial(rng.poisson(mu), weights) if S > 1 else [rng.poisson(mu)]
        for s in range(S):
            arrivals = split[s]
            for k in range(K):
                if t >= 0:
                    out[t, k, s] = arrivals
                if k == K - 1:
                    break
                stock[s, k] += arrivals
                leave = rng.binomial(stock[s, k], 1 / (1 + stay[s, k]))
                stock[s, k] -= leave
                if t >= 0:
                    open_counts[t, k, s] = stock[s, k]
                arrivals = rng.binomial(leave, conv[s, k])
    return FunnelHistory(file="<synthetic funnel>", months=[month_label(first + t) for t in range(months)],
                         stages=names, segments=list(segments) if segments else None, channels=None,
                         counts=out[:, :, :, None], open=open_counts[:, :, :, None] if with_open else None)


def mrr_movements(
    *,
    expansion_rate: float,
    contraction_rate: float,
    churn_rate: float,
    noise: float,
    months: int,
    start_mrr: float,
    new_per_month: float,
    rng: np.random.Generator,
    first_month: str = "2024-01",
) -> MrrHistory:
    """MRR movements whose monthly rates are normal around the given means, with the MRR at month end."""
    first = int(first_month[:4]) * 12 + int(first_month[5:7]) - 1
    level = start_mrr
    cols = {k: np.zeros((months, 1)) for k in ("new", "expansion", "contraction", "churn", "mrr")}
    for t in range(months):
        rates = [max(0.0, rng.normal(r, noise)) for r in (expansion_rate, contraction_rate, churn_rate)]
        new = new_per_month * rng.gamma(20, 1 / 20)
        moves = [rate * level for rate in rates]
        cols["new"][t, 0] = new
        cols["expansion"][t, 0], cols["contraction"][t, 0], cols["churn"][t, 0] = moves
        level = level + new + moves[0] - moves[1] - moves[2]
        cols["mrr"][t, 0] = level
    return MrrHistory(file="<synthetic mrr>", months=[month_label(first + t) for t in range(months)], segments=None,
                      new=cols["new"], expansion=cols["expansion"], contraction=cols["contraction"],
                      churn=cols["churn"], reactivation=None, mrr=cols["mrr"])


def referrals(*, coefficient: float, source: np.ndarray, lag: int = 1, rng: np.random.Generator,
              first_month: str = "2024-01") -> ReferralHistory:
    """Entries ~ Poisson(coefficient x source ``lag`` months earlier); the first ``lag`` months have none."""
    first = int(first_month[:4]) * 12 + int(first_month[5:7]) - 1
    source = np.asarray(source, dtype=np.float64)
    referred = np.zeros(source.size)
    referred[lag:] = rng.poisson(coefficient * source[:-lag])
    return ReferralHistory(file="<synthetic referrals>", months=[month_label(first + t) for t in range(source.size)],
                           referred=referred, source=source)
