"""The share of the book that renews each month: the MRR a price uplift applies to.

Expansion MRR holds the price uplift :math:`u` of the customers who renew and stay, and the upgrades of every
survivor (on their MRR after the uplift). With :math:`M_{t-1}` the MRR at the end of the month before,
:math:`C_t` the churned MRR and :math:`R_t` the MRR, before the uplift, of the customers who renewed in month
:math:`t` and stayed, revsim's model (docs/model.md, 4.5) expects

.. math::

    E[\\text{expansion}_t] = u R_t + p_e s_e\\,(M_{t-1} - C_t + u R_t).

The movement rates are fitted with weights :math:`M_{t-1}` (their spread shrinks as the book grows), so the
fitted rate is the ratio of sums :math:`\\rho = \\sum_t x_t / \\sum_t M_{t-1}`, and the renewal share that
goes with it is the same ratio, :math:`r = \\sum_t R_t / \\sum_t M_{t-1}`: each month's share weighted by
that month's book. Then ``upgrade_probability`` :math:`p_e = (\\rho_{exp} - u r) / (s_e (1 - \\rho_{churn}
+ u r))`.

:math:`R_t / M_{t-1}` is read from the cohorts actually renewing each month:

* from a cohort table dated by month with monthly periods (:func:`share_from_cohorts`): the cohorts whose age
  is a multiple of the contract term, their survivors at their MRR of the month before, over every cohort's
  MRR at the end of the month before (customers when the table has no ``mrr`` column);
* else from the scenario's initial book when the scenario starts the month after the history
  (:func:`share_from_book`): the book's ages, counted back, tell which of its cohorts renewed in each month
  of the history;
* else it is not known, and :func:`fallback_share` assumes renewals spread evenly over the term, with the
  churn concentrated on them: :math:`1/\\tau - \\rho_{churn}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from revsim.calibrate.history import CohortHistory, month_index

__all__ = ["RenewalShare", "share_from_cohorts", "share_from_book", "fallback_share"]


@dataclass(frozen=True)
class RenewalShare:
    """A segment's renewal share, the months it was measured on, and where it comes from."""

    value: float
    months: int
    source: str  # the file or "the initial book"


def _weighted(shares: list[float], weights: list[float]) -> float | None:
    w = np.asarray(weights, dtype=np.float64)
    if not shares or w.sum() <= 0:
        return None
    return float(np.dot(np.asarray(shares), w) / w.sum())


def share_from_cohorts(cohorts: CohortHistory, *, segment: str | None, term: int, months: Sequence[str],
                       weights: np.ndarray) -> RenewalShare | None:
    """The renewal share over ``months`` (each weighted by ``weights``, the book at the end of the month before)
    from a cohort table dated by month with monthly periods; None when the table cannot tell.

    A month counts when the table covers it: the month is within the table's last observed month, and some
    cohort was on the books at the end of the month before.
    """
    if not cohorts.dated or cohorts.period_months != 1:
        return None
    rows = np.ones(len(cohorts.labels), bool)
    if segment is not None and cohorts.segments is not None:
        rows = cohorts.segment == cohorts.segment_names.index(segment)
    customers = cohorts.customers[rows]
    if customers.size == 0:
        return None
    value = cohorts.mrr[rows] if cohorts.mrr is not None else customers
    start = cohorts.start[rows]
    width = customers.shape[1]
    observed = np.sum(np.isfinite(customers), axis=1)  # periods 0 .. observed - 1
    last = int(np.max(start + observed - 1))
    shares, used = [], []
    index = np.arange(len(start))
    for month, weight in zip(months, weights, strict=True):
        t = month_index(month)
        if t > last or not weight > 0:
            continue
        age = t - start
        seen = (age >= 1) & (age < observed)  # on the books at the end of t-1 and observed at t
        if not seen.any():
            continue
        before = np.clip(age - 1, 0, width - 1)
        now = np.clip(age, 0, width - 1)
        book = np.where(seen, value[index, before], 0.0)
        total = np.nansum(book)
        if not total > 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            kept = np.where(customers[index, before] > 0, customers[index, now] / customers[index, before], 0.0)
        renewing = seen & (age % term == 0)
        shares.append(float(np.nansum(np.where(renewing, book * kept, 0.0)) / total))
        used.append(float(weight))
    share = _weighted(shares, used)
    return None if share is None else RenewalShare(share, len(shares), cohorts.file)


def share_from_book(book: Sequence[Any], *, segment: str | None, term: int, months: Sequence[str],
                    weights: np.ndarray, start: int) -> RenewalShare | None:
    """The renewal share over ``months`` from a scenario's initial book (``BookCohort`` entries), when the
    scenario starts at month ``start`` right after them: a book cohort ``A`` months old at the start was
    ``A - j`` months old ``j`` months earlier. Churn and expansion since then are not known; each cohort counts
    with its MRR at the start."""
    ages, mrr = [], []
    for cohort in book:
        if segment is not None and cohort.segment not in (None, segment):
            continue
        spread = cohort.spread_months
        for offset in range(spread):
            ages.append(cohort.age_months + offset)
            mrr.append(cohort.monthly_revenue / spread)
    if not ages:
        return None
    ages_array, mrr_array = np.asarray(ages), np.asarray(mrr)
    shares, used = [], []
    for month, weight in zip(months, weights, strict=True):
        age = ages_array - (start - month_index(month))  # age in that month
        on_books = age >= 1
        total = mrr_array[on_books].sum()
        if not weight > 0 or not total > 0:
            continue
        shares.append(float(mrr_array[on_books & (age % term == 0)].sum() / total))
        used.append(float(weight))
    share = _weighted(shares, used)
    return None if share is None else RenewalShare(share, len(shares), "the initial book")


def fallback_share(term: int, churn_rate: Any) -> Any:
    """Renewals spread evenly over the term, and the month's churn all at them: ``1/term - churn_rate``
    (exact with monthly contracts); ``churn_rate`` may be an array of posterior draws."""
    return np.clip(1.0 / term - churn_rate, 0.0, 1.0)
