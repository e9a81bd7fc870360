"""The scenario's RevOps blocks: ``targets`` (SMART goals finance writes) and ``kpis`` (fiscal calendar,
hand-off stage, North Star), with the checks that need the whole scenario.

A target names a KPI (any of ``revsim kpis``, see ``docs/kpis.md``), a period (a month, a fiscal quarter or a
fiscal year), and either a ``value`` or a ``change`` relative to a ``base``::

    targets:
      - {name: "120 MQL this fiscal year", metric: mql, value: 120, period: FY2028, owner: marketing}
      - {name: "+30% new-customer revenue", metric: new_arr, change: +30%, base: previous, period: FY2028}
      - {name: "NRR 115%", metric: nrr_12m, value: 115%, period: FY2028, owner: customer_success}

Flows are summed over the period, stocks read at its end, rates pooled from the period's sums. The base of a
relative target is another period of the run (``previous``: the period of the same kind just before), a
known value (last year's actual), or a period of a history folder (``{history: DIR, period: FY2027}``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator, model_validator
from pydantic_core import PydanticCustomError

from revsim.errors import InputError, did_you_mean
from revsim.revops.calendar import FiscalCalendar, Period, parse_month_number
from revsim.revops.catalogue import NEEDS, STATIC_NAMES, available, catalogue, kpi_names
from revsim.revops.structure import TEAMS, FunnelStructure
from revsim.scenario.distributions import parse_amount
from revsim.scenario.percent import parse_percent

__all__ = ["Target", "NorthStar", "NorthStarInput", "KpiSettings", "TargetValue", "parse_value", "parse_change",
           "revops_problems", "target_period", "base_period", "scenario_calendar", "DEFAULT_BETTER"]

_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_POINTS = re.compile(r"^\s*([-+])\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:pts?|points?|pp)\s*$", re.IGNORECASE)
#: Whether higher or lower is better, per KPI that does not depend on the funnel (stage entries: higher).
DEFAULT_BETTER = {k.name: k.better for k in catalogue(FunnelStructure(("a", "b", "c"), 0, 1))
                  if k.name in STATIC_NAMES}
#: The value ``base: previous`` takes.
PREVIOUS = "previous"


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class TargetValue:
    """A parsed ``value`` or ``change``: ``kind`` is ``value``, ``relative`` (a multiple of the base: +30% is
    1.3) or ``points`` (added to the base, for ratios: +5pts is 0.05); ``percent`` says it was written with %."""

    kind: str
    number: float
    percent: bool = False


def parse_value(raw: Any) -> TargetValue:
    """A target's ``value``: a number, an amount (``20M``) or a percentage (``15%``, read as 0.15).

    Raises
    ------
    ValueError
        With what was expected.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"expected a number, an amount (20M) or a percentage (95%), got {raw!r}")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return TargetValue("value", float(raw))
    text = str(raw).strip()
    fraction = parse_percent(text)
    if fraction is not None:
        if text[:1] in "+-":
            raise ValueError(f"'{text}' is a change: write it as change: {text} (with a base), or the value "
                             "itself without a sign")
        return TargetValue("value", fraction, percent=True)
    number = parse_amount(text)
    if number is None or not math.isfinite(number):
        raise ValueError(f"expected a number, an amount (20M) or a percentage (95%), got '{text}'")
    return TargetValue("value", number)


def parse_change(raw: Any) -> TargetValue:
    """A target's ``change``: ``+30%`` or ``-10%`` (relative to the base), ``115%`` (115% of the base), or
    ``+5pts`` (points added to a ratio).

    Raises
    ------
    ValueError
        With what was expected.
    """
    expected = ("expected a change relative to the base: +30% or -10% (the base times 1.3 or 0.9), 115% (115% "
                "of the base) or +5pts (points added to a ratio)")
    if isinstance(raw, bool) or raw is None or isinstance(raw, int | float):
        hint = "" if not isinstance(raw, int | float) or isinstance(raw, bool) else \
            f"; {raw!r} has no unit: write +{raw * 100:g}% or {100 + raw * 100:g}%, or use value: for a value"
        raise ValueError(f"{expected}, got {raw!r}{hint}")
    text = str(raw).strip()
    points = _POINTS.match(text)
    if points:
        number = float(points.group(2)) / 100.0
        return TargetValue("points", -number if points.group(1) == "-" else number)
    fraction = parse_percent(text)
    if fraction is None:
        raise ValueError(f"{expected}, got '{text}'")
    if text[:1] in "+-":
        return TargetValue("relative", 1.0 + fraction, percent=True)
    if fraction <= 0:
        raise ValueError(f"'{text}' of the base is not a goal: write a percentage above 0% (115%) or a change "
                         "(+15%, -10%)")
    return TargetValue("relative", fraction, percent=True)


