"""The README's first session works in the order written, right after `make run`.

Each command of the block runs in a fresh directory holding the example scenarios and the results `make run`
writes; runs use few draws (added to each command) so that the whole session takes seconds. A command that
fails because an earlier one left files behind (results that already exist) fails this test.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from click.testing import CliRunner

from revsim.cli.main import cli

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
#: draws added to each command that simulates
DRAWS = {"run": "20", "compare": "20", "sensitivity": "20", "goal": "300"}  # goal: enough for its answer


def first_session() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A first session", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("revsim "):
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_readme_quickstart_is_make_run_and_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart\n.*?```bash\n(.*?)```", text, flags=re.S).group(1)
    assert [line.split()[:2] for line in block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    # the section's code blocks, whatever their language, hold these two commands and nothing else (a newcomer's
    # check runs every line of them)
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for code in re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)
             for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert [line.split()[:2] for line in lines] == [["make", "run"], ["make", "test"]]
    assert (REPO_ROOT / "docs" / "_static" / "arr_fan.png").is_file()
    assert "](docs/_static/arr_fan.png)" in text


def test_the_first_session_runs_in_order(tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(REPO_ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    make_run = runner.invoke(cli, ["run", "scenarios/saas_sales_led.yaml", "--draws", "20", "--seed", "42",
                                   "--out", "out/saas_sales_led", "--force", "-q"])
    assert make_run.exit_code == 0, make_run.output
    commands = first_session()
    assert [c[0] for c in commands] == ["report", "kpis", "run", "compare", "sensitivity", "goal", "init", "run"]
    for args in commands:
        if args[0] in DRAWS:
            args = [*args, "--draws", DRAWS[args[0]]]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, f"revsim {' '.join(args)}\n{result.output}"
    assert (tmp_path / "out" / "saas_sales_led" / "report" / "report.pdf").is_file()
    assert (tmp_path / "out" / "my_company" / "report" / "report.pdf").is_file()
