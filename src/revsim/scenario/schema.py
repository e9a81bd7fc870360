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

import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from revsim.errors import InputError, did_you_mean
from revsim.scenario.distributions import Distribution, parse_uncertain

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


def _uncertain(domain: str) -> Any:
    """An annotated type: a number, ``[low, high]`` or a ``dist:`` mapping, parsed for ``domain``."""

    def validate(value: Any, info: ValidationInfo) -> Distribution:
        if isinstance(value, Distribution):
            return value
        base_dir = (info.context or {}).get("base_dir")
        try:
            return parse_uncertain(value, domain, base_dir=base_dir)  # type: ignore[arg-type]
        except InputError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": exc.problems[0].message}) from None

    return Annotated[Distribution, PlainValidator(validate)]


def _amount(domain: str) -> Any:
    """An annotated type: a known (not uncertain) number; accepts shorthands such as ``1.2M``."""

    def validate(value: Any, info: ValidationInfo) -> float:
        if isinstance(value, list | dict):
            raise PydanticCustomError("revsim", "expected a plain number here (this input cannot be uncertain)")
        try:
            dist = parse_uncertain(value, domain)  # type: ignore[arg-type]
        except InputError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": exc.problems[0].message}) from None
        return float(dist.mean())

    return Annotated[float, PlainValidator(validate)]


Probability = _uncertain("probability")
Positive = _uncertain("positive")
NonNegative = _uncertain("nonnegative")
Real = _uncertain("real")
Amount = _amount("nonnegative")
Name = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors (the loader suggests the closest known key)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the scenario block at ``loc`` accepts (empty when ``loc`` is not a block).

    Walks the schema's annotations: fields of models, items of lists, values of mappings.
    """
    current: Any = Scenario
    for part in loc:
        current = _block_type(current)
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
    current = _block_type(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _block_type(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` from an annotation."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation


#: Names a stage cannot take: they name other metrics in summary.csv.
RESERVED_STAGE_NAMES = frozenset({
    "arr", "mrr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr", "net_new_arr", "active_customers",
    "new_customers", "churned_customers", "advocates", "leads", "nrr_12m", "grr_12m", "logo_churn", "win_rate",
    "open_pipeline_arr", "pipeline_coverage", "revenue_per_lead", "sales_marketing_spend", "cost_per_lead", "cac",
    "cac_payback_months", "ltv_cac",
})


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

    name: Name
    share: float = Field(default=1.0, ge=0)

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

    name: Name
    volume: NonNegative
    growth: Real = Field(default_factory=lambda: parse_uncertain(0, "real"))
    seasonality: list[NonNegative] | None = None
    dispersion: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    stage: str | None = None
    segment_mix: dict[str, Annotated[float, Field(ge=0)]] | None = None

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

    conversion: Probability | None = None
    months: NonNegative | None = None


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

    name: Name
    conversion: Probability | None = None
    months: NonNegative | None = None
    by_segment: dict[str, StageOverride] = Field(default_factory=dict)

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

    stage: str | None = None
    reps: Positive
    hires_per_month: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    deals_per_rep_per_month: Positive
    quota_per_rep: Amount | None = None


class Funnel(Strict):
    """The ordered acquisition stages, the optional sales capacity, and the pipeline open at ``start``.

    ``open_at_start`` maps a stage to the members already in it when the simulation starts (open leads,
    trials, opportunities): a number, split across segments by their shares, or a number per segment.
    """

    stages: list[Stage] = Field(min_length=2)
    sales_capacity: SalesCapacity | None = None
    open_at_start: dict[str, Annotated[int, Field(ge=0, le=10**9)] | dict[str, Annotated[int, Field(ge=0, le=10**9)]]] = \
        Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Right side: pricing, onboarding, retention, expansion, advocacy
# ---------------------------------------------------------------------------------------------------------


class Pricing(Strict):
    """Annual contract value of a new customer: ``acv`` is its mean, ``acv_cv`` its spread across deals (the
    coefficient of variation of one deal's value, at most :data:`MAX_ACV_CV`)."""

    acv: Positive
    acv_cv: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))

    @field_validator("acv_cv")
    @classmethod
    def _acv_cv_at_most(cls, value: Distribution) -> Distribution:
        if value.is_constant and value.mean() > MAX_ACV_CV:
            raise PydanticCustomError("revsim", "expected a value <= {cap}, got {v}",
                                      {"cap": f"{MAX_ACV_CV:g}", "v": f"{value.mean():g}"})
        return value


