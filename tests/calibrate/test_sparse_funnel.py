"""A small company's funnel: a segment and channel whose stage has no entries in the first months.

Its stage then has no members (A_t = B_t = 0) until the first entry: those months are left out of the
likelihood, which must stay finite, and so must its gradient, or no sampler can start (nutpie: "All
initialization points failed").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _funnel_model(folder: Path, won_outbound: list[int]):
    from revsim.calibrate import fit as fitting
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.history import read_history

    rows = ["month,stage,channel,count"]
    leads = {"inbound": [5, 7, 6, 8, 5, 6], "outbound": [0, 0, 0, 2, 1, 3]}
    won = {"inbound": [0, 2, 1, 2, 1, 2], "outbound": won_outbound}
    for t in range(6):
        for channel in ("inbound", "outbound"):
            rows.append(f"2026-{t + 1:02d},lead,{channel},{leads[channel][t]}")
            rows.append(f"2026-{t + 1:02d},won,{channel},{won[channel][t]}")
    folder.mkdir()
    (folder / "funnel.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    history = read_history([folder])
    blocks, _, _ = fitting.plan_blocks(history, context_without_scenario(history))
    return fitting.build_model([b for b in blocks if b.name == "funnel"])


def test_a_stage_without_members_keeps_the_likelihood_and_its_gradient_finite(tmp_path: Path) -> None:
    model = _funnel_model(tmp_path / "a", [0, 0, 0, 0, 1, 0])
    point = model.initial_point()
    logp = model.compile_logp()(point)
    assert np.isfinite(logp)
    gradient = model.compile_dlogp()(point)
    assert np.all(np.isfinite(gradient)), gradient
    # a conversion in a month whose stage had no member (a deal from before the history) is left out
    other = _funnel_model(tmp_path / "b", [0, 1, 0, 0, 1, 0])
    assert other.compile_logp()(point) == logp
