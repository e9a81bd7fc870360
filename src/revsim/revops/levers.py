"""Levers compared on any KPI over the whole run, on paired draws: which lever moves ARR and gross profit most.

:func:`lever_effects` runs a scenario and each lever's variant with the same seed and draws (as
:func:`revsim.compare`), so that draw ``i`` of a variant differs from draw ``i`` of the base by the lever
alone, and reads KPIs over the whole horizon: a stock at the last month (ARR), a flow summed over the run
(gross profit), a rate pooled over it. :func:`retention_and_conversion_levers` builds the classic comparison:
``points`` more retention (churn per renewal lowered by that much in every segment) against ``points`` more on
each acquisition conversion.

>>> effects = lever_effects("scenarios/saas_sales_led.yaml", retention_and_conversion_levers(
...     load_scenario("scenarios/saas_sales_led.yaml")), draws=1000)                          # doctest: +SKIP
>>> effects.table[["lever", "kpi", "diff_mean", "change"]]                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.scenario.load import LoadedScenario

__all__ = ["LeverEffects", "lever_effects", "retention_and_conversion_levers", "EFFECT_COLUMNS"]

EFFECT_COLUMNS = ["lever", "change", "kpi", "label", "units", "window", "draws", "base_mean", "variant_mean",
                  "diff_mean", "diff_se", "diff_p10", "diff_p50", "diff_p90", "change_mean", "p_higher"]


def _points(points: float) -> str:
    return f"{points * 100:g} points"


def retention_and_conversion_levers(scenario: LoadedScenario, points: float = 0.05) -> list[dict[str, Any]]:
    """Levers for "retention against acquisition": churn per renewal ``points`` lower in every segment
    (constant-churn retention), and each acquisition stage's conversion ``points`` higher (its per-segment
    overrides too), one lever each.

    Raises
    ------
    InputError
        When the scenario has no constant-churn retention to lower.
    """
    from revsim.scenario.schema import iter_inputs

    paths = [path for path, _ in iter_inputs(scenario.model)]
    churn = [p for p in paths if p.startswith("retention.") and p.endswith(".churn")]
    if not churn:
        raise InputError.single("retention levers lower churn per renewal, and this scenario's retention has none "
                                "(sBG retention: write a lever on retention.*.alpha or beta instead)",
                                path=("retention",))
    levers = [{"name": f"Retention +{_points(points)}", "path": churn, "change": f"{-points:+g}",
               "description": f"churn per renewal {_points(points)} lower in every segment"}]
    for stage in scenario.model.stage_names[:-1]:
        stage_paths = [p for p in paths if p.startswith(f"funnel.stages.{stage}.") and p.endswith(".conversion")]
        from revsim.plot.style import display_name

        levers.append({"name": f"{display_name(stage)} conversion +{_points(points)}", "path": stage_paths,
                       "change": f"{points:+g}", "description": f"{stage} conversion {_points(points)} higher"})
    return levers


@dataclass
class LeverEffects:
    """The outcome of :func:`lever_effects`: one row per lever and KPI (:data:`EFFECT_COLUMNS`), and the
    paired per-draw differences."""

    table: pd.DataFrame
    differences: dict[tuple[str, str], np.ndarray]
    base: dict[str, np.ndarray]
    kpis: list[str]
    window: str
    draws: int
    seed: int
    currency: str
    scenario_name: str
    notes: list[str] = field(default_factory=list)

    def plot(self) -> Any:
        """The chart of the effects (a matplotlib Figure, drawn off screen)."""
        from revsim.plot import style
        from revsim.revops.charts import lever_effects_chart

        with style.offscreen():
            return lever_effects_chart(self)


def lever_effects(scenario: Any, levers: Sequence[Any], *, kpis: Sequence[str] = ("arr", "gross_profit"),
                  until: str | None = None, draws: int = 1000, seed: int = 0, threads: int | None = None,
                  progress: Callable[[int], None] | None = None) -> LeverEffects:
    """Each lever's paired effect on ``kpis`` read over the whole run.

    Parameters
    ----------
    scenario
        A scenario file or a loaded scenario.
    levers
        Levers as :func:`revsim.compare` takes them: names of the scenario's levers, ``PATH=CHANGE`` texts, or
        mappings ``{name, path, change}`` (``path`` may be a list).
    kpis
        KPI names (``docs/kpis.md``): stocks are read at the last month, flows summed over the run, rates pooled.
    until
        ``YYYY-MM``: read the KPIs from the first month to this one (default: the whole run).

    Raises
    ------
    InputError
        For an unknown KPI or lever, or a lever that takes an input out of its domain.
    """
    import pandas as pd

    from revsim.pipeline import run_dataset
    from revsim.revops.compute import run_kpis
    from revsim.whatif.compare import plan_comparison
    from revsim.whatif.runs import month_position

    plan = plan_comparison(scenario, levers=list(levers))
    model = plan.base.scenario.model
    last = month_position(plan.base.scenario, until, option="until")
    window = f"{model.start} to {model.month_label(last)}"
    values: dict[str, dict[str, np.ndarray]] = {}
    labels: dict[str, tuple[str, str]] = {}
    for variant in [plan.base, *plan.variants]:
        ds, _ = run_dataset(variant.scenario, draws=draws, seed=seed, threads=threads, progress=progress)
        run = run_kpis(ds, scenario=variant.scenario)
        values[variant.name] = {}
        for name in kpis:
            kpi = run.kpi(name)
            labels[name] = (kpi.label, run.units(kpi))
            values[variant.name][name] = run.values(kpi, [(0, last)])[:, 0]
    rows, differences = [], {}
    base = values[plan.base.name]
    for variant in plan.variants:
        for name in kpis:
            b, v = base[name], values[variant.name][name]
            ok = np.isfinite(b) & np.isfinite(v)
            d = v[ok] - b[ok]
            differences[(variant.name, name)] = d
            n = int(ok.sum())
            q = np.quantile(d, [0.1, 0.5, 0.9]) if n else [np.nan] * 3
            rows.append({"lever": variant.name, "change": variant.change, "kpi": name, "label": labels[name][0],
                         "units": labels[name][1], "window": window, "draws": n,
                         "base_mean": float(b[ok].mean()) if n else np.nan,
                         "variant_mean": float(v[ok].mean()) if n else np.nan,
                         "diff_mean": float(d.mean()) if n else np.nan,
                         "diff_se": float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                         "diff_p10": q[0], "diff_p50": q[1], "diff_p90": q[2],
                         "change_mean": float(d.mean() / abs(b[ok].mean())) if n and b[ok].mean() else np.nan,
                         "p_higher": float(np.mean(d > 0)) if n else np.nan})
    table = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    return LeverEffects(table, differences, base, list(kpis), window, draws, seed, model.currency,
                        plan.base.scenario.name, plan.notes)
