"""Compact money and number labels in the reader's convention: ``$1.2M``, ``£850k``, ``1,2 M EUR``.

Currencies usually written with a symbol in front (USD, GBP, JPY...) get it; currencies of countries that
write a decimal comma (EUR, SEK, NOK, DKK, PLN...) are written the continental way, number first with a
comma and the ISO code after; any other currency is ``1.2M CHF``.

>>> format_money(1_234_000, "USD")
'$1.23M'
>>> format_money(1_200_000, "EUR", digits=2)
'1,2 M EUR'
>>> format_money(-850_000, "GBP", signed=True)
'\u2212\u00a3850k'
"""

from __future__ import annotations

import math

__all__ = ["currency_prefix", "format_money", "format_money_range", "format_count", "format_percent", "format_probability", "format_ratio",
           "format_months", "MINUS"]

#: The typographic minus sign (a hyphen looks like a dash at slide size).
MINUS = "\u2212"

_PREFIX = {
    "USD": "$", "GBP": "\u00a3", "JPY": "\u00a5", "CNY": "CN\u00a5", "INR": "\u20b9", "CAD": "CA$",
    "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$", "ILS": "\u20aa", "KRW": "\u20a9",
}
_DECIMAL_COMMA = {"EUR", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "BRL", "TRY", "RUB", "UAH"}
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def _number(magnitude: float, digits: int) -> tuple[str, str]:
    """The magnitude as (digits, scale suffix) with ``digits`` significant digits, never in scientific form."""
    for limit, suffix in _SCALES:
        if magnitude >= limit * (1 - 0.5 * 10 ** -digits):
            scaled = magnitude / limit
            break
    else:
        scaled, suffix = magnitude, ""
    if scaled == 0:
        return "0", suffix
    decimals = max(0, digits - 1 - math.floor(math.log10(scaled)))
    if not suffix:  # plain amounts: whole units unless below 10
        decimals = min(decimals, 0 if scaled >= 10 else 2)
    text = f"{scaled:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if float(text) >= 1000 and suffix != "B":  # rounding carried into the next scale: 999.7k -> 1M
        return _number(round(magnitude, -3), digits)
    return text, suffix


def currency_prefix(currency: str) -> str | None:
    """The symbol written before amounts of ``currency`` (``$``, ``\u00a3``), or None when the code is written
    after them (``1,2 M EUR``, ``850k CHF``)."""
    return _PREFIX.get(currency)


def format_money(value: float, currency: str, *, digits: int = 3, signed: bool = False) -> str:
    """A compact amount with its currency, for labels and axis ticks.

    Parameters
    ----------
    value
        The amount, in currency units.
    currency
        ISO code (``USD``, ``EUR``...).
    digits
        Significant digits (trailing zeros are dropped: ``$20M``, not ``$20.0M``).
    signed
        Write ``+`` before positive amounts (bridge movements). Negative amounts always get a minus sign.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    number, suffix = _number(abs(value), digits)
    zero = float(number) == 0
    sign = MINUS if value < 0 and not zero else ("+" if signed and not zero else "")
    if currency in _PREFIX:
        return f"{sign}{_PREFIX[currency]}{number}{suffix}"
    if currency in _DECIMAL_COMMA:
        number = number.replace(".", ",")
        return f"{sign}{number} {suffix} {currency}" if suffix else f"{sign}{number} {currency}"
    return f"{sign}{number}{suffix} {currency}"


def format_money_range(low: float, high: float, currency: str, *, digits: int = 3) -> str:
    """``$1.15M–$2.59M``; in the continental style the shared scale and code are written once:
    ``1,15–2,59 M EUR``."""
    first, second = format_money(low, currency, digits=digits), format_money(high, currency, digits=digits)
    if currency in _DECIMAL_COMMA:
        number, _, unit = first.partition(" ")
        if second.partition(" ")[2] == unit:
            return f"{number}\u2013{second}"
    return f"{first}\u2013{second}"


def format_count(value: float) -> str:
    """A count with thousands separators, compact from a million: ``1,216``, ``2.4M``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1e6:
        number, suffix = _number(abs(value), 3)
        return f"{MINUS if value < 0 else ''}{number}{suffix}"
    text = f"{abs(value):,.0f}" if abs(value) >= 10 else f"{abs(value):.3g}"
    return f"{MINUS if value < 0 and text != '0' else ''}{text}"


def format_percent(value: float, *, decimals: int = 0) -> str:
    """A ratio as a percentage: ``0.923`` -> ``92%``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{100 * abs(value):.{decimals}f}%"
    return (MINUS if value < 0 and float(text[:-1]) != 0 else "") + text


def format_ratio(value: float) -> str:
    """A multiple: ``3.14`` -> ``3.1x``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.1f}x" if abs(value) < 100 else f"{value:,.0f}x"


def format_months(value: float) -> str:
    """A duration in months: ``14.2`` -> ``14 mo``, ``2.45`` -> ``2.5 mo``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.1f} mo" if abs(value) < 10 else f"{value:,.0f} mo"


def format_probability(probability: float) -> str:
    """``30%``; ``<1%`` and ``>99%`` rather than a 0% or 100% that a finite sample cannot show."""
    if 0 < probability < 0.005:
        return "<1%"
    if 0.995 < probability < 1:
        return ">99%"
    return format_percent(probability)
