"""Files a scenario names resolve inside its folder (every symbolic link followed) unless a directory is allowed
with --allow-files or REVSIM_ALLOW_FILES; the refusal names the file and comes before anything is read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")

SAMPLES = "deal_size\n9000\n12000\n11000\n"


@pytest.fixture
def layout(tmp_path: Path, base_text: str) -> dict[str, Path]:
    """team/plan.yaml (reading acv from a file named later) and other/deals.csv, another team's data."""
    team, other = tmp_path / "team", tmp_path / "other"
    team.mkdir()
    other.mkdir()
    (other / "deals.csv").write_text(SAMPLES, encoding="utf-8")
    (tmp_path / "base.txt").write_text(base_text, encoding="utf-8")
    return {"root": tmp_path, "team": team, "other": other, "text": tmp_path / "base.txt"}


def _scenario(layout: dict[str, Path], file: str) -> Path:
    text = layout["text"].read_text(encoding="utf-8")
    text = text.replace("  acv: [9000, 13000]", f"  acv: {{dist: empirical, file: '{file}'}}")
    path = layout["team"] / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _message(written: str, resolved: Path, team: Path, via: bool = True) -> str:
    where = f" resolves to {resolved}, which" if via else ""
    return (f"pricing.acv: '{written}'{where} is outside the scenario's folder ({team}): a scenario reads files in "
            f"its own folder only; move the file there, or allow its directory with --allow-files {resolved.parent} "
            "(or REVSIM_ALLOW_FILES) (line 22, column 8)")


def test_a_parent_path_is_refused_and_nothing_is_written(layout: dict[str, Path]) -> None:
    plan = _scenario(layout, "../other/deals.csv")
    out = layout["root"] / "out"
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(out), "--draws", "5"])
    assert result.exit_code == 2, result.output
    expected = _message("../other/deals.csv", layout["other"] / "deals.csv", layout["team"])
    assert result.stderr == f"error: {plan}: {expected}\n"
    assert not out.exists()


def test_an_absolute_path_is_refused(layout: dict[str, Path]) -> None:
    target = layout["other"] / "deals.csv"
    plan = _scenario(layout, str(target))
    result = CliRunner().invoke(cli, ["validate", str(plan)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {plan}: {_message(str(target), target, layout['team'], via=False)}\n"


def test_a_link_inside_the_folder_to_a_file_outside_is_refused(layout: dict[str, Path]) -> None:
    (layout["team"] / "deals.csv").symlink_to(layout["other"] / "deals.csv")
    plan = _scenario(layout, "deals.csv")
    result = CliRunner().invoke(cli, ["validate", str(plan)])
    assert result.exit_code == 2
    assert _message("deals.csv", layout["other"] / "deals.csv", layout["team"]) in result.stderr


def test_a_missing_file_outside_is_refused_without_saying_whether_it_exists(layout: dict[str, Path]) -> None:
    plan = _scenario(layout, "../other/nothing_here.csv")
    result = CliRunner().invoke(cli, ["validate", str(plan)])
    assert result.exit_code == 2
    assert "is outside the scenario's folder" in result.stderr and "cannot find" not in result.stderr


def test_files_inside_the_folder_and_links_within_it_are_read(layout: dict[str, Path]) -> None:
    data = layout["team"] / "data"
    data.mkdir()
    (data / "deals.csv").write_text(SAMPLES, encoding="utf-8")
    (layout["team"] / "latest.csv").symlink_to(data / "deals.csv")
    for name in ("data/deals.csv", "latest.csv", str(data / "deals.csv")):
        result = CliRunner().invoke(cli, ["validate", str(_scenario(layout, name))])
        assert result.exit_code == 0, (name, result.output)


def test_an_allowed_directory_is_read(layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _scenario(layout, "../other/deals.csv")
    out = layout["root"] / "out"
    result = CliRunner().invoke(cli, ["run", str(plan), "--out", str(out), "--draws", "5", "--quiet",
                                      "--allow-files", str(layout["other"])])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"]
    again = CliRunner().invoke(cli, ["validate", str(plan)])  # the allowance ended with the command
    assert again.exit_code == 2 and "is outside the scenario's folder" in again.stderr
    monkeypatch.setenv("REVSIM_ALLOW_FILES", str(layout["other"]))
    assert CliRunner().invoke(cli, ["validate", str(plan)]).exit_code == 0


def test_a_set_line_naming_a_file_outside_is_refused(layout: dict[str, Path]) -> None:
    plan = _scenario(layout, "../other/deals.csv").with_name("inside.yaml")
    plan.write_text(layout["text"].read_text(encoding="utf-8"), encoding="utf-8")
    target = layout["other"] / "deals.csv"
    result = CliRunner().invoke(cli, ["run", str(plan), "--draws", "5", "--out", str(layout["root"] / "out"),
                                      "--set", f"pricing.acv={{dist: empirical, file: '{target}'}}"])
    assert result.exit_code == 2, result.output
    assert "is outside the scenario's folder" in result.stderr and str(target) in result.stderr


def test_a_posterior_outside_the_folder_is_refused(layout: dict[str, Path]) -> None:
    text = layout["text"].read_text(encoding="utf-8").replace("  acv: [9000, 13000]",
                                       "  acv: {dist: posterior, file: ../other/posterior.nc, var: acv}")
    plan = layout["team"] / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(plan)])
    assert result.exit_code == 2
    assert "'../other/posterior.nc' resolves to" in result.stderr and "outside the scenario's folder" in result.stderr
