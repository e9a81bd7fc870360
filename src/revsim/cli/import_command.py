"""``revsim import``: CRM and billing exports -> funnel.csv, cohorts.csv and mrr.csv for a calibration."""

from __future__ import annotations

import re
from pathlib import Path

import click

from revsim.cli.errors import reports_errors

__all__ = ["import_exports_command"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        from revsim.errors import InputError

        raise InputError.single(f"expected a month YYYY-MM, got '{value}'", path=(option,))
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


@click.command("import")
@click.argument("source", type=click.Choice(["hubspot", "salesforce", "stripe", "chargebee", "chartmogul"],
                                            case_sensitive=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory to write funnel.csv, cohorts.csv and mrr.csv into.")
@click.option("--mapping", "-m", type=click.Path(path_type=str), default=None,
              help="A YAML file renaming columns, stages, segments and channels, with exchange rates.")
@click.option("--scenario", "-s", type=click.Path(path_type=str), default=None,
              help="A scenario whose stage, segment and channel names the exports must map onto.")
@click.option("--from", "first", metavar="YYYY-MM", default=None, help="First month to write.")
@click.option("--until", "last", metavar="YYYY-MM", default=None,
              help="Last month to write (leave out a month that is not over yet).")
@click.option("--force", is_flag=True, help="Replace history files already in the output directory.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@reports_errors
def import_exports_command(source: str, files: tuple[str, ...], out_dir: Path, mapping: str | None,
                           scenario: str | None, first: str | None, last: str | None, force: bool,
                           quiet: bool) -> None:
    """Read SOURCE's exports (FILE...: each file's kind is told by its columns) and write the history files
    of a calibration: funnel.csv from a CRM (hubspot, salesforce), cohorts.csv and mrr.csv from a billing
    system (stripe, chargebee, chartmogul). Everything skipped or assumed is printed as a note.

    \b
    Examples:
      revsim import hubspot contacts.csv deals.csv --mapping mapping.yaml --out history
      revsim import stripe subscriptions.csv invoice_lines.csv --out history
      revsim calibrate scenario.yaml --history history
    """
    from revsim.errors import InputError
    from revsim.importers import import_exports
    from revsim.importers.history_files import HISTORY_NAMES, render_history, write_history
    from revsim.results.output_dir import check_output_dir

    lo, hi = _month(first, "--from"), _month(last, "--until")
    if lo is not None and hi is not None and hi < lo:
        raise InputError.single(f"--until {last} is before --from {first}", path=("--until",))
    if out_dir.exists() and not out_dir.is_dir():
        check_output_dir(out_dir, [], force=force)  # refuses a path that is a file, before reading anything
    imported = import_exports(source.casefold(), list(files), mapping=mapping, scenario=scenario)
    texts, crop_notes = render_history(imported, first=lo, last=hi)
    if not texts:
        raise InputError.single(f"nothing to write: the {source} exports hold no stage entry and no MRR movement"
                                + (" in the months asked" if lo is not None or hi is not None else ""),
                                path=("FILE",))
    check_output_dir(out_dir, [n for n in HISTORY_NAMES if n in texts], force=force)  # only what is written
    written = write_history(out_dir, texts)
    warnings = _check_readable(written, scenario)
    if quiet:
        return
    for note in imported.notes + crop_notes:
        click.echo(f"note: {note}", err=True)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for path in written:
        click.echo(f"wrote {path} ({_describe(path.name, texts[path.name])})")
    click.echo(f"next: revsim calibrate {scenario or 'SCENARIO.yaml'} --history {out_dir}")


def _describe(name: str, text: str) -> str:
    rows = [line.split(",") for line in text.splitlines()]
    header, body = rows[0], rows[1:]
    months = sorted({r[0] for r in body})
    parts = [f"{len(body)} rows"]
    if name == "cohorts.csv":
        parts.append(f"{len(months)} cohorts from {months[0]} to {months[-1]}")
    else:
        parts.append(f"{months[0]} to {months[-1]}")
    if name == "funnel.csv":
        stages = list(dict.fromkeys(r[1] for r in body))
        parts.append("stages " + ", ".join(stages))
    for name in ("segment", "channel"):
        if name in header:
            column = header.index(name)
            parts.append(f"{name}s " + ", ".join(sorted({r[column] for r in body})))
    return "; ".join(parts)


def _check_readable(written: list[Path], scenario: str | None) -> list[str]:
    """Read the files back as ``revsim calibrate`` will; its refusal becomes a warning (the files stay)."""
    from revsim.calibrate.history import read_history
    from revsim.errors import InputError
    from revsim.importers.context import scenario_names

    names = scenario_names(scenario)
    try:
        read_history(written, stages=names.stages, segments=names.segments)
    except InputError as exc:
        return [f"revsim calibrate will refuse these files as they are: {exc}"]
    return []
