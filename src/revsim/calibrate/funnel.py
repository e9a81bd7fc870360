"""The acquisition side: stage conversions with their delays, and the volume of each channel.

**Conversion and delay.** In revsim's model a member of stage :math:`k` leaves each month with the hazard
:math:`h = 1/(1+m)` (:math:`m` = mean months in stage) and converts with probability :math:`p` when it
leaves. The entries into stage :math:`k+1` in month :math:`t`, for one segment and channel, are therefore
the conversions of the stage-:math:`k` leavers of that month, whose expected number is

.. math::

    N_t = \\sum_{j=0}^{t} h(1-h)^j\\, n_{t-j} + (1-h)^{t+1} n_0,

with :math:`n` the entries into stage :math:`k` (the last term assumes the stage was in a steady state
before the history starts, its entries :math:`n_0` a month: the level at the history's first month of a
log-linear trend fitted to the stage's entries, :func:`level_before_history`). Each member entered in month :math:`t-j`
converts in month :math:`t` with probability :math:`q_j = hp(1-h)^j`, so the conversions of month :math:`t`
are a sum of binomials with mean :math:`\\mu_t = pN_t` and variance :math:`\\sum_j n_{t-j} q_j (1-q_j)`:
smaller than :math:`\\mu_t` by :math:`h^2p^2 B_t`, with
:math:`A_t = \\sum_j (1-h)^j n_{t-j} + (1-h)^{t+1} n_0 / h` (the stage's members before the month's
leaving, :math:`N_t = hA_t`) and :math:`B_t = \\sum_j (1-h)^{2j} n_{t-j} + (1-h)^{2(t+1)} n_0 / (1-(1-h)^2)`.
A binomial with :math:`n^*_t = A_t^2 / B_t` trials and rate :math:`r_t = hpB_t/A_t` has exactly this mean
and variance (a binomial of :math:`N_t` trials at rate :math:`p`, the plain choice, understates it: by a
factor :math:`1-p` instead of about :math:`1 - hp/(2-h)`, which leaves out 40% of the variance at
:math:`p = 0.45` and two months in stage).
The entries into :math:`k+1` are beta-binomial with these trials (the binomial coefficient extended to real
:math:`n^*` with gamma functions) and a concentration :math:`\\kappa_r` that adds the month-to-month variation
of the conversion rate :math:`p` whose concentration is :math:`\\kappa`,
:math:`\\kappa_r + 1 = (\\kappa + 1)\\,p(1-r_t) / (r_t(1-p))`:

.. math::

    y_t \\sim \\text{BetaBinomial}(n^*_t,\\ r_t\\kappa_r,\\ (1-r_t)\\kappa_r).

The lagged counts identify :math:`m`: a stage with a long delay smooths and delays its inflow's
seasonality and noise. Conversions are pooled across segments (logit scale) and channels (zero-sum
offsets), delays across segments (log scale).

**Volume.** The entries of each channel at its entry stage are negative binomial with a log-linear trend
and monthly seasonality, the way revsim draws them:
:math:`\\mu_t = V (1+g)^{t} \\sigma_{\\text{month}(t)}`, variance :math:`\\mu + d\\mu^2`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from revsim.calibrate.history import FunnelHistory, month_index
from revsim.calibrate.plan_priors import PlanValue
from revsim.calibrate.priors import PRIORS, PriorOverride, prior_for, to_pymc

__all__ = ["FunnelData", "funnel_data", "FunnelBlock", "VolumeData", "volume_data", "VolumeBlock",
           "expected_leavers", "stage_stock", "conversion_trials", "conversion_logp", "level_before_history",
           "open_observations", "open_logp"]

#: Fewest months a channel needs before its seasonality is estimated (two full years).
SEASONALITY_MIN_MONTHS = 24


@dataclass(frozen=True)
class FunnelData:
    """Pairs of consecutive stages observed for the same segment and channel.

    ``trials[pair, month]`` are the entries into the upstream stage, ``conversions[pair, month]`` those into
    the next one; ``pair_stage``, ``pair_segment``, ``pair_channel`` index the stage (among ``stages``, the
    stages that convert), the segment and the channel of each pair. ``weight[stage, segment, channel]`` is
    the share of a stage's entries of a segment coming from each channel.
    """

    stages: list[str]
    next_stages: list[str]
    segments: list[str] | None
    channels: list[str] | None
    trials: np.ndarray
    conversions: np.ndarray
    pair_stage: np.ndarray
    pair_segment: np.ndarray
    pair_channel: np.ndarray
    weight: np.ndarray
    months: list[str]
    segments_with_data: list[str] = field(default_factory=list)
    #: ``[pair]``: the upstream stage's entries a month before the history (:func:`level_before_history`).
    before: np.ndarray | None = None
    #: ``[pair, month]``: the members open in the upstream stage at month end (NaN where not known); None when
    #: the history has no ``open`` column.
    open: np.ndarray | None = None

    @property
    def entries_before(self) -> np.ndarray:
        """``[pair]``: the upstream stage's entries a month before the history."""
        return level_before_history(self.trials) if self.before is None else self.before

    @property
    def segment_names(self) -> list[str]:
        return self.segments or ["all"]

    @property
    def channel_names(self) -> list[str]:
        return self.channels or ["all"]


