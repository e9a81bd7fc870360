"""Compare variants of a scenario draw by draw: the paired difference of ARR, customers, NRR and churn.

Every variant (another scenario file, or the base with a lever applied) runs with the base's seed and draws,
so draw ``i`` of a variant differs from draw ``i`` of the base only by what the variant changes
(:mod:`revsim.whatif.runs`). The distribution of the per-draw difference is therefore the effect of the
change, far tighter than the difference of two independent runs, and a scenario compared with itself gives
exactly zero in every draw.

>>> import revsim
>>> result = revsim.compare("scenarios/saas_sales_led.yaml", levers=["mql_plus_3pts"], draws=500)  # doctest: +SKIP
>>> print(result.summary_text())                                                                  # doctest: +SKIP
>>> result.table            # one row per variant and metric: diff_mean, diff_p10, diff_p50, diff_p90, p_better
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.errors import InputError
from revsim.pipeline import run_dataset
from revsim.whatif.runs import Overrides, ScenarioLike, load

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

    from revsim.scenario.load import LoadedScenario

__all__ = ["Metric", "Variant", "ComparisonPlan", "Comparison", "compare", "plan_comparison", "run_comparison",
           "write_comparison", "comparison_streams", "comparison_metrics", "TABLE_COLUMNS", "CSV_NAME", "CHART_NAME"]

CSV_NAME = "compare.csv"
CHART_NAME = "compare.png"

#: The columns of ``compare.csv``.
TABLE_COLUMNS = ["variant", "metric", "month", "better", "units", "draws", "base_mean", "variant_mean", "diff_mean",
                 "diff_se", "diff_p10", "diff_p50", "diff_p90", "p_better", "p_worse", "unpaired_se"]


@dataclass(frozen=True)
class Metric:
    """One compared quantity: read per draw in month ``month``; ``better`` says which direction is good."""

    name: str
    label: str
    better: str  # "higher" or "lower"
    month: int
    kind: str  # "money", "count" or "ratio"

    def values(self, ds: xr.Dataset) -> np.ndarray:
        """The metric in each draw of a results Dataset (NaN where it is undefined)."""
        # one month of each draw, read (from a lazily opened results.zarr, chunk by chunk) before summing
        if self.name.startswith("arr_"):
            return _month(ds, "arr", self.month).sum(axis=1).astype(float)
        if self.name == "customers_at_horizon":
            return _month(ds, "active_customers", self.month).sum(axis=1).astype(float)
        if self.name == "nrr_at_horizon":
            return _month(ds, "nrr_12m", self.month).astype(float)
        if self.name == "logo_churn_last_12_months":
            window = np.asarray(ds["logo_churn"].transpose("draw", "month")
                                .isel(month=slice(max(0, self.month - 11), self.month + 1)).values, dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # draws without customers: NaN
                return np.nanmean(window, axis=1)
        raise ValueError(f"unknown metric {self.name!r}")  # pragma: no cover


def _month(ds: xr.Dataset, name: str, month: int) -> np.ndarray:
    """Variable ``name`` in month ``month`` of every draw (``[draw]`` or ``[draw, segment]``)."""
    da = ds[name].isel(month=month)
    return np.asarray(da.transpose("draw", ...).values)


def comparison_metrics(loaded: LoadedScenario) -> list[Metric]:
    """The metrics ``compare`` reports: ARR at horizon and at 12 months (the last month if shorter),
    customers and NRR at horizon, and the mean monthly logo churn over the last 12 months."""
    last = loaded.model.horizon_months - 1
    return [
        Metric("arr_at_horizon", "ARR at horizon", "higher", last, "money"),
        Metric("arr_at_12_months", "ARR at 12 months", "higher", min(11, last), "money"),
        Metric("customers_at_horizon", "customers at horizon", "higher", last, "count"),
        Metric("nrr_at_horizon", "NRR at horizon", "higher", last, "ratio"),
        Metric("logo_churn_last_12_months", "logo churn, last 12 months", "lower", last, "ratio"),
    ]


@dataclass(frozen=True)
class Variant:
    """A scenario to compare: its name (and results file name), the scenario, what it changes."""

    name: str
    scenario: LoadedScenario
    change: str = ""
    label: str = ""  # what the variant is, for charts: the levers' descriptions, or the scenario's name

    @property
    def file_name(self) -> str:
        """Its results file when the comparison holds its runs in memory."""
        return _file_stem(self.name) + ".nc"

    @property
    def store_name(self) -> str:
        """Its results store when the comparison streams its runs (:func:`write_comparison`)."""
        return _file_stem(self.name) + ".zarr"


@dataclass(frozen=True)
class ComparisonPlan:
    """The base and the variants, validated, before anything runs."""

    base: Variant
    variants: list[Variant]
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[Variant]:
        """The base, then the variants."""
        return [self.base, *self.variants]

    @property
    def output_files(self) -> list[str]:
        """The files :meth:`Comparison.write` writes, and the stores a streamed comparison writes instead of
        the results files (an earlier comparison's, in either form, is replaced only with ``force``)."""
        return [CSV_NAME, CHART_NAME, *(v.file_name for v in self.runs), *(v.store_name for v in self.runs)]


@dataclass
class Comparison:
    """The outcome of :func:`compare`.

    Attributes
    ----------
    base, variants
        Their names.
    datasets
        Every run's results Dataset by name (the base's too), as ``revsim run`` writes them.
    values
        Per name and metric: the metric in each draw.
    table
        One row per variant and metric (the columns of ``compare.csv``, see :data:`TABLE_COLUMNS`).
    """

    plan: ComparisonPlan
    metrics: list[Metric]
    datasets: dict[str, xr.Dataset]
    values: dict[str, dict[str, np.ndarray]]
    table: pd.DataFrame
    draws: int
    seed: int
    warnings: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.plan.base.name

    @property
    def variants(self) -> list[str]:
        return [v.name for v in self.plan.variants]

    @property
    def notes(self) -> list[str]:
        return self.plan.notes

    @property
    def currency(self) -> str:
        return self.plan.base.scenario.model.currency

    def label(self, name: str) -> str:
        """What variant ``name`` is, for a reader (its levers' descriptions or its scenario's name)."""
        for variant in (self.plan.base, *self.plan.variants):
            if variant.name == name:
                return variant.label or name
        return name

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def month_label(self, metric: Metric) -> str:
        return self.plan.base.scenario.model.month_label(metric.month)

    def difference(self, variant: str, metric: str = "arr_at_horizon") -> np.ndarray:
        """The paired difference variant - base of ``metric`` in each draw (NaN where undefined)."""
        return self.values[variant][metric] - self.values[self.base][metric]

    def summary_text(self) -> str:
        """A readable table: per variant and metric, the median difference, its P10-P90 and P(better)."""
        return _summary_text(self)

    def plot(self, metrics: Sequence[str] = ("arr_at_horizon", "arr_at_12_months")) -> Figure:
        """The paired-difference chart (a matplotlib Figure, drawn off screen)."""
        from revsim.whatif.charts import paired_difference_chart

        return paired_difference_chart(self, metrics)

    def write(self, out_dir: str | Path, *, force: bool = False) -> list[Path]:
        """Write ``compare.csv``, ``compare.png`` and one results file per run (``NAME.nc``) into ``out_dir``,
        atomically.

        Raises
        ------
        InputError
            When ``out_dir`` already holds these files and ``force`` is not set.
        """
        from revsim.results.output_dir import check_output_dir, write_files
        from revsim.results.write_errors import write_netcdf

        out = Path(out_dir)
        check_output_dir(out, self.plan.output_files, force=force)
        figure = self.plot()
        writers: dict[str, Callable[[Path], None]] = {
            CSV_NAME: self.write_table,
            CHART_NAME: lambda path: figure.savefig(path, format="png"),
        }
        for variant in self.plan.runs:
            ds = self.datasets[variant.name]
            writers[variant.file_name] = lambda path, ds=ds: write_netcdf(ds, path)
        # an earlier streamed comparison's stores describe other runs: removed with the renames
        return write_files(out, writers, replaces=[v.store_name for v in self.plan.runs])

    def write_table(self, path: str | Path) -> None:
        """Write ``compare.csv`` (the table) to ``path``."""
        self.table.to_csv(path, index=False, float_format="%.6g")


# ---------------------------------------------------------------------------------------------------------
# Building the variants
# ---------------------------------------------------------------------------------------------------------


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name).strip(".") or "variant"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken or _file_stem(candidate) in {_file_stem(t) for t in taken} or \
            _file_stem(candidate) in ("compare",):
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _scenario_name(scenario: Any, loaded: LoadedScenario) -> str:
    """A variant's name from its file (or its scenario's name), control characters escaped: it is printed."""
    from revsim.printable import printable

    if isinstance(scenario, str | Path):
        return printable(Path(scenario).stem, lines=False)
    location = Path(loaded.file)
    return printable(location.stem if location.suffix else loaded.name, lines=False)


