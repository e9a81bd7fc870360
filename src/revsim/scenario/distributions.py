"""Uncertain numeric inputs: constants and distributions, parsed from scenario files.

Every numeric input of a scenario can be written as

* a number, ``0.3``, or an amount shorthand, ``"12M"``, ``"250k"``, ``"$1.5B"``, ``"12_000"``: a constant;
* a list ``[low, high]``: a 90% interval (``low`` is the 5% quantile, ``high`` the 95% quantile), fitted by a
  beta distribution for probabilities, a lognormal for positive or non-negative quantities and a normal
  otherwise;
* a mapping with a ``dist:`` key naming a family (``beta``, ``normal``, ``lognormal``, ``gamma``,
  ``triangular``, ``pert``, ``uniform``, ``interval``, ``empirical``, ``posterior``) and its parameters.

:func:`parse_uncertain` turns such a value into a :class:`Distribution`, checking that the parameters are
possible and that the distribution's support fits the input's :data:`Domain`. Distributions are sampled by
inverse CDF (:meth:`Distribution.ppf`) so that the engine controls the uniforms (and can correlate them).

>>> parse_uncertain([0.2, 0.4], "probability").describe()
'beta(mean=0.2958, sd=0.06083)'
>>> parse_uncertain("1.5M", "positive").describe()
'1500000'
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from os import PathLike
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

import numpy as np

from revsim.errors import InputError, did_you_mean

__all__ = [
    "Domain",
    "DOMAINS",
    "DISTRIBUTION_NAMES",
    "Distribution",
    "Constant",
    "Beta",
    "Normal",
    "LogNormal",
    "Gamma",
    "Triangular",
    "Pert",
    "Uniform",
    "Empirical",
    "Posterior",
    "parse_uncertain",
    "parse_amount",
]

#: What values a numeric input may take: ``probability`` in [0, 1], ``positive`` > 0,
#: ``nonnegative`` >= 0, ``real`` anything.
Domain = Literal["probability", "positive", "nonnegative", "real"]
DOMAINS: tuple[str, ...] = get_args(Domain)

#: Largest CSV file an ``empirical`` distribution may read.
EMPIRICAL_MAX_BYTES = 50 * 1024 * 1024
#: Largest netCDF file a ``posterior`` distribution may read.
POSTERIOR_MAX_BYTES = 500 * 1024 * 1024
#: Number of quantiles averaged by :meth:`Distribution.mean` when there is no closed form.
_MEAN_POINTS = 20_000
#: Central coverage of the ``[low, high]`` shorthand.
DEFAULT_CONFIDENCE = 0.9


# ---------------------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------------------


def _num(x: float) -> str:
    """A number as a user would write it, at full precision: ``0.3``, ``12000000``, ``1e-07``."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e16:
        return str(int(x))
    if 1e-4 <= abs(x) < 1e16:
        return np.format_float_positional(x, trim="-")
    return repr(x)


def _fmt(x: float, digits: int = 4) -> str:
    """A number rounded to ``digits`` significant digits, without exponent for ordinary magnitudes."""
    x = float(x)
    if not math.isfinite(x) or x == 0:
        return _num(x)
    if 1e-4 <= abs(x) < 1e16:
        return np.format_float_positional(x, precision=digits, fractional=False, trim="-")
    return f"{x:.{digits}g}"


def _pct(p: float) -> str:
    return f"{p * 100:g}%"


def _fail(message: str, path: Sequence[str | int]) -> NoReturn:
    raise InputError.single(message, path=tuple(path))


def _with_hint(message: str, word: Any, choices: Sequence[str]) -> str:
    hint = did_you_mean(str(word), choices)
    return f"{message}; did you mean '{hint}'?" if hint else message


# ---------------------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------------------


