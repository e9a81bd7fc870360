"""Tests of the scenario schema: per-segment blocks, defaults, references and the paths of the inputs."""

from __future__ import annotations

import textwrap

import pytest

from revsim.errors import InputError
from revsim.scenario.distributions import Beta, Constant, LogNormal
from revsim.scenario.load import LoadedScenario, parse_scenario_text
from revsim.scenario.schema import ALL_SEGMENTS, DEFAULT_KEY, iter_inputs

HEAD = """\
name: Schema test
start: 2027-03
horizon_months: 24
segments:
  - {name: smb, share: 0.6}
  - {name: mid, share: 0.3}
  - {name: ent, share: 0.1}
channels:
  - name: inbound
    volume: [400, 600]
funnel:
  stages:
    - name: lead
      conversion: [0.2, 0.3]
      months: 0.5
    - name: mql
      conversion: 0.4
      months: 1
      by_segment:
        ent: {conversion: [0.2, 0.3], months: 3}
    - name: won
pricing:
  acv: 12k
"""

FLAT_RETENTION = "retention: {churn: 0.1, contract_months: 12}\n"

KEYED_RETENTION = """\
retention:
  smb: {churn: [0.15, 0.25], contract_months: 12}
  default: {model: sbg, alpha: 1.2, beta: 8, contract_months: 12}
"""


def load(text: str) -> LoadedScenario:
    return parse_scenario_text(textwrap.dedent(text), file="schema.yaml")


def refused(text: str) -> InputError:
    with pytest.raises(InputError) as info:
        load(text)
    return info.value


def messages(error: InputError) -> list[str]:
    return [p.render() for p in error.problems]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th appearance of ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1


# ------------------------------------------------------------------------------------ per-segment blocks


def test_flat_block_applies_to_every_segment() -> None:
    model = load(HEAD + FLAT_RETENTION).model
    assert list(model.retention) == [ALL_SEGMENTS]
    settings = [model.settings("retention", seg) for seg in ("smb", "mid", "ent")]
    assert all(s is settings[0] for s in settings)
    assert settings[0].churn == Constant(0.1)
    assert settings[0].contract_months == 12
    assert {model.segment_key("retention", seg) for seg in ("smb", "mid", "ent")} == {ALL_SEGMENTS}


def test_keyed_block_with_default() -> None:
    model = load(HEAD + KEYED_RETENTION).model
    assert set(model.retention) == {"smb", DEFAULT_KEY}
    smb = model.settings("retention", "smb")
    assert smb.model == "constant" and isinstance(smb.churn, Beta)
    for seg in ("mid", "ent"):
        assert model.segment_key("retention", seg) == DEFAULT_KEY
        settings = model.settings("retention", seg)
        assert settings.model == "sbg"
        assert settings.alpha == Constant(1.2) and settings.beta == Constant(8)


def test_keyed_block_naming_every_segment_needs_no_default() -> None:
    model = load(HEAD + "retention:\n  smb: {churn: 0.1}\n  mid: {churn: 0.2}\n  ent: {churn: 0.3}\n").model
    assert [model.settings("retention", s).churn.mean() for s in ("smb", "mid", "ent")] == [0.1, 0.2, 0.3]


def test_keyed_block_missing_a_segment_without_default() -> None:
    text = HEAD + "retention:\n  smb: {churn: 0.1}\n  mid: {churn: 0.2}\n"
    error = refused(text)
    (problem,) = error.problems
    assert problem.path == ("retention",)
    assert problem.message == "no settings for segment(s) ent; add them or a 'default' entry"
    assert problem.line == line_of(text, "smb: {churn")


def test_keyed_block_with_misspelt_segment_suggests_it() -> None:
    text = HEAD + "retention:\n  smb: {churn: 0.1}\n  mdi: {churn: 0.2}\n  default: {churn: 0.3}\n"
    error = refused(text)
    (problem,) = error.problems
    assert problem.path == ("retention", "mdi")
    assert "unknown key 'mdi'" in problem.message
    assert "expected a segment name (smb, mid, ent), 'default', or the settings themselves" in problem.message
    assert "did you mean 'mid'?" in problem.message
    assert problem.line == line_of(text, "mdi")


def test_mixing_segment_entries_and_flat_settings_is_explained() -> None:
    """``retention: {smb: {...}, churn: 0.2}`` mixes the two forms; the message must say that ``smb`` is a
    segment (and not call it a mere unknown key among the settings)."""
    error = refused(HEAD + "retention:\n  smb: {churn: 0.1}\n  churn: 0.2\n")
    (problem,) = error.problems
    assert problem.path == ("retention", "smb")
    assert "segment" in problem.message, problem.message


def test_blocks_default_when_omitted() -> None:
    model = load(HEAD + FLAT_RETENTION).model
    for block in ("onboarding", "expansion", "advocacy"):
        assert list(getattr(model, block)) == [ALL_SEGMENTS]
    assert model.settings("onboarding", "smb").success == Constant(1)
    assert model.settings("expansion", "ent").rate == Constant(0)


