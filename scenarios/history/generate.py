"""Generate the example history in this directory from the known company in ``truth.yaml``.

Run from the repository root::

    python scenarios/history/generate.py

It simulates one draw of ``truth.yaml`` (every input there is a plain number, so the draw *is* the true
company) from 2022-01 to 2026-12 with revsim, and writes what a RevOps team would export for 2024-01 to
2026-12:

* ``funnel.csv``: entries into each stage per month and segment (``stage_entries`` of the simulation);
* ``mrr.csv``: new, expansion, contraction and churned MRR per month and segment, and the MRR at month end;
* ``referrals.csv``: the leads the referral loop brought each month (``loop_entries``) and the advocates at
  the end of each month (the loop's source);
* ``cohorts.csv``: for every cohort won since 2022-01, its customers still active after each month.

revsim's results hold, per month and segment, the new customers, the onboarding failures and the churned
customers, but not the survivors of each cohort, so the cohort table is derived here from those totals
(:func:`cohort_table`): the onboarding failures of a month all come from the one cohort that reaches the end
of onboarding (age 2 months), and the month's other churned customers are split among the cohorts renewing
that month by a multinomial draw weighted by each cohort's customers and its sBG churn probability at that
renewal (``docs/model.md`` section 4.3). The split is an approximation of which cohorts the churners came
from; the totals are the simulation's own, so the cohort table adds up exactly to its active customers.

The seed is fixed, but the files here were drawn by the engine of November 2026: its random streams have
changed since, so running the script today writes another history of the same company (the files are kept:
the figures of docs/calibration.md are measured on them). The simulation also runs on for two
more years, which are not written: the script prints the ARR the company actually reached, to compare a
forecast made from the history with what happened.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2026
FIRST_HISTORY_MONTH = 24  # 2024-01, in months from the simulation's start (2022-01)
#: Months simulated after the history: what actually happened next, to compare forecasts with.
FUTURE_MONTHS = 24


def main() -> None:
    import revsim
    from revsim.scenario.load import load_scenario, scenario_from_dict

    loaded = load_scenario(HERE / "truth.yaml")
    model = loaded.model
    # the simulation runs on past the history; months are drawn in order, so the history does not depend on it
    longer = scenario_from_dict({**loaded.data, "horizon_months": model.horizon_months + FUTURE_MONTHS},
                                base_dir=HERE, file="truth.yaml")
    full = revsim.simulate(longer, draws=1, seed=SEED).isel(draw=0)
    ds = full.isel(month=slice(0, model.horizon_months))
    months = [model.month_label(t) for t in range(model.horizon_months)]
    segments = model.segment_names
    window = range(FIRST_HISTORY_MONTH, model.horizon_months)

    lines = ["month,stage,segment,count"]
    entries = ds.stage_entries.values  # [month, segment, stage]
    for t in window:
        for k, stage in enumerate(model.stage_names):
            for s, seg in enumerate(segments):
                lines.append(f"{months[t]},{stage},{seg},{int(entries[t, s, k])}")
    (HERE / "funnel.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    lines = ["month,segment,new,expansion,contraction,churn,mrr"]
    for t in window:
        for s, seg in enumerate(segments):
            row = [float(ds[name].values[t, s]) / 12.0 for name in
                   ("new_arr", "expansion_arr", "contraction_arr", "churned_arr", "arr")]
            lines.append(f"{months[t]},{seg}," + ",".join(f"{x:.2f}" for x in row))
    (HERE / "mrr.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    lines = ["month,referred,source_count"]
    referred = ds.loop_entries.values[:, 0]
    advocates = ds.advocates.values.sum(axis=1)
    for t in window:
        lines.append(f"{months[t]},{int(referred[t])},{int(advocates[t])}")
    (HERE / "referrals.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    rng = np.random.default_rng(SEED)
    lines = ["cohort,segment,period,customers"]
    tables = [cohort_table(ds, model, s, rng) for s in range(len(segments))]
    for s, seg in enumerate(segments):
        for b, row in enumerate(tables[s]):
            lines += [f"{months[b]},{seg},{period},{n}" for period, n in enumerate(row)]
    (HERE / "cohorts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    end = model.horizon_months - 1
    print(f"wrote funnel.csv, mrr.csv, referrals.csv, cohorts.csv for {months[FIRST_HISTORY_MONTH]} to {months[end]}")
    print(f"the company at the end of {months[end]} (northwind.yaml's initial book and open pipeline):")
    for s, seg in enumerate(segments):
        print(f"  {seg}: {int(ds.active_customers.values[end, s])} customers and ARR "
              f"{float(ds.arr.values[end, s]):,.0f}")
    open_stages = ds.open_in_stage.values[end]  # [segment, stage]
    for k, stage in enumerate(model.stage_names[:-1]):
        counts = ", ".join(f"{seg}: {int(open_stages[s, k])}" for s, seg in enumerate(segments))
        print(f"  open in {stage}: {{{counts}}}")
    arr = full.arr.sum("segment").values
    later = [end + 12, end + FUTURE_MONTHS]
    print("what happened next (the same simulation, not written): ARR "
          + ", ".join(f"{longer.model.month_label(t)} {arr[t]:,.0f}" for t in later))


def cohort_table(ds: object, model: object, s: int, rng: np.random.Generator) -> list[list[int]]:
    """Customers of each cohort of segment ``s`` at each age, consistent with the simulation's totals.

    Each month, the simulation's onboarding failures all come from the one cohort whose age is the end of
    onboarding; its other churned customers come from the cohorts that renew that month, split among them by
    a multinomial draw with weights ``customers x churn probability of the cohort's renewal`` (the sBG's
    ``alpha / (alpha + beta + k - 1)`` at renewal ``k``), capped at each cohort's customers.
    """
    seg = model.segment_names[s]
    retention = model.settings("retention", seg)
    alpha, beta, term = retention.alpha.mean(), retention.beta.mean(), retention.contract_months
    onboarding_age = max(model.settings("onboarding", seg).months, 1)
    new = ds.new_customers.values[:, s]
    failed = ds.onboarding_churned.values[:, s]
    churned = ds.churned_customers.values[:, s]
    active = ds.active_customers.values[:, s]
    T = len(new)
    alive = np.zeros(T, np.int64)
    table: list[list[int]] = [[] for _ in range(T)]
    for t in range(T):
        births = np.arange(t)
        ages = t - births
        if failed[t]:
            alive[t - onboarding_age] -= failed[t]
        renewing = births[(ages % term == 0)]
        lost = int(churned[t] - failed[t])
        if lost:
            k = (t - renewing) // term
            weights = alive[renewing] * alpha / (alpha + beta + k - 1)
            split = np.zeros(len(renewing), np.int64)
            while lost:  # a multinomial split, drawn again for what exceeds a cohort's customers
                room = alive[renewing] - split
                w = np.where(room > 0, weights, 0.0)
                draw = rng.multinomial(lost, w / w.sum())
                take = np.minimum(draw, room)
                split += take
                lost -= int(take.sum())
            alive[renewing] -= split
        alive[t] = new[t]
        for b in range(t + 1):
            table[b].append(int(alive[b]))
        assert alive.sum() == active[t] and (alive >= 0).all(), "the cohort table must add up to the simulation"
    return table


if __name__ == "__main__":
    sys.exit(main())
