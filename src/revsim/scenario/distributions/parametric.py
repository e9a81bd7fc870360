"""The parametric families: beta, normal, lognormal, gamma, triangular, PERT and uniform, and how each
is built from its ``dist:`` parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from revsim.scenario.distributions.base import Distribution, _fail, _fmt, _num, _number, _ScipyDistribution


@dataclass(frozen=True)
class Beta(_ScipyDistribution):
    """Beta distribution on [0, 1] with shape parameters ``alpha`` and ``beta``."""

    alpha: float
    beta: float
    kind = "beta"

    def scipy(self) -> Any:
        from scipy import stats

        return stats.beta(self.alpha, self.beta)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import special

        return np.asarray(special.betaincinv(self.alpha, self.beta, np.asarray(u, dtype=np.float64)), np.float64)

    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def sd(self) -> float:
        a, b = self.alpha, self.beta
        return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    def describe(self) -> str:
        return f"beta(mean={_fmt(self.mean())}, sd={_fmt(self.sd())})"

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0


def _lower_tail_ppf(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Quantiles ``u`` of the standard normal truncated to [a, b] with b <= 0, from the logarithm of its CDF."""
    from scipy import special

    log_a, log_b = special.log_ndtr(a), special.log_ndtr(b)
    with np.errstate(divide="ignore"):  # u = 0 or 1: the bounds themselves
        log_p = np.logaddexp(log_a + np.log1p(-u), log_b + np.log(u))
    return special.ndtri_exp(log_p)


def _upper_tail_mean(a: float, b: float) -> float:
    """Mean of the standard normal truncated to [a, b] with b > 0 and a < b: (phi(a) - phi(b)) / mass, with
    the mass and densities taken relative to the tail beyond ``a`` when a > 0 (both underflow far out)."""
    from scipy import special

    if a <= 0:
        density = (math.exp(-a * a / 2) if math.isfinite(a) else 0.0) - (math.exp(-b * b / 2) if math.isfinite(b) else 0.0)
        return density / math.sqrt(2 * math.pi) / float(special.ndtr(b) - special.ndtr(a))
    # phi(a) / Q(a) in logarithms, then both terms relative to the tail beyond a
    ratio = math.exp(-a * a / 2 - 0.5 * math.log(2 * math.pi) - float(special.log_ndtr(-a)))
    kept = -math.expm1(float(special.log_ndtr(-b)) - float(special.log_ndtr(-a))) if math.isfinite(b) else 1.0
    density_left = -math.expm1(-(b * b - a * a) / 2) if math.isfinite(b) else 1.0
    return ratio * density_left / kept


