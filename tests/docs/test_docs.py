"""The documentation site: it builds with no warning, its scenario reference is the schema, its glossary
covers every metric, and its recipes validate and run.

The build runs Sphinx (about 10 to 20 seconds) into a temporary directory, with warnings as errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
RECIPES = sorted((DOCS / "recipes").glob("*.md"))


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pytest.importorskip("sphinx", reason="building the documentation needs the docs extra (pip install '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(out.parent / "doctrees"), str(DOCS), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def _page_text(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_site_builds_without_warnings(built_site) -> None:
    out, stderr = built_site
    assert "WARNING" not in stderr and "ERROR" not in stderr, stderr
    for page in ("index", "getting-started", "notebooks", "reference/cli", "reference/scenario-schema",
                 "reference/glossary", "reference/api", "recipes/index", "model", "whatif", "calibration"):
        assert (out / f"{page}.html").is_file(), page


def test_the_cli_reference_documents_every_command(built_site) -> None:
    from revsim.cli.main import COMMANDS

    text = _page_text(built_site[0] / "reference" / "cli.html")
    for name in COMMANDS:
        assert f"revsim {name}" in text, name
    assert "--template" in text and "--target" in text


def test_the_scenario_reference_page_is_the_schema(built_site) -> None:
    from revsim.scenario.json_schema import scenario_json_schema
    from revsim.scenario.reference import block_order, field_rows

    schema = scenario_json_schema()
    text = _page_text(built_site[0] / "reference" / "scenario-schema.html")
    for block in [schema, *(schema["$defs"][name] for name in block_order(schema))]:
        for name, _, unit, _, description in field_rows(block):
            assert description in text, name
            assert unit in text, name
    for name in block_order(schema):
        assert re.search(rf"\b{name}\b", text), name


def _metric_names() -> set[str]:
    import revsim
    from revsim.results.summary import summary_table

    ds = revsim.simulate(REPO_ROOT / "scenarios" / "saas_sales_led.yaml", draws=8, seed=1)
    stages = {str(s) for s in ds["stage"].values}
    metrics = {m for m in summary_table(ds)["metric"].unique() if m not in stages and not m.startswith("loop:")}
    derived = {"ltv", "sales_cycle_months", "sales_reps", "leads"}
    return metrics | derived


def test_the_glossary_defines_every_metric_with_a_formula() -> None:
    text = (DOCS / "reference" / "glossary.md").read_text(encoding="utf-8")
    terms = re.findall(r"^([^\s`][^\n]*)\n  ", text.split("```{glossary}", 1)[1], flags=re.M)
    named = set(re.findall(r"`([a-z_0-9]+)`", " ".join(terms)))
    missing = _metric_names() - named
    assert not missing, f"metrics without a glossary entry: {sorted(missing)}"
    for block in re.findall(r"```\{glossary\}\n(.*?)```", text, flags=re.S):
        for term, definition in re.findall(r"^(\S[^\n]*)\n((?:  [^\n]*\n?)+)", block, flags=re.M):
            if re.search(r"`[a-z_0-9]+`", term) and term.split(" (")[0] not in ("Active customers", "New customers",
                                                                                  "Churned customers"):
                assert "$" in definition or "/" in definition or " x " in definition, f"{term}: no formula"


def _recipe_scenarios() -> list[tuple[str, str]]:
    found = []
    for path in RECIPES:
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S):
            if block.startswith("name:"):
                found.append((path.stem, block))
    return found


def test_every_recipe_has_a_complete_scenario() -> None:
    stems = {stem for stem, _ in _recipe_scenarios()}
    assert stems == {p.stem for p in RECIPES if p.stem != "index"}


@pytest.mark.parametrize(("recipe", "text"), _recipe_scenarios(), ids=[s for s, _ in _recipe_scenarios()])
def test_recipes_validate_pass_the_schema_and_run(recipe: str, text: str) -> None:
    import jsonschema

    import revsim
    from revsim.scenario.json_schema import scenario_json_schema
    from revsim.scenario.load import scenario_from_dict

    data = yaml.safe_load(text)
    jsonschema.validate(data, scenario_json_schema())
    loaded = scenario_from_dict(data)
    ds = revsim.simulate(loaded, draws=20, seed=1)
    assert float(ds["arr"].sum("segment").isel(month=-1).median()) > 0
    for lever in loaded.model.levers:
        revsim.compare(loaded, levers=[lever.name], draws=10)
