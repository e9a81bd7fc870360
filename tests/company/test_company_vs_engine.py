"""revsim's engine and the independent company simulator agree in distribution on every shape.

Each shape's truth runs as a revsim scenario (150 draws) and through the independent simulator (150 seeds)
for 48 months. At months 11, 23, 35 and 47, for the company total and each segment, every stock at month end
(ARR, active customers, advocates, members open in each stage) and every flow summed over the trailing 12
months (new, churned and onboarding-failed customers, leads, new, expansion, contraction and churned ARR,
entries into each stage, loop entries) must have the same mean within 4 combined Monte Carlo standard
errors, and counts the same standard deviation (log ratio within 4 standard errors).

Money: with customers keeping their own MRR (the simulator's default), money is more spread than in the
engine, whose churners and upgraders carry their cohort's average MRR (``benchmarks/company/__init__.py``):
its spread may be larger, never smaller. With ``mrr_within_cohort="cohort_average"`` (the engine's
convention; checked on the enterprise shape, whose contract values vary most) the spreads of money must
agree too. ``python -m benchmarks.company_vs_engine`` prints the same comparison with more draws.
"""

from __future__ import annotations

import pytest

from benchmarks.company import shapes
from benchmarks.company_vs_engine import compare

DRAWS = 150
MONTHS = 48
AT = (11, 23, 35, 47)
MONEY = ("arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr")
CASES = [(name, "individual") for name in shapes.SHAPES] + [("enterprise", "cohort_average")]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "mode"), CASES)
def test_engine_and_independent_simulator_agree(name: str, mode: str) -> None:
    comparisons = compare(shapes.SHAPES[name].truth(), months=MONTHS, draws=DRAWS, at=AT, mrr_within_cohort=mode)
    assert len(comparisons) > 50
    means = [c for c in comparisons if abs(c.mean_z) >= 4]
    assert not means, "means differ: " + "; ".join(
        f"{c.quantity} ({c.segment or 'total'}) month {c.month}: engine {c.engine_mean:.4g}, simulator "
        f"{c.simulator_mean:.4g}, z {c.mean_z:+.2f}" for c in means)
    one_sided = mode == "individual"
    spreads = [c for c in comparisons
               if (c.sd_z <= -4 if one_sided and c.quantity in MONEY else abs(c.sd_z) >= 4)]
    assert not spreads, "spreads differ: " + "; ".join(
        f"{c.quantity} ({c.segment or 'total'}) month {c.month}: sd engine {c.engine_sd:.4g}, simulator "
        f"{c.simulator_sd:.4g}, z {c.sd_z:+.2f}" for c in spreads)