@dataclass(frozen=True)
class Normal(_ScipyDistribution):
    """Normal distribution with mean ``mu`` and standard deviation ``sigma``, truncated to [low, high]."""

    mu: float
    sigma: float
    low: float = -math.inf
    high: float = math.inf
    kind = "normal"

    @property
    def truncated(self) -> bool:
        return math.isfinite(self.low) or math.isfinite(self.high)

    def scipy(self) -> Any:
        from scipy import stats

        if not self.truncated:
            return stats.norm(self.mu, self.sigma)
        a = (self.low - self.mu) / self.sigma
        b = (self.high - self.mu) / self.sigma
        return stats.truncnorm(a, b, loc=self.mu, scale=self.sigma)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import special

        u = np.asarray(u, dtype=np.float64)
        if not self.truncated:
            return self.mu + self.sigma * special.ndtri(u)
        a = (self.low - self.mu) / self.sigma
        b = (self.high - self.mu) / self.sigma
        if b <= 0:  # wholly in the lower tail: in logarithms, exact however far out (40 sd: 1e-350)
            z = _lower_tail_ppf(a, b, u)
        elif a >= 0:  # wholly in the upper tail: the mirror image
            z = -_lower_tail_ppf(-b, -a, 1.0 - u)
        else:  # around the median: at least half of the mass is between the bounds' tails, ndtr is exact
            mass = special.ndtr(b) - special.ndtr(a)
            with np.errstate(invalid="ignore", divide="ignore"):
                below = special.ndtr(a) + u * mass
                lower = special.ndtri(below)
                upper = -special.ndtri(special.ndtr(-b) + (1.0 - u) * mass)
            z = np.where(below <= 0.5, lower, upper)
        return np.clip(self.mu + self.sigma * z, self.low, self.high)

    def mean(self) -> float:
        if not self.truncated:
            return self.mu
        a = (self.low - self.mu) / self.sigma
        b = (self.high - self.mu) / self.sigma
        if b <= 0:
            return self.mu - self.sigma * _upper_tail_mean(-b, -a)
        return self.mu + self.sigma * _upper_tail_mean(a, b)

    def describe(self) -> str:
        text = f"normal(mean={_fmt(self.mu)}, sd={_fmt(self.sigma)}"
        if math.isfinite(self.low):
            text += f", low={_fmt(self.low)}"
        if math.isfinite(self.high):
            text += f", high={_fmt(self.high)}"
        return text + ")"

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class LogNormal(_ScipyDistribution):
    """Lognormal distribution: ``log X`` is normal with mean ``mu`` and standard deviation ``sigma``."""

    mu: float
    sigma: float
    kind = "lognormal"

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    def scipy(self) -> Any:
        from scipy import stats

        return stats.lognorm(self.sigma, scale=math.exp(self.mu))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import special

        return np.exp(self.sigma * special.ndtri(np.asarray(u, dtype=np.float64))) * math.exp(self.mu)

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def describe(self) -> str:
        return f"lognormal(median={_fmt(self.median)}, sigma={_fmt(self.sigma)})"

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class Gamma(_ScipyDistribution):
    """Gamma distribution with ``shape`` and ``scale`` (mean = shape * scale)."""

    shape: float
    scale: float
    kind = "gamma"

    def scipy(self) -> Any:
        from scipy import stats

        return stats.gamma(self.shape, scale=self.scale)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import special

        return special.gammaincinv(self.shape, np.asarray(u, dtype=np.float64)) * self.scale

    def mean(self) -> float:
        return self.shape * self.scale

    def describe(self) -> str:
        return f"gamma(shape={_fmt(self.shape)}, scale={_fmt(self.scale)})"

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


@dataclass(frozen=True)
class Triangular(_ScipyDistribution):
    """Triangular distribution on [low, high] peaking at ``mode``."""

    low: float
    mode: float
    high: float
    kind = "triangular"

    def scipy(self) -> Any:
        from scipy import stats

        width = self.high - self.low
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        width = self.high - self.low
        c = (self.mode - self.low) / width
        with np.errstate(invalid="ignore"):
            x = np.where(u < c, np.sqrt(c * u), 1.0 - np.sqrt((1.0 - c) * (1.0 - u)))
        return x * width + self.low

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def describe(self) -> str:
        return f"triangular(low={_fmt(self.low)}, mode={_fmt(self.mode)}, high={_fmt(self.high)})"

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Pert(_ScipyDistribution):
    """Beta-PERT distribution on [low, high] with most likely value ``mode`` and weight ``lam`` (lambda)."""

    low: float
    mode: float
    high: float
    lam: float = 4.0
    kind = "pert"

    @property
    def shape_parameters(self) -> tuple[float, float]:
        width = self.high - self.low
        alpha = 1 + self.lam * (self.mode - self.low) / width
        beta = 1 + self.lam * (self.high - self.mode) / width
        return alpha, beta

    def scipy(self) -> Any:
        from scipy import stats

        alpha, beta = self.shape_parameters
        return stats.beta(alpha, beta, loc=self.low, scale=self.high - self.low)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import special

        alpha, beta = self.shape_parameters
        return special.betaincinv(alpha, beta, np.asarray(u, dtype=np.float64)) * (self.high - self.low) + self.low

    def mean(self) -> float:
        return (self.low + self.lam * self.mode + self.high) / (self.lam + 2)

    def describe(self) -> str:
        text = f"pert(min={_fmt(self.low)}, mode={_fmt(self.mode)}, max={_fmt(self.high)}"
        if self.lam != 4:
            text += f", lambda={_fmt(self.lam)}"
        return text + ")"

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Uniform(_ScipyDistribution):
    """Uniform distribution on [low, high]."""

    low: float
    high: float
    kind = "uniform"

    def scipy(self) -> Any:
        from scipy import stats

        return stats.uniform(self.low, self.high - self.low)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        return self.low + u * (self.high - self.low)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def describe(self) -> str:
        return f"uniform(low={_fmt(self.low)}, high={_fmt(self.high)})"

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)



