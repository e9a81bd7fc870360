"""Team KPIs of a run, per draw and per period: :func:`kpis` returns them as an ``xarray.Dataset``.

>>> import revsim
>>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=500, seed=1)     # doctest: +SKIP
>>> table = revsim.kpis(ds, period="year")                                        # doctest: +SKIP
>>> table.win_rate.median("draw").to_series()                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError, did_you_mean
from revsim.revops.calendar import PERIOD_KINDS, FiscalCalendar, Period, periods_of_run
from revsim.revops.catalogue import NEEDS, Kpi, available, catalogue
from revsim.revops.components import Components, Windows, components_of
from revsim.revops.structure import TEAMS

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from revsim.scenario.load import LoadedScenario

__all__ = ["kpis", "RunKpis", "run_kpis", "check_teams", "check_period_kind"]


def check_teams(teams: Sequence[str] | str | None, *, option: str = "--team") -> list[str]:
    """The teams asked for (every team when none), each checked.

    Raises
    ------
    InputError
        For an unknown team, with the closest name.
    """
    if teams is None or teams == () or teams == []:
        return list(TEAMS)
    chosen = [teams] if isinstance(teams, str) else list(teams)
    out = []
    for team in chosen:
        for name in str(team).split(","):
            name = name.strip().lower().replace("-", "_").replace(" ", "_")
            if name == "all":
                return list(TEAMS)
            if name not in TEAMS:
                raise InputError.single(f"unknown team '{name}'; expected one of: {', '.join(TEAMS)} (or all)",
                                        path=(option,), suggestion=did_you_mean(name, TEAMS))
            out.append(name)
    return list(dict.fromkeys(out))


def check_period_kind(kind: str, *, option: str = "--period") -> str:
    """``month``, ``quarter`` or ``year`` (``fiscal_year``, ``fy`` and ``q`` accepted)."""
    text = str(kind).strip().lower()
    text = {"fy": "year", "fiscal_year": "year", "fiscal-year": "year", "q": "quarter", "m": "month"}.get(text, text)
    if text not in PERIOD_KINDS:
        raise InputError.single(f"unknown period '{kind}'; expected one of: {', '.join(PERIOD_KINDS)}",
                                path=(option,), suggestion=did_you_mean(text, PERIOD_KINDS))
    return text


@dataclass
class RunKpis:
    """A run's KPI machinery: its scenario, components, catalogue and fiscal calendar.

    Built once per run by :func:`run_kpis`, it computes any KPI over any window of months (:meth:`values`)
    and the tables of :func:`kpis`.
    """

    ds: xr.Dataset
    scenario: LoadedScenario
    components: Components
    calendar: FiscalCalendar

    @property
    def structure(self) -> Any:
        return self.components.structure

    @property
    def start(self) -> str:
        return str(self.scenario.model.start)

    @property
    def n_months(self) -> int:
        return self.components.months

    def catalogue(self, *, only_available: bool = True) -> list[Kpi]:
        kpis = catalogue(self.structure)
        return [k for k in kpis if available(k, self.structure) and self._has_data(k)] if only_available else kpis

    def _has_data(self, kpi: Kpi) -> bool:
        needed = {"renewals": "renewed_customers", "renewal_rate": "renewed_customers"}.get(kpi.name)
        return needed is None or self.components.has(needed)

    def kpi(self, name: str) -> Kpi:
        """The KPI called ``name``.

        Raises
        ------
        InputError
            For an unknown KPI (with the closest name), or one the run cannot compute (with what it needs).
        """
        every = {k.name: k for k in self.catalogue(only_available=False)}
        if name not in every:
            raise InputError.single(f"unknown KPI '{name}'", path=("kpi",), suggestion=did_you_mean(name, every))
        kpi = every[name]
        if not available(kpi, self.structure) or not self._has_data(kpi):
            need = NEEDS.get(kpi.needs or "", "data these results do not hold")
            raise InputError.single(f"KPI '{name}' needs {need}", path=("kpi",))
        return kpi

    def values(self, kpi: Kpi | str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """``kpi`` per draw over windows of months (first and last positions, inclusive): ``[draw, window]``."""
        kpi = self.kpi(kpi) if isinstance(kpi, str) else kpi
        windows = Windows.of(spans, self.n_months)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(kpi.compute(self.components, windows), dtype=float)

    def periods(self, kind: str) -> list[Period]:
        """The periods of ``kind`` the run covers (the first and the last may be partial)."""
        return periods_of_run(self.calendar, self.start, self.n_months, check_period_kind(kind))

    def coords(self, kind: str) -> tuple[list[tuple[int, int]], dict[str, Any]]:
        """The simulated span of each period of ``kind`` and the coordinates of a table over them."""
        import pandas as pd

        periods = self.periods(kind)
        spans: list[tuple[int, int]] = [p.simulated(self.n_months) for p in periods]  # type: ignore[misc]
        start = pd.Period(self.start, "M")
        coords = {
            "draw": self.ds["draw"].values,
            "period": [p.label for p in periods],
            "period_start": ("period", [(start + p.first).to_timestamp() for p in periods]),
            "period_end": ("period", [(start + p.last).to_timestamp() for p in periods]),
            "months": ("period", [last - first + 1 for first, last in spans]),
            "complete": ("period", [p.complete(self.n_months) for p in periods]),
        }
        return spans, coords

    def attrs(self, kind: str) -> dict[str, Any]:
        """The attributes of a table over periods of ``kind``."""
        return {
            "period_kind": kind, "fiscal_year_start": self.calendar.start_month,
            "calendar": self.calendar.describe(), "currency": self.currency,
            "scenario_name": str(self.ds.attrs.get("scenario_name", "")), "seed": self.ds.attrs.get("seed", ""),
            "draws": self.ds.sizes["draw"], "handoff_stage": self.structure.stages[self.structure.handoff],
            "closing_stage": self.structure.stages[self.structure.closing],
        }

    def table(self, kind: str = "month", teams: Sequence[str] | str | None = None) -> xr.Dataset:
        """The KPIs of ``teams`` per draw and period of ``kind``: see :func:`kpis`."""
        import xarray as xr

        chosen = check_teams(teams)
        spans, coords = self.coords(kind)
        data = {}
        for kpi in self.catalogue():
            if not set(kpi.teams) & set(chosen):
                continue
            data[kpi.name] = xr.Variable(("draw", "period"), self.values(kpi, spans), {
                "label": kpi.label, "team": kpi.team, "teams": ",".join(kpi.teams), "units": self.units(kpi),
                "kind": kpi.kind, "better": kpi.better, "formula": kpi.formula})
        return xr.Dataset(data, coords=coords, attrs={**self.attrs(kind), "teams": ",".join(chosen)})

    @property
    def currency(self) -> str:
        return str(self.ds.attrs.get("currency", self.scenario.model.currency))

    def units(self, kpi: Kpi) -> str:
        """The unit of a KPI, as in ``results.nc``: ``USD of ARR``, ``customers``, ``ratio``."""
        return {"count": "count", "money": self.currency, "arr": f"{self.currency} of ARR", "ratio": "ratio",
                "months": "months", "multiple": "multiple"}[kpi.unit]


def run_kpis(ds: xr.Dataset, *, scenario: Any = None, fiscal_year_start: int | str | None = None) -> RunKpis:
    """The KPI machinery of a run (see :class:`RunKpis`).

    Parameters
    ----------
    ds
        Results of a run, with every draw.
    scenario
        The run's scenario (loaded, or its file); default: found from the results.
    fiscal_year_start
        The month fiscal years start in (1-12 or a name); default the scenario's ``kpis.fiscal_year_start``,
        else January.

    Raises
    ------
    InputError
        When the results keep quantiles only, or their scenario cannot be found.
    """
    from revsim.plot.scenario_link import linked_scenario
    from revsim.revops.calendar import parse_month_number

    loaded, why = linked_scenario(ds, scenario)
    if loaded is None:
        raise InputError.single(f"KPIs need the run's scenario: {why} (give it with --scenario)")
    if fiscal_year_start is None:
        settings = getattr(loaded.model, "kpis", None)
        fiscal_year_start = settings.fiscal_year_start if settings is not None else 1
    try:
        start_month = parse_month_number(fiscal_year_start)
    except ValueError as exc:
        raise InputError.single(str(exc), path=("--fiscal-year-start",)) from None
    return RunKpis(ds, loaded, components_of(ds, loaded), FiscalCalendar(start_month))


def kpis(ds: xr.Dataset, period: str = "month", *, teams: Sequence[str] | str | None = None,
         fiscal_year_start: int | str | None = None, scenario: Any = None) -> xr.Dataset:
    """Every team KPI of a run, per draw and per period.

    Parameters
    ----------
    ds
        Results of a run (:func:`revsim.simulate`, or ``results.nc`` opened with xarray), with every draw.
    period
        ``month``, ``quarter`` (fiscal quarters) or ``year`` (fiscal years).
    teams
        The teams whose KPIs to return: ``marketing``, ``marketing_to_sales``, ``sales``,
        ``sales_to_success``, ``customer_success``, ``finance`` (default: all).
    fiscal_year_start
        The month fiscal years start in (1-12 or ``April``); default the scenario's
        ``kpis.fiscal_year_start``, else January.
    scenario
        The run's scenario when the results cannot find it.

    Returns
    -------
    xarray.Dataset
        One variable per KPI, dims ``draw`` and ``period`` (labels such as ``2027-04``, ``FY2028-Q1``,
        ``FY2028``), with attributes ``label``, ``team``, ``units``, ``kind`` (flow, stock, rate, draw),
        ``better`` and ``formula``. Coordinates ``period_start`` and ``period_end`` (first days of the
        period's first and last month), ``months`` (how many of its months the run covers) and
        ``complete`` (False for a partial first or last period: flows then sum the simulated months only).

    Raises
    ------
    InputError
        For an unknown period or team, or results that keep quantiles only.

    Examples
    --------
    >>> table = revsim.kpis(ds, "year", teams="sales")                         # doctest: +SKIP
    >>> table.new_arr.quantile([0.1, 0.5, 0.9], "draw")                         # doctest: +SKIP
    """
    kind = check_period_kind(period, option="period")
    chosen = check_teams(teams, option="teams")
    return run_kpis(ds, scenario=scenario, fiscal_year_start=fiscal_year_start).table(kind, chosen)
