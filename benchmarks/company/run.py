"""What one simulated company did, month by month: :class:`CompanyRun`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.company.truth import Company, month_index

__all__ = ["CompanyRun", "SERIES"]

#: Series of :meth:`CompanyRun.series` (per month, per segment), and how each is computed from the arrays.
SERIES = ("arr", "mrr", "new_customers", "churned_customers", "onboarding_churned", "active_customers",
          "advocates", "renewals", "upgrades", "downgrades", "uplift_arr", "uplift_mrr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "net_new_arr", "new_mrr",
          "expansion_mrr", "contraction_mrr", "churned_mrr", "leads", "stage_entries", "open_in_stage",
          "stage_converted", "stage_lost")


@dataclass(frozen=True)
class CompanyRun:
    """One simulated company: every flow and stock per month, and the truth it came from.

    Array dimensions: ``T`` months, ``K`` stages, ``S`` segments, ``R`` sources (the channels, then the
    loops; see :attr:`sources`), ``L`` loops. Money is MRR in currency units per month (floats).

    Attributes
    ----------
    direct_entries, stage_entries
        ``[T, K, S, R]``: entries from channels and loops; entries into each stage (direct entries plus the
        conversions of the stage before; for the last stage, the customers won), by the source that brought
        each member into the funnel.
    stage_converted, stage_lost, open_in_stage
        ``[T, K, S]``: members converting to the next stage and lost, by the month they leave; members in
        each stage at month end (0 for the last stage).
    new_customers, churned_customers, onboarding_churned, active_customers, advocates
        ``[T, S]`` counts (churned customers include the onboarding failures).
    renewals, upgrades, downgrades
        ``[T, S]``: customers facing a renewal each month (after onboarding failures, before churn: those who
        churn at it included), and the survivors who upgraded and downgraded: the realised counts behind the
        rates a calibration estimates.
    uplift_mrr
        ``[T, S]``: the part of the expansion MRR that is price uplift at renewals (the rest is upgrades).
    new_mrr, expansion_mrr, contraction_mrr, churned_mrr, mrr
        ``[T, S]``: the MRR movements of each month and the MRR at month end; expansion holds the price
        uplift and the upgrades. ``mrr[t] = mrr[t-1] + new + expansion - contraction - churned``.
    loop_entries, loop_source
        ``[T, L]``: entries each loop brought (all segments) and its source at month end (over the source
        segment when the loop has one).
    cohort_customers, cohort_mrr
        ``[T, T, S]``: ``[t, b, s]`` customers (and their MRR) at the end of month ``t`` of the cohort
        acquired in month ``b`` in segment ``s`` (0 for ``b > t``).
    open_by_source
        ``[T, K, S, R]``: ``open_in_stage`` by the source that brought each member into the funnel (the open
        pipeline a CRM exports; ``funnel.csv``'s ``open`` column).
    """

    truth: dict[str, Any]
    company: Company
    seed: int
    months: list[str]
    direct_entries: np.ndarray
    stage_entries: np.ndarray
    stage_converted: np.ndarray
    stage_lost: np.ndarray
    open_in_stage: np.ndarray
    new_customers: np.ndarray
    churned_customers: np.ndarray
    onboarding_churned: np.ndarray
    active_customers: np.ndarray
    advocates: np.ndarray
    renewals: np.ndarray
    upgrades: np.ndarray
    downgrades: np.ndarray
    uplift_mrr: np.ndarray
    new_mrr: np.ndarray
    expansion_mrr: np.ndarray
    contraction_mrr: np.ndarray
    churned_mrr: np.ndarray
    mrr: np.ndarray
    loop_entries: np.ndarray
    loop_source: np.ndarray
    cohort_customers: np.ndarray
    cohort_mrr: np.ndarray
    open_by_source: np.ndarray | None = None

    @property
    def segments(self) -> list[str]:
        return list(self.company.segments)

    @property
    def stages(self) -> list[str]:
        return list(self.company.stages)

    @property
    def sources(self) -> list[str]:
        """The channels, then the loops: the ``channel`` labels of the funnel's entries."""
        return self.company.sources

    def month(self, label: str) -> int:
        """Index of a ``YYYY-MM`` month in this run (0 = the truth's ``start``)."""
        t = month_index(label) - self.company.start
        if not 0 <= t < len(self.months):
            raise ValueError(f"{label} is outside the simulated months {self.months[0]} to {self.months[-1]}")
        return t

    def series(self, name: str, segment: str | None = None, *, stage: str | None = None,
               channel: str | None = None) -> np.ndarray:
        """One series per month: the company total, or one segment's.

        Parameters
        ----------
        name
            One of :data:`SERIES`: ``arr``, ``mrr``, ``new_customers``, ``churned_customers``,
            ``active_customers``, ``new_arr``, ``expansion_arr``, ``contraction_arr``, ``churned_arr``,
            ``leads``... ``stage_entries``, ``open_in_stage``, ``stage_converted`` and ``stage_lost`` need
            ``stage``.
        segment
            A segment's series instead of the total.
        stage
            The stage, for the stage series.
        channel
            For ``stage_entries`` and ``leads``: only the members a channel (or a loop, by its name) brought.
        """
        if name not in SERIES:
            raise ValueError(f"unknown series {name!r}; the series: {', '.join(SERIES)}")
        s = slice(None) if segment is None else [self._index(segment, self.segments, "segment")]
        per_stage = name in ("stage_entries", "open_in_stage", "stage_converted", "stage_lost")
        if per_stage != (stage is not None):
            raise ValueError(f"series {name!r} " + ("needs a stage" if per_stage else "takes no stage"))
        if channel is not None and name not in ("stage_entries", "leads"):
            raise ValueError(f"series {name!r} is not split by channel")
        r = slice(None) if channel is None else [self._index(channel, self.sources, "channel or loop")]
        if name == "leads":
            values = self.direct_entries[:, :, :, r].sum(axis=(1, 3))
        elif name == "stage_entries":
            values = self.stage_entries[:, self._index(stage, self.stages, "stage")][:, :, r].sum(axis=2)
        elif per_stage:
            values = getattr(self, name)[:, self._index(stage, self.stages, "stage")]
        elif name == "net_new_arr":
            values = 12.0 * (self.new_mrr + self.expansion_mrr - self.contraction_mrr - self.churned_mrr)
        elif name.endswith("_arr") or name == "arr":
            values = 12.0 * getattr(self, "mrr" if name == "arr" else name[:-4] + "_mrr")
        else:
            values = getattr(self, name)
        return np.asarray(values[:, s].sum(axis=1))

    @staticmethod
    def _index(value: str, names: list[str], what: str) -> int:
        if value not in names:
            raise ValueError(f"unknown {what} {value!r} (known: {', '.join(names)})")
        return names.index(value)

    def write_history(self, directory: str | os.PathLike[str], first_month: str | None = None,
                      last_month: str | None = None, **options: Any) -> dict[str, str]:
        """Write the history files revsim calibrates from (see :func:`benchmarks.company.history_files.write_history`)."""
        from benchmarks.company.history_files import write_history

        return write_history(self, directory, first_month=first_month, last_month=last_month, **options)

    def plan_scenario(self, cut: str, **options: Any) -> dict[str, Any]:
        """A plan starting the month after ``cut`` (see :func:`benchmarks.company.plan.plan_scenario`)."""
        from benchmarks.company.plan import plan_scenario

        return plan_scenario(self, cut, **options)

    def true_scenario(self, cut: str, **options: Any) -> dict[str, Any]:
        """The company itself from the month after ``cut``, with its true state (see
        :func:`benchmarks.company.plan.true_scenario`)."""
        from benchmarks.company.plan import true_scenario

        return true_scenario(self, cut, **options)