def funnel_data(funnel: FunnelHistory, *, order: list[str] | None = None) -> FunnelData | None:
    """The stage pairs of a funnel history (None when no two consecutive stages are observed).

    ``order`` is the scenario's stage order: only stages consecutive in it are paired.
    """
    stages = funnel.stages
    order = order or stages
    pairs = []
    for k, stage in enumerate(stages):
        if stage not in order:
            continue
        position = order.index(stage)
        if position + 1 >= len(order) or order[position + 1] not in stages:
            continue
        k_next = stages.index(order[position + 1])
        for s in range(len(funnel.segment_names)):
            for c in range(len(funnel.channel_names)):
                up, down = funnel.counts[:, k, s, c], funnel.counts[:, k_next, s, c]
                if np.all(np.isfinite(up)) and np.all(np.isfinite(down)) and up.sum() > 0:
                    pairs.append((k, k_next, s, c))
    if not pairs:
        return None
    from_stages = [stages[k] for k in sorted({p[0] for p in pairs}, key=lambda k: order.index(stages[k]))]
    next_stages = [order[order.index(s) + 1] for s in from_stages]
    S, C = len(funnel.segment_names), len(funnel.channel_names)
    weight = np.zeros((len(from_stages), S, C))
    for k, _, s, c in pairs:
        weight[from_stages.index(stages[k]), s, c] = funnel.counts[:, k, s, c].sum()
    totals = weight.sum(axis=2, keepdims=True)
    weight = np.divide(weight, totals, out=np.full_like(weight, 1.0 / C), where=totals > 0)
    seg_with_data = sorted({p[2] for p in pairs})
    return FunnelData(
        stages=from_stages, next_stages=next_stages, segments=funnel.segments, channels=funnel.channels,
        trials=np.stack([funnel.counts[:, p[0], p[2], p[3]] for p in pairs]),
        conversions=np.stack([funnel.counts[:, p[1], p[2], p[3]] for p in pairs]),
        pair_stage=np.array([from_stages.index(stages[p[0]]) for p in pairs]),
        pair_segment=np.array([p[2] for p in pairs]), pair_channel=np.array([p[3] for p in pairs]),
        weight=weight, months=list(funnel.months),
        segments_with_data=[funnel.segment_names[s] for s in seg_with_data],
        before=level_before_history(np.stack([funnel.counts[:, p[0], p[2], p[3]] for p in pairs])),
        open=None if funnel.open is None else np.stack([funnel.open[:, p[0], p[2], p[3]] for p in pairs]))


def level_before_history(trials: np.ndarray, iterations: int = 25) -> np.ndarray:
    """The entries a month into a stage before the history starts, ``trials[..., month]`` -> ``[...]``.

    The funnel model assumes the stage was in a steady state before the history, fed at this level: its
    members at the start (:math:`n_0 / h` of them, :math:`n_0 m` for :math:`m` months in stage) leave during
    the history's first months, so for a slow stage the level weighs on the conversion and the months in
    stage as much as a year of entries. It is the level at the first month of a log-linear trend fitted to
    every month's entries by Poisson maximum likelihood (a few Newton steps), not the first month's count
    alone: one month's noise, multiplied by the months in stage, misplaced the stock (an enterprise stage of
    eight months in opportunity whose first month counted 12 where the trend gives 17 started with a third
    fewer members than it had, and the win rate and the months in stage fitted the difference). A series
    whose first month counts 0 is taken to start in the history (nobody before it): 0.
    """
    y = np.nan_to_num(np.asarray(trials, dtype=np.float64))
    T = y.shape[-1]
    out = np.zeros(y.shape[:-1])
    if T == 0:
        return out
    started = y[..., 0] > 0
    t = np.arange(T, dtype=np.float64)
    mean = np.maximum(y.mean(axis=-1), 1e-12)
    a = np.log(mean)  # log level at month 0
    b = np.zeros_like(a)  # monthly log growth
    for _ in range(iterations):
        mu = np.exp(a[..., None] + b[..., None] * t)
        g_a, g_b = np.sum(y - mu, axis=-1), np.sum((y - mu) * t, axis=-1)
        h_aa, h_ab, h_bb = np.sum(mu, axis=-1), np.sum(mu * t, axis=-1), np.sum(mu * t * t, axis=-1)
        det = h_aa * h_bb - h_ab ** 2
        safe = det > 1e-12
        step_a = np.where(safe, (h_bb * g_a - h_ab * g_b) / np.where(safe, det, 1.0), 0.0)
        step_b = np.where(safe, (h_aa * g_b - h_ab * g_a) / np.where(safe, det, 1.0), 0.0)
        a, b = a + step_a, np.clip(b + step_b, -0.2, 0.2)
    return np.where(started, np.exp(a), 0.0)


def lag_matrix(counts: np.ndarray) -> np.ndarray:
    """``A[..., t, j] = counts[..., t - j]`` for ``j <= t``, else 0."""
    T = counts.shape[-1]
    t = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    index = np.clip(t - j, 0, T - 1)
    return np.where(j <= t, counts[..., index], 0.0)


