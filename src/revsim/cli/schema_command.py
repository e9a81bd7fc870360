"""``revsim schema``: the JSON Schema of scenario files, for editors (or the scenario reference, as Markdown)."""

from __future__ import annotations

from pathlib import Path

import click

from revsim.cli.errors import reports_errors

__all__ = ["schema"]


@click.command()
@click.option("--format", "-f", "output_format", type=click.Choice(["json", "markdown"]), default="json",
              show_default=True, help="json: the JSON Schema (draft 2020-12); markdown: the scenario reference.")
@click.option("--out", "-o", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Write to FILE (replacing it) instead of printing.")
@reports_errors
def schema(output_format: str, out_file: Path | None) -> None:
    """Print the JSON Schema of scenario files, generated from revsim's own validation.

    Editors validate and complete scenario files with it: with VS Code's YAML extension, save it next to
    your scenarios and start each file with the line
    "# yaml-language-server: $schema=scenario.schema.json" (revsim init does both).

    \b
    Examples:
      revsim schema --out scenarios/scenario.schema.json
      revsim schema --format markdown > scenario-reference.md
    """
    from revsim.scenario.json_schema import scenario_json_schema, schema_text

    if output_format == "json":
        text = schema_text()
    else:
        from revsim.scenario.reference import reference_markdown

        text = reference_markdown(scenario_json_schema())
    if out_file is None:
        click.echo(text, nl=False)
        return
    from revsim.results.output_dir import write_files

    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    directory = out_file.parent if str(out_file.parent) else Path(".")
    write_files(directory, {out_file.name: write})
    click.echo(f"wrote {out_file}", err=True)
