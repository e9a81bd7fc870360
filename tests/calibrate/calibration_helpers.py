"""Helpers of the calibration tests: the example history and small history files."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_HISTORY = REPO_ROOT / "scenarios" / "history"
EXAMPLE_SCENARIO = EXAMPLE_HISTORY / "northwind.yaml"

#: Few draws: enough for the checks, quick on two cores.
QUICK = {"draws": 200, "tune": 300, "chains": 2, "seed": 1}


def write(folder: Path, name: str, text: str) -> Path:
    """Write a history file (the text is dedented line by line)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(line.strip() for line in text.strip().splitlines()) + "\n", encoding="utf-8")
    return path
