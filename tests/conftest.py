"""Settings of the whole test run."""

from __future__ import annotations

import os
import shutil
import tempfile

# Calibrations in the tests (and the processes they start) keep their compiled models in a cache of their
# own, removed at the end: the user's cache is neither read nor filled, and every run starts cold.
_COMPILED_MODELS = tempfile.mkdtemp(prefix="revsim-test-compiled-models-")
os.environ["REVSIM_CACHE_DIR"] = _COMPILED_MODELS


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_COMPILED_MODELS, ignore_errors=True)
