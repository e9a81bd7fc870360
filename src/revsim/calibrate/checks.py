"""Posterior-predictive checks: the history as each fitted model would have produced it, against what happened.

For a few hundred posterior draws, every block's likelihood is simulated again (in numpy) on the history's
own inputs (the same upstream entries, cohort sizes, MRR...). The charts show the observed series against
the predicted median and 50% and 90% bands: observations that keep falling outside the 90% band point at a
model that misses something.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from revsim.calibrate.funnel import conversion_trials
from revsim.calibrate.retention import log_survival_grid

if TYPE_CHECKING:  # pragma: no cover
    from revsim.calibrate.chart_process import BackgroundCharts
    from revsim.calibrate.fit import Fit

__all__ = ["PredictiveCheck", "predictive_checks", "chart_file", "chart_writers", "PREDICTIVE_DRAWS"]

#: Posterior draws simulated for the checks.
PREDICTIVE_DRAWS = 300


@dataclass(frozen=True)
class Series:
    """One observed series and its predictive draws ``[draw, point]``."""

    label: str
    x: list[str]
    observed: np.ndarray
    predicted: np.ndarray


@dataclass(frozen=True)
class PredictiveCheck:
    """The predictive check of one block: a title, the unit of its series, and the series."""

    block: str
    title: str
    unit: str
    series: list[Series]

    def coverage(self, level: float = 0.9) -> float:
        """Share of observations inside the central ``level`` predictive interval."""
        inside = total = 0
        for s in self.series:
            low, high = np.quantile(s.predicted, [(1 - level) / 2, (1 + level) / 2], axis=0)
            ok = np.isfinite(s.observed)
            inside += int(np.sum((s.observed >= low) & (s.observed <= high) & ok))
            total += int(ok.sum())
        return inside / total if total else float("nan")


def _draws(result: Fit, n: int, rng: np.random.Generator) -> np.ndarray:
    post = result.idata.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    return rng.choice(total, size=min(n, total), replace=False)


def _values(result: Fit, name: str, picks: np.ndarray) -> np.ndarray:
    array = result.idata.posterior[name]
    values = np.asarray(array.values, dtype=np.float64)
    return values.reshape((-1,) + values.shape[2:])[picks]


def _funnel(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("funnel")
    if block is None:
        return None
    d = block.data
    post = result.idata.posterior
    segmented, channelled = d.segments is not None, d.channels is not None
    if channelled:
        p_all = _values(result, "conversion_by_channel", picks)
        if not segmented:
            p_all = p_all[:, :, None, :]
    else:
        p_all = _values(result, "conversion", picks)
        p_all = p_all[:, :, :, None] if segmented else p_all[:, :, None, None]
    m_all = _values(result, "months_in_stage", picks)
    if not segmented:
        m_all = m_all[:, :, None]
    kappa = _values(result, "conversion_concentration", picks) if "conversion_concentration" in post else None
    seg = d.pair_segment if segmented else np.zeros_like(d.pair_segment)
    ch = d.pair_channel if channelled else np.zeros_like(d.pair_channel)
    p = p_all[:, d.pair_stage, seg, ch]  # [draw, pair]
    m = m_all[:, d.pair_stage, seg]
    k = kappa[:, d.pair_stage]
    n, r, k_r = conversion_trials(d.trials[None, :, :], 1.0 / (1.0 + m), p, k,
                                  d.entries_before[None, :])  # [draw, pair, T]
    q = rng.beta(np.maximum(r * k_r, 1e-9), np.maximum((1 - r) * k_r, 1e-9))
    y = rng.binomial(np.round(np.maximum(n, 0)).astype(np.int64), q)
    series = []
    for j, (stage, nxt) in enumerate(zip(d.stages, d.next_stages, strict=True)):
        rows = d.pair_stage == j
        series.append(Series(f"{stage} > {nxt}: entries into {nxt}", d.months, d.conversions[rows].sum(axis=0),
                             y[:, rows].sum(axis=1)))
    return PredictiveCheck("funnel", "Stage conversions: entries into each stage", "entries per month", series)


def _volume(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("volume")
    if block is None:
        return None
    d = block.data
    channelled = d.channels is not None
    level = _values(result, "volume_level", picks)
    growth = _values(result, "growth", picks)
    dispersion = _values(result, "dispersion", picks)
    if not channelled:
        level, growth, dispersion = level[:, None], growth[:, None], dispersion[:, None]
    t = np.arange(d.counts.shape[1]) - d.centre
    mu = level[:, :, None] * (1 + growth[:, :, None]) ** t
    if d.seasonal:
        season = _values(result, "seasonality", picks)
        season = season if channelled else season[:, None, :]
        mu = mu * season[:, :, d.calendar_month]
    shape = 1.0 / np.maximum(dispersion[:, :, None], 1e-8)
    y = rng.poisson(mu * rng.gamma(np.broadcast_to(shape, mu.shape), 1.0 / shape))
    series = [Series(f"{c} (at {d.entry_stage[i]})", d.months, d.counts[i], y[:, i])
              for i, c in enumerate(d.channel_names)]
    return PredictiveCheck("volume", "Channel volumes", "entries per month", series)


def _retention(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("retention")
    if block is None:
        return None
    d = block.data
    S = len(d.segment_names)
    series = []
    history = result.history.cohorts
    customers = history.customers
    T = customers.shape[1]
    for s in range(S):
        rows = np.nonzero(d.cohort_segment == s)[0]
        if rows.size == 0:
            continue
        seg = d.segment_names[s]
        model = result.retention_choice.get(seg, block.models[0])

        def per_segment(name: str) -> np.ndarray:
            v = _values(result, name, picks)
            return v if d.segments is not None else np.repeat(v[:, None], S, axis=1)

        success = per_segment(block.onboarding_name(model)) if any(d.onboarding) else None
        if model == "sbg":
            grid = log_survival_grid(d, alpha=per_segment("sbg_alpha"), beta=per_segment("sbg_beta"),
                                     success=success)
        else:
            grid = log_survival_grid(d, churn=per_segment("churn"), success=success)
        survive = np.exp(np.diff(grid[:, s, :], axis=-1))  # [draw, event]: P(surviving event i | alive)
        events = d.event_period[s]
        observed_alive = np.zeros(T)
        observed_n0 = np.zeros(T)
        predicted_alive = np.zeros((picks.size, T))
        for c in rows:
            counts = customers[c]
            Tc = int(np.sum(np.isfinite(counts)))
            alive = np.full(picks.size, counts[0], dtype=np.int64)
            per_period = np.zeros((picks.size, Tc))
            per_period[:, 0] = alive
            e = 0
            for k in range(1, Tc):
                while e < events.size and events[e] == k:
                    alive = rng.binomial(alive, np.clip(survive[:, e], 0, 1))
                    e += 1
                per_period[:, k] = alive
            predicted_alive[:, :Tc] += per_period
            observed_alive[:Tc] += counts[:Tc]
            observed_n0[:Tc] += counts[0]
        keep = observed_n0 > 0
        periods = [str(k) for k in np.nonzero(keep)[0]]
        series.append(Series(f"{seg} ({'sBG' if model == 'sbg' else 'constant churn'})", periods,
                             observed_alive[keep] / observed_n0[keep], predicted_alive[:, keep] / observed_n0[keep]))
    return PredictiveCheck("retention", "Retention: share of customers still active by period since acquisition",
                           "share of the cohorts' customers", series)


def _movements(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("movements")
    if block is None:
        return None
    from revsim.calibrate.movements import MOVEMENTS

    d = block.data
    noise = _values(result, "movement_noise", picks)  # [draw, movement]
    series = []
    for i, (movement, name) in enumerate(MOVEMENTS.items()):
        rate = _values(result, name, picks)
        if d.segments is None:
            rate = rate[:, None]
        for s, seg in enumerate(d.segment_names):
            used = d.used[:, s]
            if not used.any():
                continue
            mu = rate[:, s][:, None]
            sd = noise[:, i][:, None] * d.scale[used, s][None, :]
            label = movement + (f" ({seg})" if d.segments is not None else "")
            series.append(Series(label, [m for m, u in zip(d.months, used, strict=True) if u], d.rates[i][used, s],
                                 rng.normal(mu, sd)))
    return PredictiveCheck("movements", "MRR movements: monthly rates (movement / MRR of the month before)",
                           "rate per month", series)


def _pricing(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("pricing")
    if block is None:
        return None
    d = block.data
    acv = _values(result, "acv", picks)
    cv = _values(result, "acv_cv", picks)
    if d.segments is None:
        acv, cv = acv[:, None], cv[:, None]
    series = []
    for s, seg in enumerate(d.segment_names):
        rows = d.segment == s
        if not rows.any():
            continue
        n = d.customers[rows][None, :]
        cv2 = np.maximum(cv[:, s], 1e-3)[:, None] ** 2
        y = rng.gamma(n / cv2, acv[:, s][:, None] / 12.0 * cv2)
        series.append(Series(f"new MRR per new customer ({seg})", [str(i) for i in range(int(rows.sum()))],
                             d.new_mrr[rows] / d.customers[rows], y / n))
    return PredictiveCheck("pricing", "Contract values: new MRR per new customer, month by month",
                           "currency per month", series)


def _loops(result: Fit, picks: np.ndarray, rng: np.random.Generator) -> PredictiveCheck | None:
    block = result.block("loops")
    if block is None:
        return None
    d = block.data
    coefficient = _values(result, "loop_coefficient", picks)
    y = rng.poisson(coefficient[:, None] * d.source[None, :])
    return PredictiveCheck("loops", f"Growth loop: entries against {d.lag}-month-lagged source", "entries per month",
                           [Series(d.loop or "referrals", d.months, d.referred, y)])


CHECKS: dict[str, Callable[..., PredictiveCheck | None]] = {
    "funnel": _funnel, "volume": _volume, "retention": _retention, "movements": _movements, "pricing": _pricing,
    "loops": _loops,
}


def predictive_checks(result: Fit, *, draws: int = PREDICTIVE_DRAWS, seed: int = 0) -> list[PredictiveCheck]:
    """The posterior-predictive check of every fitted block."""
    rng = np.random.default_rng(seed)
    picks = _draws(result, draws, rng)
    checks = []
    for block in result.blocks:
        check = CHECKS[block.name](result, picks, rng)
        if check is not None and check.series:
            checks.append(check)
    return checks


def draw_check(check: PredictiveCheck, path: Path) -> None:
    """Draw one check as a PNG: a panel per series, observed points over the predictive bands."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(check.series)
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.0 * rows), squeeze=False)
    for ax, series in zip(axes.flat, check.series, strict=False):
        x = np.arange(len(series.x))
        q = np.quantile(series.predicted, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(x, q[0], q[4], color="#9ecae1", alpha=0.6, linewidth=0, label="90% predicted")
        ax.fill_between(x, q[1], q[3], color="#4292c6", alpha=0.6, linewidth=0, label="50% predicted")
        ax.plot(x, q[2], color="#08519c", linewidth=1, label="median")
        ax.plot(x, series.observed, "o", color="#d94801", markersize=2.5, label="observed")
        ax.set_title(series.label, fontsize=9, loc="left")
        step = max(1, len(x) // 6)
        ax.set_xticks(x[::step], [series.x[i] for i in range(0, len(x), step)], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"{check.title} ({check.unit}); {check.coverage():.0%} of observations in the 90% band",
                 fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def chart_file(check: PredictiveCheck) -> str:
    """The file name of a check's chart."""
    return f"ppc_{check.block}.png"


def chart_writers(checks: list[PredictiveCheck], drawn: BackgroundCharts | None = None
                  ) -> dict[str, Callable[[Path], None]]:
    """File name -> writer of every check's chart (``ppc_<block>.png``); ``drawn`` holds the charts a child
    process draws meanwhile (:mod:`revsim.calibrate.chart_process`): then the writers come in reverse order,
    the caller drawing the charts the child, drawing in order, has not begun."""
    if drawn is not None:
        return {chart_file(c): drawn.writer(c) for c in reversed(checks)}
    return {chart_file(c): (lambda path, c=c: draw_check(c, path)) for c in checks}


def checks_summary(checks: list[PredictiveCheck]) -> list[tuple[str, float]]:
    """(block, share of observations inside the 90% predictive band) of every check."""
    return [(c.block, c.coverage(0.9)) for c in checks]
