"""Retention: a heatmap of retention by cohort (or segment) and age, and the NRR and GRR curves.

The results Dataset holds totals per month and segment, not each cohort's path, so the heatmap is drawn from
a table (rows: cohorts or segments, columns: ages in months, values: retention, 1 = 100%):

* :func:`cohort_table` reads realised cohorts when the Dataset has per-cohort variables
  (``cohort_customers`` and ``cohort_arr``, dims ``draw``, ``cohort``, ``age``);
* :func:`history_cohort_table` reads the observed cohorts of a history (``cohorts.csv``);
* otherwise :func:`expected_retention` computes, for each segment, the retention the model expects of a new
  customer at each age, from the run's sampled inputs (``param_*``) and the scenario's constants, by the
  equations of ``docs/model.md`` (section 4): logo retention :math:`S(a)` (onboarding success at the end of
  onboarding, the renewal retention :math:`r_k` at each renewal) and revenue retention
  :math:`S(a)\\,\\bar m(a)/\\bar m(0)` (price uplift at renewals, net expansion each month). These are the
  curves the LTV of the run sums; they are expectations, not observed cohorts, and the chart says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.plot import style
from revsim.plot.draws import draw_count, is_quantile_form, monthly_quantiles, quantiles
from revsim.plot.money import format_percent
from revsim.plot.scenario_link import linked_scenario
from revsim.plot.style import PALETTE, display_name, house_style
from revsim.plot.unavailable import ChartUnavailable

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr
    from matplotlib.axes import Axes

__all__ = ["cohort_heatmap", "cohort_table", "history_cohort_table", "expected_retention", "expected_retention_draws",
           "retention_curves", "retention_title", "heatmap_ages", "pooled_survival", "cohort_retention_title"]

KINDS = ("logo", "revenue")


# -- tables -----------------------------------------------------------------------------------------------

def cohort_table(ds: xr.Dataset, kind: str = "logo") -> pd.DataFrame:
    """Median retention of each realised cohort by age, from per-cohort variables of the Dataset.

    Needs ``cohort_customers`` (``logo``) or ``cohort_arr`` (``revenue``) with dims ``draw``, ``cohort``
    (the month the cohort was won) and ``age`` (months since), NaN where the age is past the horizon; a
    ``segment`` dim, if any, is summed over.
    Retention is the value at each age over the value at age 0, per draw, then the median across draws.

    Raises
    ------
    ChartUnavailable
        When the Dataset has no per-cohort variables.
    """
    import pandas as pd

    name = {"logo": "cohort_customers", "revenue": "cohort_arr"}[kind]
    if name not in ds:
        raise ChartUnavailable(f"the results have no per-cohort variable '{name}'")
    da = ds[name]
    if "segment" in da.dims:  # cohorts of all segments won in the same month, together
        da = da.sum("segment", min_count=1)
    da = da.transpose("draw", "cohort", "age")
    values = np.asarray(da.values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(values[:, :, :1] > 0, values / values[:, :, :1], np.nan)
    median = quantiles(ratio, [0.5], axis=0)[0]
    labels = [style.month_label(c) for c in da["cohort"].values]
    return pd.DataFrame(median, index=labels, columns=[int(a) for a in da["age"].values])


def history_cohort_table(cohorts: Any, kind: str = "logo") -> pd.DataFrame:
    """Observed retention of each cohort of a history (the ``cohorts.csv`` a calibration reads) by age.

    ``cohorts`` has ``labels``, ``customers`` [cohort, period] (NaN past the last observed period), ``mrr``
    (same shape, or None), ``period_months``, and optionally ``segment`` (indexes into ``segment_names``).
    Retention is the value at each period over the value at period 0; columns are ages in months.

    Raises
    ------
    ChartUnavailable
        For ``revenue`` when the history has no MRR by cohort.
    """
    import pandas as pd

    values = cohorts.customers if kind == "logo" else cohorts.mrr
    if values is None:
        raise ChartUnavailable("the cohort history has no MRR by cohort")
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(values[:, :1] > 0, values / values[:, :1], np.nan)
    labels = [str(label) for label in cohorts.labels]
    names = getattr(cohorts, "segment_names", None)
    if names and len(names) > 1:
        labels = [f"{label} {display_name(names[int(i)])}" for label, i in zip(labels, cohorts.segment, strict=True)]
    ages = [int(p) * int(cohorts.period_months) for p in range(values.shape[1])]
    return pd.DataFrame(ratio, index=labels, columns=ages)


def expected_retention_draws(ds: xr.Dataset, scenario: Any = None,
                             max_age: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per segment: ``{"logo": [draw, age], "revenue": [draw, age]}`` expected retention of a new customer.

    Raises
    ------
    ChartUnavailable
        When the scenario (for its constants) is not available.
    """
    from revsim.engine.compile import segment_input_path
    from revsim.results.metrics import expected_customer_curves
    from revsim.revops.components import input_values

    loaded, why = linked_scenario(ds, scenario)
    if loaded is None:
        raise ChartUnavailable(f"expected retention needs the run's scenario: {why}")
    model = loaded.model
    values = input_values(ds, model)
    ages = np.arange((max_age if max_age is not None else heatmap_ages(ds)[-1]) + 1)
    out: dict[str, dict[str, np.ndarray]] = {}
    for segment in [str(s) for s in ds["segment"].values]:
        def get(block: str, name: str, segment: str = segment) -> np.ndarray:
            return values[segment_input_path(model, block, segment, name)]

        logo, growth = expected_customer_curves(model, segment, get, ages.size)
        revenue = logo * growth
        out[segment] = {"logo": logo, "revenue": revenue}
    return out


