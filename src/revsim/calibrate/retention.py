"""Retention from cohort tables: the shifted-beta-geometric model (Fader & Hardie) and constant churn.

A cohort of :math:`n_0` customers is observed for :math:`T` periods. In revsim's model a customer can only
leave at an *event*: a renewal (every ``contract_months``), or the end of onboarding (once, at
``onboarding.months``). With ``S(i)`` the probability of surviving the first ``i`` events, the cohort's
log-likelihood is the multinomial one of Fader & Hardie (2007),

.. math::

    \\ell = \\sum_{i \\le I} d_i \\log\\big(S(i-1) - S(i)\\big) + n_I \\log S(I),

with :math:`d_i` the customers lost at event ``i``, :math:`I` the last event observed and :math:`n_I` the
customers still there. Customers lost between two events (which revsim's model does not allow, but real
tables show) are counted at the event before (or at the first event).

* ``sbg``: each customer has a churn probability :math:`\\theta \\sim \\text{Beta}(\\alpha, \\beta)`; after
  :math:`r` renewals :math:`S = B(\\alpha, \\beta + r) / B(\\alpha, \\beta)`. It is parametrised by the mean
  churn at the first renewal :math:`m = \\alpha/(\\alpha+\\beta)` and the concentration
  :math:`\\kappa = \\alpha + \\beta`, which the data pin down far better than :math:`\\alpha` and
  :math:`\\beta` themselves; segments are partially pooled on :math:`\\text{logit}\\, m` and
  :math:`\\log \\kappa`.
* ``constant``: :math:`S = (1 - c)^r`, with segments partially pooled on :math:`\\text{logit}\\, c`.
* onboarding (when the scenario has it): the event at onboarding multiplies :math:`S` by the success rate.

References
----------
Fader, P. S. and Hardie, B. G. S. (2007). How to project customer retention. *Journal of Interactive
Marketing*, 21(1), 76-90.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from revsim.calibrate.history import CohortHistory
from revsim.calibrate.priors import PriorOverride, prior_for, to_pymc

__all__ = ["RetentionData", "retention_data", "RetentionBlock", "sbg_log_survival", "constant_log_survival",
           "cohort_loglik", "sbg_survival", "fit_sbg_mle", "sufficient_statistics", "sufficient_loglik",
           "log_survival_grid", "event_grid"]


@dataclass(frozen=True)
class RetentionData:
    """A cohort table turned into events.

    Attributes
    ----------
    segments
        Segment names, or None when the table has no segment column.
    cohort_segment
        Each cohort's segment (index).
    n0
        Customers acquired per cohort.
    deaths
        ``[cohort, event]``: customers lost at each event (0 beyond the cohort's last observed event).
    survivors
        Customers left after the cohort's last observed event.
    last_event
        Number of events observed per cohort.
    renewals, onboarded
        ``[segment, event + 1]``: renewal number and whether onboarding is done after each event (index 0:
        before any event).
    event_period
        ``[segment, event]``: the period of each event (-1 beyond the segment's events).
    """

    segments: list[str] | None
    cohort_segment: np.ndarray
    n0: np.ndarray
    deaths: np.ndarray
    survivors: np.ndarray
    last_event: np.ndarray
    renewals: np.ndarray
    onboarded: np.ndarray
    event_period: np.ndarray
    period_months: int
    contract_months: list[int]
    onboarding: list[bool]
    labels: list[str] = field(default_factory=list)

    @property
    def n_events(self) -> int:
        return self.deaths.shape[1]

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]


def event_grid(periods: int, period_months: int, contract_months: int, onboarding_months: int | None
               ) -> tuple[list[int], list[int], list[int]]:
    """Event periods up to ``periods``, with the renewal number and onboarding flag after each.

    Returns (event periods, renewals after event i for i = 0..E, onboarded after event i for i = 0..E).
    """
    def renewals(k: int) -> int:
        return (k * period_months) // contract_months

    def onboarded(k: int) -> int:
        return int(onboarding_months is not None and k * period_months >= max(onboarding_months, 1))

    events, ren, onb = [], [0], [0]
    for k in range(1, periods + 1):
        if renewals(k) != renewals(k - 1) or onboarded(k) != onboarded(k - 1):
            events.append(k)
            ren.append(renewals(k))
            onb.append(onboarded(k))
    return events, ren, onb


def retention_data(cohorts: CohortHistory, *, contract_months: list[int] | None = None,
                   onboarding_months: list[int | None] | None = None) -> RetentionData:
    """Events, deaths and survivors of every cohort.

    ``contract_months`` and ``onboarding_months`` are per segment of the table (by default: one renewal per
    period, no onboarding event).
    """
    S = len(cohorts.segment_names)
    p = cohorts.period_months
    terms = contract_months or [p] * S
    onboarding = onboarding_months or [None] * S
    width = cohorts.customers.shape[1]
    grids = [event_grid(width - 1, p, terms[s], onboarding[s]) for s in range(S)]
    E = max(1, max(len(g[0]) for g in grids))
    renewals = np.zeros((S, E + 1), np.int64)
    onboarded = np.zeros((S, E + 1), np.int64)
    event_period = np.full((S, E), -1, np.int64)
    for s, (events, ren, onb) in enumerate(grids):
        renewals[s, : len(ren)] = ren
        renewals[s, len(ren):] = ren[-1]
        onboarded[s, : len(onb)] = onb
        onboarded[s, len(onb):] = onb[-1]
        event_period[s, : len(events)] = events
    C = cohorts.customers.shape[0]
    deaths = np.zeros((C, E))
    survivors = np.zeros(C)
    last_event = np.zeros(C, np.int64)
    for c in range(C):
        s = int(cohorts.segment[c])
        counts = cohorts.customers[c]
        T = int(np.sum(np.isfinite(counts))) - 1
        events = grids[s][0]
        seen = [e for e in events if e <= T]
        before = counts[0]
        for i, e in enumerate(seen):
            nxt = events[i + 1] - 1 if i + 1 < len(events) else T
            after = counts[min(nxt, T)]
            deaths[c, i] = before - after
            before = after
        survivors[c] = before
        last_event[c] = len(seen)
    return RetentionData(
        segments=cohorts.segments, cohort_segment=cohorts.segment.copy(), n0=cohorts.customers[:, 0].copy(),
        deaths=deaths, survivors=survivors, last_event=last_event, renewals=renewals, onboarded=onboarded,
        event_period=event_period, period_months=p, contract_months=list(terms),
        onboarding=[o is not None for o in onboarding], labels=list(cohorts.labels))


# --------------------------------------------------------------------------------------------------------
# Closed forms (numpy), shared by the fits' checks, LOO and the predictive charts
# --------------------------------------------------------------------------------------------------------


def _betaln(a: Any, b: Any) -> Any:
    from scipy.special import betaln

    return betaln(a, b)


def sbg_log_survival(alpha: np.ndarray, beta: np.ndarray, renewals: np.ndarray) -> np.ndarray:
    """log P(surviving ``renewals`` renewals) under the sBG: ``log B(alpha, beta + r) - log B(alpha, beta)``.

    ``alpha`` and ``beta`` broadcast against ``renewals``.
    """
    return _betaln(alpha, beta + renewals) - _betaln(alpha, beta)


def sbg_survival(alpha: float, beta: float, renewals: np.ndarray) -> np.ndarray:
    """P(surviving ``renewals`` renewals) under the sBG."""
    return np.exp(sbg_log_survival(np.asarray(alpha), np.asarray(beta), np.asarray(renewals, dtype=np.float64)))


def constant_log_survival(churn: np.ndarray, renewals: np.ndarray) -> np.ndarray:
    """log P(surviving ``renewals`` renewals) with a constant churn per renewal."""
    return renewals * np.log1p(-churn)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurately."""
    x = np.minimum(x, -1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -0.693, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def cohort_loglik(log_surv: np.ndarray, data: RetentionData) -> np.ndarray:
    """Log-likelihood of every cohort, given ``log_surv[..., segment, event + 1]`` (log S after each event).

    Leading dimensions of ``log_surv`` (draws) are kept: the result is ``[..., cohort]``.
    """
    seg = data.cohort_segment
    E = data.n_events
    # cohorts of a segment share their events: the log-probabilities are computed per segment [..., S, E],
    # and each cohort's sum of deaths x log-probability is one product of them with its deaths (LOO's 4,000
    # draws x cohorts x events never materialise: a tenth of the time)
    log_p = log_surv[..., :-1] + _log1mexp(log_surv[..., 1:] - log_surv[..., :-1])
    mask = (np.arange(E)[None, :] < data.last_event[:, None]) & (data.deaths > 0)
    weights = np.where(mask, data.deaths, 0.0)  # [C, E]
    used = mask.any(axis=0)
    terms = np.zeros(log_surv.shape[:-2] + (seg.size,))
    for s in np.unique(seg):
        rows = np.flatnonzero(seg == s)
        columns = np.flatnonzero(mask[rows].any(axis=0) & used)
        values = log_p[..., s, columns]
        if np.all(np.isfinite(values)):
            terms[..., rows] = values @ weights[np.ix_(rows, columns)].T
        else:  # an impossible event in some draw: the elementwise sum keeps its -inf (or NaN) where it counts
            w = weights[np.ix_(rows, columns)]
            terms[..., rows] = np.where(w > 0, w * values[..., None, :], 0.0).sum(axis=-1)
    last = log_surv[..., seg, data.last_event]
    return terms + data.survivors * last


def log_survival_grid(data: RetentionData, *, alpha: np.ndarray | None = None, beta: np.ndarray | None = None,
                      churn: np.ndarray | None = None, success: np.ndarray | None = None) -> np.ndarray:
    """log S after each event, ``[..., segment, event + 1]``, from per-segment parameters ``[..., segment]``."""
    renewals = data.renewals.astype(np.float64)
    if churn is not None:
        ls = constant_log_survival(np.asarray(churn)[..., None], renewals)
    else:
        # B(a, b + r) / B(a, b) with log-gamma functions, as the model's graph computes it
        from scipy.special import gammaln

        a, b = np.asarray(alpha, dtype=np.float64)[..., None], np.asarray(beta, dtype=np.float64)[..., None]
        ls = gammaln(b + renewals) - gammaln(a + b + renewals) + (gammaln(a + b) - gammaln(b))
    if success is not None:
        ls = ls + data.onboarded * np.log(np.asarray(success))[..., None]
    return ls


def fit_sbg_mle(data: RetentionData) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximum-likelihood sBG fit per segment (no onboarding event): (alpha, beta, log-likelihood).

    Maximises the closed-form likelihood over (log alpha, log beta) of each segment with scipy; used to
    cross-check the Bayesian fit.
    """
    from scipy import optimize

    S = len(data.segment_names)
    deaths, survivors = sufficient_statistics(data)
    renewals = data.renewals.astype(np.float64)
    alphas, betas, total = np.zeros(S), np.zeros(S), 0.0
    for s in range(S):
        def negative(x: np.ndarray, s: int = s) -> float:
            a, b = np.exp(x)
            log_surv = sbg_log_survival(a, b, renewals[s:s + 1])
            value = sufficient_loglik(log_surv, deaths[s:s + 1], survivors[s:s + 1])
            return -float(value) if np.isfinite(value) else 1e300

        best = None
        for start in ((0.0, 1.0), (-1.0, 2.0), (1.0, 3.0)):
            result = optimize.minimize(negative, np.array(start), method="Nelder-Mead",
                                       options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 4000})
            if best is None or result.fun < best.fun:
                best = result
        alphas[s], betas[s] = np.exp(best.x)
        total += -best.fun
    return alphas, betas, total


def _subset(data: RetentionData, keep: np.ndarray) -> RetentionData:
    from dataclasses import replace

    return replace(data, cohort_segment=data.cohort_segment[keep], n0=data.n0[keep], deaths=data.deaths[keep],
                   survivors=data.survivors[keep], last_event=data.last_event[keep],
                   labels=[lab for lab, k in zip(data.labels, keep, strict=True) if k])


# --------------------------------------------------------------------------------------------------------
# The PyMC block
# --------------------------------------------------------------------------------------------------------


@dataclass
class RetentionBlock:
    """Retention model(s) of a calibration: ``sbg``, ``constant`` or both (compared by LOO).

    Built inside a ``pm.Model`` context by :meth:`build`; the posterior variables it defines are listed
    by :meth:`variables`.
    """

    data: RetentionData
    models: tuple[str, ...]
    priors: dict[str, PriorOverride] | None = None
    name: str = "retention"

    @property
    def segmented(self) -> bool:
        return self.data.segments is not None

    def coords(self) -> dict[str, list[str]]:
        return {"segment": list(self.data.segment_names)} if self.segmented else {}

    def _dims(self) -> Any:
        return "segment" if self.segmented else None

    def _pooled(self, name: str, centre: Any) -> Any:
        """Per-segment values around a pooled ``centre`` (on the logit or log scale).

        Centred parametrisation: the segments' data are usually strong, and the spread is a constant by
        default, so there is no funnel for the sampler to fall into.
        """
        import pymc as pm

        sd = to_pymc(f"{name}_segment_sd", prior_for("segment_sd", self.priors))
        return pm.Normal(f"{name}_segment", mu=centre, sigma=sd, dims="segment")

    def onboarding_name(self, model: str) -> str:
        """The posterior variable of the onboarding success fitted with ``model``."""
        return "onboarding_success" if len(self.models) == 1 else f"{model}_onboarding_success"

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        data = self.data
        dims = self._dims()
        # the data enter as pm.Data, so that a compiled model can be sampled again on other cohort tables
        deaths, survivors = sufficient_statistics(data)
        renewals = pm.Data("retention_renewals", data.renewals.astype(np.float64))  # [S, E + 1]
        onboarded = pm.Data("retention_onboarded", data.onboarded.astype(np.float64))
        deaths_data = pm.Data("retention_deaths", deaths)  # [S, E]
        survivors_data = pm.Data("retention_survivors", survivors)  # [S, E + 1]
        S = len(data.segment_names)

        for model in self.models:
            success = None
            if any(data.onboarding):
                prior = prior_for("onboarding_success", self.priors)
                success = to_pymc(self.onboarding_name(model), prior, dims=dims)
                success = pt.reshape(pt.as_tensor(success), (-1,)) * pt.ones(S)
            if model == "sbg":
                mean0 = to_pymc("sbg_mean_churn_pooled" if self.segmented else "sbg_mean_churn",
                                prior_for("sbg_mean_churn", self.priors))
                conc0 = to_pymc("sbg_concentration_pooled" if self.segmented else "sbg_concentration",
                                prior_for("sbg_concentration", self.priors))
                if self.segmented:
                    logit_m = self._pooled("sbg_mean_churn", pt.log(mean0) - pt.log1p(-mean0))
                    log_k = self._pooled("sbg_concentration", pt.log(conc0))
                    mean = pm.Deterministic("sbg_mean_churn", pm.math.sigmoid(logit_m), dims=dims)
                    conc = pm.Deterministic("sbg_concentration", pt.exp(log_k), dims=dims)
                else:
                    mean, conc = pt.as_tensor(mean0), pt.as_tensor(conc0)
                alpha = pm.Deterministic("sbg_alpha", mean * conc, dims=dims)
                beta = pm.Deterministic("sbg_beta", (1 - mean) * conc, dims=dims)
                a = pt.reshape(alpha, (-1, 1)) * pt.ones((S, 1))
                b = pt.reshape(beta, (-1, 1)) * pt.ones((S, 1))
                log_surv = _pt_betaln(a, b + renewals) - _pt_betaln(a, b)
            else:
                churn0 = to_pymc("churn_pooled" if self.segmented else "churn", prior_for("churn", self.priors))
                if self.segmented:
                    logit_c = self._pooled("churn", pt.log(churn0) - pt.log1p(-churn0))
                    churn = pm.Deterministic("churn", pm.math.sigmoid(logit_c), dims=dims)
                else:
                    churn = pt.as_tensor(churn0)
                c = pt.reshape(churn, (-1, 1)) * pt.ones((S, 1))
                log_surv = renewals * pt.log1p(-c)
            if success is not None:
                log_surv = log_surv + onboarded * pt.log(pt.reshape(success, (-1, 1)))
            pm.Potential(f"{model}_cohorts_loglik", _pt_cohort_loglik(log_surv, deaths_data, survivors_data))

    def variables(self) -> list[str]:
        names = []
        for model in self.models:
            if any(self.data.onboarding):
                names.append(self.onboarding_name(model))
            names += ["sbg_alpha", "sbg_beta", "sbg_mean_churn", "sbg_concentration"] if model == "sbg" else ["churn"]
        return names

    def rename(self) -> dict[str, str]:
        return {}

    def pointwise_loglik(self, posterior: Any, model: str) -> np.ndarray:
        """Per-cohort log-likelihood ``[chain, draw, cohort]`` of one retention model (for LOO)."""
        data = self.data
        S = len(data.segment_names)

        def values(name: str) -> np.ndarray:
            array = np.asarray(posterior[name].values, dtype=np.float64)
            return array if self.segmented else np.repeat(array[..., None], S, axis=-1)

        success = values(self.onboarding_name(model)) if any(data.onboarding) else None
        if model == "sbg":
            grid = log_survival_grid(data, alpha=values("sbg_alpha"), beta=values("sbg_beta"), success=success)
        else:
            grid = log_survival_grid(data, churn=values("churn"), success=success)
        return cohort_loglik(grid, data)


def _pt_betaln(a: Any, b: Any) -> Any:
    import pytensor.tensor as pt

    return pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)


def sufficient_statistics(data: RetentionData) -> tuple[np.ndarray, np.ndarray]:
    """Deaths at each event and survivors after each last observed event, summed over a segment's cohorts.

    Cohorts of one segment share their events, so the likelihood depends on the table only through these
    ``[segment, event]`` totals: the model's graph stays small however many cohorts there are.
    """
    S, E = len(data.segment_names), data.n_events
    mask = np.arange(E)[None, :] < data.last_event[:, None]
    deaths = np.zeros((S, E))
    survivors = np.zeros((S, E + 1))
    np.add.at(deaths, data.cohort_segment, np.where(mask, data.deaths, 0.0))
    np.add.at(survivors, (data.cohort_segment, data.last_event), data.survivors)
    return deaths, survivors


def sufficient_loglik(log_surv: np.ndarray, deaths: np.ndarray, survivors: np.ndarray) -> np.ndarray:
    """The retention log-likelihood from :func:`sufficient_statistics`, in numpy (``log_surv[..., S, E + 1]``)."""
    step = np.minimum(log_surv[..., 1:] - log_surv[..., :-1], -1e-12)
    log_p = log_surv[..., :-1] + _log1mexp(step)
    return np.sum(np.where(deaths > 0, deaths * log_p, 0.0), axis=(-2, -1)) + np.sum(survivors * log_surv,
                                                                                      axis=(-2, -1))


def _pt_cohort_loglik(log_surv: Any, deaths: Any, survivors: Any) -> Any:
    """The sum over cohorts of :func:`cohort_loglik`, in PyTensor, from the sufficient statistics.

    One operation computing the value and its gradient in one pass (:mod:`revsim.calibrate.survival_op`).
    """
    from revsim.calibrate.survival_op import survival_logp

    return survival_logp(log_surv, deaths, survivors)
