"""Reading the history files: formats, and bad history refused with the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from revsim.calibrate.history import read_history
from revsim.cli.main import cli
from revsim.errors import InputError

from calibration_helpers import EXAMPLE_HISTORY, EXAMPLE_SCENARIO, assert_calibrate_refuses, write

STAGES = ["lead", "mql", "sql", "opportunity", "won"]
SEGMENTS = ["smb", "mid_market"]


def test_the_example_history_reads() -> None:
    history = read_history([EXAMPLE_HISTORY], stages=STAGES, segments=SEGMENTS)
    assert history.funnel.months[0] == "2024-01" and history.funnel.months[-1] == "2026-12"
    assert history.funnel.stages == STAGES and history.funnel.segments == SEGMENTS
    assert history.funnel.counts.shape == (36, 5, 2, 1)
    assert history.cohorts.dated and history.cohorts.customers.shape[0] == 120  # 60 months x 2 segments
    assert history.mrr.mrr is not None and history.referrals.source is not None
    assert history.notes == []


def test_ragged_cohort_table_and_optional_columns(tmp_path: Path) -> None:
    write(tmp_path, "cohorts.csv", """
        cohort,period,customers,mrr
        2026-01,0,100,5000
        2026-01,1,90,4700
        2026-01,2,85,4600
        2026-02,0,80,4000
        2026-02,1,75,3900
        2026-03,0,120,6100
    """)
    cohorts = read_history([tmp_path]).cohorts
    assert cohorts.labels == ["2026-01", "2026-02", "2026-03"]
    np.testing.assert_array_equal(cohorts.observed_periods, [3, 2, 1])
    assert np.isnan(cohorts.customers[2, 1]) and cohorts.mrr[0, 2] == 4600
    assert cohorts.segments is None and cohorts.dated


def test_losses_written_as_negative_amounts_are_read_with_a_note(tmp_path: Path) -> None:
    write(tmp_path, "mrr.csv", """
        month,new,expansion,contraction,churn
        2026-01,1000,50,-20,-300
        2026-02,1200,60,0,-250
        2026-03,900,40,-10,-200
    """)
    history = read_history([tmp_path])
    assert history.mrr.churn[:, 0].tolist() == [300, 250, 200]
    assert any("churn column holds negative amounts" in note for note in history.notes)


def test_files_are_recognised_by_their_columns(tmp_path: Path) -> None:
    file = write(tmp_path, "crm_export.csv", "month,stage,count\n2026-01,lead,10\n2026-02,lead,12\n")
    assert read_history([file]).funnel.stages == ["lead"]


def test_a_missing_row_counts_zero_when_the_cell_appears_in_other_months(tmp_path: Path) -> None:
    write(tmp_path, "funnel.csv", """
        month,stage,count
        2026-01,lead,100
        2026-01,won,3
        2026-02,lead,90
        2026-03,lead,95
        2026-03,won,2
    """)
    funnel = read_history([tmp_path]).funnel
    np.testing.assert_array_equal(funnel.counts[:, 1, 0, 0], [3, 0, 2])


BAD = [
    pytest.param("cohorts.csv", """
        cohort,period,customers
        2026-01,0,100
        2026-01,1,90
        2026-01,2,95
        """, ["cohorts.csv", "customers:", "cohort 2026-01 grows from 90 customers in period 1 to 95 in period 2",
              "(line 4)"], id="cohort-that-grows"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-01,lead,100
        2026-02,lead,-5
        """, ["funnel.csv", "count:", "negative count -5", "(line 3)"], id="negative-count"),
    pytest.param("cohorts.csv", """
        cohort,period,customers
        2026-01,0,100
        2026-01,1,-3
        """, ["cohorts.csv", "customers:", "negative customers -3", "(line 3)"], id="negative-customers"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-01,lead,100
        2026-01,mqll,40
        2026-02,lead,90
        """, ["funnel.csv", "stage:", "unknown stage 'mqll'", "(line 3)", "did you mean 'mql'?"],
        id="unknown-stage"),
    pytest.param("funnel.csv", """
        month,stage,segment,count
        2026-01,lead,smb,100
        2026-01,lead,enterprise,40
        2026-02,lead,smb,90
        """, ["funnel.csv", "segment:", "unknown segment 'enterprise'", "(line 3)"], id="unknown-segment"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-02,lead,100
        2026-01,lead,90
        2026-03,lead,95
        """, ["funnel.csv", "month:", "months out of order: 2026-01 comes after 2026-02 (line 2)", "(line 3)"],
        id="months-out-of-order"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-02,lead,100
        2026-01,lead,90
        2026-02,mqll,95
        """, ["funnel.csv", "months out of order: 2026-01 comes after 2026-02 (line 2)", "(line 3)",
              "unknown stage 'mqll'", "(line 4)"], id="months-out-of-order-and-an-unknown-stage-together"),
    pytest.param("mrr.csv", """
        month,new,expansion,contraction,churn
        2026-02,100,1,1,1
        2026-01,120,-1,1,1
        """, ["mrr.csv", "months out of order: 2026-01 comes after 2026-02 (line 2)", "negative expansion MRR -1"],
        id="mrr-months-out-of-order-and-a-negative-amount-together"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-01,lead,100
        2026-02,lead,90
        2026-02,lead,91
        """, ["funnel.csv", "duplicate row: 2026-02, stage lead is also on line 3", "(line 4)"],
        id="duplicate-row"),
    pytest.param("mrr.csv", """
        month,new,expansion,contraction,churn
        2026-01,100,1,1,1
        2026-01,120,1,1,1
        2026-02,130,1,1,1
        """, ["mrr.csv", "duplicate row: 2026-01 is also on line 2", "(line 3)"], id="duplicate-mrr-month"),
    pytest.param("cohorts.csv", """
        cohort,period,customers
        2026-01,0,100
        2026-01,0,100
        """, ["cohorts.csv", "duplicate row: cohort 2026-01, period 0 is also on line 2", "(line 3)"],
        id="duplicate-cohort-period"),
    pytest.param("referrals.csv", """
        month,referred
        2026-01,10
        2026-02,12
        2026-04,9
        """, ["referrals.csv", "month:", "no rows for 2026-03", "(line 4)"], id="missing-month"),
    pytest.param("funnel.csv", """
        month,stage,count
        2026-01,lead,100.5
        2026-02,lead,90
        """, ["funnel.csv", "count:", "count must be a whole number, got 100.5", "(line 2)"], id="fractional-count"),
    pytest.param("cohorts.csv", """
        cohort,period,customers
        2026-01,0,100
        2026-01,2,90
        """, ["cohorts.csv", "period:", "cohort 2026-01 skips period 1"], id="cohort-skips-a-period"),
    pytest.param("cohorts.csv", """
        cohort,period,customers
        2026-01,1,100
        2026-01,2,90
        """, ["cohorts.csv", "period:", "cohort 2026-01 has no period 0"], id="cohort-without-acquisition"),
    pytest.param("mrr.csv", """
        month,new,expansion,contraction,churn
        2026-01,100,1,1,-5
        2026-02,120,1,1,7
        2026-03,130,1,1,1
        """, ["mrr.csv", "churn:", "mixes negative amounts (line 2) and positive ones (line 3)"],
        id="mixed-signs"),
    pytest.param("funnel.csv", """
        month,stage,count
        January,lead,100
        2026-02,lead,90
        """, ["funnel.csv", "month:", "expected a month as YYYY-MM", "'January'", "(line 2)"], id="bad-month"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD)
