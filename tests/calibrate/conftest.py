"""Shared fixtures of the calibration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from calibration_helpers import EXAMPLE_HISTORY


@pytest.fixture
def example_history(tmp_path: Path) -> Path:
    """A copy of the example history (CSV files only) in a temporary directory."""
    folder = tmp_path / "history"
    folder.mkdir()
    for name in ("funnel.csv", "cohorts.csv", "mrr.csv", "referrals.csv"):
        shutil.copy(EXAMPLE_HISTORY / name, folder / name)
    return folder
