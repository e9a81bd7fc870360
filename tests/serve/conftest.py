"""Fixtures of the ``revsim serve`` tests: a session on a copy of the sales-led example, and its test client.

The copy lives in a folder of its own, so that saved variants land there. Runs are small (60 draws, a
30-draw preview) and the session is shared by a module's tests: its runs are cached, as the server's are.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_paths import DRAWS, EXAMPLES, PREVIEW_DRAWS



@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sales-led example, alone in its folder."""
    folder = tmp_path_factory.mktemp("plans")
    path = folder / "sales_led.yaml"
    shutil.copy(EXAMPLES / "saas_sales_led.yaml", path)
    return path


@pytest.fixture(scope="module")
def session(scenario_file: Path):
    from revsim.serve.session import WhatIfSession

    return WhatIfSession(str(scenario_file), draws=DRAWS, preview_draws=PREVIEW_DRAWS, seed=0)


@pytest.fixture(scope="module")
def client(session) -> Iterator:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note that a later httpx will be needed
        from fastapi.testclient import TestClient

    from revsim.serve.app import create_app

    with TestClient(create_app(session), base_url="http://127.0.0.1:8050") as test_client:
        yield test_client