class Distribution(ABC):
    """An uncertain numeric input, sampled by inverse CDF.

    Instances are immutable. ``group`` is None except for inputs that must be drawn jointly: every
    distribution with the same (non-None) group is evaluated at the same uniform in each draw.
    """

    kind: str = ""
    group: str | None = None

    @abstractmethod
    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF, vectorised: values at the uniforms ``u`` in (0, 1), as float64 of ``u``'s shape."""

    def mean(self) -> float:
        """The mean (analytic where there is a closed form, else the average of 20,000 quantiles)."""
        u = (np.arange(_MEAN_POINTS, dtype=np.float64) + 0.5) / _MEAN_POINTS
        return float(np.mean(self.ppf(u)))

    @abstractmethod
    def describe(self) -> str:
        """Short human text: ``beta(mean=0.3, sd=0.05)``, ``0.3``."""

    @abstractmethod
    def support(self) -> tuple[float, float]:
        """The smallest and largest values a draw can take (possibly infinite)."""

    @property
    def is_constant(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.describe()


class _ScipyDistribution(Distribution):
    """A distribution with an equivalent frozen :mod:`scipy.stats` distribution.

    Each family computes its quantiles, mean and support itself, with :mod:`scipy.special` (the functions
    scipy.stats calls): importing scipy.stats takes about half a second, more than a small run. The frozen
    distribution is for checking them.
    """

    @abstractmethod
    def scipy(self) -> Any:
        """The equivalent frozen :mod:`scipy.stats` distribution."""


@dataclass(frozen=True)
class Constant(Distribution):
    """A known value."""

    value: float
    kind = "constant"

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=np.float64)

    def mean(self) -> float:
        return float(self.value)

    def describe(self) -> str:
        return _num(self.value)

    def support(self) -> tuple[float, float]:
        return float(self.value), float(self.value)

    @property
    def is_constant(self) -> bool:
        return True


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


def _frozen_samples(values: np.ndarray) -> np.ndarray:
    samples = np.array(values, dtype=np.float64).reshape(-1)
    samples.flags.writeable = False
    return samples


class _Samples(Distribution):
    """Values read from a file, drawn as ``sample * scale + shift``.

    ``samples`` are the file's values as read; ``values`` the values drawn. ``shift`` and ``scale`` (0 and 1
    unless a scenario or a lever says otherwise) move and stretch every sample, which keeps the samples' order
    and, for a posterior, which sample each draw takes.
    """

    samples: np.ndarray
    shift: float
    scale: float

    def _transform(self) -> None:
        object.__setattr__(self, "samples", _frozen_samples(self.samples))
        values = self.samples if self.is_unchanged else self.samples * float(self.scale) + float(self.shift)
        object.__setattr__(self, "_values", _frozen_samples(values))

    @property
    def values(self) -> np.ndarray:
        """The values drawn: every sample times ``scale`` plus ``shift``."""
        return self._values  # type: ignore[attr-defined, no-any-return]

    @property
    def is_unchanged(self) -> bool:
        return float(self.shift) == 0.0 and float(self.scale) == 1.0

    def mean(self) -> float:
        return float(np.mean(self.values))

    def support(self) -> tuple[float, float]:
        return float(self.values.min()), float(self.values.max())

    def transform_text(self) -> str:
        """``""``, or how the samples are changed: ``" scaled by 1.1 and shifted by +0.03"``."""
        parts = []
        if float(self.scale) != 1.0:
            parts.append(f"scaled by {_fmt(self.scale, 6)}")
        if float(self.shift) != 0.0:
            parts.append(f"shifted by {'-' if self.shift < 0 else '+'}{_fmt(abs(self.shift), 6)}")
        return (" " + " and ".join(parts)) if parts else ""


@dataclass(frozen=True, eq=False)
class Empirical(_Samples):
    """The empirical distribution of observed values (quantiles are actual observations, shifted and scaled)."""

    samples: np.ndarray = field(repr=False)
    source: str = ""
    column: str = ""
    notes: tuple[str, ...] = ()
    path: str = field(default="", repr=False)
    shift: float = 0.0
    scale: float = 1.0
    kind = "empirical"

    def __post_init__(self) -> None:
        self._transform()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        return np.asarray(np.quantile(self.values, u, method="inverted_cdf"), dtype=np.float64)

    def describe(self) -> str:
        return f"empirical({self.source}, column={self.column}, n={self.samples.size}){self.transform_text()}"


