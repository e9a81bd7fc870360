"""Percentages: ``"1.5%"`` read as the fraction 0.015, the one place revsim reads them.

Wherever a scenario field is a fraction (a conversion, a churn rate, a monthly growth, an uplift, an upgrade
size, a share), a number may be written as a percentage: ``0.015``, ``1.5%`` and ``"1.5%"`` are the same. In
YAML an unquoted ``1.5%`` is a string, so percentages arrive here as text, alone, in a ``[low, high]`` range
or as a parameter of a distribution (``{dist: beta, mean: 35%, sd: 4%}``).

>>> parse_percent("1.5%")
0.015
>>> parse_percent(" -2 % ")
-0.02
>>> parse_percent("12M") is None
True
>>> fractions_from_percentages({"dist": "beta", "mean": "35%", "sd": "4%"})
{'dist': 'beta', 'mean': 0.35, 'sd': 0.04}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["parse_percent", "fractions_from_percentages", "holds_percentage", "NON_NUMERIC_KEYS"]

_DIGITS = r"\d+(?:_\d+)*"
_PERCENT = re.compile(
    rf"^\s*(?P<sign>[-+])?\s*(?P<number>(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?\d+)?)\s*%\s*$"
)
#: Keys of a ``dist:`` mapping that are not numbers in the field's unit (they are never percentages).
NON_NUMERIC_KEYS = frozenset({"dist", "file", "column", "var", "coords"})


def parse_percent(text: str) -> float | None:
    """The fraction a percentage stands for (``"12.5%"`` -> 0.125), or None when ``text`` is not one.

    Computed in decimal, so that ``"1.1%"`` is exactly the float ``0.011``.
    """
    if not isinstance(text, str):
        return None
    match = _PERCENT.match(text)
    if not match:
        return None
    value = float(Decimal(match["number"].replace("_", "")) / 100)
    return -value if match["sign"] == "-" else value


def fractions_from_percentages(value: Any) -> Any:
    """``value`` with every percentage replaced by its fraction: a scalar, the two ends of a ``[low, high]``
    range, and the numeric parameters of a ``dist:`` mapping. Anything else is returned unchanged."""
    if isinstance(value, str):
        fraction = parse_percent(value)
        return value if fraction is None else fraction
    if isinstance(value, list | tuple):
        return type(value)(fractions_from_percentages(item) for item in value)
    if isinstance(value, Mapping):
        return {key: item if key in NON_NUMERIC_KEYS else fractions_from_percentages(item)
                for key, item in value.items()}
    return value


def holds_percentage(value: Any) -> bool:
    """Whether ``value`` (a scalar, a range or a ``dist:`` mapping) has a percentage in it."""
    if isinstance(value, str):
        return parse_percent(value) is not None
    if isinstance(value, list | tuple):
        return any(holds_percentage(item) for item in value)
    if isinstance(value, Mapping):
        return any(holds_percentage(item) for key, item in value.items() if key not in NON_NUMERIC_KEYS)
    return False
