"""``revsim init``: a commented starter scenario, from a few questions in a terminal or plain defaults."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from revsim.cli.errors import reports_errors

__all__ = ["init"]

TEMPLATE_NAMES = ("sales-led", "product-led", "enterprise")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--template", "-t", type=click.Choice(TEMPLATE_NAMES), default="sales-led", show_default=True,
              help="sales-led: a funnel worked by a sales team, annual contracts; product-led: sign-ups, a free "
                   "plan and monthly plans; enterprise: large contracts, long sales cycles, expansion-led growth.")
@click.option("--input/--no-input", "ask", default=None,
              help="Ask a few questions (the default in a terminal), or write the template's example numbers.")
@click.option("--schema/--no-schema", "with_schema", default=True, show_default=True,
              help="Also write scenario.schema.json next to FILE (when it is not there yet), for editor "
                   "completion and checks.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@reports_errors
def init(file: Path, template: str, ask: bool | None, with_schema: bool, force: bool) -> None:
    """Write a commented starter scenario to FILE that validates and runs as it is.

    In a terminal it asks for the company's name, the first month to forecast, the funnel's stages, current
    ARR and customers, churn, contract value and a target; every question has a default (press Enter).
    Without a terminal, or with --no-input, it writes the template's example company.

    \b
    Examples:
      revsim init my_company.yaml
      revsim init --template product-led --no-input app.yaml
    """
    from revsim.errors import InputError
    from revsim.results.output_dir import write_files
    from revsim.scenario.json_schema import SCHEMA_FILE_NAME, schema_text
    from revsim.starter.render import default_answers, render

    if file.exists() and not force:
        raise InputError.single(f"{file} already exists; choose another name or pass --force to replace it",
                                path=("FILE",))
    if file.suffix.lower() not in (".yaml", ".yml"):
        raise InputError.single(f"{file}: a scenario file ends in .yaml or .yml", path=("FILE",))
    answers = default_answers(template)
    if ask if ask is not None else sys.stdin.isatty():
        answers = _ask(template, answers)
    directory = file.parent if str(file.parent) else Path(".")
    schema_path = directory / SCHEMA_FILE_NAME
    writes_schema = with_schema and not schema_path.exists()
    text = render(template, answers, file_name=str(file),
                  schema_file=SCHEMA_FILE_NAME if (with_schema or schema_path.exists()) else None)
    writers: dict[str, Any] = {file.name: lambda path: path.write_text(text, encoding="utf-8")}
    if writes_schema:
        writers[SCHEMA_FILE_NAME] = lambda path: path.write_text(schema_text(), encoding="utf-8")
    written = write_files(directory, writers)
    click.echo("wrote " + ", ".join(str(p) for p in written))
    click.echo(f"next: revsim validate {file}  then  revsim run {file} --report")


def _ask(template: str, answers: Any) -> Any:
    """The questions, each with the template's answer as its default; answers are checked as they come."""
    from dataclasses import replace

    from revsim.starter.render import add_months, amount_text, contract_months, percent_text

    click.echo(f"A {template} scenario: a few questions (Enter keeps the value in brackets).")
    name = click.prompt("Company name", default=answers.name).strip() or answers.name
    start = click.prompt("First month to forecast (YYYY-MM)", default=answers.start, value_proc=_month)
    stages = click.prompt("Funnel stages, first to last (the last is the customer)",
                          default=", ".join(answers.stages), value_proc=_stages)
    arr = click.prompt("Current ARR (0 for none yet)", default=amount_text(answers.arr), value_proc=_amount)
    customers = answers.customers
    if arr > 0:
        customers = click.prompt("Current customers", default=answers.customers, type=click.IntRange(min=1))
    monthly = contract_months(template) == 1
    churn = click.prompt("Churn per month (share of paying customers lost)" if monthly
                         else "Churn per year (share of customers who do not renew)",
                         default=percent_text(answers.churn), value_proc=_fraction)
    acv = click.prompt("Average annual contract value of a new customer", default=amount_text(answers.acv),
                       value_proc=_positive_amount)
    target_default = answers.target_arr if arr == answers.arr else max(arr, acv * 10) * 1.8
    target_arr = click.prompt("Target ARR", default=amount_text(round(target_default, -3)),
                              value_proc=_positive_amount)
    target_at = click.prompt("Target month (YYYY-MM)", default=add_months(start, 23), value_proc=_month)
    horizon = max(answers.horizon_months, _months(start, target_at) + 1)
    if _months(start, target_at) < 0:
        raise click.BadParameter(f"the target month {target_at} is before the first month {start}")
    return replace(answers, name=name, start=start, stages=stages, arr=arr, customers=customers, churn=churn,
                   acv=acv, target_arr=target_arr, target_at=target_at, horizon_months=horizon)


def _months(first: str, last: str) -> int:
    y0, m0 = (int(x) for x in first.split("-"))
    y1, m1 = (int(x) for x in last.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


def _month(text: str) -> str:
    import re

    text = str(text).strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise click.BadParameter(f"expected a month as YYYY-MM (e.g. 2027-01), got '{text}'")
    return text


def _stages(text: str) -> list[str]:
    import re

    names = [part.strip().lower().replace(" ", "_") for part in str(text).split(",") if part.strip()]
    if len(names) < 2:
        raise click.BadParameter("give at least two stages, the last being the customer (lead, opportunity, won)")
    bad = [n for n in names if not re.fullmatch(r"[a-z_][a-z0-9_\-]*", n)]
    if bad:
        raise click.BadParameter(f"a stage name starts with a letter and uses letters, digits, '_' or '-': {bad[0]}")
    if len(set(names)) < len(names):
        raise click.BadParameter("each stage appears once")
    from revsim.scenario.schema import RESERVED_STAGE_NAMES

    reserved = [n for n in names if n in RESERVED_STAGE_NAMES]
    if reserved:
        raise click.BadParameter(f"'{reserved[0]}' names a metric of the results; call the stage something else")
    return names


def _amount(text: str) -> float:
    from revsim.scenario.distributions import parse_amount

    value = parse_amount(str(text))
    if value is None or value < 0:
        raise click.BadParameter(f"expected an amount such as 5M, 750k or 0, got '{text}'")
    return value


def _positive_amount(text: str) -> float:
    value = _amount(text)
    if value <= 0:
        raise click.BadParameter("expected an amount above 0")
    return value


def _fraction(text: str) -> float:
    from revsim.scenario.percent import parse_percent

    value = parse_percent(str(text))
    if value is None:
        try:
            value = float(str(text))
        except ValueError:
            raise click.BadParameter(f"expected a percentage such as 15% (or 0.15), got '{text}'") from None
        if 1 < value <= 100:
            raise click.BadParameter(f"{value:g} is more than 100%; for {value:g}% write {value:g}% or "
                                     f"{value / 100:g}")
    if not 0 <= value < 1:
        raise click.BadParameter("expected a share between 0% and 100%")
    return value
