"""A small company's funnel: a segment and channel whose stage has no entries in the first months.

Its stage then has no members (A_t = B_t = 0) until the first entry; the likelihood must stay finite, and so
must its gradient, or no sampler can start (nutpie: "All initialization points failed").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_a_stage_without_members_keeps_the_likelihood_and_its_gradient_finite(tmp_path: Path) -> None:
    from revsim.calibrate import fit as fitting
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.history import read_history

    rows = ["month,stage,channel,count"]
    leads = {"inbound": [5, 7, 6, 8, 5, 6], "outbound": [0, 0, 0, 2, 1, 3]}
    won = {"inbound": [0, 2, 1, 2, 1, 2], "outbound": [0, 0, 0, 0, 1, 0]}
    for t in range(6):
        for channel in ("inbound", "outbound"):
            rows.append(f"2026-{t + 1:02d},lead,{channel},{leads[channel][t]}")
            rows.append(f"2026-{t + 1:02d},won,{channel},{won[channel][t]}")
    (tmp_path / "funnel.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    history = read_history([tmp_path])
    blocks, _, _ = fitting.plan_blocks(history, context_without_scenario(history))
    funnel = [b for b in blocks if b.name == "funnel"]
    model = fitting.build_model(funnel)
    point = model.initial_point()
    assert np.isfinite(model.compile_logp()(point))
    gradient = model.compile_dlogp()(point)
    assert np.all(np.isfinite(gradient)), gradient
