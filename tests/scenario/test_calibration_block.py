"""The ``calibration:`` block of a scenario: priors for ``revsim calibrate``, checked when the scenario loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from revsim.errors import InputError
from revsim.scenario.load import parse_scenario_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "scenarios" / "saas_sales_led.yaml").read_text(encoding="utf-8")


def documented_block() -> str:
    """The example of docs/scenario.md's ``calibration`` section."""
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    section = text[text.index("### `calibration`"):text.index("## Input paths")]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    return block


def with_block(block: str) -> str:
    return EXAMPLE.rstrip("\n") + "\n\n" + block


def test_the_documented_example_validates() -> None:
    loaded = parse_scenario_text(with_block(documented_block()))
    priors = loaded.model.calibration.priors
    assert set(priors) == {"sbg_mean_churn", "months_in_stage.opportunity", "conversion.opportunity", "segment_sd",
                           "seasonality_sd"}
    assert priors["months_in_stage.opportunity"].stage == "opportunity"
    assert priors["seasonality_sd"].distribution.is_constant


def test_every_bad_prior_is_reported_at_its_own_key() -> None:
    block = ("calibration:\n  priors:\n    sbg_mean_chrun: 0.1\n    churn: {dist: gamma, mean: 0.1, sd: 0.02}\n"
             "    volume.lead: 100\n    acv: -5\n")
    with pytest.raises(InputError) as caught:
        parse_scenario_text(with_block(block))
    problems = {p.path: p for p in caught.value.problems}
    assert set(problems) == {("calibration", "priors", key) for key in ("sbg_mean_chrun", "churn", "volume.lead",
                                                                       "acv")}
    assert "did you mean 'sbg_mean_churn'" in problems[("calibration", "priors", "sbg_mean_chrun")].message
    assert "no upper bound" in problems[("calibration", "priors", "churn")].message
    assert "takes no stage" in problems[("calibration", "priors", "volume.lead")].message
    assert all(p.line is not None for p in problems.values())


def test_a_prior_for_a_stage_names_a_stage_that_converts() -> None:
    for key, hint in (("months_in_stage.oportunity", "did you mean 'opportunity'"),
                      ("months_in_stage.won", "not the last")):
        with pytest.raises(InputError, match=hint) as caught:
            parse_scenario_text(with_block(f"calibration:\n  priors:\n    {key}: [0.5, 8]\n"))
        assert caught.value.problems[0].path == ("calibration", "priors", key)


def test_samples_are_not_priors(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("x\n0.1\n0.2\n", encoding="utf-8")
    block = f"calibration:\n  priors:\n    churn: {{dist: empirical, file: {tmp_path / 'x.csv'}}}\n"
    with pytest.raises(InputError, match="a prior cannot be 'empirical'"):
        parse_scenario_text(with_block(block))
