"""The funnel's conversion likelihood computed in one numba pass (``conversion_kernel``, ``conversion_op``).

The reference is the graph the kernel replaced, kept here: the stock as a product with the lag matrix, the
beta-binomial written with PyTensor's log-gamma functions, and PyTensor's own gradient of it. The values
and gradients must agree within what double precision leaves of a difference of log-gamma functions of
arguments up to about 10^5 (the log-likelihood of a month is such a difference, so its absolute rounding
error is about 10^-10 where its terms are 10^6); any error in the arithmetic or the derivatives shows up
orders of magnitude above that.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytensor = pytest.importorskip("pytensor")
pt = pytest.importorskip("pytensor.tensor")

from revsim.calibrate.conversion_kernel import conversion_terms, log_gamma_and_digamma  # noqa: E402
from revsim.calibrate.conversion_op import ConversionLogp  # noqa: E402
from revsim.calibrate.funnel import conversion_logp, lag_matrix, stage_stock_tensor  # noqa: E402


def reference_conversion_logp(h: Any, p: Any, kappa: Any, trials: np.ndarray, first: Any, y: Any) -> Any:
    """The conversion log-likelihood ``[pair, month]`` as PyTensor operations (the graph before the kernel)."""
    stock, squared = stage_stock_tensor(h, pt.as_tensor(lag_matrix(trials)), first)
    occupied = pt.gt(squared, 0)
    safe_stock = pt.switch(occupied, stock, 1.0)
    safe_squared = pt.switch(occupied, squared, 1.0)
    n = pt.maximum(pt.switch(occupied, safe_stock ** 2 / safe_squared, 0.0), y)
    p_ = p[:, None]
    share = pt.clip(pt.switch(occupied, h[:, None] * safe_squared / safe_stock, 1.0), 1e-12, 1 - 1e-12)
    r = share * p_  # the bounds on the leaving share keep the rate below the conversion
    kappa_ = kappa[:, None]
    kappa_r = (kappa_ + 1) * p_ * (1 - r) / (r * (1 - p_)) - 1
    a, b = r * kappa_r, (1 - r) * kappa_r

    def betaln(u: Any, v: Any) -> Any:
        return pt.gammaln(u) + pt.gammaln(v) - pt.gammaln(u + v)

    logp = (pt.gammaln(n + 1) - pt.gammaln(y + 1) - pt.gammaln(n - y + 1)
            + betaln(y + a, n - y + b) - betaln(a, b))
    return pt.switch(occupied, logp, 0.0)


def funnel_case(seed: int, pairs: int = 6, months: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries, level before the history and conversions: small and large stages, empty first months."""
    rng = np.random.default_rng(seed)
    trials = rng.poisson(rng.uniform(0.5, 400, (pairs, 1)), (pairs, months)).astype(float)
    trials[0, :5] = 0.0  # a channel that starts late, with nobody before the history
    trials[1, :3] = 0.0
    first = rng.uniform(0, 300, pairs)
    first[0] = 0.0
    conversions = rng.binomial(trials.astype(int), 0.3).astype(float)
    return trials, first, conversions


