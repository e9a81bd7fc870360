"""Starter scenarios: a commented template per kind of company, filled in with a few answers.

A template (``templates/<name>.yaml``) is a scenario file with ``{{placeholders}}``. The answers (the
company, when the forecast starts, the funnel's stages, current ARR and customers, churn, contract value and
a target) fill them, and the numbers a newcomer does not know yet are derived from the answers so that the
starter is coherent: the lead volume is what it takes for the target to be about as likely as not, the sales
team can close that many deals, the open pipeline matches the sales cycle.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from typing import Any

__all__ = ["TEMPLATES", "Answers", "StageGuess", "default_answers", "render", "amount_text", "percent_text"]

#: Template name (as ``--template`` takes it) -> file in ``templates/``.
TEMPLATES = {"sales-led": "sales_led.yaml", "product-led": "product_led.yaml", "enterprise": "enterprise.yaml"}


@dataclass(frozen=True)
class StageGuess:
    """A stage of the starter funnel: its conversion range (90%) and months in stage."""

    name: str
    conversion: tuple[float, float]
    months: float


@dataclass(frozen=True)
class Answers:
    """What ``revsim init`` asks. Amounts in the currency; ``churn`` per renewal (per month for monthly plans)."""

    name: str
    start: str
    stages: list[str]
    arr: float
    customers: int
    churn: float
    acv: float
    target_arr: float
    target_at: str
    currency: str = "USD"
    horizon_months: int = 36
    guesses: dict[str, StageGuess] = field(default_factory=dict)


# template -> company, ARR, customers, churn, ACV, contract months, the net expansion of the customers who stay
# (from the template's expansion block), and the stages with their guesses
_DEFAULTS: dict[str, dict[str, Any]] = {
    "sales-led": {
        "name": "Acme Analytics", "arr": 5e6, "customers": 420, "churn": 0.15, "acv": 12e3, "contract_months": 12,
        "expansion_per_year": 0.06,
        "stages": [StageGuess("lead", (0.20, 0.30), 0.5), StageGuess("mql", (0.30, 0.40), 0.5),
                   StageGuess("sql", (0.45, 0.60), 1), StageGuess("opportunity", (0.20, 0.30), 2),
                   StageGuess("won", (0, 0), 0)],
    },
    "product-led": {
        "name": "Acme App", "arr": 2e6, "customers": 3000, "churn": 0.03, "acv": 600, "contract_months": 1,
        "expansion_per_year": 0.06,
        "stages": [StageGuess("visitor", (0.02, 0.04), 0.2), StageGuess("signup", (0.30, 0.45), 0.5),
                   StageGuess("active", (0.08, 0.14), 1.5), StageGuess("paid", (0, 0), 0)],
    },
    "enterprise": {
        "name": "Acme Platform", "arr": 30e6, "customers": 260, "churn": 0.10, "acv": 110e3, "contract_months": 12,
        "expansion_per_year": 0.24,
        "stages": [StageGuess("lead", (0.25, 0.40), 1), StageGuess("sql", (0.40, 0.60), 1.5),
                   StageGuess("opportunity", (0.18, 0.28), 7), StageGuess("won", (0, 0), 0)],
    },
}
#: Conversion and months of a stage named by the user that no template knows, by its place in the funnel.
_GENERIC_FIRST = StageGuess("", (0.15, 0.25), 0.5)
_GENERIC_MIDDLE = StageGuess("", (0.30, 0.45), 1)
_GENERIC_CLOSING = StageGuess("", (0.20, 0.30), 2)


def _next_month(today: date | None = None) -> str:
    today = today or date.today()
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year:04d}-{month:02d}"


def add_months(year_month: str, months: int) -> str:
    """``2027-01`` plus 23 months is ``2028-12``."""
    year, month = (int(x) for x in year_month.split("-"))
    total = year * 12 + month - 1 + months
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def default_answers(template: str, today: date | None = None) -> Answers:
    """The answers ``revsim init`` uses without a terminal: the template's example company."""
    spec = _DEFAULTS[template]
    start = _next_month(today)
    return Answers(name=spec["name"], start=start, stages=[s.name for s in spec["stages"]], arr=spec["arr"],
                   customers=spec["customers"], churn=spec["churn"], acv=spec["acv"],
                   target_arr=_round_amount(spec["arr"] * 1.8), target_at=add_months(start, 23),
                   guesses={s.name: s for s in spec["stages"]})


