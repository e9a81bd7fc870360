"""Helpers of the calibration tests: the example history and small history files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` in a new Python process (started afresh, not forked) and return its result.

    The calibration tests fit their models there: PyMC, nutpie and the compiled models stay out of the test
    run's own memory, which other tests' child processes would inherit.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)
