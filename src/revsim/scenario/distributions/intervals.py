"""``[low, high]`` intervals: the family fitted to a central interval (beta, lognormal or normal), for the
``[low, high]`` shorthand and ``dist: interval``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from revsim.scenario.distributions.base import DEFAULT_CONFIDENCE, Distribution, _fail, _num, _number, _pct
from revsim.scenario.distributions.parametric import Beta, LogNormal, Normal


def _build_interval(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    low = _number(params["low"], (*path, "low"), "a number for low")
    high = _number(params["high"], (*path, "high"), "a number for high")
    confidence = DEFAULT_CONFIDENCE
    if "confidence" in params:
        confidence = _number(params["confidence"], (*path, "confidence"), "a number for confidence")
        if not 0 < confidence < 1:
            _fail(
                f"the confidence of an interval must be between 0 and 1 (exclusive, e.g. 0.9), got {_num(confidence)}",
                (*path, "confidence"),
            )
    return _interval(low, high, confidence, domain, path)




def _interval(low: float, high: float, confidence: float, domain: str, path: tuple) -> Distribution:
    """The distribution of ``domain``'s family whose central ``confidence`` interval is [low, high]."""
    from scipy import special

    label = f"a {_pct(confidence)} interval"
    got = f"[{_num(low)}, {_num(high)}]"
    if low >= high:
        _fail(f"{label} needs low < high, got {got}", path)
    p_low, p_high = (1 - confidence) / 2, (1 + confidence) / 2
    z = float(special.ndtri(p_high))
    if domain == "probability":
        if low <= 0 or high >= 1:
            _fail(
                f"{label} for a probability needs 0 < low and high < 1, got {got}; for a probability that can be "
                "exactly 0 or 1 use dist: beta (mean, sd) or dist: uniform",
                path,
            )
        fitted = _fit_beta(low, high, p_low, p_high)
        if fitted is None:
            _fail(f"could not fit a beta distribution to {label} {got}; use dist: beta with mean and sd", path)
        return Beta(*fitted)
    if domain in ("positive", "nonnegative"):
        if low == 0 and domain == "nonnegative":
            _fail(
                f"{label} with low = 0 cannot be fitted (it is a lognormal, which is never 0); give a positive "
                f"low (e.g. [{_num(high / 100)}, {_num(high)}]) or use dist: gamma with mean and sd",
                path,
            )
        if low <= 0:
            what = "a positive" if domain == "positive" else "a non-negative"
            _fail(
                f"{label} for {what} quantity needs low > 0 (it is fitted with a lognormal), got {got}; "
                "use dist: gamma with mean and sd, or a positive low",
                path,
            )
        mu = (math.log(low) + math.log(high)) / 2
        return LogNormal(mu, (math.log(high) - math.log(low)) / (2 * z))
    return Normal((low + high) / 2, (high - low) / (2 * z))


def _logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-300, 1 - 1e-16)
    return np.log(q) - np.log1p(-q)


def _fit_beta(low: float, high: float, p_low: float, p_high: float) -> tuple[float, float] | None:
    """Shape parameters of the beta distribution with quantiles ``low`` at ``p_low`` and ``high`` at ``p_high``.

    Solved in (log alpha, log beta) on the logit scale, starting from the logit-normal approximation
    (digamma(a) - digamma(b) ~ log(a / b), trigamma(a) + trigamma(b) ~ 1/a + 1/b). None when no fit
    reaches the quantiles to 1e-9.
    """
    from scipy import special

    probs = np.array([p_low, p_high])
    target = np.array([low, high])
    logit_target = _logit(target)
    mu = float(logit_target.mean())
    s2 = float((logit_target[1] - logit_target[0]) / (special.ndtri(p_high) - special.ndtri(p_low))) ** 2
    start = np.log([(1 + math.exp(mu)) / s2, (1 + math.exp(-mu)) / s2])

    def residual(x: np.ndarray) -> np.ndarray:
        a, b = np.exp(np.clip(x, -700, 700))
        return _logit(special.betaincinv(a, b, probs)) - logit_target

    def error(x: np.ndarray) -> float:
        a, b = np.exp(x)
        q = special.betaincinv(a, b, probs)
        return float(np.max(np.abs(q - target))) if np.all(np.isfinite(q)) else math.inf

    best = _newton_2d(residual, start)
    if best is not None and error(best) > 1e-9:
        best = None
    for x0 in (start, np.zeros(2), start + 1.0, start - 1.0):  # the robust (slower to import) solver
        if best is not None:
            break
        from scipy import optimize

        solution = optimize.root(residual, x0, method="hybr", options={"xtol": 1e-13})
        x = solution.x
        if np.all(np.isfinite(x)) and error(x) <= 1e-9:
            best = x
    if best is None:
        return None
    a, b = np.exp(best)
    return float(a), float(b)


def _newton_2d(residual: Any, x0: np.ndarray, *, tol: float = 1e-13, max_iter: int = 50) -> np.ndarray | None:
    """A root of a smooth map of R^2 by Newton steps with a forward-difference Jacobian and step halving; None
    when it does not converge (the caller then tries a more robust solver)."""
    x = np.asarray(x0, dtype=np.float64)
    f = residual(x)
    for _ in range(max_iter):
        if not np.all(np.isfinite(f)):
            return None
        if np.max(np.abs(f)) <= tol:
            return x
        h = 1e-7 * np.maximum(1.0, np.abs(x))
        jacobian = np.empty((2, 2))
        for j in range(2):
            step = np.zeros(2)
            step[j] = h[j]
            jacobian[:, j] = (residual(x + step) - f) / h[j]
        determinant = jacobian[0, 0] * jacobian[1, 1] - jacobian[0, 1] * jacobian[1, 0]
        if determinant == 0.0 or not math.isfinite(determinant):
            return None
        delta = np.array([jacobian[0, 1] * f[1] - jacobian[1, 1] * f[0],
                          jacobian[1, 0] * f[0] - jacobian[0, 0] * f[1]]) / determinant  # -J^-1 f
        norm = np.max(np.abs(f))
        for _ in range(30):  # halve the step until the residual shrinks
            candidate = x + delta
            f_candidate = residual(candidate)
            if np.all(np.isfinite(f_candidate)) and np.max(np.abs(f_candidate)) < norm:
                break
            delta = delta / 2
        else:
            return None
        if np.max(np.abs(candidate - x)) <= tol * np.maximum(1.0, np.max(np.abs(x))):
            return candidate
        x, f = candidate, f_candidate
    return None
