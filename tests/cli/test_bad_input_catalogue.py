"""The catalogue of bad inputs in ``tests/bad_inputs``: every file through the command line.

Each case of ``tests/bad_inputs/expected.yaml`` must end with exit code 2 and one message on stderr that names
the file, the location of the problem and the expected words; no traceback, nothing on stdout, and nothing
written anywhere. History files (``tests/bad_inputs/history``) are checked through the shared CSV reader,
the calibration's history checks, and ``revsim calibrate`` once that command exists. Files that are messy but unambiguous are
accepted, each with a note saying what was accepted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from revsim.cli.main import COMMANDS, cli
from revsim.errors import InputError
from revsim.scenario.csv_source import read_csv_table

CATALOGUE = Path(__file__).resolve().parents[1] / "bad_inputs"
MANIFEST = yaml.safe_load((CATALOGUE / "expected.yaml").read_text(encoding="utf-8"))
HISTORY = CATALOGUE / "history"
HISTORY_MANIFEST = yaml.safe_load((HISTORY / "expected.yaml").read_text(encoding="utf-8"))
FORMATS: dict[str, dict[str, Any]] = HISTORY_MANIFEST["formats"]
BASE_SCENARIO = Path(__file__).resolve().parent / "data" / "base_scenario.yaml"
#: The scenarios of the catalogue read the bad files of data/, beside their folder: allowed explicitly.
ALLOW_DATA = ["--allow-files", str(CATALOGUE / "data")]


def _case_id(case: dict[str, Any]) -> str:
    return f"{case.get('command', 'run')}-{Path(case['file']).stem}"


CASES = [pytest.param(case, id=_case_id(case)) for case in MANIFEST["cases"]]
HISTORY_CASES = [pytest.param(case, id=Path(case["file"]).stem) for case in HISTORY_MANIFEST["cases"]]


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def _invoke(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str | None = None):
    """Run one case in-process from an empty working directory; return (result, output directory)."""
    command = command or case.get("command", "run")
    target = CATALOGUE / case["file"]
    out = tmp_path / "out"
    args = {
        "run": ["run", str(target), "--out", str(out), "--draws", "5", "--quiet", *ALLOW_DATA],
        "validate": ["validate", str(target), *ALLOW_DATA],
        "reproduce": ["reproduce", str(target), "--out", str(out), *ALLOW_DATA],
    }[command]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return CliRunner().invoke(cli, args), out, work


def _check_message(message: str, case: dict[str, Any]) -> None:
    name = Path(case["file"]).name
    assert message.startswith("error: "), message
    assert sum(line.startswith("error: ") for line in message.splitlines()) == 1, f"not one message:\n{message}"
    assert "Traceback" not in message
    assert name in message, f"the file name {name!r} is not in the message:\n{message}"
    if case["where"] is not None:
        assert case["where"] in message, f"the location {case['where']!r} is not in the message:\n{message}"
    for part in case["expect"]:
        assert part in message, f"{part!r} is not in the message:\n{message}"


def test_the_catalogue_is_complete() -> None:
    """Every file in the catalogue has a case, every case a file, and there are at least 60 of them."""
    listed = {case["file"] for case in MANIFEST["cases"]}
    for case in MANIFEST["cases"]:
        path = CATALOGUE / case["file"]
        assert path.exists() != bool(case.get("missing")), case["file"]
        assert case.get("command", "run") in ("run", "validate", "reproduce"), case
    for folder in ("scenarios", "results"):
        for path in (CATALOGUE / folder).iterdir():
            assert f"{folder}/{path.name}" in listed, f"{folder}/{path.name} has no case in expected.yaml"
    referenced = {p.name for p in (CATALOGUE / "data").iterdir()}
    texts = "".join(p.read_text(encoding="utf-8") for p in (CATALOGUE / "scenarios").glob("empirical_*.yaml"))
    texts += "".join(p.read_text(encoding="utf-8") for p in (CATALOGUE / "scenarios").glob("posterior_*.yaml"))
    for name in referenced:
        assert f"../data/{name}" in texts, f"data/{name} is read by no scenario of the catalogue"
    history = {case["file"] for case in HISTORY_MANIFEST["cases"]} | {c["file"] for c in HISTORY_MANIFEST["accepted"]}
    for path in HISTORY.rglob("*.csv"):
        assert str(path.relative_to(HISTORY)) in history, f"history/{path.name} has no case"
    bad_files = [p for p in CATALOGUE.rglob("*") if p.is_file() and p.suffix != ".md"
                 and "accepted" not in p.parts and p.name != "expected.yaml"]
    assert len(bad_files) >= 60, len(bad_files)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_clearly(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _snapshot(CATALOGUE)
    result, out, work = _invoke(case, tmp_path, monkeypatch)
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    _check_message(result.stderr, case)
    assert not out.exists(), "an output directory was written"
    assert list(work.iterdir()) == [], "something was written in the working directory"
    assert _snapshot(CATALOGUE) == before, "something was written next to the inputs"


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].get("command", "run") == "run"
                                  and c.values[0].get("validate", True)])
def test_validate_refuses_it_too(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, _, _ = _invoke(case, tmp_path, monkeypatch, command="validate")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    _check_message(result.stderr, case)


#: Other commands that read a scenario file as their first argument, with the options they need besides.
SCENARIO_COMMANDS = [("sensitivity", []), ("compare", [str(BASE_SCENARIO)]), ("serve", [])]


@pytest.mark.parametrize("command", [pytest.param(c, id=c[0]) for c in SCENARIO_COMMANDS])
@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].get("command", "run") == "run"
                                  and c.values[0].get("validate", True)])
def test_every_command_reading_a_scenario_refuses_it_the_same_way(
        case: dict[str, Any], command: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, extra = command
    if name not in COMMANDS:
        pytest.skip(f"revsim {name} does not exist")
    if name == "serve":
        pytest.importorskip("uvicorn", reason="revsim serve needs the serve extra")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    where = [] if name == "serve" else ["--out", str(out)]  # serve writes nothing but what the page saves
    result = CliRunner().invoke(cli, [name, str(CATALOGUE / case["file"]), *extra, *where, *ALLOW_DATA])
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    _check_message(result.stderr, case)
    assert not out.exists()


def test_an_alias_bomb_is_refused_fast_with_little_memory(tmp_path: Path) -> None:
    """In a real process: the billion laughs are refused without expanding them.

    The child reports its own peak memory (VmHWM, which starts afresh with the new program; the rusage of a
    forked child also counts the copy of this test process it started as).
    """
    peak_file = tmp_path / "peak.txt"
    child = (
        "import atexit, sys\n"
        "def peak():\n"
        "    line = [x for x in open('/proc/self/status') if x.startswith('VmHWM:')]\n"
        f"    open({str(peak_file)!r}, 'w').write(line[0].split()[1] if line else '0')\n"
        "atexit.register(peak)\n"
        "from revsim.cli.main import main\n"
        f"main(['validate', {str(CATALOGUE / 'scenarios' / 'billion_laughs.yaml')!r}])\n"
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "too many aliases" in proc.stderr
    if Path("/proc/self/status").exists():
        peak_kib = int(peak_file.read_text())
        assert peak_kib < 300_000, f"peak memory {peak_kib} KiB"


# --------------------------------------------------------------------------------------------------- history


def _read_history(path: Path, format_name: str):
    spec = FORMATS[format_name]
    return read_csv_table(path, required=spec["required"], optional=spec["optional"], numeric=spec["numeric"],
                          what=spec["what"], blank=spec.get("blank", ()))


@pytest.mark.parametrize("case", [c for c in HISTORY_CASES if c.values[0]["level"] == "csv"])
def test_history_file_is_refused_by_the_csv_reader(case: dict[str, Any]) -> None:
    with pytest.raises(InputError) as caught:
        _read_history(HISTORY / case["file"], case["format"])
    message = "error: " + str(caught.value)
    _check_message(message, case)


@pytest.mark.parametrize("case", HISTORY_CASES)
def test_history_file_is_refused_by_the_history_checks(case: dict[str, Any], tmp_path: Path) -> None:
    history_module = pytest.importorskip("revsim.calibrate.history", reason="the calibration is not there yet")
    columns = {kind: (tuple(spec["required"]), tuple(spec["optional"]), tuple(spec["numeric"]))
               for kind, spec in FORMATS.items()}
    assert columns == history_module.COLUMNS, "the formats in history/expected.yaml differ from the calibration's"
    shutil.copy(HISTORY / case["file"], tmp_path / f"{case['format']}.csv")
    with pytest.raises(InputError) as caught:
        history_module.read_history([tmp_path])
    _check_message("error: " + str(caught.value), {**case, "file": f"{case['format']}.csv"})


@pytest.mark.parametrize("case", HISTORY_CASES)
def test_history_file_is_refused_by_calibrate(case: dict[str, Any], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if "calibrate" not in COMMANDS:
        pytest.skip("revsim calibrate does not exist yet; the history files are checked through the CSV reader "
                    "and read_history")
    history = tmp_path / "history"
    history.mkdir()
    shutil.copy(HISTORY / case["file"], history / f"{case['format']}.csv")
    scenario = tmp_path / "scenario.yaml"
    shutil.copy(BASE_SCENARIO, scenario)
    out = tmp_path / "out"
    values = {"scenario": str(scenario), "history": str(history), "out": str(out)}
    args = [part.format(**values) for part in HISTORY_MANIFEST["command"]]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "Traceback" not in message
    assert f"{case['format']}.csv" in message, message
    if case["where"] is not None:
        assert case["where"] in message, message
    for part in case["expect"]:
        assert part in message, f"{part!r} is not in the message:\n{message}"
    assert not out.exists()


@pytest.mark.parametrize("case", [pytest.param(c, id=Path(c["file"]).stem) for c in HISTORY_MANIFEST["accepted"]])
def test_messy_but_unambiguous_history_is_accepted_with_a_note(case: dict[str, Any]) -> None:
    table = _read_history(HISTORY / case["file"], case["format"])
    notes = " | ".join(table.notes)
    for part in case["notes"]:
        assert part in notes, f"{part!r} is not in the notes: {notes}"
    for column, expected in case["values"].items():
        np.testing.assert_array_equal(table.frame[column].to_numpy(), np.asarray(expected, dtype=float))
    assert list(table.frame.columns[: len(FORMATS[case["format"]]["required"])]) == FORMATS[case["format"]]["required"]


# -------------------------------------------------------------------------------------- accepted with a note

ACCEPTED_NOTES = [
    "channels.inbound.volume: 'volume_latin1.csv': the file is not UTF-8; it was read as Windows-1252 (Latin-1)",
    "funnel.stages.lead.conversion: 'conversion_bom.csv': the file starts with a UTF-8 byte order mark",
    "pricing.acv: 'acv_semicolon_decimal_comma.csv': columns are separated by semicolons",
    "pricing.acv: 'acv_semicolon_decimal_comma.csv': numbers with decimal commas were read as decimals "
    "(e.g. '12000,50' on line 2)",
    "retention.churn: 'churn_utf16.csv': the file is encoded as UTF-16",
    "advocacy.rate: 'advocacy_excel_sep.csv': the first line 'sep=;' sets the separator",
    "costs.other_spend: 'spend_thousands.csv': commas in numbers were read as thousands separators",
]


def test_messy_but_unambiguous_samples_are_accepted_with_notes(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = CATALOGUE / "accepted" / "messy_samples.yaml"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output
    for note in ACCEPTED_NOTES:
        assert f"note: {note}" in result.stderr, f"{note!r} not in:\n{result.stderr}"

    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(scenario), "--draws", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: pricing.acv: 'acv_semicolon_decimal_comma.csv'" in result.stderr
    import xarray as xr

    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert set(np.unique(ds["param_pricing_acv"].values)) <= {12000.5, 9800.0, 11250.75}
        assert set(np.unique(ds["param_costs_other_spend"].values)) <= {12000.5, 13250.0}
        assert set(np.unique(ds["param_advocacy_rate"].values)) <= {0.08, 0.12}
