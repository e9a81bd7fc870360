"""Paths and run sizes shared by the ``revsim serve`` tests (a module of its own name: every test folder
has a ``conftest``)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "scenarios"
#: Draws of the full run and of the preview in the endpoint tests.
DRAWS, PREVIEW_DRAWS = 60, 30
