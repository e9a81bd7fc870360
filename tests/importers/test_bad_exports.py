"""Bad exports given to ``revsim import``: exit code 2, one message naming the file, line and column, nothing
written. The cases are in ``tests/bad_inputs/exports/expected.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from revsim.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "tests" / "bad_inputs" / "exports"
MANIFEST = yaml.safe_load((FOLDER / "expected.yaml").read_text(encoding="utf-8"))
CASES = [pytest.param(case, id=Path(case.get("file", case["files"][0])).stem) for case in MANIFEST["cases"]]


def test_every_file_has_a_case() -> None:
    used = {name for case in MANIFEST["cases"] for name in
            [*case["files"], *([case["mapping"]] if case.get("mapping") else [])]}
    on_disk = {p.name for p in FOLDER.iterdir() if p.name != "expected.yaml"}
    assert on_disk == used


@pytest.mark.parametrize("case", CASES)
def test_bad_export_is_refused_clearly(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    args = ["import", case["source"], *(str(FOLDER / f) for f in case["files"]), "--out", str(out)]
    if case.get("mapping"):
        args += ["--mapping", str(FOLDER / case["mapping"])]
    if case.get("scenario"):
        args += ["--scenario", case["scenario"]]
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    message = result.stderr
    assert message.startswith("error: ") and "Traceback" not in message
    assert sum(line.startswith("error: ") for line in message.splitlines()) == 1, message
    assert case.get("file", case["files"][0]) in message, message
    if case["where"] is not None:
        assert case["where"] in message, message
    for part in case["expect"]:
        assert part in message, f"{part!r} is not in:\n{message}"
    assert not out.exists(), "an output directory was written"
