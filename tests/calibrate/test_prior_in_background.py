"""The identification measure's prior draws made by a forked child: the same draws, used only when they fit."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from test_parametrisation import history

from revsim.calibrate.funnel import FunnelBlock, funnel_data
from revsim.calibrate.identification import _draw_priors, prior_variables, start_prior_draws

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the priors are drawn by a forked child on Linux")


@pytest.fixture(scope="module")
def model_and_blocks() -> tuple:
    pm = pytest.importorskip("pymc")
    block = FunnelBlock(funnel_data(history()))
    with pm.Model(coords=block.coords()) as model:
        block.build()
    return model, [block]


def test_the_childs_prior_draws_are_the_draws_made_in_process(model_and_blocks: tuple) -> None:
    model, blocks = model_and_blocks
    names = prior_variables(model, blocks)
    assert names and set(names) <= set(model.named_vars)
    drawn = start_prior_draws(model, blocks, draws=200, seed=5)
    assert drawn is not None
    path = drawn.path
    from_child = drawn.take(names, 200, 5)
    here = _draw_priors(model, names, 200, 5)
    assert from_child is not None and sorted(from_child.data_vars) == sorted(here.data_vars)
    for name in here.data_vars:
        np.testing.assert_array_equal(from_child[name].values, here[name].values, err_msg=name)
    assert not os.path.exists(path)
    with pytest.raises(ChildProcessError):
        os.waitpid(drawn.pid, os.WNOHANG)  # collected


@pytest.mark.parametrize("change", ["variables", "draws", "seed"])
def test_draws_made_for_something_else_are_not_used(model_and_blocks: tuple, change: str) -> None:
    model, blocks = model_and_blocks
    names = prior_variables(model, blocks)
    drawn = start_prior_draws(model, blocks, draws=100, seed=5)
    assert drawn is not None
    asked = {"variables": (names[:-1], 100, 5), "draws": (names, 101, 5), "seed": (names, 100, 6)}[change]
    assert drawn.take(*asked) is None
    assert not os.path.exists(drawn.path)
    with pytest.raises(ChildProcessError):
        os.waitpid(drawn.pid, os.WNOHANG)


def test_a_failed_child_is_reported_as_no_draws(model_and_blocks: tuple) -> None:
    from revsim.calibrate.identification import PriorDrawsInBackground

    model, blocks = model_and_blocks
    pid = os.fork()
    if pid == 0:
        os._exit(1)
    drawn = PriorDrawsInBackground(pid, "/nonexistent/revsim-prior.pickle", prior_variables(model, blocks), 100, 5)
    assert drawn.take(prior_variables(model, blocks), 100, 5) is None
