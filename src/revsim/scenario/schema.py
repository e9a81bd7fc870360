"""The scenario schema: what a scenario file may say, validated with pydantic.

A scenario describes a company as a bowtie: channels feed an ordered list of acquisition stages; the last
stage is the customer; customers are onboarded, retained (or not), expand and contract, become advocates,
and growth loops turn them back into new entries in the funnel. Every numeric input that can be uncertain is
parsed into a :class:`~revsim.scenario.distributions.Distribution` (a constant is a distribution too).

Blocks that hold settings per segment (``pricing``, ``onboarding``, ``retention``, ``expansion``,
``advocacy``) accept either the settings themselves, which then apply to every segment, or a mapping from
segment name to settings, with an optional ``default`` entry for the segments not listed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from revsim.errors import InputError, did_you_mean
from revsim.revops.catalogue import STATIC_NAMES
from revsim.scenario.distributions import Distribution, parse_uncertain
from revsim.scenario.percent import fractions_from_percentages, holds_percentage
from revsim.scenario.plausibility import plausibility_problems
from revsim.scenario.value_schemas import number_schema, uncertain_schema
from revsim.scenario.revops import KpiSettings, Target, revops_problems

__all__ = [
    "ALL_SEGMENTS",
    "DEFAULT_KEY",
    "Scenario",
    "Stage",
    "Channel",
    "Loop",
    "LOOP_SOURCES",
    "Retention",
    "iter_inputs",
    "allowed_keys",
    "Lever",
    "unwrap_annotation",
]

#: Internal key under which a per-segment block written without segment names is stored.
ALL_SEGMENTS = "__all__"
#: Key of a per-segment block's fallback entry.
DEFAULT_KEY = "default"
#: Quantities a growth loop can turn into new entries.
LOOP_SOURCES = ("advocates", "active_customers", "new_customers", "mrr")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_HORIZON_MONTHS = 600
#: Largest MRR of an initial book cohort: money is counted in int64 cents, with room for years of growth.
MAX_BOOK_MRR = 1e12
#: Largest coefficient of variation of a deal's contract value.
MAX_ACV_CV = 10.0


def _uncertain(domain: str, *, fraction: bool = False) -> Any:
    """An annotated type: a number, ``[low, high]`` or a ``dist:`` mapping, parsed for ``domain``.

    A ``fraction`` field (a rate, a share, a growth) also takes percentages (``1.5%``); a probability written
    as a whole-number percentage (``churn: 15``) is refused with what was probably meant.
    """

    def validate(value: Any, info: ValidationInfo) -> Distribution:
        if isinstance(value, Distribution):
            return value
        value = _read_percentages(value, fraction)
        if domain == "probability":
            _refuse_whole_percentages(value)
        base_dir = (info.context or {}).get("base_dir")
        try:
            return parse_uncertain(value, domain, base_dir=base_dir)  # type: ignore[arg-type]
        except InputError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": exc.problems[0].message}) from None

    return Annotated[Distribution, PlainValidator(validate), WithJsonSchema(uncertain_schema(domain, fraction=fraction))]


def _amount(domain: str) -> Any:
    """An annotated type: a known (not uncertain) number; accepts shorthands such as ``1.2M``."""

    def validate(value: Any, info: ValidationInfo) -> float:
        if isinstance(value, list | dict):
            raise PydanticCustomError("revsim", "expected a plain number here (this input cannot be uncertain)")
        value = _read_percentages(value, fraction=False)
        try:
            dist = parse_uncertain(value, domain)  # type: ignore[arg-type]
        except InputError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": exc.problems[0].message}) from None
        return float(dist.mean())

    return Annotated[float, PlainValidator(validate), WithJsonSchema(number_schema(domain))]


def _read_percentages(value: Any, fraction: bool) -> Any:
    """Percentages as fractions in a fraction field; a clear refusal anywhere else."""
    if fraction:
        return fractions_from_percentages(value)
    if holds_percentage(value):
        raise PydanticCustomError(
            "revsim", "a percentage is accepted only where a fraction is expected (a conversion, churn, growth, "
            "uplift or share); this field is a number in its own unit: write it without '%'")
    return value


def _refuse_whole_percentages(value: Any) -> None:
    """``churn: 15`` or ``[10, 20]`` for a probability: almost surely a percentage written as a whole number."""
    numbers = value if isinstance(value, list | tuple) else [value]
    if not numbers or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        return
    if all(1 < n <= 100 for n in numbers):
        written = ", ".join(f"{n:g}" for n in numbers)
        meant = ", ".join(f"{n / 100:g}" for n in numbers)
        percent = ", ".join(f"{n:g}%" for n in numbers)
        if isinstance(value, list | tuple):
            written, meant, percent = f"[{written}]", f"[{meant}]", f"[{percent}]"
        raise PydanticCustomError(
            "revsim", "expected a probability between 0 and 1, got {written}: a percentage written as a number? "
            "For {percent} write {meant} or {percent}",
            {"written": written, "meant": meant, "percent": percent})


#: Largest number of members open in a stage at start.
MAX_OPEN_COUNT = 10**9


def _open_count(value: Any, info: ValidationInfo) -> Distribution:
    """Members open in a stage at start: a whole number, or an uncertain count (rounded in each draw)."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, bool) or (isinstance(value, int | float) and (value != int(value) or not
                                                                       0 <= value <= MAX_OPEN_COUNT)):
        raise PydanticCustomError("revsim", "expected a whole number of members from 0 to {limit}, got {value}",
                                  {"limit": f"{MAX_OPEN_COUNT:.0e}", "value": repr(value)})
    base_dir = (info.context or {}).get("base_dir")
    try:
        return parse_uncertain(value, "nonnegative", base_dir=base_dir)  # type: ignore[arg-type]
    except InputError as exc:
        raise PydanticCustomError("revsim", "{message}", {"message": exc.problems[0].message}) from None