def plan_comparison(base: ScenarioLike, variants: Sequence[ScenarioLike] | Mapping[str, ScenarioLike] = (), *,
                    levers: Sequence[Any] = (), overrides: Overrides = None,
                    source: str = "override") -> ComparisonPlan:
    """Load and check the base and every variant (nothing runs yet).

    ``variants`` are scenario files or loaded scenarios (a mapping names them; else they are named after
    their files); ``levers`` are names of the base's levers, ad-hoc ``PATH=CHANGE`` levers, or several
    joined by ``+`` (``mql_plus_3pts+two_more_reps``), each a variant of the base. ``overrides`` apply to
    every scenario compared.

    Raises
    ------
    InputError
        For an unknown lever, a variant that does not load, no variant at all, or a variant that covers other
        months than the base (a paired comparison needs the same months).
    """
    from revsim.scenario.levers import get_lever
    from revsim.scenario.overrides import apply_lever

    base_loaded, notes = load(base, overrides, source=source)
    if not variants and not levers:
        raise InputError.single("nothing to compare: give variant scenario files or levers (--lever NAME)")
    taken: set[str] = set()
    file_mode = bool(variants)
    base_variant = Variant(_unique(_scenario_name(base, base_loaded) if file_mode else "base", taken), base_loaded)
    planned: list[Variant] = []
    items = list(variants.items()) if isinstance(variants, Mapping) else [(None, v) for v in variants]
    for name, scenario in items:
        loaded, more = load(scenario, overrides, source=source)
        notes += more
        _check_same_months(base_loaded, loaded)
        planned.append(Variant(_unique(name or _scenario_name(scenario, loaded), taken), loaded,
                               f"scenario {loaded.file}", loaded.model.name))
    for entry in levers:
        items = [e.strip() for e in entry.split("+")] if isinstance(entry, str) and "=" not in entry else [entry]
        loaded, described, names, labels = base_loaded, [], [], []
        for item in items:
            spec = get_lever(base_loaded, item)
            loaded, more = apply_lever(loaded, spec)
            notes += more
            described.append(spec.describe())
            names.append(spec.name)
            labels.append(lever_label(spec))
        planned.append(Variant(_unique("+".join(names), taken), loaded, "; ".join(described), " + ".join(labels)))
    return ComparisonPlan(base_variant, planned, list(dict.fromkeys(notes)))