def test_bad_history_is_refused_with_file_line_and_column(tmp_path: Path, name: str, text: str,
                                                          expected: list[str]) -> None:
    write(tmp_path, name, text)
    with pytest.raises(InputError) as caught:
        read_history([tmp_path], stages=STAGES, segments=SEGMENTS)
    message = str(caught.value)
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


@pytest.mark.parametrize(("name", "text", "expected"), BAD[:7])
def test_bad_history_exits_with_2_and_writes_nothing(tmp_path: Path, name: str, text: str,
                                                     expected: list[str]) -> None:
    history = tmp_path / "history"
    write(history, name, text)
    assert_calibrate_refuses(history, tmp_path / "out", expected)


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "funnel.csv", "month,stage,count\n2026-01,lead,-1\n2026-02,lead,3\n")
    write(tmp_path, "referrals.csv", "month,referred\n2026-01,1\n2026-01,2\n2026-02,3\n")
    with pytest.raises(InputError) as caught:
        read_history([tmp_path])
    message = str(caught.value)
    assert "funnel.csv: count: negative count -1" in message and "referrals.csv: month: duplicate row" in message


def test_a_directory_without_history_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="holds none of funnel.csv, cohorts.csv, mrr.csv, referrals.csv"):
        read_history([tmp_path])
    with pytest.raises(InputError, match="does not exist"):
        read_history([tmp_path / "missing"])


def test_a_cohort_table_without_segments_needs_them_when_terms_differ(tmp_path: Path) -> None:
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import plan_blocks
    from revsim.scenario.load import load_scenario

    write(tmp_path, "cohorts.csv", "cohort,period,customers\n2026-01,0,100\n2026-01,1,90\n")
    loaded = load_scenario(EXAMPLE_SCENARIO)  # smb renews monthly, mid_market yearly
    with pytest.raises(InputError, match="no segment column, but the scenario's segments have different contract"):
        plan_blocks(read_history([tmp_path]), context_from_scenario(loaded))


def test_bad_options_are_input_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["calibrate", "--history", str(EXAMPLE_HISTORY), "--sampler", "stan"])
    assert result.exit_code == 2
    with pytest.raises(InputError, match="--period-months"):
        read_history([EXAMPLE_HISTORY], period_months=0)
    result = runner.invoke(cli, ["backtest", str(EXAMPLE_SCENARIO), "--history", str(EXAMPLE_HISTORY),
                                 "--holdout", "30", "--out", str(tmp_path / "bt")])
    assert result.exit_code == 2 and "leaves 6 month(s) to calibrate on" in result.stderr
    assert not (tmp_path / "bt").exists()
