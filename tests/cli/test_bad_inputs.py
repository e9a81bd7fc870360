"""Bad inputs through the command line: exit code 2, one clear message naming the file and the field, no
traceback, and no output directory left behind.

Every case is the small valid scenario in ``data/base_scenario.yaml`` with one defect. Each case checks
specific parts of the message (the field path, the line, the offending value, the suggestion), so that a
regression in a message fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli

BASE_SCENARIO = Path(__file__).resolve().parent / "data" / "base_scenario.yaml"

SCENARIO_NAME = "case.yaml"


@dataclass(frozen=True)
class Made:
    """What a case maker produced: the arguments after ``revsim run`` and the line of the defect."""

    args: list[str]
    line: int | None = None
    column: int | None = None


Maker = Callable[[Path], Made]


def _base() -> str:
    return BASE_SCENARIO.read_text(encoding="utf-8")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def edit(old: str, new: str) -> Maker:
    """Replace the one occurrence of ``old`` in the base scenario by ``new``.

    The reported line and column are those of the first character where the edited text differs from the
    base (so a case can check that the message points at the right line).
    """

    def make(tmp_path: Path) -> Made:
        base = _base()
        assert base.count(old) == 1, f"the base scenario must hold {old!r} exactly once"
        text = base.replace(old, new.replace("{tmp}", tmp_path.as_posix()))
        index = base.index(old)
        offset = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
        line, column = _position(base, index + offset)
        path = tmp_path / SCENARIO_NAME
        path.write_text(text, encoding="utf-8")
        return Made([str(path)], line, column)

    return make


def append(addition: str) -> Maker:
    """Add ``addition`` at the end of the base scenario."""

    def make(tmp_path: Path) -> Made:
        base = _base()
        path = tmp_path / SCENARIO_NAME
        path.write_text(base + addition, encoding="utf-8")
        return Made([str(path)], base.count("\n") + 1)

    return make


def raw(content: bytes) -> Maker:
    """A scenario file holding exactly ``content``."""

    def make(tmp_path: Path) -> Made:
        path = tmp_path / SCENARIO_NAME
        path.write_bytes(content)
        return Made([str(path)])

    return make


def missing(tmp_path: Path) -> Made:
    return Made([str(tmp_path / SCENARIO_NAME)])


def directory(tmp_path: Path) -> Made:
    path = tmp_path / SCENARIO_NAME
    path.mkdir()
    return Made([str(path)])


def unreadable(tmp_path: Path) -> Made:
    path = tmp_path / SCENARIO_NAME
    path.write_text(_base(), encoding="utf-8")
    path.chmod(0)
    return Made([str(path)])


def options(*extra: str) -> Maker:
    """The valid base scenario with bad command line options."""

    def make(tmp_path: Path) -> Made:
        path = tmp_path / SCENARIO_NAME
        path.write_text(_base(), encoding="utf-8")
        return Made([str(path), *extra])

    return make


IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

PSD_CORRELATIONS = """\
correlations:
  - {between: [funnel.stages.lead.conversion, funnel.stages.mql.conversion], rank: 0.9}
  - {between: [funnel.stages.mql.conversion, pricing.acv], rank: 0.9}
  - {between: [funnel.stages.lead.conversion, pricing.acv], rank: -0.9}
