"""The retention log-likelihood computed in one numba pass (``survival_kernel``, ``survival_op``).

The reference is the graph the kernel replaced, kept here (the slices of the log-survival, the minimum,
``log1mexp`` and the masked products, with PyTensor's own gradient of them), and the NumPy likelihood the
fits' checks use (:func:`revsim.calibrate.retention.sufficient_loglik`). The values are sums of a few hundred
terms of size up to 10^4: they agree within 1e-12, relative; any error in the arithmetic or the derivatives
shows up orders of magnitude above that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytensor = pytest.importorskip("pytensor")
pt = pytest.importorskip("pytensor.tensor")

from revsim.calibrate.retention import sufficient_loglik  # noqa: E402
from revsim.calibrate.survival_kernel import SMALLEST_STEP, survival_terms  # noqa: E402
from revsim.calibrate.survival_op import SurvivalLogp, survival_logp  # noqa: E402


def reference_loglik(log_surv: Any, deaths: Any, survivors: Any) -> Any:
    """The retention log-likelihood as PyTensor operations (the graph before the kernel)."""
    step = pt.minimum(log_surv[:, 1:] - log_surv[:, :-1], SMALLEST_STEP)
    log_p = log_surv[:, :-1] + pt.log1mexp(step)
    total = pt.sum(pt.switch(pt.gt(deaths, 0), deaths * log_p, 0.0))
    return total + pt.sum(survivors * log_surv)


def retention_case(seed: int, segments: int = 3, events: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log S after each event (decreasing, with a step flatter than the bound and a steep one), deaths and
    survivors (with events nobody died at)."""
    rng = np.random.default_rng(seed)
    steps = -rng.gamma(0.6, 0.3, (segments, events))
    steps[0, 2] = -1e-15  # flatter than the bound: the minimum holds the step at SMALLEST_STEP
    steps[1, 0] = -6.0  # nearly everybody leaves: log1mexp's other branch
    log_surv = np.concatenate([np.zeros((segments, 1)), np.cumsum(steps, axis=1)], axis=1)
    log_surv[2, :] += np.log(0.8) * (np.arange(events + 1) >= 1)  # an onboarding event shifts every later value
    deaths = rng.poisson(40.0, (segments, events)).astype(float)
    deaths[:, -2:] = 0.0
    deaths[2, 4] = 0.0
    survivors = rng.poisson(300.0, (segments, events + 1)).astype(float)
    survivors[:, 0] = 0.0
    return log_surv, deaths, survivors


def reference_function() -> Any:
    """The reference's value and gradient with respect to the log-survival."""
    log_surv, deaths, survivors = pt.dmatrix("log_surv"), pt.dmatrix("deaths"), pt.dmatrix("survivors")
    value = reference_loglik(log_surv, deaths, survivors)
    gradient = pytensor.grad(value, log_surv)
    return pytensor.function([log_surv, deaths, survivors], [value, gradient], mode="FAST_COMPILE")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_kernel_gives_the_reference_graph_value_and_gradient(seed: int) -> None:
    reference = reference_function()
    case = retention_case(seed)
    value, gradient = survival_terms(*case)
    expected_value, expected_gradient = reference(*case)
    assert value.shape == () and gradient.shape == case[0].shape
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=1e-12 * np.abs(expected_gradient).max())
    np.testing.assert_allclose(value, sufficient_loglik(*case), rtol=1e-12)


def test_the_gradient_matches_central_differences() -> None:
    log_surv, deaths, survivors = retention_case(5)
    _, gradient = survival_terms(log_surv, deaths, survivors)
    for s in range(log_surv.shape[0]):
        for i in range(log_surv.shape[1]):
            step = 1e-7
            up, down = log_surv.copy(), log_surv.copy()
            up[s, i] += step
            down[s, i] -= step
            rise = survival_terms(up, deaths, survivors)[0] - survival_terms(down, deaths, survivors)[0]
            numeric = rise / (2 * step)
            if (s, i) in ((0, 2), (0, 3)):  # the step held at the bound: no derivative through it
                continue
            # rounding: |logp| (about 1e4) times 1e-16, divided by the step
            assert abs(gradient[s, i] - numeric) <= 1e-6 * abs(numeric) + 1e-4, (s, i)


def test_an_impossible_death_makes_the_likelihood_minus_infinity_or_nan() -> None:
    log_surv, deaths, survivors = retention_case(6)
    log_surv[1, 3:] = -np.inf  # nobody survives the third event, yet customers are counted after it
    value, _ = survival_terms(log_surv, deaths, survivors)
    assert not np.isfinite(value)


def test_the_gradient_flows_through_the_operation_as_through_the_reference() -> None:
    # the operation inside a larger graph (as in the model: log-survival from parameters), through
    # PyTensor's gradient, with the data as inputs
    alpha, beta = pt.dvector("alpha"), pt.dvector("beta")
    deaths, survivors = pt.dmatrix("deaths"), pt.dmatrix("survivors")
    renewals = pt.as_tensor(np.arange(10.0))[None, :]
    log_surv = (pt.gammaln(beta[:, None] + renewals) - pt.gammaln(alpha[:, None] + beta[:, None] + renewals)
                + pt.gammaln(alpha + beta)[:, None] - pt.gammaln(beta)[:, None])
    outputs = {}
    for name, value in (("kernel", survival_logp(log_surv, deaths, survivors)),
                        ("reference", reference_loglik(log_surv, deaths, survivors))):
        outputs[name] = [value, *pytensor.grad(value, [alpha, beta])]
    _, data_deaths, data_survivors = retention_case(7)
    point = [np.array([0.7, 1.5, 3.0]), np.array([4.0, 9.0, 2.5]), data_deaths, data_survivors]
    kernel = pytensor.function([alpha, beta, deaths, survivors], outputs["kernel"], mode="FAST_COMPILE")(*point)
    reference = pytensor.function([alpha, beta, deaths, survivors], outputs["reference"], mode="FAST_COMPILE")(*point)
    for a, b in zip(kernel, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_the_numba_backend_calls_the_same_kernel() -> None:
    inputs = [pt.dmatrix("log_surv"), pt.dmatrix("deaths"), pt.dmatrix("survivors")]
    outputs = SurvivalLogp()(*inputs)
    case = retention_case(8)
    with pytensor.config.change_flags(numba__fastmath=False):  # as calibrations compile (fit.strict_floating_point)
        numba = pytensor.function(inputs, outputs, mode="NUMBA")(*case)
    python = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(*case)
    for a, b in zip(numba, python, strict=True):
        np.testing.assert_array_equal(a, b)


def test_misshapen_inputs_are_refused() -> None:
    log_surv, deaths, survivors = retention_case(9)
    with pytest.raises(TypeError, match="deaths must have 2 dimensions"):
        SurvivalLogp()(pt.dmatrix(), pt.dvector(), pt.dmatrix())
    inputs = [pt.dmatrix(), pt.dmatrix(), pt.dmatrix()]
    function = pytensor.function(inputs, SurvivalLogp()(*inputs)[0], mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="do not match"):
        function(log_surv, deaths[:, :-1], survivors)
