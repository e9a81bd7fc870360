"""``revsim init``: a starter scenario for each template that validates and runs, with or without questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from revsim.cli.main import cli

TEMPLATES = ["sales-led", "product-led", "enterprise"]


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_validates_runs_and_passes_the_json_schema(template: str, tmp_path: Path) -> None:
    import jsonschema

    import revsim

    file = tmp_path / f"{template}.yaml"
    result = invoke("init", "--template", template, "--no-input", str(file))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "scenario.schema.json").is_file()
    text = file.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=scenario.schema.json\n")
    assert text.count("\n#") >= 5, "the starter is commented"
    assert invoke("validate", str(file)).exit_code == 0
    schema = json.loads((tmp_path / "scenario.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(text), schema)
    ds = revsim.simulate(file, draws=40, seed=1)
    assert float(ds["arr"].sum("segment").isel(month=-1).median()) > 0
    levers = revsim.load_scenario(file).model.levers
    assert levers, "the starter has levers to try"
    assert revsim.compare(file, levers=[levers[0].name], draws=20).table.shape[0] > 0


def test_the_target_is_about_as_likely_as_not(tmp_path: Path) -> None:
    """The starter's lead volume is derived so that its target is a plan, not a certainty or a dream."""
    import revsim

    file = tmp_path / "plan.yaml"
    assert invoke("init", "--no-input", str(file)).exit_code == 0
    ds = revsim.simulate(file, draws=200, seed=2)
    target = revsim.load_scenario(file).model.targets[0]
    arr = ds["arr"].sum("segment").sel(month=target.at).values
    assert 0.2 < float((arr >= target.value).mean()) < 0.9


def test_questions_in_a_terminal(tmp_path: Path) -> None:
    answers = "\n".join(["Zeta Corp", "2027-04", "Lead, Demo, Trial, Customer", "12M", "800", "12%", "15k",
                         "20M", "2029-03"]) + "\n"
    file = tmp_path / "zeta.yaml"
    result = invoke("init", "--input", str(file), input=answers)
    assert result.exit_code == 0, result.output
    model = __import__("revsim").load_scenario(file).model
    assert model.name == "Zeta Corp" and model.start == "2027-04"
    assert model.stage_names == ["lead", "demo", "trial", "customer"]
    assert sum(c.customers for c in model.initial_book) == 800
    assert sum(c.monthly_revenue for c in model.initial_book) * 12 == pytest.approx(12e6)
    assert model.targets[0].value == 20e6 and model.targets[0].at == "2029-03"
    assert model.horizon_months >= 24


def test_bad_answers_are_asked_again(tmp_path: Path) -> None:
    answers = "\n".join(["", "2027-13", "2027-01", "lead", "lead, won", "-5", "0", "150", "20%", "12k", "5M",
                         "2028-06"]) + "\n"
    file = tmp_path / "retry.yaml"
    result = invoke("init", "--input", "--template", "product-led", str(file), input=answers)
    assert result.exit_code == 0, result.output
    for message in ("expected a month as YYYY-MM", "give at least two stages", "expected an amount",
                    "expected a share between 0% and 100%"):
        assert message in result.output
    assert invoke("validate", str(file)).exit_code == 0
    assert "initial_book: none yet" in file.read_text(encoding="utf-8")  # no ARR yet: no book


def test_an_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    file = tmp_path / "mine.yaml"
    file.write_text("name: mine\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", "--no-input", str(file)])
    assert result.exit_code == 2 and "--force" in result.output
    assert file.read_text(encoding="utf-8") == "name: mine\n"
    assert invoke("init", "--no-input", "--force", "--no-schema", str(file)).exit_code == 0
    assert not (tmp_path / "scenario.schema.json").exists()
    assert "yaml-language-server" not in file.read_text(encoding="utf-8")


def test_not_a_yaml_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--no-input", str(tmp_path / "plan.txt")])
    assert result.exit_code == 2 and ".yaml" in result.output