def expected_leavers(trials: np.ndarray, hazard: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
    """:math:`N_t` of the module docstring, in numpy: ``trials[..., t]`` with ``hazard[...]`` broadcast;
    ``before[...]`` the entries a month before the history (default :func:`level_before_history`)."""
    stock, _ = stage_stock(trials, hazard, before)
    return np.asarray(hazard)[..., None] * stock


def stage_stock(trials: np.ndarray, hazard: np.ndarray, before: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """:math:`A_t` and :math:`B_t` of the module docstring, in numpy: ``trials[..., t]``, ``hazard[...]``,
    ``before[...]`` the entries a month before the history (default :func:`level_before_history`)."""
    T = trials.shape[-1]
    h = np.asarray(hazard, dtype=np.float64)[..., None]
    survive = (1 - h) ** np.arange(T)  # [..., T]
    lagged = lag_matrix(trials)  # [..., T, T]
    tail = (1 - h) ** (np.arange(T) + 1)
    first = (level_before_history(trials) if before is None else np.asarray(before, dtype=np.float64))[..., None]
    stock = np.einsum("...tj,...j->...t", lagged, survive) + tail * first / h
    squared = np.einsum("...tj,...j->...t", lagged, survive ** 2) + tail ** 2 * first / (1 - (1 - h) ** 2)
    return stock, squared


def conversion_trials(trials: np.ndarray, hazard: np.ndarray, conversion: np.ndarray,
                      concentration: np.ndarray, before: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beta-binomial of the conversions, in numpy: trials :math:`n^*`, rate :math:`r` and concentration
    :math:`\\kappa_r` of the module docstring (``hazard``, ``conversion`` and ``concentration`` broadcast
    against ``trials[..., 0]``)."""
    h = np.asarray(hazard, dtype=np.float64)[..., None]
    p = np.asarray(conversion, dtype=np.float64)[..., None]
    kappa = np.asarray(concentration, dtype=np.float64)[..., None]
    stock, squared = stage_stock(trials, hazard, before)
    low, high = _rate_bounds()
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(squared > 0, stock ** 2 / squared, 0.0)
        # the bounds apply to the leaving share h B / A, so that r never exceeds p (as in the model's kernel)
        r = np.where(stock > 0, np.clip(h * squared / stock, low, high) * p, p)
        kappa_r = (kappa + 1) * p * (1 - r) / (r * (1 - p)) - 1
    return n, r, kappa_r


def _rate_bounds() -> tuple[float, float]:
    """The bounds of the leaving share, the model's (imported here: the kernel's module imports numba)."""
    from revsim.calibrate.conversion_kernel import RATE_BOUNDS

    return RATE_BOUNDS


@dataclass(frozen=True)
class OpenObservations:
    """The open counts of a funnel history arranged for the likelihood of :func:`open_logp` (``[pair, month]``
    each): ``observed`` (0 where not known); ``step`` 1 where the month before is known too, and ``trials`` then
    the members in the stage during the month (open at the end of the month before plus the month's entries, at
    least ``observed``); ``level`` 1 where the month is known but not the month before (the first month, or
    after a gap)."""

    observed: np.ndarray
    trials: np.ndarray
    step: np.ndarray
    level: np.ndarray


def open_observations(trials: np.ndarray, open_counts: np.ndarray) -> OpenObservations:
    """:class:`OpenObservations` of ``trials[pair, month]`` (the stage's entries) and ``open_counts[pair, month]``
    (NaN where not known)."""
    known = np.isfinite(open_counts)
    observed = np.where(known, open_counts, 0.0)
    before_known = np.zeros_like(known)
    before_known[:, 1:] = known[:, :-1]
    step = known & before_known
    previous = np.zeros_like(observed)
    previous[:, 1:] = observed[:, :-1]
    inside = np.where(step, np.maximum(previous + trials, observed), 0.0)
    return OpenObservations(observed=observed, trials=inside, step=step.astype(np.float64),
                            level=(known & ~before_known).astype(np.float64))


def open_logp(trials: np.ndarray, open_counts: np.ndarray, hazard: np.ndarray,
              before: np.ndarray | None = None) -> np.ndarray:
    """Log-likelihood ``[pair, month]`` of the members open at month end, in numpy (0 where not known); the
    same as the model's (:func:`open_logp_tensor`).

    Of the members in the stage during a month (those open at the end of the month before and the month's
    entries), each stays with probability :math:`1-h`: the open count at month end is a binomial of them
    (where the month before's count is known). Where it is not (the first month, or after a gap), the count is
    Poisson around the model's expected stock at month end, :math:`(1-h)A_t` (:func:`stage_stock`).
    """
    obs = open_observations(trials, open_counts)
    h = np.asarray(hazard, dtype=np.float64)[..., None]
    stock, _ = stage_stock(trials, hazard, before)
    from scipy.special import gammaln

    with np.errstate(divide="ignore", invalid="ignore"):
        step = (gammaln(obs.trials + 1) - gammaln(obs.observed + 1) - gammaln(obs.trials - obs.observed + 1)
                + obs.observed * np.log1p(-h) + (obs.trials - obs.observed) * np.log(h))
        mean = np.maximum((1 - h) * stock, 1e-9)
        level = obs.observed * np.log(mean) - mean - gammaln(obs.observed + 1)
    return np.where(obs.step > 0, step, 0.0) + np.where(obs.level > 0, level, 0.0)


@dataclass
class FunnelBlock:
    """Stage conversions (hierarchical beta-binomial) and delays of a calibration."""

    data: FunnelData
    priors: dict[str, PriorOverride] | None = None
    name: str = "funnel"
    #: The counts that decide the parametrisation (which segment effects are centred, each stage's reference
    #: channel and traffic weights): the block's own data by default; a backtest gives every origin the whole
    #: history's, so that its origins have one model structure and share one compiled model.
    layout: FunnelData | None = None
    #: The scenario's months in stage, by (stage, segment or None), centring the default priors of the months
    #: (:mod:`revsim.calibrate.plan_priors`).
    plan_months: dict[tuple[str, str | None], PlanValue] = field(default_factory=dict)

    def _layout(self) -> FunnelData:
        own, other = self.data, self.layout
        if other is not None and (other.stages, other.segment_names, other.channel_names) == (
                own.stages, own.segment_names, own.channel_names):
            return other
        return own

    def coords(self) -> dict[str, list[str]]:
        coords = {"stage": list(self.data.stages)}
        if self.data.segments is not None:
            coords["segment"] = list(self.data.segments)
        if self.data.channels is not None:
            coords["channel"] = list(self.data.channels)
        return coords

    def _stage_prior(self, name: str, variable: str, fallback: dict[str, Any] | None = None) -> Any:
        """One variable over stages, or one per stage when the scenario overrides some stages' priors.

        ``fallback[stage]`` replaces the default for a stage whose prior the scenario does not override.
        """
        import pymc as pm
        import pytensor.tensor as pt

        fallback = fallback or {}
        priors = [prior_for(name, self.priors, stage=stage) if self._overridden(name, stage) or stage not in fallback
                  else fallback[stage] for stage in self.data.stages]
        if all(p == priors[0] for p in priors):
            value = to_pymc(variable, priors[0], dims="stage")
            return pt.as_tensor(value)
        parts = [pt.as_tensor(to_pymc(f"{variable}_{stage}", p)) for stage, p in zip(self.data.stages, priors,
                                                                                     strict=True)]
        return pm.Deterministic(variable, pt.stack(parts), dims="stage")

    def _overridden(self, name: str, stage: str) -> bool:
        priors = self.priors or {}
        return name in priors or f"{name}.{stage}" in priors

    def months_plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The default prior of the months: ``(location[stage], sigma[stage], offset[stage, segment])`` on the log
        scale, centred on the scenario's months where it gives them and the ``calibration`` block does not
        override them; elsewhere the default (offsets 0)."""
        default = PRIORS["months_in_stage"].default
        d = self.data
        K, S = len(d.stages), len(d.segment_names)
        location, sigma = np.full(K, default.mu), np.full(K, default.sigma)
        offset = np.zeros((K, S))
        for k, stage in enumerate(d.stages):
            if self._overridden("months_in_stage", stage):
                continue
            own = self.plan_months.get((stage, None))
            by_segment = {s: self.plan_months.get((stage, seg)) for s, seg in enumerate(d.segment_names)}
            known = [v.centre for v in by_segment.values() if v is not None]
            if own is None and not known:
                continue
            if own is not None:
                location[k] = own.centre
                sigma[k] = own.spread if own.spread is not None else default.sigma
            else:
                location[k] = float(np.mean(known))
            if d.segments is None:
                continue
            for s, value in by_segment.items():
                if value is not None:
                    offset[k, s] = value.centre - location[k]
        return location, sigma, offset

    def planned_stages(self) -> list[str]:
        """The stages whose months' prior is centred on the scenario's months."""
        return [stage for stage in self.data.stages if not self._overridden("months_in_stage", stage)
                and any(key[0] == stage for key in self.plan_months)]

    def _months_typical(self) -> Any:
        """Each stage's pooled months in stage: the scenario's override, else the plan-centred default whose
        location and spread are data of the compiled model (a plan with other values is the same structure)."""
        import pymc as pm

        location, sigma, _ = self.months_plan()
        if any(self._overridden("months_in_stage", stage) for stage in self.data.stages):
            from revsim.scenario.distributions import LogNormal

            fallback = {stage: LogNormal(float(location[k]), float(sigma[k]))
                        for k, stage in enumerate(self.data.stages)}
            return self._stage_prior("months_in_stage", "months_typical", fallback)
        return pm.LogNormal("months_typical", mu=pm.Data("months_typical_prior_location", location),
                            sigma=pm.Data("months_typical_prior_sigma", sigma), dims="stage")

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        d = self.data
        shape = self._layout()
        segmented, channelled = d.segments is not None, d.channels is not None
        typical = self._stage_prior("conversion", "conversion_typical")
        logit_typical = pt.log(typical) - pt.log1p(-typical)
        months_typical = self._months_typical()
        if segmented:
            sd = to_pymc("conversion_segment_sd", prior_for("segment_sd", self.priors))
            logit = segment_effects("conversion_logit", logit_typical, sd, centred=informative_cells(shape, sd))
            msd = to_pymc("months_segment_sd", prior_for("segment_sd", self.priors))
            offset = pm.Data("months_segment_prior_offset", self.months_plan()[2])
            log_m = segment_effects("months_log", pt.log(months_typical), msd, centred=informative_delays(shape, msd),
                                    offset=offset)
            months = pm.Deterministic("months_in_stage", pt.exp(log_m), dims=("stage", "segment"))
        else:
            logit = logit_typical[:, None]
            months = months_typical[:, None]
        if channelled:
            csd = to_pymc("conversion_channel_sd", prior_for("channel_sd", self.priors))
            offset = channel_effects(shape, csd)
            cell = pm.math.sigmoid(logit[:, :, None] + offset[:, None, :])  # [stage, segment, channel]
            dims = ("stage", "segment", "channel") if segmented else ("stage", "channel")
            pm.Deterministic("conversion_by_channel", cell if segmented else cell[:, 0, :], dims=dims)
            weighted = pt.sum(cell * d.weight, axis=2)
            pm.Deterministic("conversion", weighted if segmented else weighted[:, 0],
                             dims=("stage", "segment") if segmented else "stage")
        else:
            cell = pm.math.sigmoid(logit)[:, :, None]
            if segmented:
                pm.Deterministic("conversion", cell[:, :, 0], dims=("stage", "segment"))
        concentration = self._stage_prior("conversion_concentration", "conversion_concentration")

        ps, pg, pc = d.pair_stage, d.pair_segment, d.pair_channel
        p = cell[ps, pg if segmented else np.zeros_like(pg), pc if channelled else np.zeros_like(pc)]
        m = months[ps, pg if segmented else np.zeros_like(pg)]
        h = 1.0 / (1.0 + m)  # [pair]
        trials = pm.Data("funnel_trials", d.trials)  # [pair, T]
        first = pm.Data("funnel_first_trials", d.entries_before)
        y = pm.Data("funnel_conversions", d.conversions)
        logp = conversion_logp(h, p, concentration[ps], trials, first, y)
        pm.Potential("funnel_loglik", pt.sum(logp))
        if d.open is not None:
            lagged = pm.Data("funnel_lagged_trials", lag_matrix(d.trials))  # [pair, T, T]
            obs = open_observations(d.trials, d.open)
            data = {name: pm.Data(f"funnel_open_{name}", getattr(obs, name))
                    for name in ("observed", "trials", "step", "level")}
            pm.Potential("funnel_open_loglik", pt.sum(open_logp_tensor(m, lagged, first, **data)))

    def variables(self) -> list[str]:
        names = ["conversion", "months_in_stage", "conversion_concentration"]
        if self.data.channels is not None:
            names.insert(1, "conversion_by_channel")
        return names

    def rename(self) -> dict[str, str]:
        """Variables renamed after sampling (a funnel without segments or channels has no hierarchy)."""
        renames = {}
        if self.data.segments is None and self.data.channels is None:
            renames["conversion_typical"] = "conversion"
        if self.data.segments is None:
            renames["months_typical"] = "months_in_stage"
        return renames


def stage_stock_tensor(h: Any, lagged: Any, first: Any) -> tuple[Any, Any]:
    """:math:`A_t` and :math:`B_t` ``[pair, month]`` of the module docstring, in PyTensor (``h[pair]``,
    ``lagged[pair, t, j]``, ``first[pair]`` as in :func:`conversion_logp`)."""
    import pytensor.tensor as pt

    T = lagged.shape[-1]
    j = pt.arange(T, dtype="float64")
    log1mh = pt.log1p(-h)[:, None]
    survive = pt.exp(log1mh * j[None, :])  # (1-h)^j  [pair, T]
    tail = pt.exp(log1mh * (j[None, :] + 1))
    before = first[:, None]
    stock = pt.sum(lagged * survive[:, None, :], axis=2) + tail * before / h[:, None]  # A_t
    squared = (pt.sum(lagged * (survive ** 2)[:, None, :], axis=2)
               + tail ** 2 * before / (1 - pt.exp(2 * log1mh)))  # B_t
    return stock, squared


def open_logp_tensor(months: Any, lagged: Any, first: Any, *, observed: Any, trials: Any, step: Any,
                     level: Any) -> Any:
    """Log-likelihood ``[pair, month]`` of the members open at month end (:func:`open_logp`), in PyTensor.

    ``months[pair]`` are the months in stage (:math:`h = 1/(1+m)`, so :math:`\\log h = -\\log(1+m)` and
    :math:`\\log(1-h) = \\log m - \\log(1+m)`, exact for any months); the other arguments are the arrays of
    :class:`OpenObservations` and those of :func:`conversion_logp`. Which months are known is read from the
    data inside the graph, so that a model compiled once serves another history.
    """
    import pytensor.tensor as pt

    log1pm = pt.log1p(months)[:, None]
    log_h, log_stay = -log1pm, pt.log(months)[:, None] - log1pm
    h = 1.0 / (1.0 + months)
    stock, _ = stage_stock_tensor(h, lagged, first)
    stays = (pt.gammaln(trials + 1) - pt.gammaln(observed + 1) - pt.gammaln(trials - observed + 1)
             + observed * log_stay + (trials - observed) * log_h)
    mean = pt.maximum(pt.exp(log_stay) * stock, 1e-9)
    poisson = observed * pt.log(mean) - mean - pt.gammaln(observed + 1)
    return pt.switch(pt.gt(step, 0), stays, 0.0) + pt.switch(pt.gt(level, 0), poisson, 0.0)


def conversion_logp(h: Any, p: Any, kappa: Any, trials: Any, first: Any, y: Any) -> Any:
    """Log-likelihood ``[pair, month]`` of the entries into the next stage (the module docstring's
    beta-binomial), in PyTensor.

    ``h``, ``p`` and ``kappa`` are per pair (hazard, conversion, concentration); ``trials[pair, t]`` the
    stage's entries, ``first[pair]`` the level before the history, ``y[pair, t]`` the entries into the next
    stage. A month whose stage holds nobody (no entries yet, and none before the history, as in a small
    channel's first months) is left out of the likelihood: the model cannot say anything about its conversions
    (one counted there entered before the history). Which months are empty is read from the data when the
    log density is evaluated, so that a model compiled once serves another history. One operation computes
    the value and its gradient (:mod:`revsim.calibrate.conversion_op`; the arithmetic in
    :mod:`revsim.calibrate.conversion_kernel`).
    """
    from revsim.calibrate.conversion_op import conversion_logp_op

    return conversion_logp_op(h, p, kappa, trials, first, y)


# --------------------------------------------------------------------------------------------------------
# Segment and channel effects: how they are parametrised
# --------------------------------------------------------------------------------------------------------

#: How segment effects are parametrised: "auto" (centred where the data are informative), "centred", "non-centred".
SEGMENT_EFFECTS = "auto"
#: How channel effects are parametrised: "weighted" (around the stage's traffic-weighted mean) or "zerosum".
CHANNEL_EFFECTS = "weighted"


def channel_share(d: FunnelData) -> np.ndarray:
    """``[stage, channel]``: each channel's share of a stage's entries over the history (all segments)."""
    totals = np.zeros((len(d.stages), len(d.channel_names)))
    np.add.at(totals, (d.pair_stage, d.pair_channel), d.trials.sum(axis=1))
    rows = totals.sum(axis=1, keepdims=True)
    return np.divide(totals, rows, out=np.zeros_like(totals), where=rows > 0)


def channel_effects(d: FunnelData, sd: Any) -> Any:
    """Each channel's logit offset from its stage's conversion ``[stage, channel]``, as a PyMC variable.

    The offsets of a stage average to 0 weighted by the channels' shares of its entries: the stage's
    conversion is then its traffic-weighted mean, which the large channel pins down, and a small channel's
    offset is nearly independent of it (with offsets that merely sum to 0, the small channel's offset and the
    stage's conversion form a long diagonal ridge that the sampler crosses slowly). The largest channel's
    offset follows from the others'; the others are non-centred, ``sd * z`` with ``z ~ Normal(0, 1)``. A
    channel without entries at a stage has no effect there (offset 0). A small channel keeps its own effect
    however few its conversions: with this parametrisation, 15 wins in 48 months sample as well as the large
    channel's (benchmarks/convergence.py), and pooling it would bias its conversion towards the stage's.
    """
    import pymc as pm
    import pytensor.tensor as pt

    K, C = len(d.stages), len(d.channel_names)
    if CHANNEL_EFFECTS == "zerosum":
        return pm.ZeroSumNormal("conversion_channel_offset", sigma=sd, dims=("stage", "channel"))
    share = channel_share(d)
    reference = share.argmax(axis=1)
    free = [(k, c) for k in range(K) for c in range(C) if c != reference[k] and share[k, c] > 0]
    offset = pt.zeros((K, C))
    if free:
        rows, cols = np.array([f[0] for f in free]), np.array([f[1] for f in free])
        z = pm.Normal("conversion_channel_z", 0.0, 1.0, shape=len(free))
        offset = pt.set_subtensor(offset[rows, cols], sd * z)
        balance = -pt.sum(offset * share, axis=1) / share[np.arange(K), reference]
        offset = pt.set_subtensor(offset[np.arange(K), reference], balance)
    return pm.Deterministic("conversion_channel_offset", offset, dims=("stage", "channel"))


def informative_cells(d: FunnelData, sd: Any) -> np.ndarray:
    """``[stage, segment]``: where a segment's conversions pin its logit more tightly than the segment
    spread ``sd`` does (the binomial's ``1 / sqrt(conversions x (1 - rate))``); a fitted spread counts as 1."""
    K, S = len(d.stages), len(d.segment_names)
    conversions, trials = np.zeros((K, S)), np.zeros((K, S))
    np.add.at(conversions, (d.pair_stage, d.pair_segment), d.conversions.sum(axis=1))
    np.add.at(trials, (d.pair_stage, d.pair_segment), d.trials.sum(axis=1))
    rate = np.divide(conversions, trials, out=np.full((K, S), 0.5), where=trials > 0)
    with np.errstate(divide="ignore"):
        data_sd = 1.0 / np.sqrt(conversions * np.clip(1 - rate, 1e-3, 1))
    spread = float(sd) if isinstance(sd, int | float) else 1.0
    return data_sd < spread


#: The months in stage over which a cell's likelihood is profiled (log-spaced).
PROFILE_MONTHS = np.exp(np.linspace(np.log(0.05), np.log(40.0), 41))


def informative_delays(d: FunnelData, sd: Any) -> np.ndarray:
    """``[stage, segment]``: where a segment's counts pin its months in stage (log scale) more tightly than the
    segment spread ``sd``; a fitted spread counts as 1.

    The log-likelihood of the cell's pairs is profiled over :data:`PROFILE_MONTHS`, each month count with the
    conversion that best fits it and the prior's median concentration (100); the half-width of the region
    within 0.5 of its maximum is the data's spread of the log months (for a normal likelihood, one standard
    deviation). A region that reaches the end of the grid is uninformative.
    """
    from scipy.special import gammaln

    K, S = len(d.stages), len(d.segment_names)
    spread = float(sd) if isinstance(sd, int | float) else 1.0
    log_months = np.log(PROFILE_MONTHS)
    out = np.zeros((K, S), bool)
    for k in range(K):
        for s in range(S):
            pairs = np.flatnonzero((d.pair_stage == k) & (d.pair_segment == s))
            if pairs.size == 0:
                continue
            trials, y = d.trials[pairs], d.conversions[pairs]
            profile = np.empty(PROFILE_MONTHS.size)
            for i, months in enumerate(PROFILE_MONTHS):
                h = 1.0 / (1.0 + months)
                leavers = expected_leavers(trials, np.full(pairs.size, h), d.entries_before[pairs])
                p = float(np.clip(y.sum() / max(leavers.sum(), 1e-12), 1e-6, 1 - 1e-6))
                n, r, kappa_r = conversion_trials(trials, np.full(pairs.size, h), np.full(pairs.size, p),
                                                  np.full(pairs.size, 100.0), d.entries_before[pairs])
                n = np.maximum(np.nan_to_num(n), y)
                a, b = r * kappa_r, (1 - r) * kappa_r
                with np.errstate(all="ignore"):
                    terms = (gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1) + gammaln(y + a) + gammaln(n - y + b)
                             - gammaln(n + a + b) - gammaln(a) - gammaln(b) + gammaln(a + b))
                profile[i] = np.sum(np.where(n > 0, terms, 0.0))
                if d.open is not None:
                    profile[i] += float(np.sum(open_logp(trials, d.open[pairs], np.full(pairs.size, h),
                                                         d.entries_before[pairs])))
            inside = np.flatnonzero(profile >= np.nanmax(profile) - 0.5)
            if inside[0] == 0 or inside[-1] == PROFILE_MONTHS.size - 1:
                continue
            out[k, s] = (log_months[inside[-1]] - log_months[inside[0]]) / 2 < spread
    return out


def segment_effects(name: str, centre: Any, sd: Any, *, centred: np.ndarray | None, offset: Any = None) -> Any:
    """Per-segment values ``[stage, segment]`` around ``centre[stage]`` (plus ``offset[stage, segment]``, the
    plan's difference of each segment, when given) with spread ``sd``.

    Centred (``Normal(centre, sd)``) where ``centred`` is True, non-centred (``centre + sd * z``,
    ``z ~ Normal(0, 1)``) elsewhere: a centred value suits a segment whose data are strong (its value is
    pinned whatever the centre), a non-centred one a segment whose data are weak (its value then moves with
    the centre, which the non-centred form makes a straight direction for the sampler). ``centred`` None
    means non-centred everywhere.
    """
    import pymc as pm
    import pytensor.tensor as pt

    model = pm.modelcontext(None)
    K, S = len(model.coords["stage"]), len(model.coords["segment"])
    mask = np.zeros((K, S), bool) if centred is None else np.asarray(centred, bool)
    if SEGMENT_EFFECTS == "centred":
        mask = np.ones((K, S), bool)
    elif SEGMENT_EFFECTS == "non-centred":
        mask = np.zeros((K, S), bool)
    mu = pt.as_tensor(centre)[:, None] * pt.ones((1, S))
    if offset is not None:
        mu = mu + offset
    if mask.all():
        return pm.Normal(name, mu=mu, sigma=sd, dims=("stage", "segment"))
    value = pt.zeros((K, S))
    rows, cols = np.nonzero(mask)
    if rows.size:
        value = pt.set_subtensor(value[rows, cols], pm.Normal(f"{name}_centred", mu=mu[rows, cols], sigma=sd,
                                                               shape=rows.size))
    rows, cols = np.nonzero(~mask)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, shape=rows.size)
    value = pt.set_subtensor(value[rows, cols], mu[rows, cols] + sd * z)
    return pm.Deterministic(name, value, dims=("stage", "segment"))


# --------------------------------------------------------------------------------------------------------
# Volume
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeData:
    """Entries per month of each channel at its entry stage (summed over segments)."""

    channels: list[str] | None
    entry_stage: list[str]
    counts: np.ndarray  # [channel, month]
    months: list[str]
    seasonal: bool

    @property
    def channel_names(self) -> list[str]:
        return self.channels or ["all"]

    @property
    def calendar_month(self) -> np.ndarray:
        """Calendar month (0 = January) of every history month."""
        return np.array([month_index(m) % 12 for m in self.months])

    @property
    def centre(self) -> float:
        """The month (from the first history month) at which the volume level is measured."""
        return (len(self.months) - 1) / 2.0


def volume_data(funnel: FunnelHistory, *, subtract: np.ndarray | None = None,
                order: list[str] | None = None, planned_seasonality: bool = False) -> VolumeData:
    """Each channel's entries at the first stage where it appears.

    ``subtract[month]`` is removed from the first channel's counts (loop entries counted in the same
    stage, when the file has no channel column); counts never go below 0. The seasonality is estimated with
    :data:`SEASONALITY_MIN_MONTHS` months or more, or with fewer when the scenario gives a channel's
    seasonality (``planned_seasonality``), which then centres its prior.
    """
    order = order or funnel.stages
    counts, entry = [], []
    ranked = sorted(range(len(funnel.stages)), key=lambda k: order.index(funnel.stages[k])
                    if funnel.stages[k] in order else len(order))
    for c in range(len(funnel.channel_names)):
        cells = funnel.counts[:, :, :, c]
        for k in ranked:
            if np.any(np.isfinite(cells[:, k, :])):
                counts.append(np.nansum(cells[:, k, :], axis=1))
                entry.append(funnel.stages[k])
                break
    counts_array = np.asarray(counts)
    if subtract is not None:
        counts_array[0] = np.maximum(counts_array[0] - subtract, 0.0)
    return VolumeData(channels=funnel.channels, entry_stage=entry, counts=counts_array, months=list(funnel.months),
                      seasonal=len(funnel.months) >= SEASONALITY_MIN_MONTHS or planned_seasonality)


@dataclass
class VolumeBlock:
    """Negative-binomial channel volumes with trend and monthly seasonality."""

    data: VolumeData
    priors: dict[str, PriorOverride] | None = None
    name: str = "volume"
    #: The scenario's growth of each channel (None: not given), centring the default prior of the growth.
    plan_growth: list[PlanValue | None] | None = None
    #: ``[channel, month of year]``: the scenario's log seasonal effects (0 where it gives none), the centre of the
    #: seasonal effects' prior.
    plan_seasonality: np.ndarray | None = None

    def growth_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The default prior of each channel's growth, ``(mean[channel], sd[channel])`` of a normal truncated to
        the default's bounds: the scenario's growth where it gives one, else the default."""
        default = PRIORS["growth"].default
        C = len(self.data.channel_names)
        mean, sd = np.full(C, default.mu), np.full(C, default.sigma)
        for c, value in enumerate(self.plan_growth or []):
            if value is not None:
                mean[c] = value.centre
                sd[c] = value.spread if value.spread is not None else default.sigma
        return mean, sd

    def _growth(self, dims: Any) -> Any:
        """Each channel's growth: the scenario's override, else the plan-centred default, whose mean and sd are data
        of the compiled model.

        The default is a normal truncated to the default's bounds, written as a normal density on a variable
        sampled inside the bounds: the truncation's normalising constant depends only on the data, so the posterior
        is the same, and the compiled code holds no call to SciPy's normal CDF (numba could not cache it)."""
        import pymc as pm
        from pymc.distributions.transforms import Interval

        if "growth" in (self.priors or {}):
            return to_pymc("growth", prior_for("growth", self.priors), dims=dims)
        default = PRIORS["growth"].default
        mean, sd = self.growth_plan()
        if dims is None:
            mean, sd = mean[0], sd[0]
        return pm.Normal("growth", mu=pm.Data("growth_prior_mean", mean), sigma=pm.Data("growth_prior_sd", sd),
                         default_transform=Interval(default.low, default.high), **({"dims": dims} if dims else {}))

    def coords(self) -> dict[str, list[str]]:
        coords: dict[str, list[str]] = {}
        if self.data.channels is not None:
            coords["channel"] = list(self.data.channels)
        if self.data.seasonal:
            coords["month_of_year"] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"]
        return coords

    def build(self) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        d = self.data
        dims = "channel" if d.channels is not None else None
        mean = float(np.mean(d.counts)) if d.counts.size else 1.0
        level = pt.as_tensor(to_pymc("volume_level", prior_for("volume", self.priors, centre=max(mean, 1.0)),
                                     dims=dims))
        growth = pt.as_tensor(self._growth(dims))
        dispersion = pt.as_tensor(to_pymc("dispersion", prior_for("dispersion", self.priors), dims=dims))
        T = d.counts.shape[1]
        t = np.arange(T) - d.centre
        log_mu = pt.log(level)[..., None] + pt.log1p(growth)[..., None] * t
        if d.seasonal:
            sd = to_pymc("seasonality_sd", prior_for("seasonality_sd", self.priors))
            sdims = ("channel", "month_of_year") if dims else "month_of_year"
            plan = self.plan_seasonality if self.plan_seasonality is not None else np.zeros((len(d.channel_names), 12))
            centre = pm.Data("seasonality_prior_location", plan if dims else plan[0])
            effect = pm.Deterministic("seasonality_log", centre + pm.ZeroSumNormal("seasonality_effect", sigma=sd,
                                                                                    dims=sdims), dims=sdims)
            pm.Deterministic("seasonality", pt.exp(effect), dims=sdims)
            log_mu = log_mu + effect[..., d.calendar_month]
        counts = d.counts if dims else d.counts[0]
        y = pm.Data("volume_counts", counts)
        alpha = 1.0 / pt.maximum(dispersion, 1e-8)[..., None]
        # negative binomial with mean mu and variance mu + mu^2 / alpha (written out: a smaller graph to compile)
        log_total = pt.log(alpha + pt.exp(log_mu))
        logp = (pt.gammaln(y + alpha) - pt.gammaln(alpha) - pt.gammaln(y + 1)
                + alpha * (pt.log(alpha) - log_total) + y * (log_mu - log_total))
        pm.Potential("volume_loglik", pt.sum(logp))

    def variables(self) -> list[str]:
        return ["volume_level", "growth", "dispersion"] + (["seasonality"] if self.data.seasonal else [])

    def rename(self) -> dict[str, str]:
        return {}
