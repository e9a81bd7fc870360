"""The base of every uncertain input: :class:`Distribution`, :class:`Constant`, the domains, amounts
(``12M``, ``$1.5B``) and the messages' number formatting.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NoReturn, get_args

import numpy as np

from revsim.errors import InputError, did_you_mean

#: What values a numeric input may take: ``probability`` in [0, 1], ``positive`` > 0,
#: ``nonnegative`` >= 0, ``real`` anything.
Domain = Literal["probability", "positive", "nonnegative", "real"]
DOMAINS: tuple[str, ...] = get_args(Domain)

#: Number of quantiles averaged by :meth:`Distribution.mean` when there is no closed form.
_MEAN_POINTS = 20_000
#: Central coverage of the ``[low, high]`` shorthand.
DEFAULT_CONFIDENCE = 0.9


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
