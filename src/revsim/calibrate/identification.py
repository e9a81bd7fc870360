"""How much the history taught each calibrated quantity: the posterior's spread against the prior's.

For every scalar of every reported variable, the **sd ratio** is the posterior's standard deviation divided
by the prior's, both measured on the scale where the quantity is unbounded: the logit for a quantity whose
draws (prior and posterior) all lie in (0, 1), the log for one whose draws are all positive, the value itself
otherwise. On that scale a ratio does not depend on the quantity's units, and a long-tailed prior (a
lognormal's mean is dominated by its tail) does not make every posterior look sharp. The prior's spread
comes from :data:`PRIOR_DRAWS` draws of the model's priors alone (no likelihood), with the derived
variables (``volume``, ``upgrade_probability``...) computed from them as from the posterior.

A ratio above :data:`WEAK_RATIO` flags the quantity as **weakly identified**: the history removed less than
three quarters of the prior's variance (the posterior *contraction* :math:`1 - \\text{ratio}^2`, Schad,
Betancourt and Vasishth 2021, is below 0.75), so the forecast's spread for it is mostly the prior's. A
quantity fixed by a constant prior has no ratio (NaN).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from revsim.calibrate.fit import Fit
    from revsim.scenario.load import LoadedScenario

__all__ = ["PRIOR_DRAWS", "WEAK_RATIO", "prior_draws", "prior_variables", "start_prior_draws", "PriorDrawsInBackground",
           "add_identification", "weak_descriptions"]

#: Draws of the priors used to measure their spread (the ratio is then known to about 2%).
PRIOR_DRAWS = 1000
#: Above this posterior/prior sd ratio, a quantity is flagged as weakly identified.
WEAK_RATIO = 0.5


def prior_draws(result: Fit, loaded: LoadedScenario | None, *, draws: int = PRIOR_DRAWS, seed: int = 0,
                drawn: PriorDrawsInBackground | None = None) -> Any:
    """Draws of the reported variables under the priors, as a posterior-like Dataset (chain, draw, ...).

    ``drawn``, draws started before sampling (:func:`start_prior_draws`), are used when they were made for the
    same variables, number of draws and seed (the same draws, then); otherwise they are drawn here.
    Returns None when the fit kept no model to draw from.
    """
    from revsim.calibrate.diagnostics import reported_variables
    from revsim.calibrate.scenario_update import add_derived

    model = result.model
    if model is None:
        if drawn is not None:
            drawn.discard()
        return None
    var_names = prior_variables(model, result.blocks, reported=[name for _, name in reported_variables(result)])
    prior = drawn.take(var_names, draws, seed) if drawn is not None else None
    if prior is None and var_names:
        prior = _draw_priors(model, var_names, draws, seed)
    if prior is None:
        return None
    renames = _renames(result.blocks)
    for old, new in renames.items():
        if old in prior and new not in prior:
            prior = prior.rename({old: new})
    # the derived variables, computed from the prior draws exactly as from the posterior's
    shadow = replace(result, idata=_as_idata(prior), derived={}, notes=[])
    add_derived(shadow, loaded)
    return shadow.idata.posterior


#: Variables whose prior draws the derived variables need, besides the reported ones.
_FOR_DERIVED = {"volume_level", "growth", "expansion_rate", "contraction_rate", "mrr_churn_rate"}


def prior_variables(model: Any, blocks: list[Any], reported: list[str] | None = None) -> list[str]:
    """The model's variables to draw under the priors: those behind the reported ones and those the derived
    variables need.

    ``reported`` are the reported variables (:func:`revsim.calibrate.diagnostics.reported_variables`);
    before sampling, they are predicted from the model (the blocks' variables that the trace will hold).
    """
    renames = _renames(blocks)
    named = set(model.named_vars)
    if reported is None:
        traced = {renames.get(v.name, v.name) for v in [*model.free_RVs, *model.deterministics]}
        reported = [name for block in blocks for name in block.variables() if name in traced]
    inverse = {new: old for old, new in renames.items()}
    return sorted({inverse.get(name, name) for name in set(reported) | _FOR_DERIVED} & named)


def _renames(blocks: list[Any]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for block in blocks:
        renames.update(block.rename())
    return renames


def _draw_priors(model: Any, var_names: list[str], draws: int, seed: int) -> Any:
    """``pm.sample_prior_predictive`` of ``var_names``: the prior group (a Dataset)."""
    import logging
    import warnings

    import pymc as pm

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)  # not "Sampling: [...]" on the user's terminal
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            # FAST_COMPILE: PyTensor's Python implementations, no C code to compile (the first run on a
            # machine compiled it with g++ for about 25 s); the draws themselves are NumPy's either way
            return pm.sample_prior_predictive(draws=draws, model=model, var_names=var_names, random_seed=seed,
                                              compile_kwargs={"mode": "FAST_COMPILE"}).prior
    finally:
        logger.setLevel(level)


def start_prior_draws(model: Any, blocks: list[Any], *, draws: int = PRIOR_DRAWS,
                      seed: int = 0) -> PriorDrawsInBackground | None:
    """Draw the priors of ``model`` in a forked child while the calibration prepares and samples the model.

    The prior draws need the model, not the posterior: on a two-core machine, the child draws them on the
    core left idle while the structure of the model is analysed and its compiled code loaded, instead of after
    sampling, on the calibration's one busy core. The variables drawn are predicted from the model;
    :func:`prior_draws` uses the child's draws only when they are those of the variables it needs, with the
    same number of draws and seed (the same function of the same model: the same draws). None where there is
    no ``fork``, or it failed.
    """
    import os
    import pickle
    import tempfile

    from revsim.calibrate.forked_child import can_fork, fork_child

    if not can_fork():
        return None
    var_names = prior_variables(model, blocks)
    if not var_names:
        return None
    handle, path = tempfile.mkstemp(prefix="revsim-prior-", suffix=".pickle")
    os.close(handle)

    def draw_and_write() -> None:
        prior = _draw_priors(model, var_names, draws, seed)
        with open(path, "wb") as file:
            pickle.dump(prior, file, protocol=pickle.HIGHEST_PROTOCOL)

    pid = fork_child(draw_and_write)
    if pid is None:
        _remove(path)
        return None
    return PriorDrawsInBackground(pid, path, var_names, draws, seed)


class PriorDrawsInBackground:
    """Prior draws made by a child process (:func:`start_prior_draws`)."""

    def __init__(self, pid: int, path: str, var_names: list[str], draws: int, seed: int) -> None:
        import weakref

        self.pid = pid
        self.path = path
        self.var_names = list(var_names)
        self.draws = draws
        self.seed = seed
        self._finalizer = weakref.finalize(self, _stop, pid, path)

    def take(self, var_names: list[str], draws: int, seed: int) -> Any:
        """The child's draws when made for ``var_names``, ``draws`` and ``seed``; else None (the child is
        stopped)."""
        if (list(var_names), draws, seed) != (self.var_names, self.draws, self.seed):
            self.discard()
            return None
        import pickle

        from revsim.calibrate.forked_child import wait_child

        self._finalizer.detach()
        try:
            if not wait_child(self.pid):
                return None
            with open(self.path, "rb") as file:
                return pickle.load(file)
        except (OSError, pickle.UnpicklingError, EOFError):  # pragma: no cover - drawn here instead
            return None
        finally:
            _remove(self.path)

    def discard(self) -> None:
        """Stop the child (if still drawing) and remove its file."""
        self._finalizer()


def _stop(pid: int, path: str) -> None:
    """Stop the child (if still drawing) and remove its file."""
    from revsim.calibrate.forked_child import stop_child

    stop_child(pid)
    _remove(path)


def _remove(path: str) -> None:
    import os

    try:
        os.unlink(path)
    except OSError:
        pass


def _as_idata(dataset: Any) -> Any:
    import arviz as az

    return az.InferenceData(posterior=dataset)


def _unbounded(values: np.ndarray, scale: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        if scale == "logit":
            return np.log(values) - np.log1p(-values)
        if scale == "log":
            return np.log(values)
    return values


def _scale(prior: np.ndarray, posterior: np.ndarray) -> str:
    both = np.concatenate([prior, posterior])
    both = both[np.isfinite(both)]
    if both.size and np.all((both > 0) & (both < 1)):
        return "logit"
    if both.size and np.all(both > 0):
        return "log"
    return "identity"


def add_identification(table: pd.DataFrame, result: Fit, prior: Any) -> pd.DataFrame:
    """The diagnostics table with ``scale``, ``prior_sd``, ``sd_ratio`` and ``weakly_identified`` columns.

    ``prior_sd`` is on ``scale`` (logit, log or identity); ``sd_ratio`` is the posterior's sd on that scale
    over it; ``weakly_identified`` is ``sd_ratio > WEAK_RATIO``.
    """
    from revsim.calibrate.diagnostics import scalar_columns

    posterior = result.idata.posterior
    scales, prior_sds, ratios = [], [], []
    cache: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    for var, coords in zip(table.variable, table.coords, strict=True):
        if var not in cache:
            cache[var] = (scalar_columns(posterior[var]),
                          scalar_columns(prior[var]) if prior is not None and var in prior else {})
        post_columns, prior_columns = cache[var]
        key = coords if isinstance(coords, str) else ""
        post, draws = post_columns.get(key), prior_columns.get(key)
        if post is None or draws is None:
            scales.append("")
            prior_sds.append(float("nan"))
            ratios.append(float("nan"))
            continue
        scale = _scale(draws, post)
        prior_sd = _sd(_unbounded(draws, scale))
        post_sd = _sd(_unbounded(post, scale))
        scales.append(scale)
        prior_sds.append(prior_sd)
        ratios.append(post_sd / prior_sd if prior_sd > 0 else float("nan"))
    out = table.copy()
    out["scale"] = scales
    out["prior_sd"] = prior_sds
    out["sd_ratio"] = ratios
    out["weakly_identified"] = np.asarray(ratios) > WEAK_RATIO
    return out


def _sd(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")


def weak_descriptions(table: pd.DataFrame, result: Fit) -> list[str]:
    """One sentence per weakly identified group of forecast inputs (a block's values of one segment).

    ``enterprise retention: barely identified by 4 years of cohorts with 12-month contracts (at most 3
    renewals per cohort): sbg_alpha, sbg_beta keep 81% of the prior's spread``.
    """
    if "weakly_identified" not in table:
        return []
    rows = table[table.weakly_identified & table.get("forecast_input", True)]
    groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for block, var, coords, ratio in zip(rows.block, rows.variable, rows.coords, rows.sd_ratio, strict=True):
        parts = dict(p.split("=", 1) for p in str(coords).split(",") if "=" in p) if isinstance(coords, str) else {}
        segment = parts.pop("segment", "")
        label = var + (f"[{','.join(f'{k}={v}' for k, v in parts.items())}]" if parts else "")
        groups.setdefault((block, segment), []).append((label, float(ratio)))
    out = []
    for (block, segment), members in groups.items():
        subject = f"{segment} {_BLOCK_NOUNS.get(block, block)}" if segment else _BLOCK_NOUNS.get(block, block)
        worst = max(ratio for _, ratio in members)
        names = ", ".join(dict.fromkeys(label for label, _ in members))
        out.append(f"{subject}: barely identified by {_evidence(result, block, segment)}: {names} keep"
                   f"{' up to' if len(members) > 1 else ''} {worst:.0%} of the prior's spread")
    return out


_BLOCK_NOUNS = {"funnel": "funnel", "volume": "channel volume", "retention": "retention",
                "movements": "expansion and contraction", "pricing": "contract values", "loops": "growth loop"}


def _evidence(result: Fit, block: str, segment: str) -> str:
    """What the history held for a block (and segment): ``4 years of cohorts with 12-month contracts``."""
    history = result.history
    if block == "retention" and history.cohorts is not None:
        cohorts = history.cohorts
        rows = np.ones(len(cohorts.labels), bool)
        if segment and cohorts.segments is not None and segment in cohorts.segment_names:
            rows = cohorts.segment == cohorts.segment_names.index(segment)
        periods = int(np.sum(np.isfinite(cohorts.customers[rows]), axis=1).max()) if rows.any() else 0
        months = periods * cohorts.period_months
        terms = result.context.contract_months
        term = terms.get(segment) if segment else (next(iter(set(terms.values()))) if len(set(terms.values())) == 1
                                                   else None)
        term = term or cohorts.period_months
        renewals = max(0, (months - 1) // max(term, 1))
        span = f"{months / 12:.0f} years" if months >= 24 else f"{months} months"
        return (f"{span} of cohorts with {term}-month contracts (at most {renewals} renewal"
                f"{'s' if renewals != 1 else ''} per cohort)")
    months = {"funnel": history.funnel, "volume": history.funnel, "movements": history.mrr, "pricing": history.mrr,
              "loops": history.referrals}.get(block)
    if months is not None:
        what = {"funnel": "funnel counts", "volume": "funnel counts", "movements": "MRR movements",
                "pricing": "new MRR", "loops": "referrals"}[block]
        return f"{len(months.months)} months of {what}"
    return "the history"