def contract_months(template: str) -> int:
    """Months between renewals in the template: 12 (annual contracts) or 1 (monthly plans)."""
    return int(_DEFAULTS[template]["contract_months"])


def _stage_guesses(answers: Answers) -> list[StageGuess]:
    guesses = []
    last = len(answers.stages) - 1
    for index, name in enumerate(answers.stages):
        if name in answers.guesses:
            guesses.append(replace(answers.guesses[name], name=name))
        elif index == 0:
            guesses.append(replace(_GENERIC_FIRST, name=name))
        elif index == last - 1:
            guesses.append(replace(_GENERIC_CLOSING, name=name))
        else:
            guesses.append(replace(_GENERIC_MIDDLE, name=name))
    return guesses


def _round_amount(value: float) -> float:
    """Two significant digits: 8,640,000 -> 8,600,000."""
    if value <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(value))
    return float(round(value, digits))


def amount_text(value: float) -> str:
    """An amount as a scenario file writes it: ``5M``, ``12k``, ``2.4M``, ``850``."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.6g}{suffix}"
    return f"{value:.6g}"


def percent_text(value: float) -> str:
    """A fraction as a percentage: 0.15 -> ``15%``, 0.025 -> ``2.5%``."""
    return f"{value * 100:.4g}%"


def _range(centre: float, spread: float, text: Any) -> tuple[str, str]:
    return text(centre * (1 - spread)), text(centre * (1 + spread))


def _wins_per_month(template: str, answers: Answers) -> float:
    """New customers a month for the target to be about the median: what replaces churn and adds the rest."""
    months = max(1, _months_between(answers.start, answers.target_at) + 1)
    spec = _DEFAULTS[template]
    annual_churn = answers.churn if spec["contract_months"] == 12 else 1 - (1 - answers.churn) ** 12
    kept = answers.arr * ((1 - annual_churn) * (1 + spec["expansion_per_year"])) ** (months / 12)
    needed = max(answers.target_arr - kept, 0.15 * max(answers.arr, answers.acv))
    return max(1.0, needed / max(answers.acv, 1.0) / months * 1.25)  # wins arrive after the sales cycle


def _months_between(first: str, last: str) -> int:
    y0, m0 = (int(x) for x in first.split("-"))
    y1, m1 = (int(x) for x in last.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


def render(template: str, answers: Answers, *, file_name: str, schema_file: str | None) -> str:
    """The starter scenario's text: the template with every placeholder filled in."""
    text = resources.files("revsim.starter").joinpath("templates").joinpath(TEMPLATES[template]).read_text(encoding="utf-8")
    renewal = contract_months(template)
    guesses = _stage_guesses(answers)
    wins = _wins_per_month(template, answers)
    through = math.prod(sum(g.conversion) / 2 for g in guesses[:-1])
    volume = wins / through
    closing = guesses[-2]
    stage_lines = []
    for guess in guesses[:-1]:
        low, high = (percent_text(c) for c in guess.conversion)
        stage_lines.append(f"    - {{name: {guess.name}, conversion: [{low}, {high}], months: {guess.months:g}}}")
    stage_lines.append(f"    - {{name: {guesses[-1].name}}}")

    def count(value: float) -> str:
        return amount_text(_round_amount(value)) if value >= 1 else f"{value:.2g}"

    values = {
        "file": file_name,
        "schema_line": f"# yaml-language-server: $schema={schema_file}" if schema_file else "",
        "name": _yaml_text(answers.name),
        "start": answers.start,
        "horizon": str(answers.horizon_months),
        "currency": answers.currency,
        "stages": "\n".join(stage_lines),
        "volume_low": count(volume * 0.85 * (0.6 if template == "product-led" else 1)),
        "volume_high": count(volume * 1.15 * (0.6 if template == "product-led" else 1)),
        "paid_low": count(volume * 0.4 * 0.85),
        "paid_high": count(volume * 0.4 * 1.15),
        "open_stage": closing.name,
        "open_deals": str(max(1, round(wins * (1 + closing.months) / (sum(closing.conversion) / 2) / 2))),
        "reps": f"{max(1.0, math.ceil(wins * 1.4 / (4 if template == 'sales-led' else 0.3))):g}",
        "quota": amount_text(_round_amount(answers.acv * (1.5 if template == "sales-led" else 0.25))),
        "acv_low": amount_text(_round_amount(answers.acv * 0.85)),
        "acv_high": amount_text(_round_amount(answers.acv * 1.15)),
        "churn_low": percent_text(_round_amount(answers.churn * 0.75)),
        "churn_high": percent_text(_round_amount(answers.churn * 1.25)),
        "loop_target": guesses[min(2, len(guesses) - 2)].name if template == "sales-led"
        else guesses[min(1, len(guesses) - 2)].name if template == "product-led" else closing.name,
        "lever_stage": closing.name,
        "channel_spend": amount_text(_round_amount(volume * {"sales-led": 60, "enterprise": 600}.get(template, 1.5)
                                                   * (0.4 if template == "product-led" else 1))),
        "initial_book": _book(answers, renewal),
        "target_name": f"ARR {amount_text(answers.target_arr)} by {answers.target_at}",
        "target_arr": amount_text(answers.target_arr),
        "target_at": answers.target_at,
        "sbg_alpha": "{dist: lognormal, median: 0.8, sigma: 0.25}",
        "sbg_beta": f"{{dist: lognormal, median: {0.8 * (1 - answers.churn) / max(answers.churn, 1e-3):.3g}, "
                    "sigma: 0.25}",
        "first_churn": percent_text(answers.churn),
    }
    missing = set(re.findall(r"\{\{(\w+)\}\}", text)) - set(values)
    if missing:  # pragma: no cover - a template and this table are edited together
        raise KeyError(f"template {template} has unknown placeholders: {', '.join(sorted(missing))}")
    rendered = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)
    return _align_comments(re.sub(r"\n{3,}", "\n\n", rendered))


