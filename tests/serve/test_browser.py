"""One end-to-end test in a real browser: ``revsim serve`` started as a user starts it, the page loaded in
Debian's headless Chromium driven by Selenium, a slider moved with the keyboard, and the chance of each target
read off the page and compared with what ``revsim compare`` gives for the same lever, seed and draws.

It also takes screenshots of the page at a desktop and a narrow width (into the test's directory, and into
``$REVSIM_SCREENSHOTS`` when that is set), and checks that the page loads nothing from elsewhere and that a
bad ``--set`` value shows the command line's message. About 30 seconds, most of it starting the server and
the browser. Needs the ``chromium`` and ``chromium-driver`` packages, which ``.ci/run`` installs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner
from serve_paths import EXAMPLES

pytest.importorskip("fastapi", reason="revsim serve needs the serve extra (pip install 'revsim[serve]')")

pytest.importorskip("selenium", reason="the browser test needs selenium (the test extra)")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
EXAMPLE = EXAMPLES / "saas_sales_led.yaml"
DRAWS, PREVIEW_DRAWS = 200, 50


def _need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``revsim serve`` on the sales-led example, on a free port; stopped with Ctrl-C (SIGINT) at the end."""
    log_path = tmp_path_factory.mktemp("server") / "serve.log"
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "revsim.cli.main", "serve", str(EXAMPLE), "--port", "0", "--draws", str(DRAWS),
             "--preview-draws", str(PREVIEW_DRAWS)], stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 300
        while url is None and time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"ready in [\d.]+ s: (http://\S+)", log_path.read_text(encoding="utf-8"))
            url = found.group(1) if found else None
            time.sleep(0.2)
        assert url, log_path.read_text(encoding="utf-8")
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server fails the test below
            process.kill()
            code = process.wait()
    output = log_path.read_text(encoding="utf-8")
    assert code == 0, output
    assert "stopped" in output and "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1600,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _settled(driver) -> bool:
    return driver.execute_script("return document.getElementById('status-dot').className") == "dot done"


def _wait(driver, condition, timeout: float = 180) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


def _screenshot(driver, path: Path, width: int) -> None:
    driver.set_window_size(width, 1000)
    time.sleep(0.4)  # the charts redraw for the new width
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(height + 20, 6000))
    time.sleep(0.4)
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 20_000
    wanted = os.environ.get("REVSIM_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)


def _compare_cli(out: Path) -> tuple[list[str], str]:
    """P(reach) of each target in ``revsim compare``'s variant run, as the page writes them, and the printed
    median difference of ARR at the horizon."""
    from revsim.cli.main import cli
    from revsim.plot.targets import format_probability, scenario_targets, target_probability

    result = CliRunner().invoke(cli, ["compare", str(EXAMPLE), "--lever", "mql_plus_3pts", "--draws", str(DRAWS),
                                      "--seed", "0", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out / "mql_plus_3pts.nc", engine="h5netcdf") as ds:
        chances = [format_probability(target_probability(ds, t)) for t in scenario_targets(ds)]
    line = next(line for line in result.output.splitlines() if line.strip().startswith("ARR at horizon"))
    return chances, line.split()[4]


def test_moving_a_slider_shows_the_chances_revsim_compare_gives(server, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    driver.get(server)
    _wait(driver, _settled)
    assert driver.find_element(By.ID, "scenario-name").text == "Northwind Analytics (sales-led B2B)"
    base_chances = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".target .now")]
    import yaml

    assert len(base_chances) == len(yaml.safe_load(EXAMPLE.read_text())["targets"]) >= 2

    slider = driver.find_element(By.ID, "c-lever_mql_plus_3pts")
    for _ in range(30):  # 30 steps of 0.1 point: the lever's own +3 points
        slider.send_keys(Keys.ARROW_RIGHT)
    assert driver.find_element(By.CSS_SELECTOR, '.control[data-id="lever:mql_plus_3pts"] output').text == "+3 pts"
    _wait(driver, lambda d: _settled(d) and d.find_elements(By.CSS_SELECTOR, ".target .was"))
    assert f"{DRAWS:,} paired draws" in driver.find_element(By.ID, "status-text").text

    chances = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".target .now")]
    was = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".target .was")]
    expected, printed_difference = _compare_cli(tmp_path / "cli")
    assert chances == expected
    assert was == base_chances
    assert driver.find_element(By.CSS_SELECTOR, ".arr-card .delta").text == printed_difference
    assert "--lever mql_plus_3pts" in driver.find_element(By.ID, "cli").text

    origin = server.rstrip("/")
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(origin) for name in loaded), loaded
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []

    _screenshot(driver, tmp_path / "serve-desktop.png", 1600)
    _screenshot(driver, tmp_path / "serve-narrow.png", 412)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 412 + 1  # nothing overflows

    # a bad --set value: the command line's message, under the field, and the results kept
    driver.set_window_size(1600, 1000)
    field = driver.find_element(By.ID, "set-lines")
    field.send_keys("funnel.stages.mql.conversion=1.5")
    driver.find_element(By.ID, "set-apply").click()
    _wait(driver, lambda d: d.find_element(By.ID, "set-error").is_displayed())
    message = driver.find_element(By.ID, "set-error").text
    assert "funnel.stages[1].conversion: expected a probability between 0 and 1, got 1.5" in message
    assert message.endswith("(from --set funnel.stages.mql.conversion=1.5)")
    assert [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".target .now")] == chances
