"""The trace's variables computed after sampling from the unconstrained draws, against their closed forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import expit

pm = pytest.importorskip("pymc")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

WEIGHTS = np.array([1.0, 2.0, 3.0])


def small_model(weights: np.ndarray = WEIGHTS) -> Any:
    """Every kind of expanded variable: transformed parameters (log-odds, log) with and without dimensions,
    a deterministic of a parameter and data, a deterministic of data alone, a parameter without transform."""
    with pm.Model(coords={"segment": ["smb", "mid"], "month": ["m1", "m2", "m3"]}) as model:
        weights = pm.Data("weights", weights, dims="month")
        rate = pm.Beta("rate", 2.0, 5.0, dims="segment")
        scale = pm.HalfNormal("scale", 1.0)
        level = pm.Normal("level", 0.0, 1.0)
        pm.Deterministic("weighted", scale * weights, dims="month")
        pm.Deterministic("weights_total", weights.sum())
        pm.Deterministic("odds", rate / (1.0 - rate) + level)
        pm.Binomial("won", n=20, p=rate, observed=[5, 9])
        pm.Normal("y", level + scale * weights, 1.0, observed=[0.5, 1.5, 2.0])
    return model


def expected(values: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    rate, scale = expit(values["rate_logodds__"]), np.exp(values["scale_log__"])
    return {"rate": rate, "scale": scale, "weighted": scale[:, None] * weights,
            "weights_total": np.full(scale.shape, weights.sum()),
            "odds": rate / (1.0 - rate) + values["level"][:, None]}


def draws(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"rate_logodds__": rng.normal(size=(n, 2)), "scale_log__": rng.normal(size=n), "level": rng.normal(size=n)}


def test_every_expanded_variable_equals_its_closed_form_for_every_draw() -> None:
    from revsim.calibrate.expansion import Expansion
    from revsim.calibrate.model_structure import model_structure

    structure = model_structure(small_model())
    expansion = Expansion(structure)
    assert set(structure.value_names) == {"rate_logodds__", "scale_log__", "level"}
    data = dict(zip(structure.data_names, structure.data, strict=True))
    values = draws(50)
    result = expansion(values, data)
    truth = expected(values, WEIGHTS)
    assert sorted(result) == sorted(truth)
    for name, value in truth.items():
        np.testing.assert_allclose(result[name], value, rtol=1e-14, err_msg=name)
        assert result[name].dtype == np.float64 and result[name].flags.c_contiguous
    # new data through the same function (a backtest's next origin), and a batch of one draw
    other = np.array([4.0, 0.5, -1.0])
    data[next(name for name in structure.data_names if name == "weights")] = other
    np.testing.assert_allclose(expansion(values, data)["weighted"], expected(values, other)["weighted"], rtol=1e-14)
    one = {name: value[:1] for name, value in values.items()}
    np.testing.assert_allclose(expansion(one, data)["odds"], expected(one, other)["odds"], rtol=1e-14)


def test_the_posterior_gets_the_models_dimensions_and_coordinates() -> None:
    import xarray as xr

    from revsim.calibrate.expansion import Expansion, expand_posterior
    from revsim.calibrate.model_structure import model_structure

    model = small_model()
    structure = model_structure(model)
    values = draws(2 * 4, seed=1)
    posterior = xr.Dataset(
        {"rate_logodds__": (("chain", "draw", "rate_logodds___dim_0"), values["rate_logodds__"].reshape(2, 4, 2)),
         "scale_log__": (("chain", "draw"), values["scale_log__"].reshape(2, 4)),
         "level": (("chain", "draw"), values["level"].reshape(2, 4))},
        coords={"chain": [0, 1], "draw": np.arange(4)})
    data = dict(zip(structure.data_names, structure.data, strict=True))
    coords = {name: list(value) for name, value in model.coords.items()}
    result = expand_posterior(posterior, Expansion(structure), data, model.named_vars_to_dims, coords)
    assert list(result.data_vars)[:3] == ["rate_logodds__", "scale_log__", "level"]  # the parameters first
    assert result["rate"].dims == ("chain", "draw", "segment")
    assert list(result["rate"].coords["segment"].values) == ["smb", "mid"]
    assert result["weighted"].dims == ("chain", "draw", "month")
    assert result["odds"].dims == ("chain", "draw", "odds_dim_0")
    assert result["scale"].dims == ("chain", "draw")
    truth = expected(values, WEIGHTS)
    for name, value in truth.items():
        np.testing.assert_allclose(result[name].values.reshape(value.shape), value, rtol=1e-14, err_msg=name)
    np.testing.assert_array_equal(result["level"].values, posterior["level"].values)


def test_a_calibration_trace_holds_the_expanded_variables_of_its_own_draws(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    pytest.importorskip("nutpie")
    import nutpie

    from revsim.calibrate.compile_cache import clear_memory, compile_model
    from revsim.calibrate.fit import strict_floating_point

    monkeypatch.setenv("REVSIM_CACHE_DIR", str(tmp_path))
    clear_memory()
    model = small_model()
    with strict_floating_point():
        compiled, report = compile_model(model)
    assert report.source == "compiled"
    assert compiled.n_expanded == compiled.n_dim == 4  # the entry point copies the parameters only
    other = np.array([0.5, 1.0, 7.0])
    fitted = compiled.with_data(weights=other)
    idata = nutpie.sample(fitted, draws=30, tune=30, chains=2, cores=1, seed=3, progress_bar=False)
    assert "rate" not in idata.posterior and "rate_logodds__" in idata.posterior
    posterior = fitted.expand_posterior(idata.posterior)
    values = {name: posterior[name].values.reshape(60, -1).squeeze(-1) if name != "rate_logodds__"
              else posterior[name].values.reshape(60, 2) for name in ("rate_logodds__", "scale_log__", "level")}
    for name, value in expected(values, other).items():
        np.testing.assert_allclose(posterior[name].values.reshape(value.shape), value, rtol=1e-14, err_msg=name)
    assert posterior["rate"].dims == ("chain", "draw", "segment")
    clear_memory()
