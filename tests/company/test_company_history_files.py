"""History files written by the independent company simulator, read back by revsim's history reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.company import shapes, simulate_company
from revsim.calibrate.history import read_history


@pytest.fixture(scope="module")
def enterprise_run() -> object:
    shape = shapes.SHAPES["enterprise"]
    return simulate_company(shape.truth(), months=shape.months, seed=2)


@pytest.mark.parametrize("name", list(shapes.SHAPES))
def test_every_shape_writes_files_revsim_reads(tmp_path: Path, name: str) -> None:
    shape = shapes.SHAPES[name]
    run = simulate_company(shape.truth(), months=shape.months, seed=1)
    written = run.write_history(tmp_path, shape.first_month, shape.last_month)
    assert set(written) == {"funnel", "cohorts", "mrr"} | ({"referrals"} if run.company.loops else set())
    history = read_history([tmp_path], stages=run.stages, segments=run.segments)
    first, last = run.month(shape.first_month), run.month(shape.last_month)
    assert history.funnel.months[0] == shape.first_month and history.funnel.months[-1] == shape.last_month
    assert history.last_month is not None
    assert not any("does not follow" in note for note in history.notes)
    # funnel: entries per stage, segment and source as simulated
    for k, stage in enumerate(run.stages):
        for s, seg in enumerate(run.segments):
            for r, source in enumerate(run.sources):
                column = history.funnel.counts[:, k, history.funnel.segments.index(seg),
                                               history.funnel.channels.index(source)]
                expected = run.stage_entries[first:last + 1, k, s, r]
                if np.all(np.isnan(column)):
                    assert expected.sum() == 0
                else:
                    np.testing.assert_array_equal(column, expected)
    # MRR: movements and month-end MRR to the cent
    for s, seg in enumerate(run.segments):
        j = history.mrr.segments.index(seg)
        np.testing.assert_allclose(history.mrr.mrr[:, j], run.mrr[first:last + 1, s], atol=0.006)
        np.testing.assert_allclose(history.mrr.churn[:, j], run.churned_mrr[first:last + 1, s], atol=0.006)
    # cohorts: every cohort since the start, observed until the last month
    cohorts = history.cohorts
    assert cohorts.dated
    for c, label in enumerate(cohorts.labels):
        b = run.month(label)
        s = run.segments.index(cohorts.segment_names[cohorts.segment[c]])
        observed = cohorts.customers[c][np.isfinite(cohorts.customers[c])]
        np.testing.assert_array_equal(observed, run.cohort_customers[b:last + 1, b, s])
    assert int(np.nansum(cohorts.customers[:, 0])) == int(run.new_customers[:last + 1].sum())
    if run.company.loops:
        np.testing.assert_array_equal(history.referrals.referred, run.loop_entries[first:last + 1, 0])


def test_channels_have_rows_from_their_entry_stage_only(tmp_path: Path, enterprise_run: object) -> None:
    enterprise_run.write_history(tmp_path, "2023-01", "2026-12")
    funnel = pd.read_csv(tmp_path / "funnel.csv")
    outbound = funnel[funnel.channel == "outbound"]
    assert set(outbound.stage) == {"sql", "opportunity", "won"}
    assert set(funnel[funnel.channel == "inbound"].stage) == set(enterprise_run.stages)
    assert list(funnel.columns) == ["month", "stage", "segment", "channel", "count", "open"]
    assert funnel[funnel.stage == "won"].open.isna().all()  # customers are not pipeline


def test_the_open_column_is_each_stage_s_members_at_month_end(tmp_path: Path, enterprise_run: object) -> None:
    """Read back, the open counts are the simulator's members in each stage, segment and source at month end, and
    they follow from the flows: open at the end of the month before + entries - the month's leavers."""
    run = enterprise_run
    run.write_history(tmp_path, "2023-01", "2026-12")
    funnel = read_history([tmp_path], stages=run.stages, segments=run.segments).funnel
    first, last = run.month("2023-01"), run.month("2026-12")
    opportunity = run.stages.index("opportunity")
    for s, seg in enumerate(run.segments):
        for r, source in enumerate(run.sources):
            column = funnel.open[:, opportunity, funnel.segments.index(seg), funnel.channels.index(source)]
            np.testing.assert_array_equal(column, run.open_by_source[first:last + 1, opportunity, s, r])
    np.testing.assert_array_equal(np.nansum(funnel.open[:, opportunity], axis=(1, 2)),
                                  run.series("open_in_stage", stage="opportunity")[first:last + 1])
    leavers = run.stage_converted[:, opportunity] + run.stage_lost[:, opportunity]  # [T, S]
    flows = run.open_in_stage[first - 1:last, opportunity] + run.stage_entries[first:last + 1, opportunity].sum(axis=2)
    np.testing.assert_array_equal(run.open_in_stage[first:last + 1, opportunity], flows - leavers[first:last + 1])
    assert np.isnan(funnel.open[:, run.stages.index("won")]).all()


def test_columns_can_be_dropped_and_are_then_summed(tmp_path: Path, enterprise_run: object) -> None:
    enterprise_run.write_history(tmp_path, "2023-01", "2026-12", segment_column=False, channel_column=False,
                                 cohort_mrr=False)
    history = read_history([tmp_path], stages=enterprise_run.stages)
    assert history.funnel.segments is None and history.funnel.channels is None
    assert history.cohorts.segments is None and history.cohorts.mrr is None and history.mrr.segments is None
    first, last = enterprise_run.month("2023-01"), enterprise_run.month("2026-12")
    np.testing.assert_array_equal(history.funnel.counts[:, 2, 0, 0],
                                  enterprise_run.series("stage_entries", stage="sql")[first:last + 1])
    np.testing.assert_allclose(history.mrr.mrr[:, 0], enterprise_run.mrr[first:last + 1].sum(axis=1), atol=0.01)
    assert list(pd.read_csv(tmp_path / "cohorts.csv").columns) == ["cohort", "period", "customers"]
    enterprise_run.write_history(tmp_path, "2023-01", "2026-12", open_column=False)
    assert "open" not in pd.read_csv(tmp_path / "funnel.csv").columns
    assert read_history([tmp_path], stages=enterprise_run.stages).funnel.open is None


def test_a_bad_window_is_refused(tmp_path: Path, enterprise_run: object) -> None:
    with pytest.raises(ValueError, match="outside the simulated months"):
        enterprise_run.write_history(tmp_path, "2019-01", "2026-12")
    with pytest.raises(ValueError, match="too short"):
        enterprise_run.write_history(tmp_path, "2026-11", "2026-12")
    assert not list(tmp_path.iterdir())
