"""What revsim's calibration makes of the independent simulator's histories and plans (no sampling).

Running ``revsim calibrate`` on every shape compiles a model per shape (minutes each), so the full smoke run
is a command in ``benchmarks/company/README.md``; here, each shape's history and plan must give the models the
files support, and a funnel cell whose entries start at zero must give a finite likelihood.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.company import shapes, simulate_company


@pytest.mark.parametrize("name", list(shapes.SHAPES))
def test_each_shape_gives_every_model_its_files_support(tmp_path: Path, name: str) -> None:
    from revsim.calibrate.context import context_from_scenario
    from revsim.calibrate.fit import plan_blocks
    from revsim.calibrate.history import read_history
    from revsim.scenario.load import scenario_from_dict

    shape = shapes.SHAPES[name]
    run = simulate_company(shape.truth(), months=shape.months, seed=1)
    run.write_history(tmp_path, shape.first_month, shape.last_month)
    context = context_from_scenario(scenario_from_dict(run.plan_scenario(cut=shape.last_month)))
    history = read_history([tmp_path], stages=context.stages, segments=context.segments)
    blocks, _, notes = plan_blocks(history, context)
    expected = {"FunnelBlock", "VolumeBlock", "RetentionBlock", "RateBlock", "PricingBlock"}
    assert {type(b).__name__ for b in blocks} == expected | ({"LoopBlock"} if run.company.loops else set())
    assert not [note for note in notes if "no channel column" in note or "not estimated" in note], notes
    funnel = next(b for b in blocks if type(b).__name__ == "FunnelBlock")
    assert funnel.data.channels == run.sources


def _funnel_logp(tmp_path: Path, first_entries: int) -> float:
    pytest.importorskip("pymc")
    from revsim.calibrate.fit import build_model
    from revsim.calibrate.funnel import FunnelBlock, funnel_data
    from revsim.calibrate.history import read_history

    rng = np.random.default_rng(1)
    lines = ["month,stage,count"]
    for i in range(12):
        entries = first_entries if i == 0 else int(rng.integers(20, 31))
        lines += [f"2024-{i + 1:02d},lead,{entries}", f"2024-{i + 1:02d},won,{0 if i < 2 else int(rng.integers(2, 9))}"]
    (tmp_path / "funnel.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = read_history([tmp_path / "funnel.csv"])
    model = build_model([FunnelBlock(funnel_data(history.funnel))])
    return float(model.compile_fn(model.logp(), mode="FAST_COMPILE")(model.initial_point()))


def test_funnel_likelihood_is_finite_when_entries_start_above_zero(tmp_path: Path) -> None:
    assert np.isfinite(_funnel_logp(tmp_path, first_entries=25))


def test_funnel_likelihood_is_finite_when_a_cell_starts_at_zero(tmp_path: Path) -> None:
    # A_t = B_t = 0 before the cell's first entry: those months add 0 (small channels and loops hit it)
    assert np.isfinite(_funnel_logp(tmp_path, first_entries=0))
