"""The endpoints of ``revsim serve``, through FastAPI's TestClient: the page's numbers are ``revsim compare``'s,
bad values get the command line's message (422), nothing outside the scenario's folder is read or written,
and no request breaks the server."""

from __future__ import annotations

import os
import shlex
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from serve_paths import DRAWS, PREVIEW_DRAWS

from revsim.cli.main import cli
from revsim.plot.targets import format_probability, scenario_targets, target_probability

pytest.importorskip("fastapi", reason="revsim serve needs the serve extra (pip install 'revsim[serve]')")

#: compare.csv writes 6 significant digits (``%.6g``): a value read back is within 5e-6 of the page's, relatively
CSV_DIGITS = 5e-6


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def evaluate(http, settings=None, overrides=(), phase="full", **extra):
    body = {"settings": settings or {}, "set": list(overrides), "phase": phase, **extra}
    return http.post("/api/evaluate", json=body)


def cli_error(*args: object) -> str:
    """The message the command line prints for bad input, without its ``error: `` prefix."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("error: "))
    return result.output[result.output.index(line):].strip().removeprefix("error: ")


# ---------------------------------------------------------------------------------------------------------
# the numbers are revsim compare's
# ---------------------------------------------------------------------------------------------------------


def test_a_lever_gives_the_difference_and_chances_of_revsim_compare(client, scenario_file, tmp_path) -> None:
    answer = evaluate(client, {"lever:mql_plus_3pts": 0.03})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["draws"] == DRAWS and page["final"] and not page["unchanged"]
    assert page["cli"] == f"revsim compare {scenario_file} --lever mql_plus_3pts --draws {DRAWS} --seed 0"

    out = tmp_path / "cmp"
    result = invoke("compare", scenario_file, "--lever", "mql_plus_3pts", "--draws", DRAWS, "--seed", 0, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "compare.csv").set_index("metric")
    for row in page["metrics"]:
        expected = table.loc[row["metric"]]
        for column in ("base_mean", "variant_mean", "diff_mean", "diff_p10", "diff_p50", "diff_p90", "p_better"):
            assert row[column] == pytest.approx(float(expected[column]), rel=1e-5, abs=1e-9), (row["metric"], column)
    headline = page["metrics"][0]
    assert headline["metric"] == "arr_at_horizon" and headline["diff_p50"] > 0
    printed = next(line for line in result.output.splitlines() if line.strip().startswith("ARR at horizon"))
    assert headline["median_text"] in printed.split()

    with xr.open_dataset(out / "base.nc", engine="h5netcdf") as base, \
            xr.open_dataset(out / "mql_plus_3pts.nc", engine="h5netcdf") as variant:
        targets = scenario_targets(base)  # each evaluated on its own run
        assert len(page["targets"]) == len(targets) >= 2
        for shown, target, in_variant in zip(page["targets"], targets, scenario_targets(variant), strict=True):
            p_base, p_variant = target_probability(base, target), target_probability(variant, in_variant)
            assert (shown["p_base"], shown["p_variant"]) == (p_base, p_variant)
            assert shown["p_variant_text"] == format_probability(p_variant)
        assert any(t["p_variant"] > t["p_base"] for t in page["targets"])
        fan = page["fan"]["variant"]["p50"]
        assert fan[-1] == pytest.approx(float(np.median(variant["arr"].sum("segment").isel(month=-1))), rel=1e-9)


def test_the_preview_is_compare_at_the_preview_draws(client, scenario_file) -> None:
    import revsim

    page = evaluate(client, {"input:retention.smb.churn": -0.25}, phase="preview").json()
    assert page["draws"] == PREVIEW_DRAWS and not page["final"]
    expected = revsim.compare(str(scenario_file), levers=["retention.smb.churn=-25%"], draws=PREVIEW_DRAWS, seed=0)
    row = expected.table.set_index("metric").loc["arr_at_horizon"]
    assert page["metrics"][0]["diff_mean"] == pytest.approx(float(row["diff_mean"]), rel=1e-9)
    assert page["metrics"][0]["p_better"] == float(row["p_better"])


def test_the_command_shown_for_a_slider_prints_the_same_numbers(client, scenario_file, tmp_path) -> None:
    page = evaluate(client, {"input:funnel.stages.mql.conversion": 0.02}).json()
    assert page["cli"] == (f'revsim compare {scenario_file} --lever funnel.stages.mql.conversion=+0.02 '
                           f'--draws {DRAWS} --seed 0')
    args = shlex.split(page["cli"])[1:] + ["--out", str(tmp_path / "cli")]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "cli" / "compare.csv").set_index("metric")
    assert page["metrics"][0]["diff_p50"] == pytest.approx(float(table.loc["arr_at_horizon", "diff_p50"]),
                                                           rel=CSV_DIGITS)
    assert page["inputs"][0]["values"][0]["base"] == "35%" and page["inputs"][0]["values"][0]["variant"] == "37%"


def test_no_change_compares_the_base_with_itself(client) -> None:
    page = evaluate(client).json()
    assert page["unchanged"] and page["cli"] is None
    assert all(row["diff_p10"] == row["diff_p90"] == 0 for row in page["metrics"] if row["draws"])
    assert page["fan"]["base"] == page["fan"]["variant"]
    assert all(t["p_base"] == t["p_variant"] for t in page["targets"])
    bridge = page["bridges"][-1]
    assert [s["step"] for s in bridge["steps"]] == ["start", "new", "expansion", "contraction", "churn", "end"]
    assert bridge["steps"][-1]["base"]["mean"] == pytest.approx(page["metrics"][0]["base_mean"], rel=1e-12)
    assert {k["variable"] for k in page["kpis"]} >= {"nrr_12m", "cac", "win_rate"}


def test_the_scenario_lists_its_levers_and_main_inputs(client) -> None:
    meta = client.get("/api/scenario").json()
    ids = [c["id"] for c in meta["controls"]]
    assert ids[:5] == ["lever:mql_plus_3pts", "lever:churn_down_fifth", "lever:two_more_reps",
                       "lever:referrals_double", "lever:price_up_5pct"]
    for expected in ("input:channels.inbound.volume", "input:funnel.stages.mql.conversion",
                     "input:funnel.stages.opportunity.conversion", "input:pricing.smb.acv", "input:retention.smb.churn",
                     "input:loops.referrals.coefficient", "input:funnel.sales_capacity.reps"):
        assert expected in ids
    win_rate = next(c for c in meta["controls"] if c["id"] == "input:funnel.stages.opportunity.conversion")
    assert win_rate["paths"] == ["funnel.stages.opportunity.conversion",
                                 "funnel.stages.opportunity.by_segment.mid_market.conversion"]
    assert win_rate["unit"] == "points" and win_rate["min"] < 0 < win_rate["max"]
    lever = meta["controls"][0]
    assert (lever["min"], lever["default"], lever["max"]) == (0, 0.03, pytest.approx(0.09))


def test_every_slider_end_is_a_valid_scenario(session) -> None:
    """Ranges are checked when the page starts: a slider never reaches a value the scenario refuses."""
    for control in session.controls:
        ends = (True,) if control.kind == "switch" else (control.minimum, control.maximum)
        for end in ends:
            if end == control.neutral:
                continue
            variant = session.variant({control.id: end})
            assert not variant.unchanged, control.id


@pytest.mark.parametrize("example, expected", [
    ("saas_product_led.yaml", ["input:channels.paid.volume", "input:funnel.stages.consideration.conversion",
                               "input:retention.team.churn", "input:pricing.team.acv", "input:loops.invites.coefficient"]),
    ("enterprise_expansion.yaml", ["input:retention.enterprise.alpha", "input:funnel.stages.opportunity.conversion",
                                   "input:pricing.strategic.acv", "input:loops.references.coefficient"]),
])
def test_the_other_examples_have_sliders_for_their_main_inputs(example: str, expected: list[str]) -> None:
    from serve_paths import EXAMPLES

    from revsim.scenario.load import load_scenario
    from revsim.serve.controls import scenario_controls

    controls = scenario_controls(load_scenario(EXAMPLES / example))
    assert set(expected) <= {c.id for c in controls}
    assert all(c.minimum < c.maximum for c in controls)


# ---------------------------------------------------------------------------------------------------------
# bad input: the command line's message, status 422; the server goes on
# ---------------------------------------------------------------------------------------------------------


def test_a_bad_set_value_gets_the_command_lines_message(client, scenario_file) -> None:
    answer = evaluate(client, overrides=["funnel.stages.mql.conversion=1.5"], phase="preview")
    assert answer.status_code == 422
    assert answer.json()["source"] == "set"
    expected = cli_error("run", scenario_file, "--set", "funnel.stages.mql.conversion=1.5", "--draws", 5,
                         "--out", scenario_file.parent / "never")
    assert answer.json()["detail"] == expected
    assert "expected a probability between 0 and 1" in expected


def test_a_misspelt_path_gets_the_command_lines_suggestion(client, scenario_file) -> None:
    answer = evaluate(client, overrides=["funnel.stages.mqll.conversion=0.3"])
    assert answer.status_code == 422
    expected = cli_error("run", scenario_file, "--set", "funnel.stages.mqll.conversion=0.3")
    assert answer.json()["detail"] == expected
    assert "did you mean 'funnel.stages.mql.conversion'?" in expected


def test_a_slider_value_out_of_the_domain_gets_the_message_of_the_same_lever(client, scenario_file) -> None:
    answer = evaluate(client, {"input:funnel.stages.mql.conversion": 0.9})
    assert answer.status_code == 422
    assert answer.json()["source"] == "input:funnel.stages.mql.conversion"
    expected = cli_error("compare", scenario_file, "--lever", "funnel.stages.mql.conversion=+0.9", "--draws", 5)
    assert answer.json()["detail"] == expected


@pytest.mark.parametrize("body", [
    {"settings": {"lever:mql_plus_3pts": "a lot"}},
    {"settings": {"lever:mql_plus_3pts": None}},
    {"settings": {"lever:mql_plus_3pts": True}},
    {"settings": {"lever:no_such_lever": 1}},
    {"settings": {"input:funnel.stages.mql.conversion": 1e308}},
    {"settings": {"input:retention.smb.churn": -1e9}},
    {"settings": "everything"},
    {"settings": {}, "set": ["no equals sign"]},
    {"settings": {}, "set": ["funnel.stages=1"]},
    {"settings": {}, "set": ["funnel.stages.mql.conversion={dist: beta, alpha: [}"]},
    {"settings": {}, "set": ["funnel.sales_capacity.reps=-4"]},
    {"settings": {}, "set": ["x=1"] * 60},
    {"settings": {}, "set": ["onboarding.success=2"]},
    {"settings": {}, "set": 7},
    {"settings": {}, "phase": "forever"},
    {"unknown": 1},
])
def test_bad_requests_are_refused_and_the_server_goes_on(client, body) -> None:
    answer = client.post("/api/evaluate", json=body)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert answer.json()["detail"] and "Traceback" not in answer.text
    assert evaluate(client, {"lever:mql_plus_3pts": 0.03}, phase="preview").status_code == 200


def test_a_body_that_is_not_json_is_refused(client) -> None:
    answer = client.post("/api/evaluate", content=b"\x00\xff{", headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422)
    answer = client.post("/api/evaluate", content=b'{"settings": {}}', headers={"Content-Type": "text/plain"})
    assert answer.status_code == 422


def test_a_host_name_from_elsewhere_is_refused(session) -> None:
    from fastapi.testclient import TestClient

    from revsim.serve.app import create_app

    with TestClient(create_app(session), base_url="http://attacker.example") as other:
        assert other.get("/api/scenario").status_code == 400


# ---------------------------------------------------------------------------------------------------------
# nothing outside the scenario's folder
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/../../../../etc/passwd", "/static/..%2F..%2Fapp.py", "/static/%2e%2e/app.py",
                                  "/static/app.py", "/static/index.html", "/../../etc/passwd", "/api/../../etc/hosts"])
def test_static_files_are_the_pages_own_only(client, path) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "root:" not in answer.text and "import" not in answer.text


def test_the_page_and_its_files_are_served_without_anything_from_elsewhere(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/serve.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    for name in ("serve.js", "serve.css", "favicon.svg"):
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200
        assert "https://" not in answer.text and "//cdn" not in answer.text


@pytest.mark.parametrize("value", ["../../../../etc/passwd", "/etc/passwd", "../outside.csv"])
def test_a_set_line_cannot_read_a_file_outside_the_folder(client, value) -> None:
    line = f"pricing.smb.acv={{dist: empirical, file: {value}}}"
    answer = evaluate(client, overrides=[line])
    assert answer.status_code == 403
    assert "outside" in answer.json()["detail"] and value in answer.json()["detail"]
    answer = evaluate(client, overrides=["pricing.smb.acv={dist: empirical, file: acv.csv}", f"pricing.smb.acv.file={value}"])
    assert answer.status_code == 403


def test_a_link_in_the_folder_that_leads_outside_is_refused(client, scenario_file, tmp_path) -> None:
    outside = tmp_path / "acv.csv"
    outside.write_text("acv\n10000\n12000\n", encoding="utf-8")
    link = scenario_file.parent / "linked_acv.csv"
    link.symlink_to(outside)
    try:
        answer = evaluate(client, overrides=["pricing.smb.acv={dist: empirical, file: linked_acv.csv}"])
        assert answer.status_code == 403
        inside = scenario_file.parent / "acv.csv"
        inside.write_text("acv\n10000\n12000\n", encoding="utf-8")
        answer = evaluate(client, overrides=["pricing.smb.acv={dist: empirical, file: acv.csv}"], phase="preview")
        assert answer.status_code == 200, answer.text
    finally:
        link.unlink()


@pytest.mark.parametrize("name", ["../evil.yaml", "/tmp/evil.yaml", "sub/evil.yaml", ".hidden.yaml", "evil.txt",
                                  "..", "evil.yaml/..", "ev\\il.yaml", ""])
def test_a_variant_is_saved_only_in_the_folder(client, scenario_file, name) -> None:
    before = set(os.listdir(scenario_file.parent)) | set(os.listdir(scenario_file.parent.parent))
    answer = client.post("/api/save", json={"settings": {}, "file_name": name})
    assert answer.status_code in (403, 422), answer.text
    after = set(os.listdir(scenario_file.parent)) | set(os.listdir(scenario_file.parent.parent))
    assert after == before


def test_the_served_file_is_not_overwritten(client, scenario_file) -> None:
    text = scenario_file.read_text(encoding="utf-8")
    answer = client.post("/api/save", json={"settings": {"lever:mql_plus_3pts": 0.03}, "file_name": scenario_file.name,
                                            "overwrite": True})
    assert answer.status_code == 422
    assert scenario_file.read_text(encoding="utf-8") == text


# ---------------------------------------------------------------------------------------------------------
# stale requests
# ---------------------------------------------------------------------------------------------------------


def test_a_request_replaced_by_a_newer_one_is_dropped(client) -> None:
    evaluate(client, {"lever:mql_plus_3pts": 0.01}, phase="preview", client="page-a", seq=5)
    answer = evaluate(client, {"lever:mql_plus_3pts": 0.02}, phase="preview", client="page-a", seq=4)
    assert answer.status_code == 409 and answer.json()["superseded"]
    assert evaluate(client, {"lever:mql_plus_3pts": 0.02}, phase="preview", client="page-b", seq=4).status_code == 200


def test_a_running_request_stops_when_a_newer_one_arrives(session) -> None:
    from revsim.serve.session import Superseded

    variant = session.variant({"lever:churn_down_fifth": -0.37})
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            session.compare(variant, draws=20_000, client="page-c", seq=1)
            outcome["result"] = "finished"
        except Superseded:
            outcome["result"] = "stopped"

    session.start("page-c", 1)
    worker = threading.Thread(target=run)
    began = time.perf_counter()
    worker.start()
    while session.progress("page-c")["done"] == 0 and time.perf_counter() - began < 60:
        time.sleep(0.01)
    session.start("page-c", 2)
    worker.join(120)
    assert outcome["result"] == "stopped"
    assert session.progress("page-c")["done"] < 20_000
    assert (variant.scenario.sha256, 20_000, 0) not in session.cache


# ---------------------------------------------------------------------------------------------------------
# saving the variant, exporting its report
# ---------------------------------------------------------------------------------------------------------


def test_the_variant_saved_with_its_values_keeps_the_comments_and_compares_the_same(client, scenario_file,
                                                                                    tmp_path) -> None:
    settings = {"lever:mql_plus_3pts": 0.05, "input:retention.smb.churn": -0.2, "input:channels.inbound.volume": 0.1}
    overrides = ["funnel.sales_capacity.hires_per_month=0.5"]
    page = evaluate(client, settings, overrides).json()
    answer = client.post("/api/save", json={"settings": settings, "set": overrides, "file_name": "q3-plan.yaml",
                                            "name": "Northwind, Q3 plan"})
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    path = scenario_file.parent / "q3-plan.yaml"
    text = path.read_text(encoding="utf-8")
    assert saved["comments_kept"] and saved["file"] == str(path)
    assert text.startswith("# yaml-language-server:")
    assert "# What-if variant of sales_led.yaml" in text and "--set funnel.sales_capacity.hires_per_month=0.5" in text
    assert "referred SQLs per advocate per month" in text  # a comment of the base, kept
    assert "name: Northwind, Q3 plan" in text and "hires_per_month: 0.5" in text

    args = shlex.split(saved["command"])[1:] + ["--out", str(tmp_path / "saved")]
    assert args[:3] == ["compare", str(scenario_file), str(path)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "saved" / "compare.csv").set_index("metric")
    assert page["metrics"][0]["diff_p50"] == pytest.approx(float(table.loc["arr_at_horizon", "diff_p50"]),
                                                           rel=CSV_DIGITS)

    again = client.post("/api/save", json={"settings": {}, "file_name": "q3-plan.yaml"})
    assert again.status_code == 409 and again.json()["exists"]
    replaced = client.post("/api/save", json={"settings": {}, "file_name": "q3-plan.yaml", "overwrite": True})
    assert replaced.status_code == 200
    assert "No changes: the base as it is" in path.read_text(encoding="utf-8")


def test_the_variant_saved_as_levers_runs_with_the_command_given(client, scenario_file, tmp_path) -> None:
    settings = {"lever:mql_plus_3pts": 0.03, "lever:price_up_5pct": 0.1, "input:funnel.stages.opportunity.conversion": 0.02}
    overrides = ["retention.mid_market.churn=[0.05, 0.1]"]
    page = evaluate(client, settings, overrides).json()
    answer = client.post("/api/save", json={"settings": settings, "set": overrides, "file_name": "levers.yaml",
                                            "mode": "levers"})
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    text = Path(saved["file"]).read_text(encoding="utf-8")
    assert saved["comments_kept"]
    assert saved["levers"][0] == "mql_plus_3pts" and len(saved["levers"]) == 4
    assert "price_up_5pct_at_plus_10_pct" in text and "set_retention_mid_market_churn" in text
    args = shlex.split(saved["command"])[1:] + ["--out", str(tmp_path / "levers")]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "levers" / "compare.csv").set_index("metric")
    for row in page["metrics"]:
        assert row["diff_mean"] == pytest.approx(float(table.loc[row["metric"], "diff_mean"]), rel=CSV_DIGITS,
                                                 abs=1e-12)


def test_the_board_report_of_the_variant_downloads(client) -> None:
    import io

    from pypdf import PdfReader

    answer = client.post("/api/report", json={"settings": {"lever:churn_down_fifth": -0.2}, "format": "pdf",
                                              "name": "Northwind, churn down a fifth"})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="sales_led-whatif-report.pdf"'
    reader = PdfReader(io.BytesIO(answer.content))
    assert len(reader.pages) >= 6
    assert "Northwind, churn down a fifth" in reader.pages[0].extract_text()