def lever_label(spec: Any) -> str:
    """A lever as a reader says it: its description, else its inputs' names and change
    (``Churn per renewal (every segment) -20%``)."""
    if spec.description:
        return spec.description[:1].upper() + spec.description[1:]
    from revsim.plot.input_labels import input_label

    return f"{', '.join(input_label(path) for path in spec.paths)} {spec.change.describe()}"


def _check_same_months(base: LoadedScenario, other: LoadedScenario) -> None:
    a, b = base.model, other.model
    if (a.start, a.horizon_months) != (b.start, b.horizon_months):
        raise InputError.single(
            f"covers {b.horizon_months} months from {b.start}, but the base ({base.file}) covers {a.horizon_months} "
            f"months from {a.start}: a paired comparison needs the same months", file=other.file)


# ---------------------------------------------------------------------------------------------------------
# Running and summarising
# ---------------------------------------------------------------------------------------------------------


def run_comparison(plan: ComparisonPlan, *, draws: int = 1000, seed: int = 0, threads: int | None = None,
                   progress: Callable[[int], None] | None = None, command: str | None = None,
                   cache: MutableMapping[tuple[str, int, int], tuple[xr.Dataset, list[str]]] | None = None
                   ) -> Comparison:
    """Run the base and every variant on the same draws and seed, in memory; tabulate the paired differences.

    ``cache`` holds runs already made, keyed by (scenario hash, draws, seed): a scenario found there is not
    run again (the same scenario, draws and seed give identical results), and the new runs are added to it.
    (:func:`write_comparison` can stream the runs into stores instead.)
    """
    datasets: dict[str, xr.Dataset] = {}
    messages: list[str] = []
    for variant in plan.runs:
        key = (variant.scenario.sha256, draws, seed)
        if cache is not None and key in cache:
            ds, more = cache[key]
        else:
            ds, more = run_dataset(variant.scenario, draws=draws, seed=seed, threads=threads, progress=progress,
                                   command=command)
            if cache is not None:
                cache[key] = (ds, more)
        ds = ds.copy()  # the same run may be the base here and a variant there: attributes of its own
        ds.attrs.update(_variant_attrs(plan, variant))
        datasets[variant.name] = ds
        messages += [f"{variant.name}: {m}" for m in more]
    return _tabulate(plan, datasets, messages, draws=draws, seed=seed)