#: The column where the comments after a value start.
COMMENT_COLUMN = 34


def _align_comments(text: str) -> str:
    """Line up the comments that follow values (placeholders filled in shift them)."""
    lines = []
    for line in text.split("\n"):
        code, hashes, comment = line.partition("  # ")
        if hashes and code.strip() and not code.lstrip().startswith("#"):
            code = code.rstrip()
            line = f"{code:<{COMMENT_COLUMN - 2}}  # {comment}" if len(code) < COMMENT_COLUMN - 2 else \
                f"{code}  # {comment}"
        lines.append(line)
    return "\n".join(lines)


def _book(answers: Answers, renewal: int) -> str:
    if answers.customers <= 0 or answers.arr <= 0:
        return "\n# initial_book: none yet (a company without customers starts from the funnel alone)\n"
    spread = 12  # a book signed over the last year; with monthly plans the spread only mixes the ages
    return ("\ninitial_book:                   # customers today, signed over the last year: their renewals fall in\n"
            "  # every month (one cohort of the same age would renew all in one month)\n"
            f"  - {{customers: {answers.customers}, arr: {amount_text(answers.arr)}, age_months: 1, "
            f"spread_months: {spread}}}\n")


def _yaml_text(text: str) -> str:
    """``text`` as a YAML scalar: plain when that is safe, quoted otherwise."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9 ._()&'/-]*", text) and not text.endswith(" ") and ": " not in text:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
