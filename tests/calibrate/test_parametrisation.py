"""How the funnel's segment and channel effects are parametrised (built and drawn from the priors, not sampled).

The convergence these parametrisations bring is measured over synthetic companies by
``python benchmarks/calibration.py --convergence 10`` (docs/calibration.md); a history of that shape is
calibrated end to end in ``test_convergence.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from revsim.calibrate.funnel import (
    FunnelBlock,
    channel_share,
    funnel_data,
    informative_cells,
)
from revsim.calibrate.history import FunnelHistory


def history(small_first_month: float = 3.0) -> FunnelHistory:
    """Two stages and won, two segments, a large and a small channel; the small one's first month empty at mql."""
    months = 24
    counts = np.zeros((months, 3, 2, 2))
    counts[:, 0, :, 0] = [3000, 1000]  # lead: inbound
    counts[:, 0, :, 1] = [20, 60]  # lead: partner
    counts[:, 1] = np.round(counts[:, 0] * 0.2)
    counts[:, 2] = np.round(counts[:, 1] * 0.3)
    counts[0, 1, 0, 1] = 0.0  # no partner mql of the first segment in the first month...
    counts[0, 2, 0, 1] = 0.0  # ... so none won either
    counts[1, 1, 0, 1] = small_first_month
    return FunnelHistory(file="funnel.csv", months=[f"2024-{m % 12 + 1:02d}" if m < 12 else f"2025-{m % 12 + 1:02d}"
                                                    for m in range(months)],
                         stages=["lead", "mql", "won"], segments=["mid", "ent"], channels=["inbound", "partner"],
                         counts=counts)


def test_channel_shares_per_stage() -> None:
    d = funnel_data(history())
    share = channel_share(d)
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    assert share[0, 1] == pytest.approx(80 / 4080)


def test_segment_effects_are_centred_only_where_the_conversions_pin_them() -> None:
    d = funnel_data(history())
    informative = informative_cells(d, 1.0)
    assert informative.shape == (2, 2) and informative.all()  # thousands of conversions in every cell
    assert not informative_cells(d, 0.001).any()  # a tight spread says more than the data


@pytest.fixture(scope="module")
def prior_draws() -> dict[str, np.ndarray]:
    pm = pytest.importorskip("pymc")
    d = funnel_data(history())
    block = FunnelBlock(d)
    with pm.Model(coords=block.coords()) as model:
        block.build()
    names = ["conversion_channel_offset", "conversion_by_channel", "conversion", "conversion_logit"]
    values = pm.draw([model[name] for name in names], draws=400, random_seed=1)
    return dict(zip(names, values, strict=True)) | {"free": [v.name for v in model.free_RVs]}


def test_channel_offsets_average_to_zero_weighted_by_traffic(prior_draws: dict) -> None:
    share = channel_share(funnel_data(history()))
    offset = prior_draws["conversion_channel_offset"]  # [draw, stage, channel]
    np.testing.assert_allclose(np.sum(offset * share, axis=2), 0.0, atol=1e-12)
    # the small channel's offset is free (non-centred, sd 1); the large one's follows from it
    assert np.std(offset[:, :, 1]) == pytest.approx(1.0, rel=0.15)
    np.testing.assert_allclose(offset[:, :, 0], -offset[:, :, 1] * share[:, 1] / share[:, 0])
    assert "conversion_channel_z" in prior_draws["free"] and "conversion_channel_offset" not in prior_draws["free"]


def test_the_stage_conversion_is_the_traffic_weighted_mean_of_the_channels(prior_draws: dict) -> None:
    d = funnel_data(history())
    weighted = np.sum(prior_draws["conversion_by_channel"] * d.weight, axis=3)
    np.testing.assert_allclose(prior_draws["conversion"], weighted)
    # the strong cells are centred: the segment logits are sampled directly
    assert "conversion_logit" in prior_draws["free"]


def test_backtest_origins_share_one_model_structure_through_the_whole_historys_layout() -> None:
    """Which segment effects are centred is read from the counts: two cuts of the example history decide it
    differently (the smb SQL stage's delay), so their models differ in structure and a backtest compiled at
    each origin. Given the whole history as layout, every cut builds a model of one structure."""
    from calibration_helpers import EXAMPLE_HISTORY, EXAMPLE_SCENARIO

    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import build_model, plan_blocks
    from revsim.calibrate.history import month_index, read_history
    from revsim.calibrate.model_structure import model_structure
    from revsim.scenario.load import load_scenario

    context = context_from_scenario(load_scenario(EXAMPLE_SCENARIO))
    full = read_history([EXAMPLE_HISTORY / "funnel.csv"], stages=context.stages, segments=context.segments)

    def key(cut: str, layout: object) -> str:
        blocks, _, _ = plan_blocks(full.cut(month_index(cut)), context, layout=layout)
        return model_structure(build_model(blocks)).key

    cuts = ["2026-03", "2026-06"]
    assert key(cuts[0], None) != key(cuts[1], None)  # the data decide the parametrisation...
    assert key(cuts[0], full) == key(cuts[1], full)  # ...the whole history's, in a backtest