def _variant_attrs(plan: ComparisonPlan, variant: Variant) -> dict[str, object]:
    """What a run's results record about its place in the comparison."""
    return {"variant": variant.name, "variant_change": variant.change or "(the base)",
            "variant_base": plan.base.name}


def _tabulate(plan: ComparisonPlan, datasets: dict[str, xr.Dataset], messages: list[str], *, draws: int,
              seed: int) -> Comparison:
    """The comparison of runs made: each metric in each draw, and the table of paired differences.

    A run streamed into a store is read lazily, one chunk of draws at a time (:meth:`Metric.values`).
    """
    from revsim.results.reading import reading_store

    metrics = comparison_metrics(plan.base.scenario)
    values: dict[str, dict[str, np.ndarray]] = {}
    for name, ds in datasets.items():
        with reading_store(ds):  # a damaged chunk of a store is reported naming the store
            values[name] = {m.name: m.values(ds) for m in metrics}
    table = _table(plan, metrics, values)
    return Comparison(plan, metrics, datasets, values, table, draws=draws, seed=seed, warnings=messages)


def comparison_streams(plan: ComparisonPlan, store: str, *, draws: int) -> bool:
    """Whether a comparison streams its runs for the choice ``store`` (``auto``, ``netcdf`` or ``zarr``, as
    ``revsim run --store``).

    ``auto`` asks :func:`revsim.pipeline.streams` about every run as if it held the draws of all the runs: a
    comparison held in memory holds every run's Dataset at once. Then every run streams, or none.
    """
    from revsim.engine.compile import compile_scenario
    from revsim.pipeline import streams

    runs = plan.runs if store == "auto" else plan.runs[:1]  # the other choices do not depend on the runs
    held = draws * len(plan.runs)
    return any(streams(store, compile_scenario(v.scenario), draws=held) for v in runs)