def _open_counts(value: Any, info: ValidationInfo) -> Any:
    """A stage's open members: one count (split across segments), or a mapping segment -> count."""
    if isinstance(value, dict) and "dist" not in value:
        counts = {}
        for key, item in value.items():
            try:
                counts[key] = _open_count(item, info)
            except PydanticCustomError as exc:
                raise PydanticCustomError("revsim", "segment {segment}: {message}",
                                          {"segment": key, "message": exc.message()}) from None
        return counts
    return _open_count(value, info)


_OPEN_COUNT_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_OPEN_COUNT},
                                 uncertain_schema("nonnegative")]}
OpenCounts = Annotated[Any, PlainValidator(_open_counts), WithJsonSchema({"anyOf": [
    *_OPEN_COUNT_SCHEMA["anyOf"], {"type": "object", "additionalProperties": _OPEN_COUNT_SCHEMA}]})]


Probability = _uncertain("probability", fraction=True)
Positive = _uncertain("positive")
NonNegative = _uncertain("nonnegative")
Real = _uncertain("real")
#: A non-negative fraction: an upgrade's size, a price uplift (percentages accepted).
Fraction = _uncertain("nonnegative", fraction=True)
#: A monthly growth rate (percentages accepted; may be negative).
Growth = _uncertain("real", fraction=True)
Amount = _amount("nonnegative")
Name = Annotated[str, Field(min_length=1, max_length=64)]


def described(description: str, unit: str | None = None, *, shown_default: Any = None, **kwargs: Any) -> Any:
    """``Field(description=...)`` with the field's unit, which the JSON Schema carries as ``x-unit``.

    ``shown_default`` is the default the JSON Schema states for a field whose default is made by a factory.
    """
    extra: dict[str, Any] = {"x-unit": unit} if unit else {}
    if shown_default is not None:
        extra["default"] = shown_default
    return Field(description=description, json_schema_extra=extra or None, **kwargs)


def _numeric_kinds(annotation: Any) -> set[type]:
    """The number types (int, float) a field's annotation admits, looking through Optional and Annotated."""
    if annotation in (int, float):
        return {annotation}
    kinds: set[type] = set()
    for arg in get_args(annotation):
        if arg is bool:
            return set()
        kinds |= _numeric_kinds(arg)
    return kinds


