"""A company's billing history simulated with numpy, independently of revsim's engine, with its truth kept.

Cohort by cohort, month by month, as docs/model.md describes the customers' side (sections 4.3 and 4.5):
renewals every ``contract_months`` (churn, then the price uplift on the survivors), then upgrades and
downgrades of the survivors. What the engine does not keep is recorded here: the MRR that renewed each month
(so the share of the book renewing is known exactly) and the upgrades that happened (so the realised upgrade
probability is known). The history is written as the ``cohorts.csv`` and ``mrr.csv`` a billing system would
export, with a scenario that describes the company's structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FIRST_MONTH = 2020 * 12  # 2020-01


def label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class SegmentTruth:
    """One segment's true parameters (sBG retention when ``alpha`` is set, else constant ``churn``)."""

    name: str
    contract_months: int
    new_per_month: float
    growth: float
    mrr_per_customer: float
    price_uplift: float
    upgrade: float
    size: float
    downgrade: float
    contraction_size: float
    alpha: float | None = None
    beta: float | None = None
    churn: float | None = None

    def retention(self, renewal: int) -> float:
        """Probability of surviving the ``renewal``-th renewal (1 = the first)."""
        if self.alpha is not None:
            return (self.beta + renewal - 1) / (self.alpha + self.beta + renewal - 1)
        return 1.0 - self.churn


@dataclass
class CompanyHistory:
    """What happened, month by month (``[month, segment]``), and each cohort's customers and MRR by age."""

    segments: list[SegmentTruth]
    months: list[str]  # every simulated month
    mrr_end: np.ndarray
    new: np.ndarray
    expansion: np.ndarray
    contraction: np.ndarray
    churn: np.ndarray
    renewed: np.ndarray  # MRR, before the uplift, of the customers who renewed and stayed
    upgrades: np.ndarray  # customers who upgraded
    eligible: np.ndarray  # customers who could upgrade (the survivors of the month)
    cohorts: list[dict] = field(default_factory=list)  # segment, start, customers[age], mrr[age]

    def renewing_share(self, segment: int, months: slice) -> float:
        """The share of the book renewing: renewed MRR over the MRR at the end of the month before."""
        before = self.mrr_end[:-1, segment][months]
        return float(self.renewed[1:, segment][months].sum() / before.sum())

    def realised_upgrade(self, segment: int, months: slice) -> float:
        return float(self.upgrades[1:, segment][months].sum() / self.eligible[1:, segment][months].sum())


def simulate(segments: list[SegmentTruth], months: int, rng: np.random.Generator) -> CompanyHistory:
    """``months`` months of a company founded in the first one (every cohort is in the cohort table)."""
    S = len(segments)
    shape = (months, S)
    out = {k: np.zeros(shape) for k in ("mrr_end", "new", "expansion", "contraction", "churn", "renewed",
                                        "upgrades", "eligible")}
    cohorts: list[dict] = []
    for t in range(months):
        for s, seg in enumerate(segments):
            for cohort in (c for c in cohorts if c["segment"] == s):
                age = t - cohort["start"]
                n, m = cohort["customers"][-1], cohort["mrr"][-1]
                if n > 0 and age % seg.contract_months == 0:
                    stay = rng.binomial(n, seg.retention(age // seg.contract_months))
                    lost = m * (n - stay) / n
                    out["churn"][t, s] += lost
                    n, m = stay, m - lost
                    out["renewed"][t, s] += m
                    uplift = m * seg.price_uplift
                    out["expansion"][t, s] += uplift
                    m += uplift
                if n > 0:
                    up = rng.binomial(n, seg.upgrade)
                    down = rng.binomial(n - up, min(1.0, seg.downgrade / (1 - seg.upgrade)))
                    gain, loss = m * up / n * seg.size, m * down / n * seg.contraction_size
                    out["expansion"][t, s] += gain
                    out["contraction"][t, s] += loss
                    out["upgrades"][t, s] += up
                    out["eligible"][t, s] += n
                    m += gain - loss
                cohort["customers"].append(n)
                cohort["mrr"].append(m)
            won = rng.poisson(seg.new_per_month * (1 + seg.growth) ** t)
            value = won * seg.mrr_per_customer * (rng.gamma(won / 0.16, 0.16) / won if won else 0.0)
            cohorts.append({"segment": s, "start": t, "customers": [won], "mrr": [value]})
            out["new"][t, s] = value
            out["mrr_end"][t, s] = sum(c["mrr"][-1] for c in cohorts if c["segment"] == s)
    return CompanyHistory(segments=list(segments), months=[label(FIRST_MONTH + t) for t in range(months)],
                          cohorts=cohorts, **out)


def write_history(company: CompanyHistory, folder: Path, *, mrr_months: int) -> Path:
    """``cohorts.csv`` (every cohort, with its MRR) and ``mrr.csv`` (the last ``mrr_months`` months)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [seg.name for seg in company.segments]
    rows = ["cohort,period,customers,mrr,segment"]
    for cohort in company.cohorts:
        for age, (n, m) in enumerate(zip(cohort["customers"], cohort["mrr"], strict=True)):
            rows.append(f"{label(FIRST_MONTH + cohort['start'])},{age},{n},{m:.2f},{names[cohort['segment']]}")
    (folder / "cohorts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    rows = ["month,segment,new,expansion,contraction,churn,mrr"]
    T = len(company.months)
    for t in range(T - mrr_months, T):
        for s, name in enumerate(names):
            rows.append(f"{company.months[t]},{name},{company.new[t, s]:.2f},{company.expansion[t, s]:.2f},"
                        f"{company.contraction[t, s]:.2f},{company.churn[t, s]:.2f},{company.mrr_end[t, s]:.2f}")
    (folder / "mrr.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def write_scenario(company: CompanyHistory, path: Path) -> Path:
    """A scenario with the company's structure (contract terms, sizes, uplift) and guesses for the rates."""
    start = label(FIRST_MONTH + len(company.months))
    lines = ["name: Synthetic company", f"start: {start}", "horizon_months: 12", "segments:"]
    lines += [f"  - {{name: {seg.name}, share: 0.5}}" for seg in company.segments]
    lines += ["channels:", "  - {name: inbound, volume: 100}", "funnel:", "  stages:",
              "    - {name: lead, conversion: 0.1, months: 1}", "    - {name: won}", "retention:"]
    lines += [f"  {seg.name}: {{model: constant, churn: [0.02, 0.2], contract_months: {seg.contract_months}}}"
              for seg in company.segments]
    lines += ["onboarding: {success: 1}", "pricing:"]
    lines += [f"  {seg.name}: {{acv: {12 * seg.mrr_per_customer:.0f}}}" for seg in company.segments]
    lines.append("expansion:")
    lines += [f"  {seg.name}: {{rate: 0.01, size: {seg.size}, contraction_rate: 0.005, "
              f"contraction_size: {seg.contraction_size}, price_uplift: {seg.price_uplift}}}"
              for seg in company.segments]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class BookCohortLike:
    """The fields of a scenario's initial book cohort that the renewal share reads."""

    segment: str | None
    age_months: int
    spread_months: int
    monthly_revenue: float