def _positive(params: dict[str, Any], key: str, family: str, path: tuple) -> float:
    x = _number(params[key], (*path, key), f"a number for {key}")
    if x <= 0:
        _fail(f"the {key} of a {family} distribution must be positive, got {_num(x)}", (*path, key))
    return x


def _build_beta(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    if "alpha" in params:
        return Beta(_positive(params, "alpha", "beta", path), _positive(params, "beta", "beta", path))
    mean = _number(params["mean"], (*path, "mean"), "a number for mean")
    if not 0 < mean < 1:
        _fail(f"the mean of a beta distribution must be between 0 and 1 (exclusive), got {_num(mean)}", (*path, "mean"))
    sd = _positive(params, "sd", "beta", path)
    limit = math.sqrt(mean * (1 - mean))
    if sd >= limit:
        _fail(
            f"the sd of a beta distribution with mean {_num(mean)} must be below sqrt(mean * (1 - mean)) = "
            f"{_fmt(limit)}, got {_num(sd)}",
            (*path, "sd"),
        )
    kappa = mean * (1 - mean) / sd**2 - 1
    return Beta(mean * kappa, (1 - mean) * kappa)


def _build_normal(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    mean = _number(params["mean"], (*path, "mean"), "a number for mean")
    sd = _positive(params, "sd", "normal", path)
    low = _number(params["low"], (*path, "low"), "a number for low") if "low" in params else -math.inf
    high = _number(params["high"], (*path, "high"), "a number for high") if "high" in params else math.inf
    if low >= high:
        _fail(f"a truncated normal needs low < high, got low {_num(low)} and high {_num(high)}", path)
    return Normal(mean, sd, low, high)


def _build_lognormal(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    if "median" in params:
        median = _positive(params, "median", "lognormal", path)
        return LogNormal(math.log(median), _positive(params, "sigma", "lognormal", path))
    mean = _positive(params, "mean", "lognormal", path)
    sd = _positive(params, "sd", "lognormal", path)
    sigma2 = math.log1p((sd / mean) ** 2)
    return LogNormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def _build_gamma(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    if "shape" in params:
        return Gamma(_positive(params, "shape", "gamma", path), _positive(params, "scale", "gamma", path))
    mean = _positive(params, "mean", "gamma", path)
    sd = _positive(params, "sd", "gamma", path)
    return Gamma((mean / sd) ** 2, sd**2 / mean)


def _build_triangular(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    low, mode, high = (_number(params[k], (*path, k), f"a number for {k}") for k in ("low", "mode", "high"))
    if low >= high:
        _fail(f"a triangular distribution needs low < high, got low {_num(low)} and high {_num(high)}", path)
    if not low <= mode <= high:
        _fail(
            f"the mode of a triangular distribution must be between low and high, got mode {_num(mode)} "
            f"outside [{_num(low)}, {_num(high)}]",
            (*path, "mode"),
        )
    return Triangular(low, mode, high)


def _build_pert(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    keys = ("min", "mode", "max") if "min" in params else ("low", "mode", "high")  # either spelling
    low, mode, high = (_number(params[k], (*path, k), f"a number for {k}") for k in keys)
    if low >= high:
        _fail(f"a pert distribution needs min < max, got min {_num(low)} and max {_num(high)}", path)
    if not low <= mode <= high:
        _fail(
            f"the mode of a pert distribution must be between min and max, got mode {_num(mode)} "
            f"outside [{_num(low)}, {_num(high)}]",
            (*path, "mode"),
        )
    lam = _positive(params, "lambda", "pert", path) if "lambda" in params else 4.0
    return Pert(low, mode, high, lam)


def _build_uniform(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    low = _number(params["low"], (*path, "low"), "a number for low")
    high = _number(params["high"], (*path, "high"), "a number for high")
    if low >= high:
        _fail(f"a uniform distribution needs low < high, got low {_num(low)} and high {_num(high)}", path)
    return Uniform(low, high)
