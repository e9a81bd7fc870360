"""Scores of a backtest: one row per origin, metric, method and month ahead, then their averages.

For every origin (a cut of the history), every scored series and every method (revsim's forecast and the
naive baselines of :mod:`revsim.calibrate.scores`), each holdout month gets the actual value, the median, the
50/80/90% central intervals and whether they hold the actual value, the CRPS, the absolute percentage error
of the median and the PIT (the forecast's probability of a value below the actual one). The summary averages
them over origins for every horizon (1 to N months ahead, as Prophet's ``performance_metrics`` does), and over
origins and horizons together (``horizon`` = ``all``). A forecast whose intervals are honest covers about
50/80/90% of the actual values and has a flat PIT histogram.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from revsim.calibrate.history import month_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["score_origin", "summarise", "pit_histogram", "pit", "MODEL", "PIT_BINS"]

MODEL = "revsim"
#: Bins of the PIT histogram.
PIT_BINS = 10
#: The scored series: name -> (label, unit).
METRICS = {"arr": ("ARR", "currency"), "new_customers": ("new customers", "customers per month"),
           "churned_arr": ("churned ARR", "currency per month")}


def pit(samples: np.ndarray, observed: float) -> float:
    """Probability integral transform: the share of samples below ``observed``, ties counted half (so a
    count series whose samples often equal the actual value is not pushed to one side)."""
    x = np.asarray(samples, dtype=np.float64)
    return float((np.sum(x < observed) + 0.5 * np.sum(x == observed)) / x.size)


def score_origin(series: dict[str, tuple[list[str], np.ndarray]], forecasts: dict[str, np.ndarray], cut: int,
                 holdout: int) -> list[dict]:
    """Rows of scores for one origin: every series with a value at the cut and at every holdout month.

    ``forecasts[metric]`` holds revsim's samples ``[draw, month]`` for the holdout months.
    """
    from revsim.calibrate.scores import BASELINES, LEVELS, baseline_samples, crps, interval

    rows = []
    holdout_months = [month_label(cut + 1 + h) for h in range(holdout)]
    for metric, (months, values) in series.items():
        index = {m: i for i, m in enumerate(months)}
        if metric not in forecasts or not all(m in index for m in holdout_months) or month_label(cut) not in index:
            continue
        train = values[: index[month_label(cut)] + 1]
        actual = np.array([values[index[m]] for m in holdout_months])
        methods = {MODEL: forecasts[metric]}
        for name in BASELINES:
            methods[name] = baseline_samples(name, train, holdout)
        for method, samples in methods.items():
            for h, month in enumerate(holdout_months):
                column = samples[:, h]
                median = float(np.median(column))
                row = {"origin": month_label(cut), "metric": metric, "method": method, "month": month,
                       "horizon": h + 1, "actual": float(actual[h]), "median": median}
                for level in LEVELS:
                    low, high = interval(column, level)
                    pct = int(level * 100)
                    row[f"low_{pct}"], row[f"high_{pct}"] = low, high
                    row[f"covered_{pct}"] = bool(low <= actual[h] <= high)
                row["crps"] = crps(column, float(actual[h]))
                row["ape"] = abs(median - actual[h]) / abs(actual[h]) if actual[h] != 0 else float("nan")
                row["pit"] = pit(column, float(actual[h]))
                rows.append(row)
    return rows


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per metric and method, over all origins and horizons (``horizon`` = ``all``) and per
    horizon over origins; ``scored`` is the number of forecasts averaged."""
    import pandas as pd

    aggregations = dict(scored=("month", "size"), coverage_50=("covered_50", "mean"),
                        coverage_80=("covered_80", "mean"), coverage_90=("covered_90", "mean"),
                        crps=("crps", "mean"), mape=("ape", "mean"))
    overall = table.groupby(["metric", "method"], sort=False).agg(**aggregations).reset_index()
    overall.insert(2, "horizon", "all")
    by_horizon = table.groupby(["metric", "method", "horizon"], sort=False).agg(**aggregations).reset_index()
    by_horizon["horizon"] = by_horizon["horizon"].astype(str)
    order = {m: i for i, m in enumerate(dict.fromkeys(table.metric))}
    methods = {m: i for i, m in enumerate(dict.fromkeys(table.method))}
    summary = pd.concat([overall, by_horizon], ignore_index=True)
    key = summary.horizon.map(lambda h: 0 if h == "all" else int(h))
    summary = summary.assign(_m=summary.metric.map(order), _k=summary.method.map(methods), _h=key)
    return summary.sort_values(["_m", "_k", "_h"]).drop(columns=["_m", "_k", "_h"]).reset_index(drop=True)


def pit_histogram(table: pd.DataFrame, bins: int = PIT_BINS) -> pd.DataFrame:
    """Counts of the PIT values in ``bins`` equal bins, per metric and method (flat when the forecast's
    distribution is honest; a tilt to the right means the actual values run above the forecast)."""
    import pandas as pd

    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for (metric, method), group in table.groupby(["metric", "method"], sort=False):
        counts, _ = np.histogram(np.clip(group.pit.to_numpy(), 0.0, 1.0), bins=edges)
        for b in range(bins):
            rows.append({"metric": metric, "method": method, "bin_low": edges[b], "bin_high": edges[b + 1],
                         "count": int(counts[b]), "share": counts[b] / max(len(group), 1)})
    return pd.DataFrame(rows)