def refuse_boolean_number(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """A YAML boolean (``yes``, ``on``, ``true``...) where a number belongs is an error, not 1 or 0."""
    if isinstance(value, bool) and info.field_name is not None:
        field = model.model_fields.get(info.field_name)
        kinds = _numeric_kinds(field.annotation) if field is not None else set()
        if kinds:
            what = "a whole number" if kinds == {int} else "a number"
            raise PydanticCustomError("revsim", "expected {what}, got {v} (yes, no, on, off, true and false are "
                                      "booleans in YAML, not numbers)", {"what": what, "v": str(value).lower()})
    return value


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors (the loader suggests the closest known key), and a
    boolean is not a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        return refuse_boolean_number(cls, value, info)


def allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the scenario block at ``loc`` accepts (empty when ``loc`` is not a block).

    Walks the schema's annotations: fields of models, items of lists, values of mappings.
    """
    current: Any = Scenario
    for part in loc:
        current = unwrap_annotation(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            origin = get_origin(current)
            if origin in (list, dict):
                current = get_args(current)[-1]
            else:
                return []
    current = unwrap_annotation(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def unwrap_annotation(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` from a schema annotation (a union of several types is kept)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


#: Names a stage cannot take: they name other metrics in summary.csv.
RESERVED_STAGE_NAMES = frozenset({
    "arr", "mrr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "net_new_arr", "active_customers",
    "new_customers", "churned_customers", "advocates", "leads", "nrr_12m", "grr_12m", "logo_churn", "win_rate",
    "open_pipeline_arr", "pipeline_coverage", "revenue_per_lead", "sales_marketing_spend", "cost_per_lead", "cac",
    "cac_payback_months", "ltv_cac",
}) | frozenset(STATIC_NAMES)  # and every team KPI (revsim kpis): a stage's entries are a KPI named after it


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise PydanticCustomError(
            "revsim",
            "names start with a letter and use letters, digits, '_' or '-' (got '{value}')",
            {"value": value},
        )
    return value


# ---------------------------------------------------------------------------------------------------------
# Left side: segments, channels, funnel
# ---------------------------------------------------------------------------------------------------------


class Segment(Strict):
    """A customer segment (SMB, mid-market, enterprise...).

    ``share`` is the segment's default part of every channel's volume when a channel gives no
    ``segment_mix``; shares are normalised to sum to one.
    """

    name: Name = described("The segment's name (smb, mid_market, enterprise...): letters, digits, '_' or '-'.")
    share: float = described(
        "The segment's default part of every channel's volume when the channel gives no segment_mix; shares "
        "are normalised to sum to one.",
        unit="weight",
        default=1.0, ge=0)

    @field_validator("name")
    @classmethod
    def _segment_name(cls, value: str) -> str:
        _check_name(value)
        reserved = {DEFAULT_KEY, *(f for block in SEGMENT_BLOCKS.values() for f in block.model_fields)}
        if value in reserved:
            raise PydanticCustomError(
                "revsim", "'{v}' cannot name a segment: it is a key of the per-segment blocks", {"v": value})
        return value


class Channel(Strict):
    """A source of top-of-funnel entries (inbound, outbound, partners, paid...).

    The expected number of entries in month ``t`` (0 = the first simulated month) is
    ``volume * (1 + growth)**t * seasonality[calendar month]``, drawn as Poisson, or as negative binomial
    with variance ``mu + dispersion * mu**2`` when ``dispersion`` > 0. Each of the twelve seasonal
    multipliers is an input of its own (``channels.<name>.seasonality.0`` is January's), which may be
    uncertain like any other (a calibration draws them from the posterior).
    """

    name: Name = described("The channel's name (inbound, outbound, partners, paid...).")
    volume: NonNegative = described(
        "Expected entries per month in the first simulated month (uncertain).", unit="entries per month")
    growth: Growth = described(
        "Monthly growth of the channel's volume: volume x (1 + growth)^t in month t (uncertain; 0.015 or "
        "1.5%).",
        unit="fraction per month",
        default_factory=lambda: parse_uncertain(0, "real"), shown_default=0)
    seasonality: list[NonNegative] | None = described(
        "Twelve multipliers of the volume, January to December (1 = an average month; each may be uncertain, "
        "as a calibration writes them).", unit="multiplier",
        default=None)
    dispersion: NonNegative = described(
        "Noise beyond Poisson: entries are negative binomial with variance mu + dispersion x mu^2 (0 = "
        "Poisson).",
        unit="dimensionless",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    stage: str | None = described("The stage the channel's entries enter (default: the first stage).", default=None)
    segment_mix: dict[str, Annotated[float, Field(ge=0)]] | None = described(
        "The channel's split across segments, segment -> weight (default: the segments' shares).", unit="weight",
        default=None)

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("seasonality")
    @classmethod
    def _twelve_months(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) != 12:
            raise PydanticCustomError(
                "revsim", "expected 12 multipliers, January to December (got {n})", {"n": len(value)}
            )
        return value


class StageOverride(Strict):
    """A stage's conversion and time in stage for one segment, where it differs from the stage's own."""

    conversion: Probability | None = described(
        "The stage's conversion to the next stage for this segment (uncertain; 0.25 or 25%).", unit="probability",
        default=None)
    months: NonNegative | None = described(
        "Mean months a member of this segment spends in the stage (uncertain).", unit="months",
        default=None)


class Stage(Strict):
    """One acquisition stage (Lead, MQL, SQL, Opportunity...; the last stage is the customer).

    Parameters
    ----------
    conversion
        The stage's eventual conversion rate to the next stage (MQL->SQL, win rate...).
    months
        Mean months a member spends in the stage before it converts or is lost (0: the same month).
    by_segment
        Overrides of ``conversion`` and ``months`` for some segments.
    """

    name: Name = described("The stage's name (lead, mql, sql, opportunity, won...); the last stage is the customer.")
    conversion: Probability | None = described(
        "The share of the stage's members who eventually move on to the next stage (uncertain; 0.25 or 25%). "
        "Not for the last stage.",
        unit="probability",
        default=None)
    months: NonNegative | None = described(
        "Mean months a member spends in the stage before it converts or is lost; 0 = the same month "
        "(uncertain). Not for the last stage.",
        unit="months",
        default=None)
    by_segment: dict[str, StageOverride] = described(
        "Overrides of conversion and months for some segments: segment -> {conversion, months}.",
        default_factory=dict)

    @field_validator("name")
    @classmethod
    def _stage_name(cls, value: str) -> str:
        _check_name(value)
        if value in RESERVED_STAGE_NAMES:
            raise PydanticCustomError(
                "revsim", "'{v}' cannot name a stage: it names a metric of the results", {"v": value})
        return value


class SalesCapacity(Strict):
    """At most ``reps * deals_per_rep_per_month`` deals can close in a month; the rest wait in the stage."""

    stage: str | None = described(
        "The stage whose conversions are capped (default: the stage before the last: the deals that close).",
        default=None)
    reps: Positive = described("Sales reps at the start (uncertain; need not be whole).", unit="reps")
    hires_per_month: NonNegative = described(
        "Reps added each month: reps + hires_per_month x t in month t (uncertain).", unit="reps per month",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    deals_per_rep_per_month: Positive = described(
        "Deals one rep can close in a month (uncertain).", unit="deals per rep per month")
    quota_per_rep: Amount | None = described(
        "New ARR quota of one rep per month, for pipeline coverage.", unit="currency per rep per month",
        default=None)


class Funnel(Strict):
    """The ordered acquisition stages, the optional sales capacity, and the pipeline open at ``start``.

    ``open_at_start`` maps a stage to the members already in it when the simulation starts (open leads,
    trials, opportunities): a number, split across segments by their shares, or a number per segment. A
    count may be uncertain (an estimate of the pipeline, such as a backtest's, drawn from a posterior): it is
    drawn once per draw and rounded to whole members.
    """

    stages: list[Stage] = described(
        "The acquisition stages in order (at least two); the last stage is the customer.",
        min_length=2)
    sales_capacity: SalesCapacity | None = described(
        "Caps the deals that close each month at reps x deals per rep; the rest wait.",
        default=None)
    open_at_start: dict[str, OpenCounts] = described(
        "Members already in a stage at start (open leads, trials, opportunities): stage -> a number, split across "
        "segments by their shares, or stage -> {segment: number}; a number may be uncertain (drawn once per draw "
        "and rounded).", unit="members", default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Right side: pricing, onboarding, retention, expansion, advocacy
# ---------------------------------------------------------------------------------------------------------


class Pricing(Strict):
    """Annual contract value of a new customer: ``acv`` is its mean, ``acv_cv`` its spread across deals (the
    coefficient of variation of one deal's value, at most :data:`MAX_ACV_CV`)."""

    acv: Positive = described(
        "Mean annual contract value of a new customer (uncertain; 12k, 1.2M).", unit="currency per year")
    acv_cv: Fraction = described(
        "Coefficient of variation of contract values across deals (0 = every deal at the mean; 0.4 or 40%; "
        "may be uncertain, as a calibration writes it).",
        unit="fraction",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)

    @field_validator("acv_cv")
    @classmethod
    def _acv_cv_at_most(cls, value: Distribution) -> Distribution:
        if value.is_constant and value.mean() > MAX_ACV_CV:
            raise PydanticCustomError("revsim", "expected a value <= {cap}, got {v}",
                                      {"cap": f"{MAX_ACV_CV:g}", "v": f"{value.mean():g}"})
        return value


class Onboarding(Strict):
    """A share ``1 - success`` of a new cohort churns at the end of ``months`` of onboarding."""

    success: Probability = described(
        "Share of a new cohort that is still a customer at the end of onboarding (uncertain; 0.95 or 95%).",
        unit="probability",
        default_factory=lambda: parse_uncertain(1, "probability"), shown_default=1)
    months: int = described(
        "Months of onboarding; the failures leave at its end.", unit="months",
        default=1, ge=0, le=36)


class Retention(Strict):
    """How customers renew.

    ``model: constant``: each renewal is lost with probability ``churn``. ``model: sbg`` (shifted beta
    geometric): each customer's churn probability is Beta(``alpha``, ``beta``) distributed, so churn
    falls with age. A renewal happens every ``contract_months``; churn only happens at renewals.
    """

    model: Literal["constant", "sbg"] = described(
        "constant: every renewal is lost with probability churn; sbg: shifted beta-geometric, churn falls "
        "with age (alpha, beta).",
        default="constant")
    churn: Probability | None = described(
        "Probability that a customer leaves at a renewal, with model: constant (uncertain; 0.15 or 15%). Per "
        "year with contract_months: 12, per month with 1.",
        unit="probability per renewal",
        default=None)
    alpha: Positive | None = described(
        "Alpha of the sBG's Beta(alpha, beta) distribution of churn probabilities; first-renewal churn is "
        "alpha / (alpha + beta) (uncertain).",
        unit="dimensionless",
        default=None)
    beta: Positive | None = described(
        "Beta of the sBG's Beta(alpha, beta) distribution of churn probabilities (uncertain).",
        unit="dimensionless",
        default=None)
    contract_months: int = described(
        "Months between renewals; customers can churn only at a renewal (1 = monthly plans, 12 = annual "
        "contracts).",
        unit="months",
        default=1, ge=1, le=120)

    @model_validator(mode="after")
    def _parameters_match_model(self) -> Retention:
        if self.model == "constant":
            if self.churn is None:
                raise PydanticCustomError("revsim", "model 'constant' needs 'churn' (churn per renewal)")
            if self.alpha is not None or self.beta is not None:
                raise PydanticCustomError(
                    "revsim", "'alpha' and 'beta' belong to model 'sbg'; model 'constant' takes 'churn'"
                )
        else:
            if self.alpha is None or self.beta is None:
                raise PydanticCustomError("revsim", "model 'sbg' needs both 'alpha' and 'beta'")
            if self.churn is not None:
                raise PydanticCustomError(
                    "revsim", "'churn' belongs to model 'constant'; model 'sbg' takes 'alpha' and 'beta'"
                )
        return self


class Expansion(Strict):
    """Monthly upgrades and downgrades of surviving customers, and the price uplift at renewal.

    Each month a customer upgrades with probability ``rate`` (its MRR grows by the fraction ``size``) or
    downgrades with probability ``contraction_rate`` (its MRR shrinks by ``contraction_size``). At each
    renewal the survivors' MRR grows by ``price_uplift``.
    """

    rate: Probability = described(
        "Monthly probability that a customer upgrades (uncertain; 0.01 or 1%).", unit="probability per month",
        default_factory=lambda: parse_uncertain(0, "probability"), shown_default=0)
    size: Fraction = described(
        "Relative MRR increase of an upgrade (0.25 or 25%: +25% of the customer's MRR) (uncertain).",
        unit="fraction of MRR",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    contraction_rate: Probability = described(
        "Monthly probability that a customer downgrades (uncertain).", unit="probability per month",
        default_factory=lambda: parse_uncertain(0, "probability"), shown_default=0)
    contraction_size: Probability = described(
        "Relative MRR decrease of a downgrade, at most 1 (uncertain).", unit="fraction of MRR",
        default_factory=lambda: parse_uncertain(0, "probability"), shown_default=0)
    price_uplift: Fraction = described(
        "Relative price increase applied at each renewal to the customers who renew (0.03 or 3%) (uncertain).",
        unit="fraction per renewal",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)


class Advocacy(Strict):
    """A share ``rate`` of customers older than ``adoption_months`` are advocates."""

    rate: Probability = described(
        "Share of adopted customers who are advocates each month (uncertain; 0.15 or 15%).", unit="probability",
        default_factory=lambda: parse_uncertain(0, "probability"), shown_default=0)
    adoption_months: int = described(
        "Age from which a customer can be an advocate.", unit="months",
        default=3, ge=0, le=120)


SEGMENT_BLOCKS: dict[str, type[Strict]] = {
    "pricing": Pricing,
    "onboarding": Onboarding,
    "retention": Retention,
    "expansion": Expansion,
    "advocacy": Advocacy,
}


# ---------------------------------------------------------------------------------------------------------
# Loops, initial book, costs, targets, correlations
# ---------------------------------------------------------------------------------------------------------


class Loop(Strict):
    """A growth loop: ``Poisson(coefficient * source[t - lag])`` new entries at stage ``target`` in month t.

    ``source`` is one of advocates, active_customers, new_customers or mrr (per currency unit), counted in
    every segment, or only in ``source_segment`` when it is given. Entries go to the source's own segment,
    or all to ``segment`` when it is given.
    """

    name: Name = described("The loop's name (referrals, invites...).")
    kind: str | None = described(
        "A label for reports (referral, viral, content...); it does not change the simulation.",
        default=None)
    source: Literal["advocates", "active_customers", "new_customers", "mrr"] = described(
        "What produces the loop's entries: advocates, active_customers, new_customers or mrr.")
    source_segment: str | None = described(
        "Count the source in this segment only (default: every segment).",
        default=None)
    target: str = described("The stage the loop's entries enter.")
    coefficient: NonNegative = described(
        "Entries per unit of source per month: Poisson(coefficient x source[t - lag]) (uncertain). Per unit "
        "of currency for source: mrr.",
        unit="entries per source unit per month")
    lag: int = described(
        "Months between the source and the entries it brings (at least 1).", unit="months",
        default=1, le=60)
    segment: str | None = described(
        "Send every entry to this segment (default: the source's own segment).",
        default=None)

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("lag")
    @classmethod
    def _positive_lag(cls, value: int) -> int:
        if value < 1:
            raise PydanticCustomError(
                "revsim",
                "a loop needs a lag of at least 1 month (its entries come from an earlier month's source), got {lag}",
                {"lag": value},
            )
        return value


class BookCohort(Strict):
    """Customers already on the books at ``start``: how many, their total MRR, and their age.

    ``age_months`` counts the months since acquisition at ``start``: customers won in the month before
    ``start`` are 1 month old. They renew when their age is a multiple of the contract term.

    With ``spread_months`` > 1 the customers (and their MRR) are spread evenly over that many consecutive
    ages from ``age_months`` up, so that their renewals fall in different months.
    """

    segment: str | None = described("The cohort's segment (required when the scenario has several).", default=None)
    customers: int = described("Customers in the cohort at the start.", unit="customers", ge=0, le=10**9)
    mrr: Amount | None = described(
        "The cohort's total MRR at the start (or give arr).", unit="currency per month",
        default=None)
    arr: Amount | None = described(
        "The cohort's total ARR at the start (or give mrr).", unit="currency per year",
        default=None)
    age_months: int = described(
        "Months since the cohort's customers were won, at the start (customers won the month before are 1 "
        "month old); they renew when their age is a multiple of the contract term.",
        unit="months",
        default=12, ge=1, le=600)
    spread_months: int = described(
        "Spread the customers and their revenue evenly over this many consecutive ages from age_months up, so"
        " that their renewals fall in different months (12 for a book signed over a year).",
        unit="months",
        default=1, ge=1, le=120)

    @model_validator(mode="after")
    def _one_amount(self) -> BookCohort:
        if (self.mrr is None) == (self.arr is None):
            raise PydanticCustomError("revsim", "give the cohort's total 'mrr' or its 'arr' (one of the two)")
        if self.customers == 0 and self.monthly_revenue > 0:
            raise PydanticCustomError("revsim", "a cohort with revenue needs customers (customers is 0)")
        if self.monthly_revenue > MAX_BOOK_MRR:
            raise PydanticCustomError(
                "revsim", "the cohort's MRR of {mrr} is beyond what revsim counts (at most {cap} a month); "
                "check the amount and its unit", {"mrr": f"{self.monthly_revenue:.3g}", "cap": f"{MAX_BOOK_MRR:.3g}"})
        return self

    @property
    def monthly_revenue(self) -> float:
        """The cohort's total MRR."""
        return float(self.mrr if self.mrr is not None else self.arr / 12.0)  # type: ignore[operator]


class Costs(Strict):
    """Spend, for CAC, payback and LTV.

    ``channel_spend`` is each channel's spend in the first month; it grows with the channel's volume (a
    constant cost per lead). ``cost_per_rep`` is a sales rep's fully loaded monthly cost;
    ``cs_cost_per_customer`` the monthly cost of serving a customer; ``gross_margin`` the share of revenue
    left after the cost of delivering the product; ``other_opex`` every other operating cost (R&D, G&A), for
    the burn multiple.
    """

    channel_spend: dict[str, NonNegative] = described(
        "Spend of each channel in the first month, channel -> amount; it follows the channel's expected "
        "volume (uncertain).",
        unit="currency per month",
        default_factory=dict)
    other_spend: NonNegative = described(
        "Other sales and marketing spend per month (uncertain).", unit="currency per month",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    cost_per_rep: NonNegative = described(
        "A sales rep's fully loaded monthly cost (needs funnel.sales_capacity) (uncertain).",
        unit="currency per rep per month",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    cs_cost_per_customer: NonNegative = described(
        "Monthly cost of serving one customer, for LTV (uncertain).", unit="currency per customer per month",
        default_factory=lambda: parse_uncertain(0, "nonnegative"), shown_default=0)
    gross_margin: Probability = described(
        "Share of revenue left after the cost of delivering the product (uncertain; 0.78 or 78%).", unit="fraction",
        default_factory=lambda: parse_uncertain(0.8, "probability"), shown_default=0.8)
    ltv_months: int = described("Months of a customer's life that LTV counts.", unit="months", default=60, ge=1, le=600)

    other_opex: NonNegative | None = described(
        "Every other operating cost per month (R&D, G&A...), for the burn multiple (uncertain).",
        unit="currency per month", default=None)


class Correlation(Strict):
    """A rank (Spearman) correlation between two uncertain inputs, named by their paths."""

    between: tuple[str, str] = described("The two uncertain inputs, by their paths (funnel.stages.mql.conversion).")
    rank: float = described("Their rank (Spearman) correlation, -1 to 1.", unit="correlation", ge=-1, le=1)


class Calibration(Strict):
    """Settings of ``revsim calibrate``: priors that replace the defaults (see ``docs/calibration.md``).

    ``priors`` maps a calibration quantity (``sbg_mean_churn``, ``months_in_stage.opportunity``...) to a
    distribution written like any uncertain input; a constant fixes the quantity. Every bad entry is reported,
    each at its own key; the scenario checks that a stage named in a key converts.
    """

    priors: dict[str, Any] = described(
        "Priors of revsim calibrate that replace its defaults: quantity -> distribution (see the calibration "
        "guide).",
        default_factory=dict)

    @field_validator("priors")
    @classmethod
    def _priors(cls, value: dict[str, Any]) -> dict[str, Any]:
        from revsim.calibrate.priors import parse_prior_override

        parsed = {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key, prior in value.items():
            try:
                parsed[str(key)] = parse_prior_override(key, prior)
            except InputError as exc:
                problems.append((("calibration", "priors", str(key)), exc.problems[0].message))
        if problems:
            raise _cross_reference_error(problems)
        return parsed


class Lever(Strict):
    """A named what-if: a change to one or more inputs, named by their paths (see ``docs/whatif.md``).

    ``change`` is relative (``{scale: +10%}``), additive (``{add: 0.03}``) or a value (``{set: 0.32}``, or
    ``0.32``, ``[0.3, 0.36]`` without a sign), see :mod:`revsim.scenario.lever_change`;
    ``range`` gives the settings goal seeking searches (default: no change to three times the change).
    """

    name: Name = described("The lever's name, for revsim compare --lever and revsim goal --lever.")
    path: str | list[str] = described(
        "The input path(s) the lever changes (retention.smb.churn, retention.*.churn, a list of paths).",
        min_length=1)
    change: Any = described(
        "The change: {scale: -20%} (relative), {add: 0.03} (additive), {set: 0.32} (a value), or a quoted signed "
        "text ('+10%', '+0.03'), or a value without a sign (0.32, [0.3, 0.36]).", unit="the input's unit")
    range: tuple[Any, Any] | None = described(
        "The settings goal seeking searches, [from, to] (default: no change to three times the change).",
        unit="the change's unit",
        default=None)
    description: str = described("What the lever means, for reports.", default="")

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("change")
    @classmethod
    def _change(cls, value: Any) -> Any:
        from revsim.scenario.lever_change import parse_change

        try:
            parse_change(value)
        except ValueError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
        return value

    @field_validator("range")
    @classmethod
    def _range(cls, value: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
        from revsim.scenario.lever_change import parse_setting

        if value is not None:
            try:
                low, high = (parse_setting(v) for v in value)
            except ValueError as exc:
                raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
            if low == high:
                raise PydanticCustomError("revsim", "a range needs two different settings, got {v}", {"v": value})
        return value


#: The years revsim can date: months are stored as datetime64[ns], which spans 1677-09 to 2262-04.
FIRST_YEAR, LAST_YEAR = 1678, 2261


def _check_year_month(value: Any) -> str:
    text = str(value)
    match = _YEAR_MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PydanticCustomError("revsim", "expected a month as YYYY-MM (e.g. 2027-01), got '{v}'", {"v": text})
    if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise PydanticCustomError("revsim", "expected a month from {first}-01 to {last}-12 (the months revsim can "
                                  "date), got '{v}'", {"v": text, "first": FIRST_YEAR, "last": LAST_YEAR})
    return text


def _per_segment_block(name: str, settings: type[Strict]) -> Any:
    """Validator for a per-segment block: wraps flat settings under :data:`ALL_SEGMENTS`."""

    def wrap(cls: type, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        fields = set(settings.model_fields)
        segments = [s.name for s in info.data.get("segments") or []]
        allowed = [*segments, DEFAULT_KEY]
        settings_keys = [str(k) for k in value if k in fields]
        entry_keys = [str(k) for k in value if k in allowed]
        if settings_keys and entry_keys:
            raise PydanticCustomError(
                "unknown_key",
                "'{key}' is a segment entry, but this block also holds settings ({settings}) for every segment: "
                "give either the settings for every segment, or one entry per segment (and optionally 'default')",
                {"key": entry_keys[0], "settings": ", ".join(settings_keys)},
            )
        if settings_keys:
            return {ALL_SEGMENTS: value}
        unknown = [str(k) for k in value if k not in allowed]
        if unknown:
            key = unknown[0]
            hint = did_you_mean(key, [*allowed, *fields])
            message = (
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}: expected "
                f"a segment name ({', '.join(segments)}), '{DEFAULT_KEY}', or the settings themselves "
                f"({', '.join(sorted(fields))})"
            )
            if hint:
                message += f"; did you mean '{hint}'?"
            raise PydanticCustomError("unknown_key", message, {"key": key})
        return value

    return field_validator(name, mode="before")(classmethod(wrap))


# ---------------------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------------------


class Scenario(Strict):
    """A whole scenario file. See ``docs/scenario.md`` for every field with its unit."""

    name: str = described("The company or scenario name, printed on every chart.", min_length=1, max_length=200)
    description: str = described("Free text about the scenario.", default="")
    start: str = described("The first simulated month, YYYY-MM.")
    horizon_months: int = described("Months simulated from start.", unit="months", ge=1, le=MAX_HORIZON_MONTHS)
    currency: str = described(
        "ISO code of the currency every amount is in (USD, EUR, GBP...).",
        default="USD", pattern=r"^[A-Z]{3}$")
    segments: list[Segment] = described(
        "Customer segments (names, or {name, share}); default: one segment 'all'.",
        default_factory=lambda: [Segment(name="all")], shown_default=["all"], min_length=1)
    channels: list[Channel] = described("Sources of new entries into the funnel.", default_factory=list)
    funnel: Funnel = described("The acquisition stages, the sales capacity and the pipeline open at start.")
    pricing: dict[str, Pricing] = described(
        "Contract values of new customers: the settings, or segment -> settings (with an optional default).")
    onboarding: dict[str, Onboarding] = described(
        "Onboarding success: the settings, or segment -> settings.",
        default_factory=lambda: {ALL_SEGMENTS: Onboarding()})
    retention: dict[str, Retention] = described("How customers renew or churn: the settings, or segment -> settings.")
    expansion: dict[str, Expansion] = described(
        "Upgrades, downgrades and price uplifts: the settings, or segment -> settings.",
        default_factory=lambda: {ALL_SEGMENTS: Expansion()})
    advocacy: dict[str, Advocacy] = described(
        "Which customers become advocates: the settings, or segment -> settings.",
        default_factory=lambda: {ALL_SEGMENTS: Advocacy()})
    loops: list[Loop] = described(
        "Growth loops that turn customers back into new entries (referral, viral, content).",
        default_factory=list)
    initial_book: list[BookCohort] = described(
        "Customers already on the books at start, as cohorts.",
        default_factory=list)
    costs: Costs | None = described("Spend, for CAC, CAC payback and LTV.", default=None)
    targets: list[Target] = described(
        "Goals on any team KPI over a month, a fiscal quarter or a fiscal year; revsim reports the probability of "
        "reaching each, all together, and which conflict.",
        default_factory=list)
    kpis: KpiSettings | None = described(
        "How team KPIs are read: the fiscal year's first month, the hand-off stage, the North Star.", default=None)
    correlations: list[Correlation] = described("Rank correlations between uncertain inputs.", default_factory=list)
    calibration: Calibration | None = described("Settings of revsim calibrate; revsim run ignores them.", default=None)
    levers: list[Lever] = described(
        "Named what-ifs for revsim compare and revsim goal (a list, or name -> lever).",
        default_factory=list)
    confirmed: list[str] = described(
        "Input paths whose unusual value is meant (a growth above 100% a month...): the plausibility checks "
        "of validation accept them.",
        default_factory=list)

    _start = field_validator("start", mode="before")(classmethod(lambda cls, v: _check_year_month(v)))

    @field_validator("segments", mode="before")
    @classmethod
    def _segment_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    _pricing = _per_segment_block("pricing", Pricing)
    _onboarding = _per_segment_block("onboarding", Onboarding)
    _retention = _per_segment_block("retention", Retention)
    _expansion = _per_segment_block("expansion", Expansion)
    _advocacy = _per_segment_block("advocacy", Advocacy)

    @field_validator("levers", mode="before")
    @classmethod
    def _lever_mapping(cls, value: Any) -> Any:
        """``levers:`` may map names to definitions instead of listing them."""
        if isinstance(value, dict):
            return [{**item, "name": name} if isinstance(item, dict) else item for name, item in value.items()]
        return value

    @model_validator(mode="after")
    def _horizon_within_dates(self) -> Scenario:
        year, month = (int(part) for part in self.start.split("-"))
        last = year * 12 + month - 1 + self.horizon_months - 1
        if last // 12 > LAST_YEAR:
            end = f"{last // 12}-{last % 12 + 1:02d}"
            raise _cross_reference_error([(("horizon_months",), f"the simulated months end in {end}, after "
                                           f"{LAST_YEAR}-12, the last month revsim can date; start earlier or "
                                           "shorten the horizon")])
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        segments = self.segment_names
        stages = self.stage_names

        def check_ref(path: tuple[str | int, ...], value: str, choices: list[str], what: str) -> None:
            if value not in choices:
                hint = did_you_mean(value, choices)
                message = f"unknown {what} '{value}'; expected one of: {', '.join(choices)}"
                problems.append((path, message + (f"; did you mean '{hint}'?" if hint else "")))

        for kind, where, items in (("segment", ("segments",), segments), ("stage", ("funnel", "stages"), stages),
                                   ("channel", ("channels",), self.channel_names),
                                   ("loop", ("loops",), [loop.name for loop in self.loops])):
            first: dict[str, int] = {}
            for index, item in enumerate(items):
                if item in first:
                    problems.append(((*where, index), f"{kind} '{item}' is defined twice (first as item {first[item]})"))
                first.setdefault(item, index)

        for i, stage in enumerate(self.funnel.stages):
            path: tuple[str | int, ...] = ("funnel", "stages", i)
            last = i == len(self.funnel.stages) - 1
            if last:
                if stage.conversion is not None or stage.months is not None or stage.by_segment:
                    problems.append((path, f"the last stage ('{stage.name}') is the customer: it takes no "
                                           "'conversion', 'months' or 'by_segment'"))
            else:
                for key in ("conversion", "months"):
                    if getattr(stage, key) is None:
                        problems.append((path, f"stage '{stage.name}' needs '{key}'"))
            for seg in stage.by_segment:
                check_ref((*path, "by_segment", seg), seg, segments, "segment")

        for i, channel in enumerate(self.channels):
            if channel.stage is not None:
                check_ref(("channels", i, "stage"), channel.stage, stages, "stage")
            if channel.segment_mix is not None:
                for seg in channel.segment_mix:
                    check_ref(("channels", i, "segment_mix", seg), seg, segments, "segment")
                if sum(channel.segment_mix.values()) <= 0:
                    problems.append((("channels", i, "segment_mix"), "the segment mix must not be all zero"))

        capacity = self.funnel.sales_capacity
        if capacity is not None and capacity.stage is not None:
            check_ref(("funnel", "sales_capacity", "stage"), capacity.stage, stages[:-1], "stage (not the last)")

        for block in SEGMENT_BLOCKS:
            entries = getattr(self, block)
            if ALL_SEGMENTS not in entries and DEFAULT_KEY not in entries:
                missing = [s for s in segments if s not in entries]
                if missing:
                    problems.append(((block,), f"no settings for segment(s) {', '.join(missing)}; add them or a "
                                               f"'{DEFAULT_KEY}' entry"))

        for i, loop in enumerate(self.loops):
            check_ref(("loops", i, "target"), loop.target, stages, "stage")
            for key in ("segment", "source_segment"):
                if getattr(loop, key) is not None:
                    check_ref(("loops", i, key), getattr(loop, key), segments, "segment")

        for stage, counts in self.funnel.open_at_start.items():
            where = ("funnel", "open_at_start", stage)
            check_ref(where, stage, stages[:-1], "stage (not the last)")
            if isinstance(counts, dict):
                for seg in counts:
                    check_ref((*where, seg), seg, segments, "segment")

        for i, cohort in enumerate(self.initial_book):
            if cohort.segment is None and len(segments) > 1:
                problems.append((("initial_book", i), f"say which segment these customers are in "
                                                      f"({', '.join(segments)})"))
            elif cohort.segment is not None:
                check_ref(("initial_book", i, "segment"), cohort.segment, segments, "segment")

        if self.costs is not None:
            for ch in self.costs.channel_spend:
                check_ref(("costs", "channel_spend", ch), ch, self.channel_names, "channel")
            if "cost_per_rep" in self.costs.model_fields_set and self.funnel.sales_capacity is None:
                problems.append((("costs", "cost_per_rep"), "cost_per_rep needs funnel.sales_capacity, which says "
                                                            "how many reps there are"))

        seen_pairs: dict[frozenset[str], int] = {}
        for i, pair in enumerate(self.correlations):
            key = frozenset(pair.between)
            if key in seen_pairs:
                problems.append((("correlations", i), f"this pair is already correlated in correlations[{seen_pairs[key]}]"))
            seen_pairs.setdefault(key, i)

        problems += revops_problems(self)  # targets and the kpis block

        if self.calibration is not None:
            for key, prior in self.calibration.priors.items():
                if prior.stage is not None:
                    check_ref(("calibration", "priors", key), prior.stage, stages[:-1], "stage (not the last)")

        problems += plausibility_problems(self, self.confirmed, all_segments=ALL_SEGMENTS)

        if not self.channels and not self.loops and not self.initial_book:
            problems.append(((), "the scenario has no channels, no loops and no initial book: nothing to simulate"))

        if problems:
            raise _cross_reference_error(problems)
        return self

    # -- convenient views ---------------------------------------------------------------------------------

    @property
    def segment_names(self) -> list[str]:
        """Segment names in file order."""
        return [s.name for s in self.segments]

    @property
    def stage_names(self) -> list[str]:
        """Acquisition stage names in order; the last is the customer."""
        return [s.name for s in self.funnel.stages]

    @property
    def channel_names(self) -> list[str]:
        """Channel names in file order."""
        return [c.name for c in self.channels]

    def segment_key(self, block: str, segment: str) -> str:
        """The key of ``block`` that holds ``segment``'s settings (the segment, ``default`` or all)."""
        entries = getattr(self, block)
        for key in (segment, DEFAULT_KEY, ALL_SEGMENTS):
            if key in entries:
                return key
        raise KeyError(f"{block} has no settings for {segment}")  # prevented by validation

    def settings(self, block: str, segment: str) -> Any:
        """``segment``'s settings in a per-segment block (pricing, retention...)."""
        return getattr(self, block)[self.segment_key(block, segment)]

    def month_index(self, year_month: str) -> int:
        """Months from ``start`` to ``year_month`` (0 for the first simulated month)."""
        y0, m0 = (int(x) for x in self.start.split("-"))
        y1, m1 = (int(x) for x in year_month.split("-"))
        return (y1 - y0) * 12 + (m1 - m0)

    def month_label(self, index: int) -> str:
        """``YYYY-MM`` of month ``index`` (0 = start)."""
        y0, m0 = (int(x) for x in self.start.split("-"))
        total = y0 * 12 + (m0 - 1) + index
        return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _cross_reference_error(problems: list[tuple[tuple[str | int, ...], str]]) -> Exception:
    """Pack cross-reference problems so the loader can report each at its own path."""
    return PydanticCustomError(
        "cross_reference",
        "{count} cross-reference problem(s)",
        {"count": len(problems), "problems": problems},
    )


def _uncertain_domain(field: Any) -> str | None:
    """The domain of an uncertain field (``Positive``, ``Probability``...), or None for other fields."""
    found = list(field.metadata)
    for arg in get_args(field.annotation):
        found += list(getattr(arg, "__metadata__", ()))
    for item in found:
        schema = getattr(item, "json_schema", None)
        if isinstance(schema, dict) and schema.get("x-form") == "uncertain":
            return schema.get("x-domain")
    return None


@functools.cache
def positive_input_names() -> frozenset[str]:
    """Names of the uncertain inputs that must be > 0 (``acv``, ``reps``...): a draw of 0 is refused like the
    constant 0 is. (Read from the schema once: every block of draws checks its values against it.)"""
    names = set()
    pending: list[type[BaseModel]] = [Scenario]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if _uncertain_domain(field) == "positive":
                names.add(name)
            for arg in (field.annotation, *get_args(field.annotation),
                        *(a for sub in get_args(field.annotation) for a in get_args(sub))):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    pending.append(arg)
    return frozenset(names)


def iter_inputs(scenario: Scenario) -> Iterator[tuple[str, Distribution]]:
    """Every numeric input of a scenario with its path, in file order.

    Paths name list items by their ``name`` (``funnel.stages.mql.conversion``) so that an input keeps its
    identity, and therefore its random stream, when other parts of the file change. A per-segment block
    written without segment names gives paths without a segment (``retention.churn``).
    """

    def walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Distribution]]:
        if isinstance(value, Distribution):
            yield ".".join(path), value
        elif isinstance(value, BaseModel):
            for field in type(value).model_fields:
                yield from walk(getattr(value, field), (*path, field))
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, path if key == ALL_SEGMENTS else (*path, str(key)))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                label = getattr(item, "name", None) or str(index)
                yield from walk(item, (*path, label))

    yield from walk(scenario, ())


def scenario_dir_context(path: Path) -> dict[str, Any]:
    """The validation context for a scenario file at ``path`` (files it names resolve next to it)."""
    return {"base_dir": path.resolve().parent}