class Onboarding(Strict):
    """A share ``1 - success`` of a new cohort churns at the end of ``months`` of onboarding."""

    success: Probability = Field(default_factory=lambda: parse_uncertain(1, "probability"))
    months: int = Field(default=1, ge=0, le=36)


class Retention(Strict):
    """How customers renew.

    ``model: constant``: each renewal is lost with probability ``churn``. ``model: sbg`` (shifted beta
    geometric): each customer's churn probability is Beta(``alpha``, ``beta``) distributed, so churn
    falls with age. A renewal happens every ``contract_months``; churn only happens at renewals.
    """

    model: Literal["constant", "sbg"] = "constant"
    churn: Probability | None = None
    alpha: Positive | None = None
    beta: Positive | None = None
    contract_months: int = Field(default=1, ge=1, le=120)

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

    rate: Probability = Field(default_factory=lambda: parse_uncertain(0, "probability"))
    size: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    contraction_rate: Probability = Field(default_factory=lambda: parse_uncertain(0, "probability"))
    contraction_size: Probability = Field(default_factory=lambda: parse_uncertain(0, "probability"))
    price_uplift: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))


class Advocacy(Strict):
    """A share ``rate`` of customers older than ``adoption_months`` are advocates."""

    rate: Probability = Field(default_factory=lambda: parse_uncertain(0, "probability"))
    adoption_months: int = Field(default=3, ge=0, le=120)


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

    name: Name
    kind: str | None = None
    source: Literal["advocates", "active_customers", "new_customers", "mrr"]
    source_segment: str | None = None
    target: str
    coefficient: NonNegative
    lag: int = Field(default=1, le=60)
    segment: str | None = None

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

    segment: str | None = None
    customers: int = Field(ge=0, le=10**9)
    mrr: Amount | None = None
    arr: Amount | None = None
    age_months: int = Field(default=12, ge=1, le=600)
    spread_months: int = Field(default=1, ge=1, le=120)

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
    left after the cost of delivering the product.
    """

    channel_spend: dict[str, NonNegative] = Field(default_factory=dict)
    other_spend: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    cost_per_rep: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    cs_cost_per_customer: NonNegative = Field(default_factory=lambda: parse_uncertain(0, "nonnegative"))
    gross_margin: Probability = Field(default_factory=lambda: parse_uncertain(0.8, "probability"))
    ltv_months: int = Field(default=60, ge=1, le=600)


TARGET_METRICS = ("arr", "mrr", "active_customers", "new_customers_total", "nrr_12m", "grr_12m", "logo_churn")


class Target(Strict):
    """A dated goal; revsim reports the probability of reaching it.

    ``metric`` is a total over segments (arr, mrr, active_customers, new_customers_total: customers won since
    ``start``) or a ratio (nrr_12m, grr_12m, logo_churn). The goal is reached when the metric is at least
    ``value`` in month ``at`` (default: the last month), or at most ``value`` with ``direction: below``.
    """

    name: str | None = None
    metric: Literal["arr", "mrr", "active_customers", "new_customers_total", "nrr_12m", "grr_12m",
                    "logo_churn"] = "arr"
    value: Amount
    at: str | None = None
    direction: Literal["above", "below"] = "above"

    @field_validator("at")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        return None if value is None else _check_year_month(value)

    @property
    def label(self) -> str:
        """A short name for reports."""
        return self.name or f"{self.metric} {'>=' if self.direction == 'above' else '<='} {self.value:,.6g}"


class Correlation(Strict):
    """A rank (Spearman) correlation between two uncertain inputs, named by their paths."""

    between: tuple[str, str]
    rank: float = Field(ge=-1, le=1)


class Calibration(Strict):
    """Settings of ``revsim calibrate``: priors that replace the defaults (see ``docs/calibration.md``).

    ``priors`` maps a calibration quantity (``sbg_mean_churn``, ``months_in_stage.opportunity``...) to a
    distribution written like any uncertain input; a constant fixes the quantity. Every bad entry is reported,
    each at its own key; the scenario checks that a stage named in a key converts.
    """

    priors: dict[str, Any] = Field(default_factory=dict)

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

    ``change`` is relative (``+10%``), additive (``+0.03``) or a value (``0.32``, ``[0.3, 0.36]``);
    ``range`` gives the settings goal seeking searches (default: no change to three times the change).
    """

    name: Name
    path: str | list[str] = Field(min_length=1)
    change: Any
    range: tuple[Any, Any] | None = None
    description: str = ""

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("change")
    @classmethod
    def _change(cls, value: Any) -> Any:
        from revsim.scenario.levers import parse_change

        try:
            parse_change(value)
        except ValueError as exc:
            raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
        return value

    @field_validator("range")
    @classmethod
    def _range(cls, value: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
        from revsim.scenario.levers import parse_setting

        if value is not None:
            try:
                low, high = (parse_setting(v) for v in value)
            except ValueError as exc:
                raise PydanticCustomError("revsim", "{message}", {"message": str(exc)}) from None
            if low == high:
                raise PydanticCustomError("revsim", "a range needs two different settings, got {v}", {"v": value})
        return value


def _check_year_month(value: Any) -> str:
    text = str(value)
    match = _YEAR_MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise PydanticCustomError("revsim", "expected a month as YYYY-MM (e.g. 2027-01), got '{v}'", {"v": text})
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

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start: str
    horizon_months: int = Field(ge=1, le=MAX_HORIZON_MONTHS)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    segments: list[Segment] = Field(default_factory=lambda: [Segment(name="all")], min_length=1)
    channels: list[Channel] = Field(default_factory=list)
    funnel: Funnel
    pricing: dict[str, Pricing]
    onboarding: dict[str, Onboarding] = Field(default_factory=lambda: {ALL_SEGMENTS: Onboarding()})
    retention: dict[str, Retention]
    expansion: dict[str, Expansion] = Field(default_factory=lambda: {ALL_SEGMENTS: Expansion()})
    advocacy: dict[str, Advocacy] = Field(default_factory=lambda: {ALL_SEGMENTS: Advocacy()})
    loops: list[Loop] = Field(default_factory=list)
    initial_book: list[BookCohort] = Field(default_factory=list)
    costs: Costs | None = None
    targets: list[Target] = Field(default_factory=list)
    correlations: list[Correlation] = Field(default_factory=list)
    calibration: Calibration | None = None
    levers: list[Lever] = Field(default_factory=list)

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

    @model_validator(mode="wrap")
    @classmethod
    def _lever_paths(cls, data: Any, handler: Any) -> Scenario:
        """Once the rest is valid: every lever names inputs that exist and can take its change."""
        model = handler(data)
        if model.levers and isinstance(data, dict):
            from revsim.scenario.levers import lever_problems

            problems = lever_problems(data, model)
            if problems:
                raise _cross_reference_error(problems)
        return model

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

        for i, target in enumerate(self.targets):
            if target.at is not None and not 0 <= self.month_index(target.at) < self.horizon_months:
                problems.append((("targets", i, "at"), f"{target.at} is outside the simulated months "
                                                       f"({self.start} to {self.month_label(self.horizon_months - 1)})"))

        if self.calibration is not None:
            for key, prior in self.calibration.priors.items():
                if prior.stage is not None:
                    check_ref(("calibration", "priors", key), prior.stage, stages[:-1], "stage (not the last)")

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
