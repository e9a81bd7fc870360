"""Running out of memory is not a bad input: exit 1 with a message, no traceback, nothing called a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli


def test_a_results_file_too_large_for_memory_is_not_called_a_bad_file(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import xarray as xr

    (tmp_path / "results.nc").write_bytes(b"\x89HDF")

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(xr, "open_dataset", out_of_memory)
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "results.nc"), "--out", str(tmp_path / "report")])
    assert result.exit_code == 1, result.output
    assert "out of memory" in result.stderr and "cannot be read" not in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "report").exists()
