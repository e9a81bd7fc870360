"""Sampler diagnostics per variable: R-hat, effective sample sizes, divergences, and the warnings they call for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.fit import ESS_LIMIT, RHAT_LIMIT

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.calibrate.fit import Fit

__all__ = ["diagnostics_table", "diagnostic_warnings", "reported_variables"]


def reported_variables(result: Fit) -> list[tuple[str, str]]:
    """(block, variable) of every posterior variable worth reporting, in block order."""
    posterior = result.idata.posterior
    seen: set[str] = set()
    out = []
    for block in result.blocks:
        for name in block.variables():
            if name in posterior and name not in seen:
                out.append((block.name, name))
                seen.add(name)
    for name, block in result.derived.items():
        if name in posterior and name not in seen:
            out.append((block, name))
            seen.add(name)
    return out


def diagnostics_table(result: Fit) -> pd.DataFrame:
    """One row per scalar of every reported variable.

    Columns: ``block``, ``variable``, ``coords`` (``segment=smb``), ``mean``, ``sd``, ``q05``, ``q50``,
    ``q95``, ``r_hat``, ``ess_bulk``, ``ess_tail``, ``divergences`` (of the whole run: divergences are a
    property of the sampler's trajectories, not of one variable) and ``chains``/``draws``.
    """
    import warnings

    import arviz as az
    import pandas as pd

    posterior = result.idata.posterior
    rows: list[dict[str, Any]] = []
    divergences = result.divergences
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    for block, name in reported_variables(result):
        array = posterior[name]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rhat = az.rhat(array.to_dataset(name=name))[name]
            ess_bulk = az.ess(array.to_dataset(name=name), method="bulk")[name]
            ess_tail = az.ess(array.to_dataset(name=name), method="tail")[name]
        values = array.values.reshape(chains * draws, -1)
        others = [d for d in array.dims if d not in ("chain", "draw")]
        labels = _labels(array, others)
        for i, label in enumerate(labels):
            column = values[:, i]
            rows.append({
                "block": block, "variable": name, "coords": label,
                "mean": float(np.mean(column)), "sd": float(np.std(column, ddof=1)),
                "q05": float(np.quantile(column, 0.05)), "q50": float(np.quantile(column, 0.5)),
                "q95": float(np.quantile(column, 0.95)),
                "r_hat": float(np.asarray(rhat.values).reshape(-1)[i]),
                "ess_bulk": float(np.asarray(ess_bulk.values).reshape(-1)[i]),
                "ess_tail": float(np.asarray(ess_tail.values).reshape(-1)[i]),
                "divergences": divergences, "chains": chains, "draws": draws,
            })
    return pd.DataFrame(rows)


def _labels(array: Any, dims: list[str]) -> list[str]:
    if not dims:
        return [""]
    import itertools

    values = [[str(x) for x in array[d].values] for d in dims]
    return [",".join(f"{d}={v}" for d, v in zip(dims, combo, strict=True)) for combo in itertools.product(*values)]


def diagnostic_warnings(table: pd.DataFrame, divergences: int) -> list[str]:
    """Warnings for R-hat above 1.01, bulk or tail ESS below 400 and any divergence."""
    warnings = []
    if divergences:
        warnings.append(f"{divergences} divergent transition(s): the posterior may be biased; look at the variables "
                        "with the lowest ESS, or give stronger priors in the scenario's calibration block")
    bad_rhat = table[table.r_hat > RHAT_LIMIT]
    if len(bad_rhat):
        names = _names(bad_rhat)
        warnings.append(f"r_hat above {RHAT_LIMIT} for {names} (worst {bad_rhat.r_hat.max():.3f}): the chains do not "
                        "agree; run more draws (--draws) or tuning")
    low = table[(table.ess_bulk < ESS_LIMIT) | (table.ess_tail < ESS_LIMIT)]
    if len(low):
        worst = float(min(low.ess_bulk.min(), low.ess_tail.min()))
        warnings.append(f"effective sample size below {ESS_LIMIT} for {_names(low)} (lowest {worst:.0f}): "
                        "intervals are imprecise; run more draws (--draws) or chains (--chains)")
    return warnings


def _names(rows: pd.DataFrame, limit: int = 6) -> str:
    labels = [f"{v}[{c}]" if c else v for v, c in zip(rows.variable, rows.coords, strict=True)]
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")
