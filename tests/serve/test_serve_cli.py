"""``revsim serve`` from the command line: bad input ends with one message and exit code 2 before the server
starts. (The server itself, started and stopped as a user does, is in ``test_browser.py``.)"""

from __future__ import annotations

import socket
import sys

import pytest
from click.testing import CliRunner
from serve_paths import EXAMPLES

from revsim.cli.main import cli

pytest.importorskip("fastapi", reason="revsim serve needs the serve extra (pip install 'revsim[serve]')")


def invoke(*args: object):
    return CliRunner().invoke(cli, ["serve", *(str(a) for a in args)], catch_exceptions=False)


def test_a_missing_scenario_is_refused(tmp_path) -> None:
    result = invoke(tmp_path / "missing.yaml")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "missing.yaml" in result.output and "Traceback" not in result.output


def test_a_port_in_use_is_refused(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = invoke(EXAMPLES / "saas_sales_led.yaml", "--port", port, "--draws", 10, "--quiet")
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output


def test_without_the_serve_extra_the_message_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    result = invoke(EXAMPLES / "saas_sales_led.yaml")
    assert result.exit_code == 2
    assert 'pip install "revsim[serve]"' in result.output
