"""Money, counts and percentages as the charts print them."""

from __future__ import annotations

import pytest

from revsim.plot.money import MINUS, format_count, format_money, format_months, format_percent, format_ratio


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1_234_000, "USD", "$1.23M"),
        (26_300_000, "USD", "$26.3M"),
        (20_000_000, "USD", "$20M"),
        (114_000_000, "USD", "$114M"),
        (850_000, "GBP", "\u00a3850k"),
        (2_500_000_000, "USD", "$2.5B"),
        (999_700, "USD", "$1M"),  # rounding carries into the next scale
        (950, "USD", "$950"),
        (0, "USD", "$0"),
        (1_234_000, "EUR", "1,23 M EUR"),
        (850_000, "EUR", "850 k EUR"),
        (950, "EUR", "950 EUR"),
        (1_500_000, "CHF", "1.5M CHF"),
        (-1_200_000, "USD", f"{MINUS}$1.2M"),
    ],
)
def test_format_money(value: float, currency: str, expected: str) -> None:
    assert format_money(value, currency) == expected


def test_format_money_two_digits_and_signs() -> None:
    assert format_money(1_200_000, "EUR", digits=2) == "1,2 M EUR"
    assert format_money(3_400_000, "USD", signed=True) == "+$3.4M"
    assert format_money(-3_400_000, "USD", signed=True) == f"{MINUS}$3.4M"
    assert format_money(float("nan"), "USD") == "n/a"


def test_other_formats() -> None:
    assert format_count(1216.4) == "1,216"
    assert format_count(2_400_000) == "2.4M"
    assert format_percent(0.923) == "92%"
    assert format_percent(0.0123, decimals=1) == "1.2%"
    assert format_ratio(3.14) == "3.1x"
    assert format_months(14.2) == "14 mo"
    assert format_months(2.45) in ("2.5 mo", "2.4 mo")


def test_one_currency_table_for_text_charts_workbook_and_the_serve_page():
    """The printed summary, the what-if texts and the workbook use revsim.plot.money; the page's script
    mirrors its two tables (it formats in the browser), and must say the same."""
    import json
    import re
    from pathlib import Path

    from revsim.plot import money
    from revsim.report.workbook import _money_format
    from revsim.results.summary import format_difference

    script = (Path(money.__file__).parents[1] / "serve" / "static" / "serve.js").read_text(encoding="utf-8")
    prefix = re.search(r"const PREFIX = (\{.*?\});", script, re.S).group(1)
    prefix = json.loads(re.sub(r"(\w+):", r'"\1":', prefix))
    decimal_comma = json.loads(re.search(r"const DECIMAL_COMMA = new Set\((\[.*?\])\);", script, re.S).group(1))
    assert prefix == money._PREFIX and set(decimal_comma) == money._DECIMAL_COMMA
    assert format_difference(1_234_000, "money", "EUR") == "+" + money.format_money(1_234_000, "EUR") == "+1,23 M EUR"
    assert _money_format("GBP") == '"\u00a3"#,##0' and _money_format("EUR") == '#,##0 "EUR"'