def expected_retention(ds: xr.Dataset, kind: str = "logo", scenario: Any = None,
                       ages: Any = None) -> pd.DataFrame:
    """Median expected retention of a new customer by segment (rows) and age in months (columns).

    Parameters
    ----------
    ds
        Results of a run.
    kind
        ``logo`` (share of customers still active) or ``revenue`` (their MRR relative to the start,
        expansion included: above 1 when expansion outgrows churn).
    scenario
        The run's scenario or its file (for its constants); default: found from the results
        (:func:`~revsim.plot.scenario_link.linked_scenario`).
    ages
        The ages to report (default :func:`heatmap_ages`).

    Raises
    ------
    ChartUnavailable
        When the scenario is not available.
    """
    ages = list(heatmap_ages(ds) if ages is None else ages)
    return _median_table(expected_retention_draws(ds, scenario, max_age=max(ages)), kind, ages)


def _median_table(draws: dict[str, dict[str, np.ndarray]], kind: str, ages: list[int]) -> pd.DataFrame:
    import pandas as pd

    rows = {segment: quantiles(curves[kind][:, ages], [0.5], axis=0)[0] for segment, curves in draws.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=ages)


def heatmap_ages(ds: xr.Dataset) -> list[int]:
    """Ages shown: every 3 months up to the horizon (at least 24 months, at most 60)."""
    horizon = int(np.clip(ds.sizes["month"], 24, 60))
    step = 3 if horizon <= 36 else 6
    return list(range(0, horizon + 1, step))


# -- charts -----------------------------------------------------------------------------------------------

