"""The company a backtest forecasts from: its book at each cut, its open pipeline, and the cuts themselves.

No calibration runs here: the book is read from the history alone, the pipeline from a stand-in posterior.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from calibration_helpers import EXAMPLE_HISTORY, EXAMPLE_SCENARIO
from click.testing import CliRunner

from revsim.calibrate.backtest import _with_levels, forecast_scenario, metric_series, plan_cuts
from revsim.calibrate.context import context_from_scenario
from revsim.calibrate.history import month_index, month_label, read_history
from revsim.cli.main import cli
from revsim.engine.compile import compile_scenario
from revsim.errors import InputError
from revsim.scenario.load import load_scenario

CUTS = ["2024-12", "2025-07", "2026-03", "2026-06", "2026-11"]


def _history(folder: Path, loaded) -> object:
    context = context_from_scenario(loaded)
    full = read_history([folder], stages=context.stages, segments=context.segments)
    return _with_levels(full, loaded)


@pytest.fixture(scope="module")
def without_mrr_column(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example history with mrr.csv stripped of its ``mrr`` column (MRR at month end)."""
    folder = tmp_path_factory.mktemp("no_mrr_column")
    for name in ("funnel.csv", "cohorts.csv", "referrals.csv"):
        shutil.copy(EXAMPLE_HISTORY / name, folder / name)
    pd.read_csv(EXAMPLE_HISTORY / "mrr.csv").drop(columns="mrr").to_csv(folder / "mrr.csv", index=False)
    return folder


@pytest.mark.parametrize("mrr_column", [True, False], ids=["mrr column", "no mrr column"])
@pytest.mark.parametrize("cut_label", CUTS)
def test_the_book_at_a_cut_is_the_observed_company(cut_label: str, mrr_column: bool,
                                                   without_mrr_column: Path) -> None:
    loaded = load_scenario(EXAMPLE_SCENARIO)
    folder = EXAMPLE_HISTORY if mrr_column else without_mrr_column
    full = _history(folder, loaded)
    cut = month_index(cut_label)
    scenario = forecast_scenario(loaded, full.cut(cut), cut, holdout=3)
    compiled = compile_scenario(scenario)
    segments = compiled.segments
    # ARR: the observed MRR at the cut (the mrr column, or the levels rebuilt backwards from the scenario's
    # book when the column is missing), to the cent, per segment
    mrr = full.mrr
    t = mrr.months.index(cut_label)
    for s, seg in enumerate(segments):
        book_cents = compiled.book_mrr[compiled.book_segment == s].sum()
        assert book_cents == round(mrr.mrr[t, mrr.segments.index(seg)] * 100)
    if mrr_column:
        observed = pd.read_csv(EXAMPLE_HISTORY / "mrr.csv")
        assert compiled.book_mrr.sum() / 100 == pytest.approx(observed[observed.month == cut_label].mrr.sum(), abs=0.01)
    # customers: every cohort's customers at the cut, and its age: a cohort won in month b is cut + 1 - b
    # months old at the forecast's start, so its renewals fall on the anniversaries of its acquisition
    cohorts = pd.read_csv(EXAMPLE_HISTORY / "cohorts.csv")
    cohorts["start"] = cohorts.cohort.map(month_index)
    at_cut = cohorts[cohorts.start + cohorts.period == cut]
    at_cut = at_cut[at_cut.customers > 0]
    expected = sorted(zip(at_cut.segment.map(segments.index), at_cut.customers, cut + 1 - at_cut.start, strict=True))
    got = sorted(zip(compiled.book_segment.tolist(), compiled.book_customers.tolist(), compiled.book_age.tolist(),
                     strict=True))
    assert got == [tuple(int(x) for x in row) for row in expected]
    first = month_index(scenario.model.start)
    for age in compiled.book_age:
        acquired = first - int(age)
        renewals = [first + m for m in range(24) if (int(age) + m) % 12 == 0]
        assert all(month % 12 == acquired % 12 for month in renewals)


def test_the_open_pipeline_follows_each_posterior_samples_months_in_stage() -> None:
    import xarray as xr

    from revsim.calibrate.cut_state import open_pipeline_draws
    from revsim.calibrate.funnel import level_before_history

    loaded = load_scenario(EXAMPLE_SCENARIO)
    full = _history(EXAMPLE_HISTORY, loaded)
    cut = month_index("2026-06")
    history = full.cut(cut)

    class Stub:  # the two things open_pipeline_draws reads of a fit
        def __init__(self, months: np.ndarray) -> None:
            self.posterior = xr.Dataset({"months_in_stage": (("chain", "draw", "stage", "segment"), months)},
                                        coords={"stage": ["opportunity"], "segment": ["smb", "mid_market"]})

        def block(self, name: str):
            return type("B", (), {"data": type("D", (), {"stages": ["opportunity"]})})()

    months = np.array([0.0, 1.0, 4.0])[None, :, None, None] * np.ones((1, 3, 1, 2))
    stock = open_pipeline_draws(Stub(months), history, cut)
    entries = history.funnel.counts[:, history.funnel.stages.index("opportunity"), 1, 0]
    # months 0: nobody stays open; months 1: half of the cut month's entries, a quarter of the month before...
    assert stock.sel(segment="mid_market").values[0, 0, 0] == pytest.approx(0.0)
    j = np.arange(entries.size)
    before = level_before_history(history.funnel.counts[:, history.funnel.stages.index("opportunity"), 1, :].T).sum()
    expected = np.sum(entries[::-1] * 0.5 ** (j + 1)) + before * 0.5 ** (entries.size + 1) / 0.5
    assert stock.sel(segment="mid_market").values[0, 1, 0] == pytest.approx(expected)
    # a slower stage holds more members open
    assert stock.values[0, 2, 0, 1] > 3 * stock.values[0, 1, 0, 1]


def test_cuts_are_spaced_back_from_the_end() -> None:
    loaded = load_scenario(EXAMPLE_SCENARIO)
    full = _history(EXAMPLE_HISTORY, loaded)
    series, files = metric_series(full, loaded, [])
    last = full.last_month
    cuts, spacing = plan_cuts(series, files, last, holdout=6, origins=1, spacing=None)
    assert [month_label(c) for c in cuts] == ["2026-06"]
    cuts, spacing = plan_cuts(series, files, last, holdout=6, origins=4, spacing=None)
    assert spacing == 3 and [month_label(c) for c in cuts] == ["2025-09", "2025-12", "2026-03", "2026-06"]
    # 36 months: 12 to calibrate on and 12 ahead leave room for 13 origins a month apart, 5 three months apart
    cuts, spacing = plan_cuts(series, files, last, holdout=12, origins=13, spacing=None)
    assert spacing == 1 and month_label(cuts[0]) == "2024-12"
    with pytest.raises(InputError, match=r"at most 5 origin\(s\) fit"):
        plan_cuts(series, files, last, holdout=12, origins=6, spacing=3)


@pytest.mark.parametrize(("args", "expected"), [
    (["--holdout", "36"], "36 month(s) held out is as long as the history: "),
    (["--holdout", "40"], "40 month(s) held out is as long as the history: "),
    (["--holdout", "6", "--origins", "20"], "20 origins do not fit the history: "),
    (["--holdout", "12", "--origins", "6", "--spacing", "3"], "6 origins do not fit the history: "),
])
def test_a_history_too_short_for_the_backtest_is_refused(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["backtest", str(EXAMPLE_SCENARIO), "--history", str(EXAMPLE_HISTORY),
                                      "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "mrr.csv holds 36 month(s) (2024-01 to 2026-12)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
