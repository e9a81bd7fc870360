"""Write a simulated company's history, truth and plan, ready for ``revsim calibrate`` and ``revsim backtest``.

    python -m benchmarks.company SHAPE OUT [--seed 1] [--first 2024-01] [--last 2026-12] [--months 84]

writes ``OUT/history/`` (funnel.csv, cohorts.csv, mrr.csv, referrals.csv), ``OUT/truth.yaml`` (the truth as a
revsim scenario over the simulated months), ``OUT/plan.yaml`` (the plan a team would write at ``--last``),
and prints the company's ARR at the end of the history and after it. Then, for example::

    revsim calibrate OUT/plan.yaml --history OUT/history --out OUT/calibrated
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from benchmarks.company import engine_scenario, shapes, simulate_company


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.company", description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=list(shapes.SHAPES))
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--months", type=int, help="months to simulate (default: the shape's)")
    parser.add_argument("--first", help="first month of the history (default: the shape's)")
    parser.add_argument("--last", help="last month of the history, the plan's cut (default: the shape's)")
    parser.add_argument("--no-channel-column", action="store_true", help="funnel.csv without its channel column")
    parser.add_argument("--no-segment-column", action="store_true", help="no segment column in any file")
    parser.add_argument("--book", choices=("segment", "cohort"), default="segment",
                        help="the plan's initial book: per segment, spread over ages, or per cohort")
    parser.add_argument("--horizon", type=int, default=24, help="the plan's horizon in months")
    args = parser.parse_args(argv)
    shape = shapes.SHAPES[args.shape]
    truth = shape.truth()
    months = args.months or shape.months
    first, last = args.first or shape.first_month, args.last or shape.last_month
    run = simulate_company(truth, months=months, seed=args.seed)
    written = run.write_history(args.out / "history", first, last, channel_column=not args.no_channel_column,
                                segment_column=not args.no_segment_column)
    for name, data in (("truth.yaml", engine_scenario(truth, months)),
                       ("plan.yaml", run.plan_scenario(cut=last, book=args.book, horizon_months=args.horizon))):
        (args.out / name).write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110),
                                     encoding="utf-8")
    arr = run.series("arr")
    t = run.month(last)
    print(f"wrote {', '.join(Path(p).name for p in written.values())} ({first} to {last}), truth.yaml and "
          f"plan.yaml in {args.out}")
    later = [t + 12, t + 24]
    print(f"ARR at {last}: {arr[t]:,.0f}; " + ", ".join(f"{run.months[u]}: {arr[u]:,.0f}" for u in later
                                                         if u < len(arr)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