def _compact(value: float) -> str:
    """``30M``, ``12.5k``, ``0.95``: a number as a scenario file would write it."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.4g}{suffix}"
    return f"{value:.6g}"


def _check_month(value: Any) -> str:
    text = str(value).strip()
    match = _YEAR_MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PydanticCustomError("revsim", "expected a month as YYYY-MM (e.g. 2027-01), got '{v}'", {"v": text})
    return text


def _team(value: str | None) -> str | None:
    if value is None:
        return None
    name = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if name not in TEAMS:
        hint = did_you_mean(name, TEAMS)
        raise PydanticCustomError("revsim", "unknown team '{v}'; expected one of: {teams}{hint}",
                                  {"v": value, "teams": ", ".join(TEAMS),
                                   "hint": f"; did you mean '{hint}'?" if hint else ""})
    return name


class HistoryBase(_Block):
    """A base read from history files: the ``period`` of the files in ``history`` (a folder or a file)."""

    history: str = Field(description="A history folder (funnel.csv, mrr.csv...) or one of its files, relative to "
                                     "the scenario file.")
    period: str = Field(description="The period of the history the base is read over (FY2027, 2026-Q4, "
                                    "2026-12).")

    @field_validator("history")
    @classmethod
    def _exists(cls, value: str, info: ValidationInfo) -> str:
        base_dir = (info.context or {}).get("base_dir")
        path = Path(value) if Path(value).is_absolute() or base_dir is None else Path(base_dir) / value
        if not path.exists():
            raise PydanticCustomError("revsim", "no history folder or file '{v}' (looked in {where})",
                                      {"v": value, "where": str(path.parent)})
        return str(path)


class Target(_Block):
    """A dated goal on any KPI; revsim reports the probability of reaching it.

    ``metric`` is a KPI (``revsim kpis`` lists them; ``docs/kpis.md`` defines each). The goal is read over
    ``period`` (a month, a fiscal quarter or a fiscal year; default the last simulated month): a flow summed
    over it, a stock at its end, a rate pooled from its sums. It is either a ``value`` or a ``change``
    relative to ``base``. It is reached when the KPI is at least the goal, or at most it with
    ``direction: below`` (the default for KPIs where lower is better: churn, CAC, payback...).
    """

    name: str | None = Field(default=None, description="A name for reports (default: the metric and goal).")
    metric: str = Field(default="arr", description="The KPI: arr, new_arr, mql (a stage name: its entries), "
                                                   "win_rate, nrr_12m, logo_churn, cac... (revsim kpis lists them).")
    value: Any = Field(default=None, description="The goal, in the KPI's unit: 20M, 120, 95% (a ratio).",
                       json_schema_extra={"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}],
                                          "x-unit": "the KPI's unit"})
    change: Any = Field(default=None, description="The goal relative to base: +30%, -10%, 115% of the base, +5pts "
                                                  "for a ratio.",
                        json_schema_extra={"anyOf": [{"type": "string"}, {"type": "null"}],
                                           "x-unit": "percent of the base, or points"})
    base: HistoryBase | float | str | None = Field(
        default=None, description="What a change is relative to: previous (the period before), a period of the run "
                                  "(FY2028), a value (3.2M), or {history: DIR, period: FY2027}.",
        json_schema_extra={"x-unit": "the KPI's unit"})
    period: str | None = Field(default=None, description="When: a month (2028-12), a fiscal quarter (FY2028-Q1) "
                                                         "or a fiscal year (FY2028); default the last month.")
    at: str | None = Field(default=None, description="A month, YYYY-MM (the same as a month period).")
    direction: Literal["above", "below"] = Field(
        default="above", description="above: reached when the KPI is at least the goal; below: at most (default: "
                                     "below for KPIs where lower is better).")
    owner: str | None = Field(default=None, description="The team that owns the target (default: the KPI's team).")

    @model_validator(mode="before")
    @classmethod
    def _default_direction(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("direction") is None:
            metric = str(data.get("metric") or "arr")
            return {**data, "direction": "below" if DEFAULT_BETTER.get(metric) == "lower" else "above"}
        return data

    @field_validator("at")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        return None if value is None else _check_month(value)

    @field_validator("period", mode="before")
    @classmethod
    def _period_text(cls, value: Any) -> Any:
        return None if value is None else str(value).strip()

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return _team(value)

    @field_validator("value")
    @classmethod
    def _value(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            parsed = parse_value(value)
        except ValueError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
        return str(value).strip() if parsed.percent else parsed.number

    @field_validator("change")
    @classmethod
    def _change(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            parse_change(value)
        except ValueError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
        return str(value).strip()

    @field_validator("base", mode="before")
    @classmethod
    def _base(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, dict):
            return HistoryBase.model_validate(value, context=info.context)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        text = str(value).strip()
        if text.lower() in (PREVIOUS, "prior", "last"):
            return PREVIOUS
        return text

    @model_validator(mode="after")
    def _one_goal(self) -> Target:
        if self.value is None and self.change is None:
            raise PydanticCustomError("revsim", "give the goal as value (20M, 120, 95%) or as change (+30%) with a "
                                                "base")
        if self.value is not None and self.change is not None:
            raise PydanticCustomError("revsim", "give value or change, not both")
        if self.period is not None and self.at is not None:
            raise PydanticCustomError("revsim", "give period or at (a month), not both")
        return self

    @property
    def when(self) -> str | None:
        """The period as written (``period``, else ``at``), or None for the last month."""
        return self.period or self.at

    @property
    def goal_text(self) -> str:
        """``>= 20M``, ``+30% vs previous``, ``<= 1.5%``."""
        sign = "<=" if self.direction == "below" else ">="
        if self.change is not None:
            base = self.base.period + " of history" if isinstance(self.base, HistoryBase) else \
                (_compact(self.base) if isinstance(self.base, float) else str(self.base))
            return f"{sign} {self.change} vs {base}"
        value = self.value if isinstance(self.value, str) else _compact(self.value)
        return f"{sign} {value}"

    @property
    def label(self) -> str:
        """A short name for reports."""
        if self.name:
            return self.name
        when = f" in {self.when}" if self.when else ""
        return f"{self.metric} {self.goal_text}{when}"


class NorthStarInput(_Block):
    """An input metric of the North Star, with the lever its contribution is measured by (default: the
    scenario inputs that drive the metric, moved by +10%)."""

    metric: str = Field(description="The input metric (a KPI).")
    lever: str | None = Field(default=None, description="A lever of the scenario, or PATH=CHANGE, that moves the "
                                                         "input (default: its driving inputs +10%).")


def _inputs_as_names(schema: dict[str, Any]) -> None:
    """The JSON Schema of ``inputs``: each input a KPI's name, or ``{metric, lever}``."""
    inputs = schema["properties"]["inputs"]
    inputs["items"] = {"anyOf": [{"type": "string", "description": "An input metric (a KPI)."}, inputs["items"]]}