def test_segments_default_to_one_segment_and_accept_plain_names() -> None:
    text = HEAD.replace(
        "segments:\n  - {name: smb, share: 0.6}\n  - {name: mid, share: 0.3}\n  - {name: ent, share: 0.1}\n", ""
    ).replace("      by_segment:\n        ent: {conversion: [0.2, 0.3], months: 3}\n", "")
    assert load(text + FLAT_RETENTION).model.segment_names == ["all"]
    named = text.replace("start: 2027-03\n", "start: 2027-03\nsegments: [north, south]\n")
    model = load(named + FLAT_RETENTION).model
    assert model.segment_names == ["north", "south"]
    assert [s.share for s in model.segments] == [1.0, 1.0]


# ------------------------------------------------------------------------------------------- inputs


def test_iter_inputs_paths_flat() -> None:
    inputs = dict(iter_inputs(load(HEAD + FLAT_RETENTION).model))
    assert "retention.churn" in inputs
    assert not any(path.startswith("retention.smb") for path in inputs)
    assert isinstance(inputs["funnel.stages.lead.conversion"], Beta)
    assert inputs["funnel.stages.mql.conversion"] == Constant(0.4)
    assert "funnel.stages.mql.by_segment.ent.conversion" in inputs
    assert inputs["funnel.stages.mql.by_segment.ent.months"] == Constant(3)
    assert isinstance(inputs["channels.inbound.volume"], LogNormal)
    assert inputs["pricing.acv"] == Constant(12_000)
    assert "expansion.rate" in inputs and "advocacy.rate" in inputs
    assert not any(ALL_SEGMENTS in path for path in inputs)


def test_iter_inputs_paths_keyed() -> None:
    inputs = dict(iter_inputs(load(HEAD + KEYED_RETENTION).model))
    assert isinstance(inputs["retention.smb.churn"], Beta)
    assert inputs["retention.default.alpha"] == Constant(1.2)
    assert inputs["retention.default.beta"] == Constant(8)
    assert "retention.churn" not in inputs
    assert "retention.mid.churn" not in inputs


def test_iter_inputs_paths_are_unique_and_in_file_order() -> None:
    model = load(HEAD + FLAT_RETENTION).model
    paths = [path for path, _ in iter_inputs(model)]
    assert len(paths) == len(set(paths))
    assert paths.index("channels.inbound.volume") < paths.index("funnel.stages.lead.conversion")
    assert paths.index("funnel.stages.lead.conversion") < paths.index("funnel.stages.mql.conversion")
    assert paths.index("funnel.stages.mql.conversion") < paths.index("pricing.acv")
    assert paths.index("pricing.acv") < paths.index("retention.churn")


def test_iter_inputs_paths_do_not_depend_on_list_positions() -> None:
    """Naming list items keeps an input's path (and its random stream) when other items are added."""
    before = dict(iter_inputs(load(HEAD + FLAT_RETENTION).model))
    more = HEAD.replace("channels:\n", "channels:\n  - name: partners\n    volume: 50\n")
    after = dict(iter_inputs(load(more + FLAT_RETENTION).model))
    assert "channels.partners.volume" in after
    assert set(before) <= set(after)


# ------------------------------------------------------------------------------------------ references


def test_duplicate_segment_points_at_the_second_definition() -> None:
    text = HEAD.replace("  - {name: ent, share: 0.1}\n", "  - {name: ent, share: 0.1}\n  - {name: smb, share: 0.1}\n")
    error = refused(text + FLAT_RETENTION)
    (problem,) = error.problems
    assert "segment 'smb' is defined twice" in problem.message
    # the line of the second 'smb', not that of the list
    assert problem.line == line_of(text, "name: smb", occurrence=2), problem.render()


def test_duplicate_stage_points_at_the_second_definition() -> None:
    again = "    - name: lead\n      conversion: 0.5\n      months: 1\n    - name: won\n"
    text = HEAD.replace("    - name: won\n", again)
    error = refused(text + FLAT_RETENTION)
    (problem,) = error.problems
    assert "stage 'lead' is defined twice" in problem.message
    assert problem.path[:2] == ("funnel", "stages"), problem.render()
    assert problem.line == line_of(text, "name: lead", occurrence=2), problem.render()


def test_nothing_to_simulate() -> None:
    text = HEAD.replace("channels:\n  - name: inbound\n    volume: [400, 600]\n", "")
    error = refused(text + FLAT_RETENTION)
    (problem,) = error.problems
    assert problem.path == ()
    assert problem.message == "the scenario has no channels, no loops and no initial book: nothing to simulate"


def test_target_outside_the_horizon() -> None:
    error = refused(HEAD + FLAT_RETENTION + "targets:\n  - {value: 1M, at: 2029-03}\n")
    (problem,) = error.problems
    assert problem.path == ("targets", 0, "at")
    assert "2029-03 is outside the simulated months (2027-03 to 2029-02)" in problem.message


def test_initial_book_needs_a_segment_when_there_are_several() -> None:
    error = refused(HEAD + FLAT_RETENTION + "initial_book:\n  - {customers: 10, mrr: 5k}\n")
    (problem,) = error.problems
    assert problem.path == ("initial_book", 0)
    assert "say which segment these customers are in (smb, mid, ent)" in problem.message


def test_amount_shorthands() -> None:
    model = load(HEAD + FLAT_RETENTION + "initial_book:\n  - {segment: mid, customers: 10, arr: 1.2M}\n").model
    assert model.initial_book[0].monthly_revenue == pytest.approx(100_000)
    assert model.pricing[ALL_SEGMENTS].acv == Constant(12_000)
