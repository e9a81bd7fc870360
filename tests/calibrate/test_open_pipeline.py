"""The ``open`` column of ``funnel.csv``: the members open in each stage at month end (the CRM's open pipeline).

Read and checked like the other columns; fitted as the stage's stock (which identifies the months in stage that
the entry counts alone leave loose); used as the pipeline open at a backtest's cut. The PyMC recovery runs in a
fresh process (``calibration_workers.slow_stage_open_fit``); everything else here is numpy.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from calibration_helpers import EXAMPLE_HISTORY, assert_calibrate_refuses, write
from calibration_workers import SLOW_STAGE_TRUTH
from scipy.optimize import minimize_scalar

from revsim.calibrate.funnel import funnel_data, informative_delays, open_logp, open_observations, stage_stock
from revsim.calibrate.history import History, month_index, read_history
from revsim.calibrate.synthetic import funnel_counts
from revsim.errors import InputError

STAGES = ["lead", "mql", "sql", "opportunity", "won"]


# ------------------------------------------------------------------------------------------------- reading


def test_the_open_column_is_read_with_empty_cells_and_missing_rows_unknown(tmp_path: Path) -> None:
    write(tmp_path, "funnel.csv", """
        month,stage,count,open
        2026-01,lead,100,40
        2026-01,won,3,
        2026-02,lead,90,
        2026-02,won,2,
        2026-03,lead,95,38
    """)
    history = read_history([tmp_path])
    funnel = history.funnel
    assert funnel.open is not None and funnel.open.shape == funnel.counts.shape
    np.testing.assert_array_equal(funnel.open[:, 0, 0, 0], [40, np.nan, 38])  # an empty cell: not known
    assert np.isnan(funnel.open[2, 1, 0, 0])  # no row for won in 2026-03: its count is 0, its open count unknown
    assert funnel.counts[2, 1, 0, 0] == 0
    # kept by a cut, and on the stage pairs the model fits
    cut = funnel.cut(month_index("2026-02"))
    np.testing.assert_array_equal(cut.open[:, 0, 0, 0], [40, np.nan])
    np.testing.assert_array_equal(funnel_data(funnel).open, [[40, np.nan, 38]])


def test_a_history_without_the_column_has_no_open_counts() -> None:
    history = read_history([EXAMPLE_HISTORY], stages=STAGES, segments=["smb", "mid_market"])
    assert history.funnel.open is None and funnel_data(history.funnel, order=STAGES).open is None


def test_open_counts_of_the_last_stage_are_noted_and_an_empty_column_too(tmp_path: Path) -> None:
    write(tmp_path, "funnel.csv", "month,stage,count,open\n2026-01,lead,10,4\n2026-01,won,1,7\n2026-02,lead,9,5\n"
                                  "2026-02,won,2,9\n")
    notes = " ".join(read_history([tmp_path], stages=["lead", "won"]).notes)
    assert "open counts of stage won, the last one, are not used" in notes
    write(tmp_path, "funnel.csv", "month,stage,count,open\n2026-01,lead,10,\n2026-02,lead,9,\n")
    history = read_history([tmp_path])
    assert "the open column is empty" in " ".join(history.notes) and history.funnel.open is None
    write(tmp_path, "funnel.csv", "month,stage,count,open\n2026-01,lead,10,4\n2026-02,lead,3,9\n2026-03,lead,2,5\n")
    notes = " ".join(read_history([tmp_path]).notes)
    assert "the open count grows by more than the month's entries in 1 case(s) (the first: stage lead, 2026-02)" in notes


BAD_OPEN = [
    pytest.param("month,stage,count,open\n2026-01,lead,100,40\n2026-02,lead,90,-3\n",
                 ["funnel.csv", "open:", "negative open count -3", "(line 3)"], id="negative"),
    pytest.param("month,stage,count,open\n2026-01,lead,100,40.5\n2026-02,lead,90,41\n",
                 ["funnel.csv", "open:", "open count must be a whole number, got 40.5", "(line 2)"], id="fractional"),
    pytest.param("month,stage,count,open\n2026-01,lead,100,forty\n2026-02,lead,90,41\n",
                 ["funnel.csv", "open:", "expected a number, got 'forty'", "(line 2)"], id="text"),
    pytest.param("month,stage,count,opne\n2026-01,lead,100,40\n2026-02,lead,90,41\n",
                 ["funnel.csv", "unknown column 'opne'", "did you mean 'open'?"], id="misspelt-column"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_OPEN)
def test_bad_open_counts_are_refused_with_file_line_and_column(tmp_path: Path, text: str,
                                                               expected: list[str]) -> None:
    (tmp_path / "funnel.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_history([tmp_path], stages=STAGES)
    for part in expected:
        assert part in str(caught.value), f"{part!r} not in: {caught.value}"


@pytest.mark.parametrize(("text", "expected"), BAD_OPEN[:2])
def test_bad_open_counts_exit_with_2_and_write_nothing(tmp_path: Path, text: str, expected: list[str]) -> None:
    history = tmp_path / "history"
    history.mkdir()
    (history / "funnel.csv").write_text(text, encoding="utf-8")
    assert_calibrate_refuses(history, tmp_path / "out", expected)


# ------------------------------------------------------------------------------------- the observation model


def test_the_likelihood_is_a_binomial_of_the_stayers_after_a_known_month_and_poisson_otherwise() -> None:
    from scipy.stats import binom, poisson

    trials = np.array([[5.0, 7.0, 6.0, 4.0, 8.0]])
    observed = np.array([[20.0, 22.0, np.nan, 21.0, 24.0]])
    h, before = np.array([0.25]), np.array([5.0])
    logp = open_logp(trials, observed, h, before)[0]
    stock, _ = stage_stock(trials, h, before)
    expected_level = (1 - h[0]) * stock[0]
    assert logp[0] == pytest.approx(poisson.logpmf(20, expected_level[0]))  # the first month: Poisson
    assert logp[1] == pytest.approx(binom.logpmf(22, 20 + 7, 0.75))  # 20 open + 7 entries, 22 stayed
    assert logp[2] == 0.0  # not known
    assert logp[3] == pytest.approx(poisson.logpmf(21, expected_level[3]))  # after a gap: Poisson
    assert logp[4] == pytest.approx(binom.logpmf(24, 21 + 8, 0.75))
    # more open than could have stayed (a CRM count that does not follow from the entries): every member stayed
    obs = open_observations(np.array([[5.0, 1.0]]), np.array([[10.0, 30.0]]))
    assert obs.trials[0, 1] == 30.0


def test_the_model_graph_computes_the_numpy_likelihood() -> None:
    pt = pytest.importorskip("pytensor.tensor")
    from revsim.calibrate.funnel import lag_matrix, open_logp_tensor

    rng = np.random.default_rng(2)
    trials = rng.poisson(12, size=(3, 9)).astype(float)
    observed = rng.poisson(40, size=(3, 9)).astype(float)
    observed[1, 4] = np.nan
    observed[2, 0] = np.nan
    months, before = np.array([0.7, 3.0, 8.0]), np.array([11.0, 0.0, 13.0])
    obs = open_observations(trials, observed)
    graph = open_logp_tensor(pt.as_tensor(months), pt.as_tensor(lag_matrix(trials)), pt.as_tensor(before),
                             **{name: pt.as_tensor(getattr(obs, name)) for name in ("observed", "trials", "step",
                                                                                   "level")})
    np.testing.assert_allclose(graph.eval(), open_logp(trials, observed, 1 / (1 + months), before), rtol=1e-9)


# ----------------------------------------------------------------------------- recovery of the months in stage


def _slow_stage(rng: np.random.Generator, months: float) -> Any:
    """Three years of an opportunity stage (8 months in stage, 18% won, 17 entries a month)."""
    return funnel_counts(volume=17, growth=0.0, dispersion=0.0, conversion=[0.18], months_in_stage=[months],
                         months=36, rng=rng, burn_in=60, stages=["opportunity", "won"], with_open=True)


def test_the_months_in_a_slow_stage_are_recovered_from_the_open_counts_to_their_standard_error() -> None:
    """Over 400 simulated histories, the maximum-likelihood hazard of the open counts errs by its standard error
    (the binomial's Fisher information, sum of the members in the stage / (h (1 - h))): the z-scores average 0
    within 3 standard errors of a mean of 400 (0.15) and spread by 1 within 4 standard errors of a standard
    deviation (0.14); the months in stage are then within 10% of the truth in at least 90% of the histories
    (their standard error is about 4%)."""
    rng = np.random.default_rng(31)
    months, reps = 8.0, 400
    h = 1 / (1 + months)
    z, relative = [], []
    for _ in range(reps):
        data = funnel_data(_slow_stage(rng, months))
        trials, observed, before = data.trials, data.open, data.entries_before

        def negative(log_m: float) -> float:
            return -float(np.sum(open_logp(trials, observed, np.array([1 / (1 + np.exp(log_m))]), before)))

        best = minimize_scalar(negative, bounds=(np.log(0.5), np.log(40.0)), method="bounded",
                               options={"xatol": 1e-6})
        m_hat = float(np.exp(best.x))
        h_hat = 1 / (1 + m_hat)
        exposure = open_observations(trials, observed).trials.sum()
        z.append((h_hat - h) / np.sqrt(h * (1 - h) / exposure))
        relative.append(m_hat / months - 1)
    z, relative = np.array(z), np.array(relative)
    assert abs(z.mean()) < 3 / np.sqrt(reps)
    assert abs(z.std() - 1) < 4 / np.sqrt(2 * reps)
    assert np.mean(np.abs(relative) < 0.10) >= 0.9


def test_the_open_counts_make_the_months_of_a_slow_stage_informative() -> None:
    """The counts alone leave the months of an 8-month stage loose (their profile likelihood spreads over more
    than the segment spread, a factor e either way); with the open counts they are pinned."""
    rng = np.random.default_rng(4)
    with_open = funnel_data(_slow_stage(rng, 8.0))
    without = dataclasses.replace(with_open, open=None)
    assert not informative_delays(without, 1.0).any()
    assert informative_delays(with_open, 1.0).all()


@pytest.mark.slow
def test_the_calibrated_months_in_stage_recover_the_truth_with_the_open_column(fits: dict[str, Any]) -> None:
    """The slow sales cycle of ``SLOW_STAGE_TRUTH`` (5 and 8 months in opportunity), 48 months of counts: with the
    open counts, the posterior median of each segment's months is within 3 posterior standard deviations of the
    truth and its 90% interval is at most 10% of the months wide either way; without them (the same counts, the
    same default prior, ``slow_stage_fits``), the interval is more than 3 times wider."""
    with_open = fits["slow_stage_open"].result()
    without = fits["slow_stage"].result()["default"]
    assert with_open["divergences"] == 0
    k = with_open["stages"].index("opportunity")
    for s, truth in enumerate((5.0, 8.0)):
        draws = np.log(with_open["months"][:, k, s])
        assert abs(np.median(draws) - np.log(truth)) < 3 * draws.std()
        low, high = np.quantile(draws, [0.05, 0.95])
        assert high - low < 2 * np.log(1.10)
        loose = np.log(without["months"][:, s])
        assert np.subtract(*np.quantile(loose, [0.95, 0.05])) > 3 * (high - low)


# ----------------------------------------------------------------------------------- the model and the cut


def test_the_open_likelihood_is_one_more_term_of_the_same_model_and_every_cut_shares_its_structure() -> None:
    pytest.importorskip("pymc")
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.fit import build_model, plan_blocks
    from revsim.calibrate.model_structure import model_structure

    funnel = funnel_counts(volume=300, growth=0.01, dispersion=0.02, conversion=[0.3, 0.2], months_in_stage=[0.5, 6],
                           months=30, rng=np.random.default_rng(1), stages=["lead", "opportunity", "won"],
                           with_open=True)
    full = History(funnel=funnel)
    without = History(funnel=dataclasses.replace(funnel, open=None))

    def model(history: History, layout: History | None = None) -> Any:
        blocks, _, _ = plan_blocks(history, context_without_scenario(history), layout=layout)
        return build_model(blocks)

    a, b = (full.cut(month_index(funnel.months[t])) for t in (23, 26))
    keys = {model_structure(model(h, full)).key for h in (a, b)}
    assert len(keys) == 1  # two origins of a backtest: one structure, one compilation
    plain = model(without)
    assert "funnel_open_loglik" not in {p.name for p in plain.potentials}
    assert model_structure(plain).key not in keys
    # the same point: the model with the column is the one without plus the open counts' likelihood
    fitted = model(full)
    point = plain.initial_point()
    months = np.exp(point["months_typical_log__"])
    gap = fitted.compile_logp()(point) - plain.compile_logp()(point)
    data = funnel_data(funnel)
    assert gap == pytest.approx(float(np.sum(open_logp(data.trials, data.open, 1 / (1 + months), data.entries_before))),
                                rel=1e-9)


class _Fit:
    """The two things ``open_pipeline_draws`` reads of a fit."""

    def __init__(self, months: np.ndarray, stages: list[str], segments: list[str]) -> None:
        import xarray as xr

        self.posterior = xr.Dataset({"months_in_stage": (("chain", "draw", "stage", "segment"), months)},
                                    coords={"stage": stages, "segment": segments})
        self.stages = stages

    def block(self, name: str) -> Any:
        return type("B", (), {"data": type("D", (), {"stages": self.stages})})()


def test_the_pipeline_at_the_cut_is_the_observed_open_count_where_the_history_gives_it() -> None:
    from revsim.calibrate.cut_state import open_pipeline_draws

    truth = SLOW_STAGE_TRUTH
    funnel = funnel_counts(volume=200, growth=0.0, dispersion=0.0, conversion=truth["conversion"],
                           months_in_stage=truth["months_in_stage"], months=30, rng=np.random.default_rng(8),
                           stages=truth["stages"], segments=truth["segments"], with_open=True)
    cut = month_index(funnel.months[20])
    history = History(funnel=funnel).cut(cut)
    months = np.array([1.0, 4.0, 12.0])[None, :, None] * np.ones((1, 3, 2))  # [chain, draw, segment]
    fit = _Fit(months[:, :, None, :], ["opportunity"], truth["segments"])
    stock = open_pipeline_draws(fit, history, cut)
    observed = funnel.open[20, 1, :, 0]
    # every posterior sample starts from what the CRM had open, whatever its months in stage
    np.testing.assert_array_equal(stock.sel(stage="opportunity").values, np.broadcast_to(observed, (1, 3, 2)))
    # without the count at the cut, each sample's stock follows its months in stage, as without the column
    unknown = dataclasses.replace(history.funnel, open=history.funnel.open.copy())
    unknown.open[-1] = np.nan
    estimated = open_pipeline_draws(fit, History(funnel=unknown), cut)
    plain = open_pipeline_draws(fit, History(funnel=dataclasses.replace(history.funnel, open=None)), cut)
    np.testing.assert_array_equal(estimated.values, plain.values)
    assert (np.diff(estimated.values[0, :, 0, 1]) > 0).all()
