"""The ``revsim`` command line: a click group whose subcommands load only when they run.

``revsim --help`` imports click and nothing heavy (no numba, xarray, pydantic, pymc or matplotlib), so it
answers at once; each subcommand's module is imported when that subcommand is invoked or asked for help.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from revsim import __version__

__all__ = ["main", "cli"]

#: subcommand name -> "module:attribute" of its click command
COMMANDS = {
    "calibrate": ("revsim.cli.calibrate_command:calibrate",
                  "Learn a scenario's inputs from history (PyMC); write posterior.nc and calibrated.yaml."),
    "backtest": ("revsim.cli.backtest_command:backtest",
                 "Calibrate on all but the last months of history, forecast them, and score the forecast."),
    "run": ("revsim.cli.run_command:run", "Simulate a scenario and write results.nc and summary.csv."),
    "validate": ("revsim.cli.validate_command:validate", "Check a scenario file without running it."),
    "report": ("revsim.cli.report_command:report", "Draw board-ready charts, report.pdf and forecast.xlsx from results."),
    "reproduce": ("revsim.cli.reproduce_command:reproduce",
                  "Run a recorded run again from its results.nc and check every number is identical."),
    "compare": ("revsim.cli.compare_command:compare",
                "Compare scenario variants or levers draw by draw: paired differences of ARR and more."),
    "sensitivity": ("revsim.cli.sensitivity_command:sensitivity",
                    "Rank the uncertain inputs by their influence on ARR; tornado chart."),
    "import": ("revsim.cli.import_command:import_exports_command", "Read CRM and billing exports (HubSpot, Salesforce, Stripe, Chargebee, ChartMogul) into history files."),
    "kpis": ("revsim.cli.kpis_command:kpis",
             "Team KPIs, targets, AARRR and the North Star of a run, per month, quarter or fiscal year; kpis.csv."),
    "goal": ("revsim.cli.goal_command:goal",
             "Find the smallest lever setting that reaches an ARR or customer target with a given confidence."),
    "init": ("revsim.cli.init_command:init", "Write a commented starter scenario (a few questions in a terminal)."),
    "schema": ("revsim.cli.schema_command:schema", "Print the JSON Schema of scenario files, for editors."),
    "serve": ("revsim.cli.serve_command:serve", "A local what-if page: levers as sliders, paired with the base live."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when the subcommand is used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            target, _ = self.lazy_commands[cmd_name]
            module_name, attribute = target.split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list the subcommands from their one-line help, without importing them
        rows = [(name, self.lazy_commands[name][1]) for name in sorted(self.lazy_commands)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="revsim")
def cli() -> None:
    """revsim: Monte Carlo revenue simulation and forecasting.

    Describe the company as a bowtie in a scenario file (acquisition stages, retention, expansion, growth
    loops) and get the distribution of ARR and every RevOps metric, month by month.

    \b
    Examples:
      revsim validate scenarios/saas_sales_led.yaml
      revsim run scenarios/saas_sales_led.yaml --draws 2000 --seed 7 --out out/sales_led
    """


#: Whether this process runs one command and ends (the console script), not a host calling ``cli`` (a test).
ENDS_AFTER_COMMAND = False


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``revsim`` console script."""
    global ENDS_AFTER_COMMAND
    ENDS_AFTER_COMMAND = True
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="revsim")


if __name__ == "__main__":  # pragma: no cover
    # ``python -m revsim.cli.main`` runs this file as ``__main__``, a second copy of the module: the commands read
    # ENDS_AFTER_COMMAND from ``revsim.cli.main``, so that copy's ``main`` runs the command
    from revsim.cli.main import main as console_main

    console_main()