"""

# (id, maker, substrings the message must contain). "{line}" / "{column}" stand for the position of the defect;
# "{file}" for the scenario's file name.
CASES: list = [
    pytest.param(missing, ["{file}", "file not found"], id="missing-file"),
    pytest.param(
        unreadable,
        ["{file}", "read"],
        id="unreadable-file",
        marks=pytest.mark.skipif(IS_ROOT, reason="root can read any file"),
    ),
    pytest.param(directory, ["{file}", "is a directory, expected a YAML file"], id="directory"),
    pytest.param(
        raw(_base().replace("name: Tiny", "name: Caf\u00e9").encode("cp1252")),
        ["{file}", "not valid UTF-8", "line 2, column 10", "save the file as UTF-8"],
        id="not-utf8",
    ),
    pytest.param(
        edit("  - name: inbound\n", "  - name: inbound: x\n"),
        ["{file}", "YAML syntax error", "mapping values are not allowed here", "line {line}, column {column}"],
        id="yaml-syntax-error",
    ),
    pytest.param(
        edit("    - name: lead\n      conversion", "    - name: lead\n\tconversion"),
        ["{file}", "tab characters are not allowed for indentation", "use spaces", "line {line}, column 1"],
        id="tab-indentation",
    ),
    pytest.param(
        edit("horizon_months: 12\n", "horizon_months: 12\nhorizon_months: 24\n"),
        ["{file}", "duplicate key 'horizon_months'", "first on line 4, again on line 5"],
        id="duplicate-key",
    ),
    pytest.param(raw(b""), ["{file}", "the file is empty"], id="empty-file"),
    pytest.param(
        raw(b"# just comments\n\n"), ["{file}", "the file is empty"], id="only-comments"
    ),
    pytest.param(
        raw(b"- name: Tiny\n- start: 2027-01\n"),
        ["{file}", "expected a mapping at the top level, found a list", "line 1"],
        id="top-level-list",
    ),
    pytest.param(
        edit("horizon_months: 12", "horizon_month: 12"),
        ["{file}", "horizon_month", "unknown key", "did you mean 'horizon_months'?", "line {line}"],
        id="misspelt-top-level-key",
    ),
    pytest.param(
        edit("      conversion: [0.2, 0.3]", "      convertion: [0.2, 0.3]"),
        ["{file}", "funnel.stages[0].convertion", "unknown key 'convertion'", "did you mean 'conversion'?",
         "line {line}"],
        id="misspelt-stage-key",
    ),
    pytest.param(
        edit(
            "retention:\n  smb: {churn: 0.1, contract_months: 12}\n  default: {churn: 0.05, contract_months: 12}",
            "retention: {chrun: 0.1}",
        ),
        ["{file}", "retention.chrun", "unknown key 'chrun'", "did you mean 'churn'?", "line {line}"],
        id="misspelt-per-segment-key",
    ),
    pytest.param(
        edit("  smb: {churn: 0.1, contract_months: 12}", "  smb: {churn: 0.1, contract_month: 12}"),
        ["{file}", "retention.smb.contract_month", "did you mean 'contract_months'?", "line {line}"],
        id="misspelt-key-in-segment-entry",
    ),
    pytest.param(
        edit("conversion: {dist: beta, mean: 0.4, sd: 0.05}", "conversion: 1.2"),
        ["{file}", "funnel.stages[1].conversion", "probability between 0 and 1", "1.2", "line {line}"],
        id="probability-above-one",
    ),
    pytest.param(
        edit("customers: 50", "customers: -1"),
        ["{file}", "initial_book[0].customers", ">= 0", "-1", "line {line}"],
        id="negative-count",
    ),
    pytest.param(
        edit("  acv: [9000, 13000]", "  acv: -9000"),
        ["{file}", "pricing.acv", "positive", "-9000", "line {line}"],
        id="negative-price",
    ),
    pytest.param(
        edit("mean: 0.4, sd: 0.05", "mean: 1.2, sd: 0.05"),
        ["{file}", "funnel.stages[1].conversion", "mean of a beta distribution must be between 0 and 1", "1.2",
         "line {line}"],
        id="beta-mean-above-one",
    ),
    pytest.param(
        edit("volume: [80, 120]", "volume: [120, 80]"),
        ["{file}", "channels[0].volume", "needs low < high", "[120, 80]", "line {line}"],
        id="interval-low-above-high",
    ),
    pytest.param(
        edit("volume: [80, 120]", "volume: {dist: pert, min: 80, mode: 150, max: 120}"),
        ["{file}", "channels[0].volume", "mode of a pert distribution must be between min and max", "150",
         "[80, 120]", "line {line}"],
        id="pert-mode-outside",
    ),
    pytest.param(
        edit("dist: beta", "dist: betta"),
        ["{file}", "funnel.stages[1].conversion", "unknown distribution 'betta'", "did you mean 'beta'?",
         "line {line}"],
        id="unknown-distribution",
    ),
    pytest.param(
        edit("mean: 0.4, sd: 0.05", "mean: 0.4, sdd: 0.05"),
        ["{file}", "funnel.stages[1].conversion", "unknown key 'sdd'", "did you mean 'sd'?", "line {line}"],
        id="misspelt-distribution-parameter",
    ),
    pytest.param(
        edit("target: mql", "target: mqll"),
        ["{file}", "loops[0].target", "unknown stage 'mqll'", "did you mean 'mql'?", "line {line}"],
        id="loop-unknown-target",
    ),
    pytest.param(
        edit("lag: 1", "lag: 0"),
        ["{file}", "loops[0].lag", "lag of at least 1 month", "got 0", "line {line}"],
        id="loop-lag-zero",
    ),
    pytest.param(
        edit("segment_mix: {smb: 0.6, mid: 0.4}", "segment_mix: {smb: 0.6, midd: 0.4}"),
        ["{file}", "channels[0].segment_mix.midd", "unknown segment 'midd'", "did you mean 'mid'?",
         "line {line}"],
        id="segment-mix-unknown-segment",
    ),
    pytest.param(
        edit("start: 2027-01", "start: 2027/01"),
        ["{file}", "start:", "YYYY-MM", "'2027/01'", "line {line}"],
        id="start-not-year-month",
    ),
    pytest.param(
        edit("start: 2027-01", "start: 2027-13"),
        ["{file}", "start:", "YYYY-MM", "'2027-13'", "line {line}"],
        id="start-month-13",
    ),
    pytest.param(
        edit("horizon_months: 12", "horizon_months: 0"),
        ["{file}", "horizon_months", ">= 1", "got 0", "line {line}"],
        id="horizon-zero",
    ),
    pytest.param(
        edit("horizon_months: 12", "horizon_months: 10000"),
        ["{file}", "horizon_months", "<= 600", "10000", "line {line}"],
        id="horizon-too-long",
    ),
    pytest.param(
        edit("  smb: {churn: 0.1, contract_months: 12}", "  smb: {model: sbg, alpha: 1.5, contract_months: 12}"),
        ["{file}", "retention.smb", "model 'sbg' needs both 'alpha' and 'beta'", "line {line}"],
        id="sbg-without-beta",
    ),
    pytest.param(
        edit("  smb: {churn: 0.1, contract_months: 12}", "  smb: {churn: 0.1, alpha: 1.5, contract_months: 12}"),
        ["{file}", "retention.smb", "'alpha' and 'beta' belong to model 'sbg'", "model 'constant' takes 'churn'",
         "line {line}"],
        id="constant-retention-with-alpha",
    ),
    pytest.param(
        edit("    - name: won\n", "    - name: won\n      conversion: 0.5\n"),
        ["{file}", "funnel.stages[2]", "the last stage ('won') is the customer", "'conversion'", "line {line}"],
        id="last-stage-with-conversion",
    ),
    pytest.param(
        edit("      conversion: [0.2, 0.3]\n      months: 0.5\n", "      conversion: [0.2, 0.3]\n"),
        ["{file}", "funnel.stages[0]", "stage 'lead' needs 'months'"],
        id="stage-without-months",
    ),
    pytest.param(
        edit("initial_book:\n  - {segment: smb, customers: 50, arr: 500k}",
             "initial_book:\n  - {segment: smb, customers: 50, arr: 500k, mrr: 40k}"),
        ["{file}", "initial_book[0]", "'mrr' or its 'arr' (one of the two)", "line {line}"],
        id="book-with-mrr-and-arr",
    ),
    pytest.param(
        append(
            "correlations:\n"
            "  - between: [funnel.stages.lead.conversion, funnel.stages.mql.convertion]\n"
            "    rank: 0.5\n"
        ),
        ["{file}", "correlations[0].between[1]", "no input named 'funnel.stages.mql.convertion'",
         "did you mean 'funnel.stages.mql.conversion'?"],
        id="correlation-unknown-input",
    ),
    pytest.param(
        append(
            "correlations:\n"
            "  - {between: [funnel.stages.lead.conversion, loops.referrals.coefficient], rank: 0.5}\n"
        ),
        ["{file}", "correlations[0].between[1]", "'loops.referrals.coefficient' is a constant"],
        id="correlation-with-constant",
    ),
    pytest.param(
        append(PSD_CORRELATIONS),
        ["{file}", "correlations", "not positive semi-definite", "funnel.stages.lead.conversion",
         "funnel.stages.mql.conversion", "pricing.acv"],
        id="correlations-not-psd",
    ),
    pytest.param(
        edit("name: Tiny", "name: !!python/object/apply:os.mkdir ['{tmp}/pwned']"),
        ["{file}", "tags are not allowed", "'!!python/object/apply:os.mkdir'", "line {line}"],
        id="python-object-tag",
    ),
    pytest.param(
        edit("name: Tiny", "name: !!python/object:revsim.errors.Problem {message: hi}"),
        ["{file}", "tags are not allowed", "'!!python/object:revsim.errors.Problem'", "line {line}"],
        id="python-object-tag-mapping",
    ),
    pytest.param(
        options("--draws", "0"), ["--draws", "0 is not in the range"], id="draws-zero"
    ),
    pytest.param(
        options("--seed", "-1"), ["--seed", "-1 is not in the range"], id="seed-negative"
    ),
    pytest.param(
        options("--threads", "0"), ["--threads", "0 is not in the range"], id="threads-zero"
    ),
]


def _expected(parts: list[str], made: Made) -> list[str]:
    values = {"file": SCENARIO_NAME, "line": made.line, "column": made.column}
    return [part.format(**values) for part in parts]


@pytest.mark.parametrize(("maker", "expected"), CASES)
def test_bad_input_is_reported_clearly(tmp_path: Path, maker: Maker, expected: list[str]) -> None:
    made = maker(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--out", str(out), "--draws", "5", "--quiet", *made.args])

    message = result.stderr
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for part in _expected(expected, made):
        assert part in message, f"{part!r} not in the message:\n{message}"
    assert result.stdout == ""
    assert not out.exists()
    assert not (tmp_path / "pwned").exists()


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = _base().replace("mean: 0.4, sd: 0.05", "mean: 1.2, sd: 0.05").replace("customers: 50", "customers: -1")
    scenario = tmp_path / SCENARIO_NAME
    scenario.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(scenario), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"{SCENARIO_NAME}: 2 problems:" in result.stderr
    assert "funnel.stages[1].conversion" in result.stderr
    assert "initial_book[0].customers" in result.stderr


@pytest.mark.parametrize(
    "maker",
    [
        pytest.param(edit("mean: 0.4, sd: 0.05", "mean: 1.2, sd: 0.05"), id="bad-value"),
        pytest.param(missing, id="missing-file"),
    ],
)
def test_validate_reports_bad_input(tmp_path: Path, maker: Maker) -> None:
    made = maker(tmp_path)
    result = CliRunner().invoke(cli, ["validate", *made.args])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert SCENARIO_NAME in result.stderr
    assert "Traceback" not in result.output


def test_bad_input_in_a_real_process(tmp_path: Path) -> None:
    """The same contract outside the test runner: message on stderr only, exit code 2, nothing written."""
    made = edit("conversion: {dist: beta, mean: 0.4, sd: 0.05}", "conversion: 1.2")(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "revsim.cli.main", "run", *made.args, "--out", str(out), "--draws", "5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {made.args[0]}: funnel.stages[1].conversion:")
    assert f"(line {made.line}," in proc.stderr
    assert not out.exists()