def parameters(rng: np.random.Generator, pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rng.uniform(0.03, 0.99, pairs), rng.uniform(0.01, 0.9, pairs), np.exp(rng.uniform(0, 9, pairs))


def functions(trials: np.ndarray, first: np.ndarray, conversions: np.ndarray, mode: str = "FAST_COMPILE"
              ) -> tuple[Any, Any]:
    """(value and gradient with the kernel, the same with the reference graph) of a weighted sum of months."""
    h, p, kappa = pt.dvector("h"), pt.dvector("p"), pt.dvector("kappa")
    weights = np.linspace(0.5, 1.5, trials.shape[1])  # unequal weights: the months' gradients must each be right
    made = []
    for build in (conversion_logp, reference_conversion_logp):
        total = pt.sum(build(h, p, kappa, trials, first, conversions) * weights)
        made.append(pytensor.function([h, p, kappa], [total, *pytensor.grad(total, [h, p, kappa])], mode=mode))
    return made[0], made[1]


def test_log_gamma_and_digamma_agree_with_the_libraries() -> None:
    from scipy.special import digamma

    xs = np.concatenate([np.linspace(0.05, 10, 400), np.geomspace(10, 1e9, 4000)])
    values = np.array([log_gamma_and_digamma(float(x)) for x in xs])
    glibc = np.array([math.lgamma(x) for x in xs])
    large = xs >= 10  # below 10 the kernel calls numba's lgamma, whose own implementation differs from glibc's
    assert np.all(np.abs(values[large, 0] - glibc[large]) <= 8 * np.spacing(np.abs(glibc[large])))
    np.testing.assert_allclose(values[~large, 0], glibc[~large], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(values[:, 1], digamma(xs), rtol=2e-15, atol=1e-15)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kernel_gives_the_reference_graph_value_and_gradient(seed: int) -> None:
    trials, first, conversions = funnel_case(seed)
    kernel, reference = functions(trials, first, conversions)
    rng = np.random.default_rng(100 + seed)
    for _ in range(40):
        point = parameters(rng, trials.shape[0])
        new, old = kernel(*point), reference(*point)
        np.testing.assert_allclose(new[0], old[0], rtol=1e-10, atol=1e-7)
        for got, expected in zip(new[1:], old[1:], strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7 * np.max(np.abs(expected)))


def test_each_month_matches_the_reference_and_empty_months_count_nothing() -> None:
    trials, first, conversions = funnel_case(4)
    h, p, kappa = parameters(np.random.default_rng(4), trials.shape[0])
    logp, d_h, d_p, d_kappa = conversion_terms(h, p, kappa, trials, first, conversions)
    expected = reference_conversion_logp(pt.as_tensor(h), pt.as_tensor(p), pt.as_tensor(kappa), trials,
                                         pt.as_tensor(first), pt.as_tensor(conversions)).eval()
    np.testing.assert_allclose(logp, expected, rtol=1e-10, atol=1e-7)
    empty = (trials[0] == 0) & (np.arange(trials.shape[1]) < 5)  # nobody yet in the late channel's stage
    assert empty.sum() == 5
    for array in (logp, d_h, d_p, d_kappa):
        assert np.all(array[0, empty] == 0.0)
    assert np.all(logp[0, ~empty] != 0.0)


def test_a_vanishing_conversion_cannot_explain_conversions() -> None:
    # the rate r = q p: with a bound on r itself, a conversion below the bound put r above it, the beta-binomial's
    # parameters turned negative and the log-likelihood rose again as the conversion fell (a trap for a chain)
    months = 24
    trials, first, conversions = np.full((1, months), 3000.0), np.array([3000.0]), np.full((1, months), 750.0)
    for kappa in (300.0, 1e-8):
        totals = [conversion_terms(np.array([0.6]), np.array([p]), np.array([kappa]), trials, first,
                                   conversions)[0].sum() for p in (0.25, 1e-3, 1e-9, 1e-12, 1e-14, 1e-16, 1e-200)]
        assert np.all(np.diff(totals) < 0), totals


def test_the_gradient_matches_central_differences() -> None:
    trials, first, conversions = funnel_case(5, pairs=3, months=12)
    weights = np.linspace(0.5, 1.5, 12)

    def total(point: list[np.ndarray]) -> float:
        return float(np.sum(conversion_terms(*point, trials, first, conversions)[0] * weights))

    rng = np.random.default_rng(5)
    for _ in range(5):
        point = list(parameters(rng, 3))
        terms = conversion_terms(*point, trials, first, conversions)
        for k in range(3):  # hazard, conversion, concentration
            analytic = np.sum(terms[1 + k] * weights, axis=1)
            for i in range(3):
                step = 1e-6 * point[k][i]
                up = [v.copy() for v in point]
                down = [v.copy() for v in point]
                up[k][i] += step
                down[k][i] -= step
                numeric = (total(up) - total(down)) / (2 * step)
                # rounding: |logp| (about 1e3 here) times 1e-16, divided by the step
                assert abs(analytic[i] - numeric) <= 1e-5 * abs(numeric) + 1e-9 * abs(total(point)) / step


def test_the_numba_backend_calls_the_same_kernel() -> None:
    # the data are inputs, as in a calibration (model_structure): numba may fold a constant array into the code
    trials, first, conversions = funnel_case(6)
    inputs = [pt.dvector("h"), pt.dvector("p"), pt.dvector("kappa"), pt.dmatrix("trials"), pt.dvector("first"),
              pt.dmatrix("conversions")]
    outputs = ConversionLogp()(*inputs)
    values = [*parameters(np.random.default_rng(6), trials.shape[0]), trials, first, conversions]
    with pytensor.config.change_flags(numba__fastmath=False):  # as calibrations compile (fit.strict_floating_point)
        numba = pytensor.function(inputs, outputs, mode="NUMBA")(*values)
    python = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(*values)
    for a, b in zip(numba, python, strict=True):
        np.testing.assert_array_equal(a, b)


_FIRST_COMPILED_BY = """
import sys
import numpy as np
import pytensor
import pytensor.tensor as pt
from revsim.calibrate.conversion_op import ConversionLogp
if sys.argv[1] == "fast-math graph":  # the kernel first compiled as the callee of a graph with numba's fast-math
    inputs = [pt.dvector(), pt.dvector(), pt.dvector(), pt.dmatrix(), pt.dvector(), pt.dmatrix()]
    values = [np.full(2, 0.5), np.full(2, 0.3), np.full(2, 50.0), np.full((2, 6), 40.0), np.full(2, 40.0),
              np.full((2, 6), 5.0)]
    with pytensor.config.change_flags(numba__fastmath=True):
        pytensor.function(inputs, ConversionLogp()(*inputs), mode="NUMBA")(*values)
from revsim.calibrate.conversion_kernel import log_gamma_and_digamma
print(repr([log_gamma_and_digamma(float(x)) for x in np.geomspace(10, 1e6, 200)]))
"""


def test_the_kernel_is_the_same_whoever_compiles_it_first(tmp_path: Path) -> None:
    # numba compiles a callee with its caller's fast-math flags unless the callee sets them: a graph compiled
    # with fast-math once made the kernel's log-gamma differ in its last bits, in that process and, through
    # numba's cache, in later ones
    import os
    import subprocess
    import sys

    printed = []
    for first in ("direct call", "fast-math graph"):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / first.replace(" ", "_")),
               "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / first.replace(' ', '_')}_pytensor"}
        done = subprocess.run([sys.executable, "-c", _FIRST_COMPILED_BY, first], capture_output=True, text=True,
                              env=env, check=True)
        printed.append(done.stdout.strip().splitlines()[-1])
    assert printed[0] == printed[1]


def test_misshapen_inputs_are_refused() -> None:
    trials, first, conversions = funnel_case(7)
    with pytest.raises(TypeError, match="trials must have 2 dimension"):
        ConversionLogp()(pt.dvector(), pt.dvector(), pt.dvector(), trials[0], first, conversions)
    op = ConversionLogp()(pt.dvector("h"), pt.dvector("p"), pt.dvector("k"), trials, first, conversions)[0]
    function = pytensor.function(list(op.owner.inputs[:3]), op, mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="hazard has shape"):
        function(np.full(2, 0.5), np.full(6, 0.3), np.full(6, 50.0))
