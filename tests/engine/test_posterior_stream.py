"""The inputs read from one posterior file share a stream named by its samples, not by the file's bytes: the
same draws written again (another time, other attributes, another folder) give the same run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr
from posterior_scenarios import posterior_scenario

from revsim.engine.compile import compile_scenario
from revsim.scenario.load import file_sha256
from revsim.scenario.posterior_file import posterior_file

SAMPLES = 400


def _posterior(seed: int = 1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset({
        "acv": (("chain", "draw"), rng.uniform(8_000, 12_000, (2, SAMPLES // 2))),
        "churn": (("chain", "draw"), rng.uniform(0.01, 0.03, (2, SAMPLES // 2))),
    })


def _scenario(folder: Path, posterior: xr.Dataset, attrs: dict[str, str]):
    written = posterior.copy()
    written.attrs = attrs
    return posterior_scenario(folder, written)


def _inputs(scenario) -> dict[str, np.ndarray]:
    compiled = compile_scenario(scenario)
    return compiled._sampled_values(7, 0, 200)


def test_the_same_samples_written_twice_give_the_same_draws(tmp_path: Path) -> None:
    first = _scenario(tmp_path / "a", _posterior(), {"revsim_created_at": "2026-12-05T10:00:00"})
    second = _scenario(tmp_path / "b", _posterior(), {"revsim_created_at": "2026-12-05T11:00:00", "note": "x"})
    assert file_sha256(tmp_path / "a" / "posterior.nc") != file_sha256(tmp_path / "b" / "posterior.nc")
    a, b = _inputs(first), _inputs(second)
    assert a.keys() == b.keys()
    for path in a:
        np.testing.assert_array_equal(a[path], b[path], err_msg=path)


def test_other_samples_give_other_draws(tmp_path: Path) -> None:
    first = _scenario(tmp_path / "a", _posterior(1), {})
    changed = _posterior(1)
    changed["churn"][0, 0] = 0.02  # one sample of one variable
    second = _scenario(tmp_path / "b", changed, {})
    a, b = _inputs(first), _inputs(second)
    assert not np.array_equal(a["pricing.acv"], b["pricing.acv"])  # the shared stream moved every input


def test_the_samples_hash_is_the_documented_one(tmp_path: Path) -> None:
    """docs/model.md: each variable in name order as NAME, dtype, shape (NUL after each), then its values."""
    posterior = _posterior()
    _scenario(tmp_path / "a", posterior, {})
    digest = hashlib.sha256()
    for name in sorted(posterior.data_vars):
        values = posterior[name].values
        digest.update(f"{name}\0<f8\0{values.shape[0]},{values.shape[1]}\0".encode())
        digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    assert posterior_file(tmp_path / "a" / "posterior.nc").samples_sha256() == digest.hexdigest()