@dataclass(frozen=True, eq=False)
class Posterior(_Samples):
    """Posterior samples of one variable (stacked over chain and draw), drawn jointly per file.

    ``ppf(u)`` is the value at index ``floor(u * n)``: the samples are *not* sorted, so that all inputs of
    one ``group`` (one file) evaluated at the same uniform come from the same posterior draw, keeping the
    posterior's dependence between variables. ``shift`` and ``scale`` change the value, not the index.
    """

    samples: np.ndarray = field(repr=False)
    source: str = ""
    var: str = ""
    coords: tuple[tuple[str, Any], ...] = ()
    group: str | None = None
    path: str = field(default="", repr=False)
    shift: float = 0.0
    scale: float = 1.0
    kind = "posterior"

    def __post_init__(self) -> None:
        self._transform()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        n = self.values.size
        index = np.clip(np.floor(u * n).astype(np.int64), 0, n - 1)
        return self.values[index]

    def describe(self) -> str:
        sel = ", ".join(f"{k}={v}" for k, v in self.coords)
        name = f"{self.var}[{sel}]" if sel else self.var
        return f"posterior({self.source}: {name}, n={self.samples.size}){self.transform_text()}"


# ---------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------

_DIGITS = r"\d+(?:_\d+)*"
_AMOUNT = re.compile(
    rf"""^\s*
    (?P<sign>[-+])?\s*
    (?:[$\u20ac\u00a3])?\s*
    (?P<number>(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?\d+)?)\s*
    (?P<suffix>[kKmMbB])?\s*$""",
    re.VERBOSE,
)
_MULTIPLIERS = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def parse_amount(text: str) -> float | None:
    """Parse an amount shorthand (``"12M"``, ``"$250k"``, ``"1.5B"``, ``"12_000"``); None if it is not one."""
    match = _AMOUNT.match(text)
    if not match:
        return None
    try:
        number = Decimal(match["number"].replace("_", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid decimals
        return None
    try:
        value = float(number * _MULTIPLIERS[(match["suffix"] or "").lower()])
    except ArithmeticError:  # an exponent beyond what decimals hold (1e9999999): not finite, refused as such
        value = math.inf
    return -value if match["sign"] == "-" else value


def _describe_type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'"
    return f"a {type(value).__name__}"


def _number(value: Any, path: Sequence[str | int], what: str = "a number") -> float:
    """A finite float from a number or an amount shorthand string; InputError otherwise."""
    if isinstance(value, bool) or value is None:
        _fail(f"expected {what}, got {_describe_type(value)}", path)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str):
        parsed = parse_amount(value)
        if parsed is None:
            _fail(f"expected {what}, got '{value}' (amounts can be written like 12M, 250k, 1.5B or 12_000)", path)
        number = parsed
    else:
        _fail(f"expected {what}, got {_describe_type(value)}", path)
    if not math.isfinite(number):
        _fail(f"expected a finite number, got {_num(number)}", path)
    return number


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------

#: For each family: the alternative sets of required parameters, and the optional parameters.
_FAMILIES: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]] = {
    "beta": ((("mean", "sd"), ("alpha", "beta")), ()),
    "normal": ((("mean", "sd"),), ("low", "high")),
    "lognormal": ((("median", "sigma"), ("mean", "sd")), ()),
    "gamma": ((("shape", "scale"), ("mean", "sd")), ()),
    "triangular": ((("low", "mode", "high"),), ()),
    "pert": ((("min", "mode", "max"), ("low", "mode", "high")), ("lambda",)),
    "uniform": ((("low", "high"),), ()),
    "interval": ((("low", "high"),), ("confidence",)),
    "empirical": ((("file",),), ("column", "shift", "scale")),
    "posterior": ((("file", "var"),), ("coords", "shift", "scale")),
}
DISTRIBUTION_NAMES: tuple[str, ...] = tuple(_FAMILIES)