def write_comparison(plan: ComparisonPlan, out_dir: str | Path, *, draws: int = 1000, seed: int = 0,
                     threads: int | None = None, store: str = "netcdf", force: bool = False,
                     progress: Callable[[int], None] | None = None, command: str | None = None,
                     chunk_size: int | None = None) -> tuple[Comparison, list[Path]]:
    """Run a comparison and write it into ``out_dir``: ``compare.csv``, ``compare.png`` and each run's results,
    ``<name>.nc`` (runs held in memory) or ``<name>.zarr`` (runs streamed as they are computed).

    ``store`` chooses as ``revsim run --store`` does (:func:`comparison_streams`). Every output is written
    under a temporary name and renamed into place once all are complete; on an error or an interruption
    nothing is renamed and the temporary files and stores are removed
    (:func:`revsim.results.output_dir.write_files`).

    Returns
    -------
    (Comparison, list of Path)
        The comparison (a streamed run's Dataset is its store in ``out_dir`` opened lazily) and the written paths.

    Raises
    ------
    InputError
        When ``out_dir`` already holds these outputs and ``force`` is not set.
    ValueError
        For a ``store`` other than ``auto``, ``netcdf`` and ``zarr``.
    """
    from revsim.pipeline import Backend, run_store
    from revsim.results.output_dir import check_output_dir, write_files
    from revsim.results.reading import open_results

    out = Path(out_dir)
    check_output_dir(out, plan.output_files, force=force)  # before the runs (a held comparison checks again after)
    if not comparison_streams(plan, store, draws=draws):
        result = run_comparison(plan, draws=draws, seed=seed, threads=threads, progress=progress, command=command)
        return result, result.write(out, force=force)
    stores: dict[str, Path] = {}
    messages: list[str] = []
    done: dict[str, Comparison] = {}
    backend = Backend("local", chunk_size=chunk_size) if chunk_size is not None else None

    def write_store(variant: Variant) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            path.unlink()  # the store is a directory in place of the temporary file
            run = run_store(variant.scenario, path, draws=draws, seed=seed, threads=threads, progress=progress,
                            command=command, attrs=_variant_attrs(plan, variant), backend=backend,
                            exact=True)  # float64 even when large: compare.csv as from runs held in memory
            stores[variant.name] = path
            messages.extend(f"{variant.name}: {m}" for m in run.warnings)
        return write

    def write_table(path: Path) -> None:  # every store complete: read back lazily, at its temporary name
        datasets = {name: open_results(store) for name, store in stores.items()}
        done["result"] = _tabulate(plan, datasets, messages, draws=draws, seed=seed)
        done["result"].write_table(path)

    writers: dict[str, Callable[[Path], None]] = {v.store_name: write_store(v) for v in plan.runs}
    writers[CSV_NAME] = write_table
    writers[CHART_NAME] = lambda path: done["result"].plot().savefig(path, format="png")
    # an earlier comparison's results files describe other runs: removed with the renames
    written = write_files(out, writers, replaces=[v.file_name for v in plan.runs])
    result = done["result"]
    for ds in result.datasets.values():  # the stores were read at their temporary names: opened where they are
        ds.close()
    result.datasets = {v.name: open_results(out / v.store_name) for v in plan.runs}
    return result, written


def compare(base: ScenarioLike, variants: Sequence[ScenarioLike] | Mapping[str, ScenarioLike] = (), *,
            levers: Sequence[Any] = (), draws: int = 1000, seed: int = 0, threads: int | None = None,
            overrides: Overrides = None, progress: Callable[[int], None] | None = None) -> Comparison:
    """Compare variants with a base scenario, draw by draw, on common random numbers.

    Parameters
    ----------
    base
        The base scenario: a file name or a scenario from :func:`revsim.load_scenario`.
    variants
        Other scenarios (files or loaded), named after their files, or a mapping from name to scenario.
    levers
        Variants of the base: names of levers its file declares (``levers:``), ad-hoc ``"PATH=CHANGE"``
        levers (``"retention.smb.churn=-20%"``), or several names joined by ``+``.
    draws, seed, threads
        As for :func:`revsim.simulate`; every run uses the same seed and draws.
    overrides
        ``PATH=VALUE`` texts or a path -> value mapping applied to every scenario (as ``--set``).
    progress
        Called with the number of draws just finished.

    Returns
    -------
    Comparison
        With ``table`` (one row per variant and metric: the paired difference's mean, P10, P50, P90 and the
        probability that the variant is better), the per-draw ``values``, and every run's Dataset.

    Examples
    --------
    >>> result = revsim.compare("base.yaml", ["hire_more.yaml"], draws=1000)          # doctest: +SKIP
    >>> result.difference("hire_more").mean()                                         # doctest: +SKIP
    """
    plan = plan_comparison(base, variants, levers=levers, overrides=overrides)
    return run_comparison(plan, draws=draws, seed=seed, threads=threads, progress=progress)