class NorthStar(_Block):
    """The North Star metric (a KPI, or a ratio of two: ``revenue / active_customers``) and its input metrics."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_inputs_as_names)

    name: str | None = Field(default=None, description="The North Star's name for reports.")
    metric: str = Field(description="A KPI, or a ratio of two KPIs written a / b.")
    period: Literal["month", "quarter", "year"] = Field(default="year", description="The period it is read over.")
    inputs: list[NorthStarInput] = Field(min_length=1, max_length=12, description="Its input metrics (KPIs), each "
                                                                                  "with an optional lever.")

    @field_validator("inputs", mode="before")
    @classmethod
    def _input_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"metric": v} if isinstance(v, str) else v for v in value]
        return value

    @property
    def parts(self) -> tuple[str, ...]:
        """The KPI (or the two KPIs of a ratio) the metric is made of."""
        return tuple(p.strip() for p in self.metric.split("/"))

    @property
    def label(self) -> str:
        return self.name or self.metric


class KpiSettings(_Block):
    """How the KPIs of ``revsim kpis`` read the scenario: its fiscal year, its hand-off stage, its North Star."""

    fiscal_year_start: Annotated[int, WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 12},
                                                                {"type": "string"}]})] = Field(
        default=1, description="The month the fiscal year starts in (1-12 or a name: April); fiscal years are named "
                               "after the year they end in.", json_schema_extra={"x-unit": "month of the year"})
    handoff_stage: str | None = Field(default=None, description="The stage marketing hands over to sales from "
                                                                "(default: a stage named mql, else the stage before "
                                                                "the closing stage).")
    north_star: NorthStar | None = Field(default=None, description="The North Star metric and its input metrics.")

    @field_validator("fiscal_year_start", mode="before")
    @classmethod
    def _month(cls, value: Any) -> int:
        try:
            return parse_month_number(value)
        except ValueError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None

    @property
    def calendar(self) -> FiscalCalendar:
        return FiscalCalendar(self.fiscal_year_start)


# ---------------------------------------------------------------------------------------------------------
# Checks that need the whole scenario
# ---------------------------------------------------------------------------------------------------------


def scenario_calendar(model: Any) -> FiscalCalendar:
    settings = getattr(model, "kpis", None)
    return settings.calendar if settings is not None else FiscalCalendar(1)


def target_period(model: Any, target: Target) -> Period:
    """The period a target is read over (the last simulated month when it names none).

    Raises
    ------
    ValueError
        When the period is not written as the calendar expects.
    """
    calendar = scenario_calendar(model)
    when = target.when or model.month_label(model.horizon_months - 1)
    return calendar.parse(when, start=model.start)


def base_period(model: Any, target: Target, period: Period) -> Period | None:
    """The run period a relative target's base is read over, or None when its base is a value or history."""
    if target.change is None or target.base is None or isinstance(target.base, HistoryBase | float):
        return None
    if target.base == PREVIOUS:
        calendar = scenario_calendar(model)
        y0, m0 = (int(x) for x in model.start.split("-"))
        total = y0 * 12 + (m0 - 1) + period.first - 1
        return calendar.period_of(total // 12, total % 12 + 1, period.kind, start=model.start)
    if parse_amount(str(target.base)) is not None or parse_percent(str(target.base)) is not None:
        return None
    return scenario_calendar(model).parse(target.base, start=model.start)


def _coverage_problem(model: Any, period: Period, kind: str, what: str = "") -> str | None:
    """Why the run cannot read a KPI of ``kind`` over ``period``, or None."""
    last = model.horizon_months - 1
    span = f"{model.start} to {model.month_label(last)}"
    name = f"{what}{period.label}" if period.kind == "month" else \
        f"{what}{period.label} ({model.month_label(period.first)} to {model.month_label(period.last)})"
    if period.last > last or period.last < 0:
        return f"{name} is outside the simulated months ({span})"
    if kind in ("flow", "rate") and period.first < 0:
        return f"{name} starts before the simulated months ({span}): a flow or a rate needs the whole period"
    return None


def _kpi_kind(name: str, structure: FunnelStructure) -> tuple[str, str, str | None]:
    """(kind, unit, needs) of a KPI name (the legacy customers-won-since-start reads like a stock)."""
    if name == "new_customers_total":
        return "stock", "count", None
    kpi = next(k for k in catalogue(structure) if k.name == name)
    return kpi.kind, kpi.unit, kpi.needs


def revops_problems(model: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem of the ``kpis`` block and of the targets that needs the whole scenario: unknown KPIs
    (with the closest name), KPIs the scenario cannot compute, periods outside the horizon, a change without
    a base, a base that is not a period of the same kind..."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    structure = FunnelStructure.of(model)
    names = kpi_names(structure)
    every = {k.name: k for k in catalogue(structure)}
    calendar = scenario_calendar(model)

    def check_metric(path: tuple[str | int, ...], name: str) -> bool:
        if name not in names:
            hint = did_you_mean(name, names)
            problems.append((path, f"unknown KPI '{name}'" + (f"; did you mean '{hint}'?" if hint else
                                                              " (revsim kpis lists them)")))
            return False
        if name in every and not available(every[name], structure):
            problems.append((path, f"KPI '{name}' needs {NEEDS[every[name].needs or '']}, which the scenario "
                                   "does not have"))
            return False
        return True

    settings = getattr(model, "kpis", None)
    if settings is not None:
        if settings.handoff_stage is not None and settings.handoff_stage not in model.stage_names[:structure.closing + 1]:
            choices = model.stage_names[:structure.closing + 1]
            hint = did_you_mean(settings.handoff_stage, choices)
            problems.append((("kpis", "handoff_stage"), f"unknown stage '{settings.handoff_stage}'; expected a stage "
                             f"up to the closing stage: {', '.join(choices)}" + (f"; did you mean '{hint}'?" if hint
                                                                                  else "")))
        star = settings.north_star
        if star is not None:
            if len(star.parts) > 2 or not all(star.parts):
                problems.append((("kpis", "north_star", "metric"), f"expected a KPI or a ratio of two (a / b), got "
                                                                   f"'{star.metric}'"))
            else:
                for part in star.parts:
                    check_metric(("kpis", "north_star", "metric"), part)
            lever_names = [lever.name for lever in model.levers]
            for i, item in enumerate(star.inputs):
                check_metric(("kpis", "north_star", "inputs", i, "metric"), item.metric)
                if item.lever is not None and "=" not in item.lever and item.lever not in lever_names:
                    hint = did_you_mean(item.lever, lever_names)
                    problems.append((("kpis", "north_star", "inputs", i, "lever"),
                                     f"the scenario has no lever '{item.lever}' (write a lever's name or PATH=CHANGE)"
                                     + (f"; did you mean '{hint}'?" if hint else "")))

    for i, target in enumerate(model.targets):
        where: tuple[str | int, ...] = ("targets", i)
        if not check_metric((*where, "metric"), target.metric):
            continue
        kind, unit, _ = _kpi_kind(target.metric, structure)
        field = "period" if target.period is not None else "at"
        try:
            period = target_period(model, target)
        except ValueError as exc:
            problems.append(((*where, field), str(exc)))
            continue
        problem = _coverage_problem(model, period, kind)
        if problem:
            problems.append(((*where, field), problem))
            continue
        if target.value is not None:
            if target.base is not None:
                problems.append(((*where, "base"), "a base goes with a change (+30%); this target gives a value"))
            if parse_value(target.value).percent and unit != "ratio":
                problems.append(((*where, "value"), f"{target.value} is a percentage, but {target.metric} is not a "
                                 f"ratio: for {target.value} of a base period write change: {target.value} and a "
                                 "base (previous, FY2027, a value)"))
            continue
        change = parse_change(target.change)
        if change.kind == "points" and unit != "ratio":
            problems.append(((*where, "change"), f"points (+5pts) change a ratio; {target.metric} is not one: write "
                                                 "a percentage (+30%)"))
        if target.base is None:
            problems.append(((*where, "base"), f"a relative target (change: {target.change}) needs a base: previous "
                             f"(the {period.kind} before), a period of the run ({period.label}), a value, or "
                             "{history: DIR, period: ...}"))
            continue
        if isinstance(target.base, HistoryBase):
            problems += [((*where, "base", *path), message) for path, message in
                         _history_base_problems(model, target, target.base, period, calendar)]
            continue
        if isinstance(target.base, float):
            continue
        text = str(target.base)
        if target.base != PREVIOUS and (parse_amount(text) is not None or parse_percent(text) is not None):
            continue
        try:
            base = base_period(model, target, period)
        except ValueError as exc:
            problems.append(((*where, "base"), f"expected previous, a period ({calendar.examples()}), a value or "
                                               f"{{history: DIR, period: ...}}: {exc}"))
            continue
        assert base is not None
        if base.kind != period.kind:
            problems.append(((*where, "base"), f"the base {base.label} is a {base.kind} but the target's period "
                                               f"{period.label} is a {period.kind}: compare like with like"))
            continue
        problem = _coverage_problem(model, base, kind, "the base ")
        if problem:
            problems.append(((*where, "base"), problem + "; for a period before the run, give its value (base: "
                             "3.2M) or read it from history (base: {history: DIR, period: ...})"))
    return problems


def _history_base_problems(model: Any, target: Target, base: HistoryBase, period: Period,
                           calendar: FiscalCalendar) -> list[tuple[tuple[str, ...], str]]:
    from revsim.revops.history_base import history_base_value

    try:
        history_period = calendar.parse(base.period, start=model.start)
    except ValueError as exc:
        return [(("period",), str(exc))]
    if history_period.kind != period.kind:
        return [(("period",), f"the base {history_period.label} is a {history_period.kind} but the target's period "
                              f"{period.label} is a {period.kind}: compare like with like")]
    try:
        history_base_value(base.history, target.metric, history_period, model)
    except InputError as exc:
        return [(("history",), exc.problems[0].message if exc.problems else str(exc))]
    return []