@house_style
def cohort_heatmap(table: pd.DataFrame, ax: Axes | None = None, *, kind: str = "logo", ds: xr.Dataset | None = None,
                   title: str | None = None, annotate: bool | None = None) -> Axes:
    """A retention heatmap from a table: rows are cohorts (or segments), columns ages in months.

    Parameters
    ----------
    table
        Retention (1 = 100%) with one row per cohort or segment and one column per age; NaN cells (ages a
        cohort has not reached) stay blank. :func:`cohort_table` and :func:`expected_retention` make one.
    ax
        Axes to draw into; a new slide-sized figure when None (signed with ``ds``'s source line if given).
    kind
        ``logo`` or ``revenue``: names the colour scale.
    annotate
        Print the percentage in each cell (default: when the table has at most 12 rows and 24 columns).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import LinearSegmentedColormap

    values = np.asarray(table.values, dtype=float)
    if ax is None:
        _, ax = style.house_figure(ds, title or f"{kind.capitalize()} retention by cohort and age",
                                   content=(0.16, 0.14, 0.93, 0.8))
    finite = values[np.isfinite(values)]
    top = max(1.0, float(finite.max()) if finite.size else 1.0)
    # the scale starts 10 points under the lowest value (rounded to 10%) so that differences show
    bottom = max(0.0, np.floor((float(finite.min()) if finite.size else 0.0) * 10 - 1) / 10)
    cmap = LinearSegmentedColormap.from_list("revsim_retention", ["#F4F7FB", "#A9C5EA", PALETTE["primary"]])
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=cmap, vmin=bottom, vmax=top,
                      interpolation="nearest")
    rows, cols = values.shape
    if annotate is None:
        annotate = rows <= 12 and cols <= 24
    if annotate:
        for i in range(rows):
            for j in range(cols):
                if np.isfinite(values[i, j]):
                    dark = (values[i, j] - bottom) / (top - bottom or 1) > 0.6
                    ax.text(j, i, format_percent(values[i, j]), ha="center", va="center", fontsize=12,
                            color="white" if dark else PALETTE["ink"], gid=f"heatmap-{i}-{j}")
    # large tables (monthly cohorts over years) label every k-th row and column only
    # as many row labels as the axes' height holds (two stacked heatmaps hold fewer than one)
    height_points = ax.get_position().height * ax.figure.get_figheight() * 72
    label_points = 1.7 * plt_rc_fontsize()
    x_step, y_step = _tick_step(cols, 13), _tick_step(rows, max(2, min(14, int(height_points / label_points))))
    ax.set_xticks(range(0, cols, x_step), [str(c) for c in table.columns[::x_step]])
    labels = [display_name(r) if not str(r)[:1].isdigit() else str(r) for r in table.index]
    ax.set_yticks(range(0, rows, y_step), labels[::y_step])
    ax.set_xlabel("age (months since won)", color=PALETTE["muted"])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"{'Customers' if kind == 'logo' else 'Revenue (MRR)'} retained", fontsize=15, loc="left",
                 color=PALETTE["ink"])
    from matplotlib.ticker import MaxNLocator

    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.015)
    colorbar.locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
    colorbar.formatter = style.ExactPercentFormatter()
    colorbar.update_ticks()
    colorbar.outline.set_visible(False)
    colorbar.ax.tick_params(labelsize=11, length=0)
    return ax


def plt_rc_fontsize() -> float:
    """The tick labels' font size, in points."""
    import matplotlib

    size = matplotlib.rcParams["ytick.labelsize"]
    return float(size) if isinstance(size, int | float) else float(matplotlib.rcParams["font.size"]) * 1.2


