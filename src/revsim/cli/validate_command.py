"""``revsim validate``: check a scenario file without running it."""

from __future__ import annotations

import click

from revsim.cli.errors import reports_errors
from revsim.cli.options import allow_files_option

__all__ = ["validate"]


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=True, path_type=str))
@allow_files_option
@reports_errors
def validate(scenario: str) -> None:
    """Check SCENARIO: its syntax, every field, the references between stages, segments and loops, the
    distributions and the correlations. Exits with 0 when the file is valid, 2 otherwise."""
    from revsim.engine.compile import compile_scenario
    from revsim.printable import printable
    from revsim.scenario.load import load_scenario

    loaded = load_scenario(scenario)
    compiled = compile_scenario(loaded)
    for note in loaded.notes:  # what was accepted in the files it reads (decimal commas, encodings...)
        click.echo(f"note: {note}", err=True)
    model = loaded.model
    click.echo(
        f"{printable(scenario, lines=False)}: valid. '{printable(model.name, lines=False)}': "
        f"{len(compiled.segments)} segment(s), "
        f"{len(compiled.stages)} stages ({' > '.join(compiled.stages)}), {len(compiled.channels)} channel(s), "
        f"{len(compiled.loops)} loop(s), {len(compiled.uncertain_inputs)} uncertain input(s), "
        f"{model.horizon_months} months from {model.start}."
    )
