"""Paths of the RevOps tests' files."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
KNOWN = DATA / "known.yaml"
SALES_LED = REPO_ROOT / "scenarios" / "saas_sales_led.yaml"
