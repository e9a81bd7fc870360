"""Paths of the scenarios the chart tests draw."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SALES_LED = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"
LONG_NAMES = Path(__file__).resolve().parent / "data" / "long_names_small_book.yaml"
