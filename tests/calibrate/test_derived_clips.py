"""A derived probability that falls outside [0, 1] is clipped with a note saying how many values it changed."""

from __future__ import annotations

import types

import numpy as np
import xarray as xr

from revsim.calibrate.scenario_update import _probability


def test_a_clip_that_changes_values_is_noted():
    fit = types.SimpleNamespace(notes=[])
    values = xr.DataArray(np.array([[-0.1, 0.5], [1.2, np.nan]]), dims=("chain", "draw"))
    clipped = _probability(fit, "upgrade probability", "a formula", values)
    np.testing.assert_array_equal(clipped.values, [[0.0, 0.5], [1.0, np.nan]])
    assert fit.notes == ["upgrade probability (a formula) fell outside [0, 1] in 2 of 4 posterior values, set to "
                         "the nearest bound: the movements history and the scenario's sizes or price uplift disagree"]


def test_no_note_when_every_value_is_a_probability():
    fit = types.SimpleNamespace(notes=[])
    _probability(fit, "renewal churn", "a formula", xr.DataArray(np.array([0.0, 0.3, 1.0])))
    assert fit.notes == []
