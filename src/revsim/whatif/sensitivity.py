"""Which uncertain input drives ARR: rank correlations, standardized regression and a tornado.

One run gives, for every uncertain input, its draws (the ``param_*`` variables) and ARR at the month of
interest in the same draws. From them:

* ``spearman``: the rank correlation between the input and ARR, which counts what the input moves together
  with the inputs correlated with it;
* ``src``: the standardized rank regression coefficient, from a least-squares fit of ARR's ranks on every
  input's ranks (all standardized), which separates correlated inputs; ``r_squared`` says how much of
  ARR's rank variance the inputs explain together;
* the **tornado**: for each input, two more runs with that input fixed at its 10% and 90% quantiles and every
  other input drawn as in the base run (same seed, same draws: the swing is paired), giving the median ARR
  at each end (``arr_at_p10``, ``arr_at_p90``) and ``swing = arr_at_p90 - arr_at_p10``.

Inputs are ranked (``rank``) by the size of their swing, then those without tornado runs (beyond ``top``)
by the size of their rank correlation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError
from revsim.pipeline import run_dataset, run_raw
from revsim.scenario.distributions import Distribution
from revsim.whatif.runs import Overrides, ScenarioLike, load, month_position, total_at

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

    from revsim.scenario.load import LoadedScenario

__all__ = ["Sensitivity", "sensitivity", "TABLE_COLUMNS", "CSV_NAME", "CHART_NAME", "PinnedInput", "tornado_inputs"]

CSV_NAME = "sensitivity.csv"
CHART_NAME = "tornado.png"
#: The quantiles an input is fixed at for the tornado.
TORNADO_QUANTILES = (0.1, 0.9)

#: The columns of ``sensitivity.csv``.
TABLE_COLUMNS = ["input", "distribution", "units", "spearman", "src", "p10_value", "p90_value", "arr_at_p10",
                 "arr_at_p90", "swing", "rank"]


@dataclass(frozen=True)
class PinnedInput(Distribution):
    """An uncertain input fixed at ``value`` in every draw, keeping its random stream and its place in the
    correlations, so that every other input draws exactly what it draws in the base run."""

    value: float
    original: str = ""
    kind = "pinned"

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=np.float64)

    def mean(self) -> float:
        return float(self.value)

    def describe(self) -> str:
        return f"{self.value:.6g} (fixed; drawn from {self.original})"

    def support(self) -> tuple[float, float]:
        return float(self.value), float(self.value)


@dataclass
class Sensitivity:
    """The outcome of :func:`sensitivity`.

    Attributes
    ----------
    table
        One row per uncertain input, most influential first (the columns of ``sensitivity.csv``, see
        :data:`TABLE_COLUMNS`).
    base_median
        Median ARR in ``month`` in the base run.
    r_squared
        Share of ARR's rank variance the inputs' ranks explain together (the regression behind ``src``).
    dataset
        The base run's results.
    """

    table: pd.DataFrame
    base_median: float
    month: str
    r_squared: float
    draws: int
    seed: int
    currency: str
    scenario_name: str
    dataset: xr.Dataset
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary_text(self, top: int | None = 10) -> str:
        """The ranking as a readable table."""
        from revsim.results.summary import format_difference

        from revsim.printable import printable

        money = lambda x: format_difference(x, "money", self.currency)  # noqa: E731
        rows = self.table if top is None else self.table.head(top)
        lines = [f"{printable(self.scenario_name, lines=False)}: influence of each uncertain input on ARR in {self.month} "
                 f"({self.draws:,} draws, seed {self.seed}; median ARR {money(self.base_median).lstrip('+')})",
                 f"inputs together explain {self.r_squared:.0%} of ARR's rank variance", ""]
        width = max([len("input"), *(len(str(x)) for x in rows["input"])])
        lines.append(f"{'rank':>4}  {'input':<{width}}  {'spearman':>8}  {'src':>6}  {'ARR at P10':>11}  "
                     f"{'ARR at P90':>11}  {'swing':>9}")
        for _, row in rows.iterrows():
            tornado = np.isfinite(row["swing"])
            lines.append(
                f"{int(row['rank']):>4}  {row['input']:<{width}}  {row['spearman']:>8.2f}  {row['src']:>6.2f}  "
                + (f"{money(row['arr_at_p10']).lstrip('+'):>11}  {money(row['arr_at_p90']).lstrip('+'):>11}  "
                   f"{money(row['swing']):>9}" if tornado else f"{'':>11}  {'':>11}  {'':>9}"))
        if top is not None and len(self.table) > top:
            lines.append(f"... and {len(self.table) - top} more in the table")
        return "\n".join(lines)

    def plot(self, top: int | None = 15) -> Figure:
        """The tornado chart (a matplotlib Figure, drawn off screen)."""
        from revsim.whatif.charts import tornado_chart

        return tornado_chart(self, top)

    def write(self, out_dir: str | Path, *, force: bool = False) -> list[Path]:
        """Write ``sensitivity.csv`` and ``tornado.png`` into ``out_dir``, atomically."""
        from revsim.results.output_dir import check_output_dir, write_files

        out = Path(out_dir)
        check_output_dir(out, [CSV_NAME, CHART_NAME], force=force)
        figure = self.plot()
        return write_files(out, {
            CSV_NAME: lambda path: self.table.to_csv(path, index=False, float_format="%.6g"),
            CHART_NAME: lambda path: figure.savefig(path, format="png"),
        })


def tornado_inputs(loaded: LoadedScenario, top: int | None = None) -> int:
    """How many inputs get tornado runs (for a progress bar: the analysis runs ``1 + 2 * this`` times)."""
    from revsim.engine.compile import compile_scenario

    count = len(compile_scenario(loaded).uncertain_inputs)
    return count if top is None else min(count, top)


def sensitivity(scenario: ScenarioLike, *, draws: int = 1000, seed: int = 0, threads: int | None = None,
                at: str | None = None, top: int | None = None, tornado: bool = True, overrides: Overrides = None,
                progress: Callable[[int], None] | None = None) -> Sensitivity:
    """Rank every uncertain input by its influence on ARR in month ``at`` (default: the horizon).

    Parameters
    ----------
    scenario
        A file name or a scenario from :func:`revsim.load_scenario`.
    draws, seed, threads
        As for :func:`revsim.simulate`; the tornado runs use the same seed and draws.
    at
        ``YYYY-MM``: the month whose ARR is explained (default: the last simulated month).
    top
        Tornado runs only for the ``top`` inputs with the largest rank correlation (default: every input).
    tornado
        False: rank correlations and regression only (one run).
    overrides
        ``PATH=VALUE`` texts or a path -> value mapping (as ``--set``).

    Returns
    -------
    Sensitivity

    Raises
    ------
    InputError
        When the scenario has no uncertain input, or ``at`` is not a simulated month.
    """
    from revsim.results.dataset import input_variable_names

    loaded, notes = load(scenario, overrides)
    month = month_position(loaded, at)
    if top is not None and top < 1:
        raise InputError.single(f"top must be at least 1, got {top}", path=("--top",))
    ds, messages = run_dataset(loaded, draws=draws, seed=seed, threads=threads, progress=progress)
    from revsim.engine.compile import compile_scenario

    compiled = compile_scenario(loaded)
    paths = compiled.uncertain_inputs
    if not paths:
        raise InputError.single("the scenario has no uncertain inputs, so nothing explains the spread of ARR: "
                                "write some inputs as [low, high] intervals or distributions", file=loaded.file)
    names = input_variable_names(paths)
    y = ds["arr"].values.sum(axis=2)[:, month].astype(float)
    x = np.column_stack([ds[names[p]].values.astype(float) for p in paths])
    spearman, src, r_squared = _rank_statistics(x, y)

    order = sorted(range(len(paths)), key=lambda j: -abs(spearman[j]) if np.isfinite(spearman[j]) else 1.0)
    chosen = order if not tornado else order[: (top or len(order))]
    swings: dict[str, tuple[float, float, float, float]] = {}
    if tornado:
        for j in chosen:
            path = paths[j]
            dist = compiled.inputs[path]
            ends = [float(v) for v in np.asarray(dist.ppf(np.array(TORNADO_QUANTILES)), float)]
            medians = []
            for value in ends:
                pinned = dataclasses.replace(compiled, inputs={**compiled.inputs,
                                                               path: PinnedInput(value, dist.describe())})
                _, raw, more = run_raw(pinned, draws=draws, seed=seed, threads=threads, progress=progress)
                messages += more
                medians.append(float(np.median(total_at(raw, "arr", month))))
            swings[path] = (ends[0], ends[1], medians[0], medians[1])

    table = _table(paths, compiled, spearman, src, swings, loaded.model.currency)
    return Sensitivity(table=table, base_median=float(np.median(y)), month=loaded.model.month_label(month),
                       r_squared=r_squared, draws=draws, seed=seed, currency=loaded.model.currency,
                       scenario_name=loaded.name, dataset=ds, notes=notes, warnings=list(dict.fromkeys(messages)))


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=0)


def _rank_statistics(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Spearman correlations of each column of ``x`` with ``y``; standardized rank regression coefficients
    and the regression's R squared."""
    rx, ry = _ranks(x), _ranks(y)
    sx, sy = rx.std(axis=0), ry.std()
    varied = sx > 0
    spearman = np.full(x.shape[1], np.nan)
    src = np.full(x.shape[1], np.nan)
    if sy == 0 or not varied.any():
        return spearman, src, float("nan")
    zx = (rx[:, varied] - rx[:, varied].mean(axis=0)) / sx[varied]
    zy = (ry - ry.mean()) / sy
    spearman[varied] = zx.T @ zy / len(zy)
    coefficients, *_ = np.linalg.lstsq(zx, zy, rcond=None)
    src[varied] = coefficients
    residual = zy - zx @ coefficients
    r_squared = float(1.0 - residual @ residual / (zy @ zy))
    return spearman, src, r_squared


def _table(paths: list[str], compiled: Any, spearman: np.ndarray, src: np.ndarray,
           swings: dict[str, tuple[float, float, float, float]], currency: str) -> pd.DataFrame:
    import pandas as pd

    from revsim.results.dataset import input_units

    rows = []
    for j, path in enumerate(paths):
        p10, p90, at10, at90 = swings.get(path, (np.nan,) * 4)
        rows.append({"input": path, "distribution": compiled.inputs[path].describe(),
                     "units": input_units(path, currency), "spearman": spearman[j], "src": src[j],
                     "p10_value": p10, "p90_value": p90, "arr_at_p10": at10, "arr_at_p90": at90,
                     "swing": at90 - at10})
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS[:-1])
    tornado = table["swing"].notna()
    by_swing = table[tornado].reindex(table[tornado]["swing"].abs().sort_values(ascending=False, kind="stable").index)
    rest = table[~tornado].reindex(table[~tornado]["spearman"].abs().sort_values(ascending=False, kind="stable",
                                                                                 na_position="last").index)
    table = pd.concat([by_swing, rest], ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table
