"""Numbers that explode, overflow or turn into NaN are caught where they happen, named, never written silently."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from revsim.cli.main import cli
from revsim.engine.layout import COUNT_CAP
from revsim.errors import InputError, SimulationError
from revsim.results.invariants import check_invariants

BASE = Path(__file__).resolve().parents[1] / "cli" / "data" / "base_scenario.yaml"


def scenario(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = BASE.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def base_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "base.yaml"
    path.write_text(BASE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def run(path: Path, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["run", str(path), "--draws", "6", "--out", str(out), *extra])


def test_an_exploding_loop_is_capped_and_named(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("coefficient: 0.02", "coefficient: 500"), ("horizon_months: 12", "horizon_months: 36"))
    out = tmp_path / "out"
    result = run(path, out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "warning: loop 'referrals' ran away in 6 of 6 draws (first in" in result.stderr
    assert f"capped at {COUNT_CAP:,} a month" in result.stderr
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert "loop 'referrals' ran away" in json.loads(ds.attrs["warnings"])[0]
        assert int(ds["loop_entries"].max()) <= COUNT_CAP * ds.sizes["segment"]  # capped in each segment
        for name in ("arr", "mrr", "new_arr", "active_customers"):
            assert np.isfinite(ds[name].values).all(), name


def test_mrr_beyond_int64_cents_stops_the_run_naming_the_draw(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("coefficient: 0.02", "coefficient: 500"), ("horizon_months: 12", "horizon_months: 36"),
                    ("acv: [9000, 13000]", "acv: 1M"))
    out = tmp_path / "out"
    result = run(path, out)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: draw 0: MRR exceeded")
    assert "loop 'referrals' ran away first" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_month_of_new_revenue_beyond_int64_cents_is_not_written(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("volume: [80, 120]", "volume: 1e8"), ("acv: [9000, 13000]", "acv: 1e12"),
                    ("conversion: [0.2, 0.3]", "conversion: 0.9"),
                    ("conversion: {dist: beta, mean: 0.4, sd: 0.05}", "conversion: 0.9"))
    out = tmp_path / "out"
    result = run(path, out)
    assert result.exit_code == 1, result.output
    assert "draw 0:" in result.stderr and "beyond what revsim can count" in result.stderr
    assert not out.exists()


def test_an_input_drawing_infinity_is_named_with_the_draw(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("volume: [80, 120]", "volume: {dist: lognormal, median: 100, sigma: 2000}"))
    out = tmp_path / "out"
    result = run(path, out)
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "channels[0].volume" in message or "channels.inbound.volume" in message
    assert "drew a value that is not finite; draw" in message
    assert "case.yaml" in message
    assert "Warning" not in message, "a raw Python warning leaked"
    assert not out.exists()


def test_an_absurd_contract_value_is_refused_at_the_draw(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("acv: [9000, 13000]", "acv: {dist: lognormal, median: 10000, sigma: 30}"))
    result = run(path, tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "pricing.acv: an ACV above 1e+12 USD a year cannot be counted" in result.stderr
    assert "draw " in result.stderr


def test_an_absurd_initial_book_is_refused_before_running(tmp_path: Path) -> None:
    path = scenario(tmp_path, ("arr: 500k", "arr: 1e300"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "initial_book[0]: the cohort's MRR of 8.33e+298 is beyond what revsim counts" in result.stderr


def test_the_invariants_refuse_infinite_metrics(base_scenario: Path) -> None:
    import revsim

    ds = revsim.simulate(base_scenario, draws=3, seed=1, threads=1)
    check_invariants(ds)
    broken = ds.copy(deep=True)
    broken["win_rate"][1] = np.inf
    with pytest.raises(SimulationError, match=r"win_rate is infinite \(draw 1, month 2027-01\)"):
        check_invariants(broken)
    broken = ds.copy(deep=True)
    broken["active_customers"][0, 2, 0] = -1
    with pytest.raises(SimulationError, match="active_customers is negative in draw 0"):
        check_invariants(broken)
    broken = ds.copy(deep=True)
    broken["arr"][0, 2, 0] += 1.0
    with pytest.raises(SimulationError, match="the ARR bridge does not close in draw 0"):
        check_invariants(broken)


def test_a_run_needs_no_network(base_scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import revsim

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("revsim opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    ds = revsim.simulate(base_scenario, draws=4, seed=2, threads=1)
    assert ds.sizes["draw"] == 4


def test_bad_run_options_in_python_are_input_errors(base_scenario: Path) -> None:
    import revsim

    for options in ({"draws": 0}, {"seed": -1}, {"threads": 0}, {"draws": 1.5}):
        with pytest.raises(InputError):
            revsim.simulate(base_scenario, **options)
