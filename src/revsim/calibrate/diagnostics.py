"""Sampler diagnostics per variable: R-hat, effective sample sizes, divergences, the warnings they call for, and
the gate that keeps a calibration whose chains disagree from becoming a forecast.

**The gate** (:func:`diagnostics_gate`, called by ``revsim calibrate`` and by ``revsim backtest`` for each
origin) fails a calibration when any reported variable has an R-hat above :data:`GATE_RHAT`, when a variable
the forecast uses (a ``dist: posterior`` input of the calibrated scenario) has a bulk or tail effective sample
size below :data:`GATE_ESS`, or when the sampler diverged. The warnings (:func:`diagnostic_warnings`) use the
stricter thresholds of a publishable fit (R-hat 1.01, ESS 400) and never stop anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.calibrate.fit import ESS_LIMIT, RHAT_LIMIT

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.calibrate.fit import Fit

__all__ = ["diagnostics_table", "diagnostic_warnings", "reported_variables", "scalar_columns", "spread", "Gate",
           "diagnostics_gate", "GATE_RHAT", "GATE_ESS", "forecast_inputs", "used_by_forecast", "gate_message"]

#: The gate: an R-hat above this for any variable fails the calibration.
GATE_RHAT = 1.05
#: The gate: a bulk or tail ESS below this for a variable the forecast uses fails the calibration.
GATE_ESS = 100


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

    from revsim.calibrate.arviz_numba import numpy_statistics

    posterior = result.idata.posterior
    rows: list[dict[str, Any]] = []
    divergences = result.divergences
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    for block, name in reported_variables(result):
        array = posterior[name]
        with warnings.catch_warnings(), np.errstate(all="ignore"), numpy_statistics():
            warnings.simplefilter("ignore")
            rhat = az.rhat(array.to_dataset(name=name))[name]
            ess_bulk = az.ess(array.to_dataset(name=name), method="bulk")[name]
            ess_tail = az.ess(array.to_dataset(name=name), method="tail")[name]
        for i, (label, column) in enumerate(scalar_columns(array).items()):
            rows.append({
                "block": block, "variable": name, "coords": label,
                "mean": float(np.mean(column)), "sd": spread(column),
                "q05": float(np.quantile(column, 0.05)), "q50": float(np.quantile(column, 0.5)),
                "q95": float(np.quantile(column, 0.95)),
                "r_hat": float(np.asarray(rhat.values).reshape(-1)[i]),
                "ess_bulk": float(np.asarray(ess_bulk.values).reshape(-1)[i]),
                "ess_tail": float(np.asarray(ess_tail.values).reshape(-1)[i]),
                "divergences": divergences, "chains": chains, "draws": draws,
            })
    return pd.DataFrame(rows)


def spread(column: np.ndarray) -> float:
    """The standard deviation of a variable's draws, exactly 0 when they are all equal.

    ``np.std`` of equal values is not always 0 (their mean can differ from them in the last bit: 1.1e-16 for
    600 draws of 0.97566), and the gate judges every variable whose draws vary: a constant derived from the
    data (a segment's renewal share) would fail it with an R-hat of NaN.
    """
    column = np.asarray(column, dtype=np.float64)
    if column.size < 2 or np.all(column == column[0]):
        return 0.0
    return float(np.std(column, ddof=1))


def scalar_columns(array: Any) -> dict[str, np.ndarray]:
    """Every scalar of a (chain, draw, ...) variable: its coords label (``stage=mql,segment=smb``, or ``""``)
    -> its draws, chains one after the other."""
    others = [d for d in array.dims if d not in ("chain", "draw")]
    array = array.transpose("chain", "draw", *others)
    values = np.asarray(array.values).reshape(array.sizes["chain"] * array.sizes["draw"], -1)
    return {label: values[:, i] for i, label in enumerate(_labels(array, others))}


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


# --------------------------------------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """The diagnostics gate's decision on one calibration.

    ``high_rhat`` and ``low_ess`` hold ``(label, value)`` pairs (``conversion[stage=mql,segment=smb]``, its
    R-hat or its lower of bulk and tail ESS), worst first. ``accepted`` is set when the user chose to use a
    failed calibration anyway (``--accept-diagnostics``).
    """

    divergences: int
    high_rhat: tuple[tuple[str, float], ...] = ()
    low_ess: tuple[tuple[str, float], ...] = ()
    accepted: bool = False

    @property
    def passed(self) -> bool:
        return not (self.divergences or self.high_rhat or self.low_ess)

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``failed, accepted``."""
        return "passed" if self.passed else "failed, accepted" if self.accepted else "failed"

    def problems(self) -> list[str]:
        """One sentence per reason the gate failed (empty when it passed)."""
        out = []
        if self.high_rhat:
            out.append(f"r_hat above {GATE_RHAT} for {_listed(self.high_rhat, '{:.2f}')}: the chains disagree")
        if self.low_ess:
            out.append(f"effective sample size below {GATE_ESS} for {_listed(self.low_ess, '{:.0f}')}, which the "
                       "forecast uses: too few independent draws to give its intervals")
        if self.divergences:
            out.append(f"{self.divergences} divergent transition(s): the sampler could not follow the posterior "
                       "everywhere, so it may be biased")
        return out

    def advice(self) -> list[str]:
        """What to try, from the variables that failed."""
        labels = [label for label, _ in (*self.high_rhat, *self.low_ess)]
        tips = []
        if any(label.startswith("conversion_by_channel") for label in labels):
            tips.append("a channel with few entries cannot pin its own conversions: pool the channels more "
                        "(calibration: priors: channel_sd: 0.3 in the scenario), or merge the small channel into "
                        "another in funnel.csv")
        stages = list(dict.fromkeys(label.split("stage=")[1].split(",")[0].rstrip("]") for label in labels
                                    if label.startswith("months_in_stage") and "stage=" in label))
        if stages or any(label.startswith("months_in_stage") for label in labels):
            first = stages[0] if stages else "<stage>"
            more = f", and likewise for {', '.join(stages[1:])}" if len(stages) > 1 else ""
            tips.append(f"the counts say little about a slow stage's months: give them a prior in the scenario "
                        f"(calibration: priors: months_in_stage.{first}: [low, high]{more})")
        if any(label.startswith("sbg_") for label in labels):
            tips.append("few renewals cannot tell how customers' churn differs: give sbg_concentration a narrower "
                        "prior, or use --retention constant")
        if any(label.startswith("conversion") and "segment=" in label for label in labels):
            tips.append("a small segment leans on the others: pool the segments more "
                        "(calibration: priors: segment_sd: 0.5)")
        if self.high_rhat or self.low_ess:
            tips.append("more tuning and draws (--tune 2000 --draws 2000) let the chains reach the same region")
        if self.divergences:
            tips.append("divergences call for stronger priors on the variables above (the calibration block), or "
                        "more tuning")
        return tips

    def summary(self) -> str:
        """One line: ``passed``, or what failed."""
        if self.passed:
            return "passed"
        parts = []
        if self.high_rhat:
            parts.append(f"max r_hat {self.high_rhat[0][1]:.2f} ({len(self.high_rhat)} value(s) above {GATE_RHAT})")
        if self.low_ess:
            parts.append(f"min ESS {self.low_ess[0][1]:.0f} of a forecast input ({len(self.low_ess)} below "
                         f"{GATE_ESS})")
        if self.divergences:
            parts.append(f"{self.divergences} divergence(s)")
        return f"{self.status}: {', '.join(parts)}"

    def attrs(self) -> dict[str, Any]:
        """The decision as netCDF attributes of ``posterior.nc`` (read back by ``revsim run``)."""
        return {
            "revsim_diagnostics": "passed" if self.passed else "failed",
            "revsim_diagnostics_accepted": int(self.accepted),
            "revsim_diagnostics_summary": self.summary(),
            "revsim_diagnostics_problems": "\n".join(self.problems()),
            "revsim_diagnostics_gate": (f"r_hat <= {GATE_RHAT} for every variable, bulk and tail ESS >= {GATE_ESS} "
                                        "for every forecast input, no divergence"),
        }


def _listed(pairs: tuple[tuple[str, float], ...], fmt: str, limit: int = 5) -> str:
    shown = ", ".join(f"{label} ({fmt.format(value)})" for label, value in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")


def forecast_inputs(items: Iterable[Any]) -> list[tuple[str, dict[str, str]]]:
    """``(variable, coords)`` of every ``dist: posterior`` reference among calibration assignments."""
    out: list[tuple[str, dict[str, str]]] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("dist") == "posterior" and "var" in value:
                out.append((str(value["var"]), {str(k): str(v) for k, v in (value.get("coords") or {}).items()}))
            else:
                for inner in value.values():
                    visit(inner)

    for item in items:
        visit(item.value)
    return out


def used_by_forecast(table: pd.DataFrame, inputs: list[tuple[str, dict[str, str]]]) -> np.ndarray:
    """Which rows of the diagnostics table are forecast inputs (a boolean per row)."""
    wanted: dict[str, list[set[str]]] = {}
    for var, coords in inputs:
        wanted.setdefault(var, []).append({f"{k}={v}" for k, v in coords.items()})
    used = np.zeros(len(table), bool)
    for i, (var, coords) in enumerate(zip(table.variable, table.coords, strict=True)):
        have = set(str(coords).split(",")) if isinstance(coords, str) and coords else set()
        used[i] = any(need <= have for need in wanted.get(var, []))
    return used


def diagnostics_gate(table: pd.DataFrame, divergences: int, *, accepted: bool = False) -> Gate:
    """The gate's decision from a diagnostics table (with its ``forecast_input`` column) and the divergences.

    Fails on an R-hat above :data:`GATE_RHAT` for any row, a bulk or tail ESS below :data:`GATE_ESS` for a
    row the forecast uses, or any divergence. A row whose values do not vary (a constant) is ignored.
    """
    varies = table["sd"].to_numpy() > 0  # exactly 0 for a constant (see spread)
    rhat = table.r_hat.to_numpy()
    ess = np.minimum(table.ess_bulk.to_numpy(), table.ess_tail.to_numpy())
    used = table["forecast_input"].to_numpy(bool) if "forecast_input" in table else np.ones(len(table), bool)
    labels = [f"{v}[{c}]" if isinstance(c, str) and c else v for v, c in zip(table.variable, table.coords,
                                                                               strict=True)]
    bad_rhat = np.flatnonzero(varies & ~(rhat <= GATE_RHAT))  # NaN fails too
    bad_ess = np.flatnonzero(varies & used & ~(ess >= GATE_ESS))
    high = tuple(sorted(((labels[i], float(rhat[i])) for i in bad_rhat), key=lambda x: -np.nan_to_num(x[1], nan=9)))
    low = tuple(sorted(((labels[i], float(ess[i])) for i in bad_ess), key=lambda x: np.nan_to_num(x[1])))
    gate = Gate(divergences=int(divergences), high_rhat=high, low_ess=low)
    return replace(gate, accepted=accepted and not gate.passed)


def gate_message(gate: Gate, *, withheld: str, inspect: list[str]) -> str:
    """The error of a failed gate: why, what to try, and what was written for inspection."""
    lines = [f"the calibration failed its sampler diagnostics, so {withheld} was not written:"]
    lines += [f"  - {problem}" for problem in gate.problems()]
    lines.append("what to try:")
    lines += [f"  - {tip}" for tip in gate.advice()]
    lines.append("  - or accept it with --accept-diagnostics (recorded in the file's header and in posterior.nc)")
    if inspect:
        lines.append(f"written for inspection: {', '.join(inspect)}")
    return "\n".join(lines)