def _tick_step(count: int, most: int) -> int:
    """The smallest of 1, 2, 3, 4, 6, 12, 24... that labels at most ``most`` of ``count`` positions."""
    for step in (1, 2, 3, 4, 6, 12, 24, 48, 96):
        if -(-count // step) <= most:
            return step
    return -(-count // most)


def retention_title(ds: xr.Dataset, scenario: Any = None, logo: pd.DataFrame | None = None) -> str:
    """The finding of the retention heatmap: how many customers of the largest segment remain at 24 months.

    ``logo`` is the expected logo retention table when already computed (it must have age 24).
    """
    if logo is None or 24 not in logo.columns:
        logo = expected_retention(ds, "logo", scenario, ages=[24])
    segment = _main_segment(ds)
    share = logo.loc[segment, 24]
    name = display_name(segment)
    who = f"new {name if name.isupper() else name.lower()} customers" if ds.sizes["segment"] > 1 else "new customers"
    return f"{format_percent(share)} of {who} remain after 2 years"


def pooled_survival(ds: xr.Dataset, age: int) -> np.ndarray:
    """Per draw, the share of customers still active ``age`` months after they were won, pooling every
    realised cohort that has reached that age: the sum of their customers at ``age`` over the sum at age 0.

    Each customer counts once, whatever the size of its cohort, so small cohorts that lose nobody in most
    draws do not inflate it (as an average of per-cohort shares would).

    Raises
    ------
    ChartUnavailable
        When the Dataset has no per-cohort variables.
    """
    if "cohort_customers" not in ds:
        raise ChartUnavailable("the results have no per-cohort variable 'cohort_customers'")
    da = ds["cohort_customers"]
    if "segment" in da.dims:
        da = da.sum("segment", min_count=1)
    values = np.asarray(da.transpose("draw", "cohort", "age").values, dtype=float)
    won, left = values[:, :, 0], values[:, :, age]
    reached = np.isfinite(left) & np.isfinite(won)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.where(reached, won, 0.0).sum(axis=1)
        return np.where(total > 0, np.where(reached, left, 0.0).sum(axis=1) / np.where(total > 0, total, 1.0), np.nan)


def cohort_retention_age(logo: pd.DataFrame) -> int | None:
    """The age the retention headline speaks of: 24 months, else 12, else the oldest age that at least three
    cohorts reach (None when no age is reached by three)."""
    counts = logo.notna().sum(axis=0)
    reached = [int(a) for a in logo.columns if counts[a] >= 3]
    if not reached:
        return None
    return 24 if 24 in reached else 12 if 12 in reached else max(reached)


def cohort_retention_title(ds: xr.Dataset, logo: pd.DataFrame) -> str:
    """The finding of the realised-cohort heatmap: the share of customers left at 24 months (or 12, or the
    oldest age at least three cohorts reach), pooling customers over cohorts (:func:`pooled_survival`),
    median across draws."""
    age = cohort_retention_age(logo)
    if age is None:
        return "Retention by cohort and age"
    span = "2 years" if age == 24 else f"{age} months"
    share = quantiles(pooled_survival(ds, age), [0.5])[0]
    return f"{format_percent(float(share))} of customers remain after {span} (all cohorts pooled)"


def _main_segment(ds: xr.Dataset) -> str:
    new = ds["new_customers_mean"].sum("month") if is_quantile_form(ds) else ds["new_customers"].sum(("draw", "month"))
    return str(new["segment"].values[int(np.argmax(new.values))])


@house_style
def retention_heatmaps(ds: xr.Dataset, *, scenario: Any = None, title: str | None = None) -> Any:
    """Logo and revenue retention heatmaps on one slide: realised cohorts when the run has them, else the
    model's expected retention by segment. Returns the figure.

    Raises
    ------
    ChartUnavailable
        When neither per-cohort results nor the scenario are available.
    """
    if "cohort_customers" in ds and "cohort_arr" in ds and not is_quantile_form(ds):
        tables = [cohort_table(ds, kind) for kind in KINDS]
        subtitle = (f"Median over {ds.sizes['draw']:,} simulated draws of each cohort's customers and MRR, "
                    "relative to the month it was won.")
        heading = title or cohort_retention_title(ds, tables[0])
    else:
        ages = heatmap_ages(ds)
        draws = expected_retention_draws(ds, scenario, max_age=max(ages))
        tables = [_median_table(draws, kind, ages) for kind in KINDS]
        subtitle = ("Expected retention of a new customer by age, computed from the model's sampled inputs "
                    f"(median of {draw_count(ds):,} draws): model expectations, not observed cohorts. "
                    "Revenue includes expansion, so it can exceed 100%.")
        heading = title or retention_title(ds, scenario, logo=tables[0])
    rows = max(len(t) for t in tables)
    fig, axes = style.house_figure(ds, heading, subtitle, nrows=2, hspace=0.55,
                                   content=(0.14, 0.13, 0.95, 0.72 if rows < 6 else 0.74))
    for ax, table, kind in zip(axes, tables, KINDS, strict=True):
        cohort_heatmap(table, ax, kind=kind)
    return fig


@house_style
def retention_curves(ds: xr.Dataset, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """NRR and GRR over the last 12 months, month by month: median and P10-P90 band.

    Parameters
    ----------
    ds
        Results of a run (NRR and GRR are defined from month 12).
    ax
        Axes to draw into; a new slide-sized figure when None.

    Raises
    ------
    ChartUnavailable
        When the run is shorter than 12 months (NRR and GRR are never defined).
    """
    months = ds["month"].values
    if not np.isfinite(ds["nrr_12m"].values).any():
        raise ChartUnavailable("NRR and GRR need at least 12 simulated months")
    if ax is None:
        _, ax = style.house_figure(ds, title or _curves_title(ds),
                                   "Trailing-12-month net and gross revenue retention, defined from month 12: "
                                   f"median and P10\u2013P90 of {draw_count(ds):,} simulated draws.",
                                   content=(0.075, 0.12, 0.87, 0.77))
    import pandas as pd

    x = pd.DatetimeIndex(months)
    last_values = []
    for name, label, colour in (("nrr_12m", "NRR", PALETTE["primary"]), ("grr_12m", "GRR", PALETTE["gain"])):
        q = monthly_quantiles(ds, name, (0.1, 0.5, 0.9))
        ax.fill_between(x, q[0], q[2], color=colour, alpha=0.18, linewidth=0)
        ax.plot(x, q[1], color=colour, linewidth=3, label=label)
        last_values.append((label, q[1][-1], colour, q[0][-1], q[2][-1]))
    ax.axhline(1.0, color=PALETTE["faint"], linewidth=1.2, linestyle=(0, (4, 3)))
    from revsim.plot.labels import spread

    bottom, top = _curve_limits(ds)
    ax.set_ylim(bottom, top)
    # each label is two lines (about 36 points): keep them that far apart on the axis
    points = ax.bbox.height * 72 / ax.figure.dpi
    ys = spread([v[1] for v in last_values], gap=38 / points * (top - bottom))
    for (label, value, colour, low, high), y in zip(last_values, ys, strict=True):
        ax.annotate(f"{label} {format_percent(value)}", (x[-1], y), xytext=(12, 0), textcoords="offset points",
                    va="center", fontsize=15, fontweight="bold", color=colour, annotation_clip=False)
        ax.annotate(f"{format_percent(low).removesuffix('%')}\u2013{format_percent(high)}", (x[-1], y),
                    xytext=(12, -18), textcoords="offset points", va="center", fontsize=11.5,
                    color=PALETTE["muted"], annotation_clip=False)
    first = int(np.argmax(np.isfinite(ds["nrr_12m"].values).any(axis=0)))
    ax.set_xlim(x[first] - pd.DateOffset(months=1), x[-1])
    style.clean_axes(ax)
    style.month_axis(ax, months[first:])
    style.percent_axis(ax)
    ax.set_ylim(bottom, top)
    return ax


def _curve_limits(ds: xr.Dataset) -> tuple[float, float]:
    values = np.concatenate([monthly_quantiles(ds, n, (0.1, 0.9)).ravel() for n in ("nrr_12m", "grr_12m")])
    values = values[np.isfinite(values)]
    low, high = min(values.min(), 1.0), max(values.max(), 1.0)
    pad = 0.08 * (high - low)
    return max(0.0, low - pad), high + pad


def _curves_title(ds: xr.Dataset) -> str:
    if is_quantile_form(ds):
        nrr, grr = (float(monthly_quantiles(ds, n, (0.5,))[0, -1]) for n in ("nrr_12m", "grr_12m"))
    else:
        nrr = float(np.nanmedian(ds["nrr_12m"].isel(month=-1).values))
        grr = float(np.nanmedian(ds["grr_12m"].isel(month=-1).values))
    when = style.month_label(ds["month"].values[-1])
    verb = "above" if nrr >= 1 else "below"
    return f"NRR ends {verb} 100% at {format_percent(nrr)}, GRR at {format_percent(grr)} ({when})"