def _table(plan: ComparisonPlan, metrics: list[Metric], values: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    import pandas as pd

    model = plan.base.scenario.model
    rows = []
    base = values[plan.base.name]
    for variant in (v.name for v in plan.variants):
        for metric in metrics:
            b, v = base[metric.name], values[variant][metric.name]
            ok = np.isfinite(b) & np.isfinite(v)
            n = int(ok.sum())
            row: dict[str, Any] = {
                "variant": variant, "metric": metric.name, "month": model.month_label(metric.month),
                "better": metric.better, "units": _units(metric, model.currency), "draws": n,
            }
            if n == 0:
                rows.append(row)
                continue
            b, v = b[ok], v[ok]
            d = v - b
            sd = float(np.std(d, ddof=1)) if n > 1 else 0.0
            better = d > 0 if metric.better == "higher" else d < 0
            worse = d < 0 if metric.better == "higher" else d > 0
            p10, p50, p90 = (float(x) for x in np.quantile(d, [0.1, 0.5, 0.9]))
            unpaired = float(np.sqrt((np.var(b, ddof=1) + np.var(v, ddof=1)) / n)) if n > 1 else 0.0
            row.update({
                "base_mean": float(b.mean()), "variant_mean": float(v.mean()), "diff_mean": float(d.mean()),
                "diff_se": sd / np.sqrt(n), "diff_p10": p10, "diff_p50": p50, "diff_p90": p90,
                "p_better": float(better.mean()), "p_worse": float(worse.mean()), "unpaired_se": unpaired,
            })
            rows.append(row)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _units(metric: Metric, currency: str) -> str:
    return {"money": f"{currency} of ARR", "count": "customers"}.get(metric.kind,
                                                                       "ratio per month" if "churn" in metric.name
                                                                       else "ratio")


def _summary_text(result: Comparison) -> str:
    from revsim.results.summary import format_difference

    table = result.table
    lines = [f"Compared with {result.base} ({result.plan.base.scenario.name}): {result.draws:,} paired draws, seed "
             f"{result.seed}, the same random numbers in every run"]
    width = max(len(m.label) for m in result.metrics)
    for variant in result.plan.variants:
        lines.append("")
        lines.append(f"{variant.name}: {variant.change}" if variant.change else variant.name)
        lines.append(f"  {'metric':<{width}}  {'month':<7}  {'median diff':>12}  {'P10 .. P90':>25}  P(better)")
        for metric in result.metrics:
            row = table[(table["variant"] == variant.name) & (table["metric"] == metric.name)].iloc[0]
            if row["draws"] == 0:
                lines.append(f"  {metric.label:<{width}}  {row['month']:<7}  {'n/a':>12}")
                continue
            fmt = lambda x, k=metric.kind: format_difference(float(x), k, result.currency)  # noqa: E731
            interval = f"{fmt(row['diff_p10'])} .. {fmt(row['diff_p90'])}"
            lines.append(f"  {metric.label:<{width}}  {row['month']:<7}  {fmt(row['diff_p50']):>12}  {interval:>25}  "
                         f"{row['p_better'] * 100:7.0f}%")
    from revsim.printable import printable

    return printable("\n".join(lines))  # names and file names from the scenarios, control characters escaped
