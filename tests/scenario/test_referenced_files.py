"""Files a scenario reads (empirical samples, posteriors): found next to the scenario, size limited, hashed,
read through the shared CSV reader, and never fetched from a network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from revsim.errors import InputError
from revsim.scenario.distributions import Empirical, parse_uncertain
from revsim.scenario.load import load_scenario

SCENARIO = """\
name: Samples
start: 2027-01
horizon_months: 12
channels:
  - {name: inbound, volume: 100}
funnel:
  stages:
    - {name: lead, conversion: 0.2, months: 0.5}
    - {name: won}
pricing: {acv: {dist: empirical, file: data/acv.csv, column: acv}}
retention: {churn: 0.02}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "acv.csv").write_text("acv\n9000\n12000\n15000\n", encoding="utf-8")
    (folder / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    return folder


def acv(loaded) -> Empirical:
    dist = loaded.model.pricing["__all__"].acv
    assert isinstance(dist, Empirical)
    return dist


def test_files_resolve_next_to_the_scenario_whatever_the_working_directory(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "acv.csv").write_text("acv\n1\n2\n", encoding="utf-8")  # a decoy in the working directory
    monkeypatch.chdir(elsewhere)
    loaded = load_scenario(project / "scenario.yaml")
    np.testing.assert_array_equal(np.sort(acv(loaded).samples), [9000, 12000, 15000])
    assert acv(loaded).path == str((project / "data" / "acv.csv").resolve())
    assert acv(loaded).source == "data/acv.csv"


def test_the_scenario_hash_covers_the_files_it_reads(project: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the scenario's directory
    before = load_scenario(project / "scenario.yaml").sha256
    (project / "data" / "acv.csv").write_text("acv\n9000\n12000\n15001\n", encoding="utf-8")
    assert load_scenario(project / "scenario.yaml").sha256 != before


def test_notes_say_what_was_accepted(project: Path) -> None:
    (project / "data" / "acv.csv").write_bytes("deal;acv\nA;9000,5\nB;12000\n".encode("cp1252"))
    loaded = load_scenario(project / "scenario.yaml")
    assert np.sort(acv(loaded).samples).tolist() == [9000.5, 12000.0]
    assert loaded.notes == [
        "pricing.acv: 'data/acv.csv': columns are separated by semicolons",
        "pricing.acv: 'data/acv.csv': numbers with decimal commas were read as decimals (e.g. '9000,5' on line 2)",
    ]


@pytest.mark.parametrize(("spec", "message"), [
    ({"dist": "empirical", "file": "https://example.com/acv.csv"}, "is a URL: revsim reads local files only"),
    ({"dist": "posterior", "file": "s3://bucket/fit.nc", "var": "acv"}, "is a URL: revsim reads local files only"),
    ({"dist": "empirical", "file": "data"}, "'data' is a directory, expected a file"),
    ({"dist": "empirical", "file": "data/none.csv"}, "cannot find the file 'data/none.csv'"),
])
def test_file_parameters_that_are_refused(project: Path, spec: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_uncertain(spec, "positive", base_dir=project)
    assert message in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "data" / "pipe.csv")
    with pytest.raises(InputError, match="is not a regular file"):
        parse_uncertain({"dist": "empirical", "file": "data/pipe.csv"}, "positive", base_dir=project)


def test_posterior_files_are_size_limited(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import revsim.scenario.distributions.samples as module

    (project / "fit.nc").write_bytes(b"\x89HDF" + b"\x00" * 2000)
    monkeypatch.setattr(module, "POSTERIOR_MAX_BYTES", 1000)
    with pytest.raises(InputError, match="a posterior distribution reads files of at most"):
        parse_uncertain({"dist": "posterior", "file": "fit.nc", "var": "x"}, "positive", base_dir=project)


def test_nothing_in_a_scenario_is_evaluated(project: Path, tmp_path: Path) -> None:
    """Text that looks like code stays text; amounts are parsed, never evaluated."""
    marker = tmp_path / "evaluated"
    text = SCENARIO.replace("name: Samples", f"name: \"__import__('pathlib').Path('{marker}').touch()\"")
    (project / "scenario.yaml").write_text(text, encoding="utf-8")
    loaded = load_scenario(project / "scenario.yaml")
    assert loaded.name.startswith("__import__")
    for value in ("__import__('os').getpid()", "1e3 + 1", "2**10", "eval('1')"):
        with pytest.raises(InputError):
            parse_uncertain(value, "positive")
    assert not marker.exists()