def parse_uncertain(
    value: Any,
    domain: Domain,
    *,
    base_dir: Path | None = None,
    path: tuple = (),
) -> Distribution:
    """Parse a scenario's numeric input into a :class:`Distribution` and check it fits ``domain``.

    Parameters
    ----------
    value
        A number or amount shorthand (a constant), a ``[low, high]`` 90% interval, or a mapping with a
        ``dist:`` key. A :class:`Distribution` is accepted as is (and checked against ``domain``).
    domain
        ``"probability"`` ([0, 1]), ``"positive"`` (> 0), ``"nonnegative"`` (>= 0) or ``"real"``.
    base_dir
        Directory that relative ``file:`` paths (``empirical``, ``posterior``) are resolved against; the
        current directory when None.
    path
        Where the value is in the scenario, for error messages.

    Raises
    ------
    InputError
        With one problem describing what is wrong, with the offending value.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    path = tuple(path)
    if isinstance(value, Distribution):
        dist = value
    elif isinstance(value, Mapping):
        dist = _parse_mapping(value, domain, base_dir, path)
    elif isinstance(value, list | tuple):
        dist = _parse_interval_list(value, domain, path)
    elif isinstance(value, int | float | str | np.integer | np.floating) and not isinstance(value, bool):
        dist = Constant(_number(value, path))
    else:
        _fail(
            "expected a number, a [low, high] interval or a distribution (a mapping with dist:), "
            f"got {_describe_type(value)}",
            path,
        )
    _check_domain(dist, domain, path)
    return dist


def _parse_interval_list(value: Sequence[Any], domain: str, path: tuple) -> Distribution:
    if len(value) != 2:
        _fail(f"a [low, high] interval needs exactly 2 numbers, got {len(value)}", path)
    low = _number(value[0], (*path, 0), "a number for low")
    high = _number(value[1], (*path, 1), "a number for high")
    return _interval(low, high, DEFAULT_CONFIDENCE, domain, path)


def _parse_mapping(value: Mapping[Any, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    names = ", ".join(DISTRIBUTION_NAMES)
    if "dist" not in value:
        if not value:
            _fail(
                "expected a number, a [low, high] interval or a distribution (a mapping with dist:), "
                "got an empty mapping",
                path,
            )
        message = f"a distribution needs a 'dist' key (one of {names})"
        near = [k for k in value if did_you_mean(str(k), ["dist"])]
        if near:
            message += f"; did you mean 'dist' instead of '{near[0]}'?"
        _fail(message, path)
    name = value["dist"]
    if not isinstance(name, str):
        _fail(f"dist must be the name of a distribution ({names}), got {_describe_type(name)}", (*path, "dist"))
    family = name.strip().lower()
    if family not in _FAMILIES:
        message = _with_hint(f"unknown distribution '{name}' (known: {names})", family, DISTRIBUTION_NAMES)
        _fail(message, (*path, "dist"))
    params = _select_parameters(value, family, path)
    builder = _BUILDERS[family]
    return builder(params, domain, base_dir, path)


def _select_parameters(value: Mapping[Any, Any], family: str, path: tuple) -> dict[str, Any]:
    """Check the keys of a ``dist:`` mapping; return the parameters (without ``dist``)."""
    alternatives, optional = _FAMILIES[family]
    allowed = [k for alt in alternatives for k in alt] + list(optional)
    given = [k for k in value if k != "dist"]
    for key in given:
        if key not in allowed:
            message = f"unknown key '{key}' for dist: {family} (expected {_keys_text(alternatives, optional)})"
            _fail(_with_hint(message, key, [k for k in allowed if k not in given]), (*path, key))
    shared = set.intersection(*(set(alt) for alt in alternatives))  # e.g. pert's 'mode' in both spellings
    used = [alt for alt in alternatives if any(k in given and k not in shared for k in alt)]
    if not used and any(k in shared for k in given):
        used = [alternatives[0]]
    if len(used) > 1:
        choices = " or ".join(" and ".join(alt) for alt in used)
        _fail(f"dist: {family} takes either {choices}, not a mix of them", path)
    if not used:
        _fail(f"dist: {family} needs {_keys_text(alternatives, ())}", path)
    missing = [k for k in used[0] if k not in given]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        keys = ", ".join(f"'{k}'" for k in missing)
        _fail(f"dist: {family} is missing the required key{plural} {keys} (it needs {' and '.join(used[0])})", path)
    return {str(k): value[k] for k in given}


def _keys_text(alternatives: tuple[tuple[str, ...], ...], optional: tuple[str, ...]) -> str:
    text = " or ".join(", ".join(alt) for alt in alternatives)
    if optional:
        text += f", optionally {', '.join(optional)}"
    return text


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


# ---------------------------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------
# Files: empirical samples and posterior draws
# ---------------------------------------------------------------------------------------------------------


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _file_param(value: Any, base_dir: Path | None, path: tuple, *, kind: str, limit: int) -> tuple[str, Path]:
    """The file named by a ``file:`` parameter: (as written, resolved path).

    A relative name is resolved against ``base_dir`` (the scenario's directory). Refuses, with an
    InputError, a name that is not text, a file that does not exist, a directory or another kind of non-regular
    file, and a file larger than ``limit`` bytes.
    """
    if not isinstance(value, str | PathLike) or not str(value).strip():
        _fail(f"file must be a file name, got {_describe_type(value)}", path)
    written = str(value)
    if _URL.match(written):
        _fail(f"'{written}' is a URL: revsim reads local files only and never downloads anything; download the "
              "file and give its name", path)
    file = Path(written)
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if base_dir is not None:  # before anything is said about the file: not even whether it exists
        from revsim.scenario.file_access import outside_message

        outside = outside_message(written, file, Path(base_dir))
        if outside is not None:
            _fail(outside, path)
    where = "" if str(file) == written else f" (looked for {file})"
    if file.is_dir():
        _fail(f"'{written}' is a directory, expected a file{where}", path)
    if file.exists() and not file.is_file():
        _fail(f"'{written}' is not a regular file{where}", path)
    if not file.is_file():
        _fail(f"cannot find the file '{written}'{where}", path)
    size = file.stat().st_size
    if size > limit:
        _fail(f"'{written}' is {size / 2**20:.1f} MB; {kind} reads files of at most {limit / 2**20:g} MB", path)
    return written, file


def _csv_problem(problem: Any) -> str:
    """A problem of a CSV file as part of a scenario's message: ``line 3: ...``."""
    text = problem.message if not problem.path else f"column '{problem.path[-1]}': {problem.message}"
    if problem.suggestion:
        text += f"; did you mean '{problem.suggestion}'?"
    return f"line {problem.line}: {text}" if problem.line else text


def _shift_scale(params: dict[str, Any], path: tuple) -> tuple[float, float]:
    """The ``shift`` (default 0) and ``scale`` (default 1) of samples read from a file."""
    shift = _number(params["shift"], (*path, "shift")) if "shift" in params else 0.0
    scale = _number(params["scale"], (*path, "scale")) if "scale" in params else 1.0
    return shift, scale


def _build_empirical(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    """Values of one CSV column: ``column``, or the first column whose cells are all numbers.

    Blank cells are skipped. Without ``column``, a first line made only of numbers is taken as data (a
    file with no header line). The file is read by :func:`revsim.scenario.csv_source.read_csv_cells`
    (encodings, separators and decimal commas); what it accepted is kept in the distribution's ``notes``.
    """
    from revsim.scenario.csv_source import CsvCells, numeric_column, parse_number, read_csv_cells

    limit = EMPIRICAL_MAX_BYTES
    written, file = _file_param(params["file"], base_dir, (*path, "file"), kind="an empirical distribution",
                                limit=limit)
    column = params.get("column")
    if column is not None and not isinstance(column, str):
        _fail(f"column must be a column name, got {_describe_type(column)}", (*path, "column"))
    try:
        cells = read_csv_cells(file, what="empirical samples", max_bytes=limit)
    except InputError as exc:
        if exc.problems[0].message.startswith("the file is empty"):
            _fail(f"'{written}' is empty", (*path, "file"))
        _fail(f"cannot read '{written}': {'; '.join(_csv_problem(p) for p in exc.problems)}", (*path, "file"))

    if column is None and all(parse_number(name, decimal_comma=cells.decimal_comma)[0] is not None
                              for name in cells.header):
        # No header line: the first line is data.
        cells = CsvCells(file=cells.file, header=[f"column {i + 1}" for i in range(len(cells.header))],
                         rows=[cells.header, *cells.rows], lines=[cells.header_line, *cells.lines],
                         header_line=0, separator=cells.separator, notes=cells.notes)
    names = [name or f"column {i + 1}" for i, name in enumerate(cells.header)]

    if column is not None:
        if column not in names:
            message = f"'{written}' has no column '{column}' (columns: {', '.join(names)})"
            _fail(_with_hint(message, column, names), (*path, "column"))
        chosen = column
        values, _, problems, note = numeric_column(cells, names.index(column), skip_blank=True)
        if problems:
            bad = problems[0]
            text = bad.message
            if text.startswith("expected a number, got ") or text.startswith("expected a finite number, got "):
                text = f"has a value that is not a finite number: {text.split(', got ', 1)[1]}"
            else:
                text = f"line {bad.line}: {text}"
            _fail(f"column '{column}' of '{written}' {text} (line {bad.line})" if text.startswith("has ")
                  else f"column '{column}' of '{written}', {text}", (*path, "column"))
    else:
        for i, name in enumerate(names):
            values, _, problems, note = numeric_column(cells, i, skip_blank=True)
            if not problems and values:
                chosen = name
                break
        else:
            _fail(
                f"'{written}' has no numeric column (columns: {', '.join(names)}); name the column with column:",
                (*path, "file"),
            )
    if len(values) < 2:
        _fail(
            f"an empirical distribution needs at least 2 values, but column '{chosen}' of '{written}' has "
            f"{len(values)}",
            path,
        )
    notes = tuple(f"'{written}': {text}" for text in [*cells.notes, *([note] if note else [])])
    shift, scale = _shift_scale(params, path)
    return Empirical(np.asarray(values, dtype=np.float64), source=written, column=chosen, notes=notes,
                     path=str(file.resolve()), shift=shift, scale=scale)


def _build_posterior(params: dict[str, Any], domain: str, base_dir: Path | None, path: tuple) -> Distribution:
    from revsim.scenario.posterior_file import PosteriorTooLarge, posterior_file

    written, file = _file_param(params["file"], base_dir, (*path, "file"), kind="a posterior distribution",
                                limit=POSTERIOR_MAX_BYTES)
    var = params["var"]
    if not isinstance(var, str) or not var:
        _fail(f"var must be a variable name, got {_describe_type(var)}", (*path, "var"))
    coords = params.get("coords") or {}
    if not isinstance(coords, Mapping):
        _fail(f"coords must be a mapping such as {{segment: smb}}, got {_describe_type(coords)}", (*path, "coords"))

    try:
        source = posterior_file(file)  # read once per file, kept while the file is unchanged
    except OSError as exc:
        _fail(
            f"cannot read '{written}' as a netCDF4 file (as written by ArviZ or xarray): {exc}",
            (*path, "file"),
        )
    where = "posterior group" if source.group else "file"
    variables = list(source.variables)
    if var not in variables:
        message = f"'{written}' has no variable '{var}' in its {where} (variables: {', '.join(variables)})"
        _fail(_with_hint(message, var, variables), (*path, "var"))
    try:
        array = source.array(var)
    except PosteriorTooLarge as exc:
        _fail(f"'{written}': {exc}", (*path, "file"))
    selected: list[tuple[str, Any]] = []
    for dim, label in coords.items():
        dim = str(dim)
        dims = [str(d) for d in array.dims]
        if dim not in dims:
            message = f"variable '{var}' has no dimension '{dim}' (its dimensions: {', '.join(dims)})"
            _fail(_with_hint(message, dim, dims), (*path, "coords", dim))
        if dim in array.indexes:
            labels = list(array.indexes[dim])
            matches = [x for x in labels if x == label or str(x) == str(label)]
            if not matches:
                texts = [str(x) for x in labels]
                message = f"'{label}' is not a {dim} of variable '{var}' (choices: {', '.join(texts)})"
                _fail(_with_hint(message, label, texts), (*path, "coords", dim))
            array = array.sel({dim: matches[0]})
        else:
            size = array.sizes[dim]
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < size:
                _fail(
                    f"dimension '{dim}' of variable '{var}' has no labels; select it with a position from 0 "
                    f"to {size - 1}, got {label!r}",
                    (*path, "coords", dim),
                )
            array = array.isel({dim: label})
        selected.append((dim, label))
    extra = [str(d) for d in array.dims if d not in ("chain", "draw")]
    if extra:
        hints = []
        for dim in extra:
            choices = [str(x) for x in array.indexes[dim]] if dim in array.indexes else []
            hints.append(f"{dim}: one of {', '.join(choices)}" if choices else dim)
        _fail(
            f"variable '{var}' has dimensions besides chain and draw ({'; '.join(hints)}); pick one value "
            f"of each with coords:, e.g. coords: {{{extra[0]}: ...}}",
            (*path, "coords") if coords else path,
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        _fail(f"variable '{var}' of '{written}' is not numeric (its type is {array.dtype})", (*path, "var"))
    order = [d for d in ("chain", "draw") if d in array.dims]
    samples = np.asarray(array.transpose(*order).values, dtype=np.float64).reshape(-1)
    if samples.size < 2:
        _fail(f"variable '{var}' of '{written}' has {samples.size} sample(s); a posterior needs at least 2", path)
    if not np.all(np.isfinite(samples)):
        bad = int(np.sum(~np.isfinite(samples)))
        _fail(f"variable '{var}' of '{written}' has {bad} samples that are not finite numbers (NaN or inf)", path)
    shift, scale = _shift_scale(params, path)
    return Posterior(samples, source=written, var=var, coords=tuple(selected), group=str(file.resolve()),
                     path=str(file.resolve()), shift=shift, scale=scale)


_BUILDERS = {
    "beta": _build_beta,
    "normal": _build_normal,
    "lognormal": _build_lognormal,
    "gamma": _build_gamma,
    "triangular": _build_triangular,
    "pert": _build_pert,
    "uniform": _build_uniform,
    "interval": _build_interval,
    "empirical": _build_empirical,
    "posterior": _build_posterior,
}


# ---------------------------------------------------------------------------------------------------------
# Domains
# ---------------------------------------------------------------------------------------------------------

_EXPECTED = {
    "probability": "a probability between 0 and 1",
    "positive": "a positive number",
    "nonnegative": "a number >= 0",
}


def _check_domain(dist: Distribution, domain: str, path: tuple) -> None:
    """Raise InputError when ``dist`` can take values outside ``domain``."""
    if domain == "real":
        return
    expected = _EXPECTED[domain]
    lo, hi = dist.support()

    def inside(lo: float, hi: float, *, strict_positive: bool) -> bool:
        if domain == "probability":
            return lo >= 0 and hi <= 1
        if domain == "positive" and strict_positive:
            return lo > 0
        return lo >= 0

    if isinstance(dist, Constant):
        if not inside(lo, hi, strict_positive=True):
            _fail(f"expected {expected}, got {_num(dist.value)}", path)
        return
    if isinstance(dist, Empirical | Posterior):
        # Samples are the values drawn, so 0 itself would be drawn: positive means > 0 here.
        if not inside(lo, hi, strict_positive=True):
            source = f"the values in '{dist.source}'" if isinstance(dist, Empirical) else f"the samples of '{dist.var}'"
            show = _num
            if not dist.is_unchanged:
                source += dist.transform_text()
                show = lambda x: _fmt(x, 6)  # noqa: E731 - computed values, shown rounded
            _fail(f"expected {expected}, but {source} range from {show(lo)} to {show(hi)}", path)
        return
    if domain == "probability" and isinstance(dist, LogNormal | Gamma):
        _fail(
            f"expected {expected}, but a {dist.kind} distribution has no upper bound; "
            "use dist: beta or a [low, high] interval",
            path,
        )
    if isinstance(dist, Normal) and not inside(lo, hi, strict_positive=False):
        if domain == "probability":
            fix = "truncate it with low and high within [0, 1], or use dist: beta or a [low, high] interval"
        else:
            fix = "truncate it with low: 0, or use dist: lognormal, dist: gamma or a [low, high] interval"
        bounds = "unbounded" if not dist.truncated else f"ranging from {_num(lo)} to {_num(hi)}"
        _fail(f"expected {expected}, but {dist.describe()} is {bounds}; {fix}", path)
    # Continuous distributions take their lower bound with probability 0, so a support starting at 0 is fine
    # for positive inputs.
    if not inside(lo, hi, strict_positive=False):
        _fail(f"expected {expected}, but {dist.describe()} ranges from {_num(lo)} to {_num(hi)}", path)
