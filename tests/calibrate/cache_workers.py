"""Fits of ``test_compile_cache.py``, each run in a fresh process with the compiled-model cache it is given.

Two histories of the same structure (an sBG cohort table and a referral loop) differ in every array: the
number of cohorts, of periods and of months, the counts, and the data-centred prior of the loop.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

OPTIONS = {"draws": 150, "tune": 150, "chains": 2, "seed": 7, "retention": "sbg"}


def history(which: str) -> Any:
    from revsim.calibrate.history import History
    from revsim.calibrate.synthetic import referrals, sbg_cohorts

    if which == "a":
        rng = np.random.default_rng(1)
        cohorts = sbg_cohorts(0.8, 6.0, cohorts=12, size=300, rng=rng)
        loop = referrals(coefficient=0.05, source=np.linspace(200, 320, 18).round(), rng=rng)
    else:
        rng = np.random.default_rng(2)
        cohorts = sbg_cohorts(1.2, 5.0, cohorts=20, size=200, rng=rng)
        loop = referrals(coefficient=0.2, source=np.linspace(50, 90, 30).round(), rng=rng)
    return History(cohorts=cohorts, referrals=loop)


def _fit(which: str, *, cache: bool = True) -> Any:
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.fit import FitOptions, fit

    data = history(which)
    return fit(data, context_without_scenario(data), FitOptions(**OPTIONS, cache=cache))


def _draws(result: Any) -> dict[str, np.ndarray]:
    posterior = result.idata.posterior
    return {name: np.asarray(posterior[name].values) for name in sorted(posterior.data_vars)}


def fit_in_one_process(cache_dir: str) -> dict[str, Any]:
    """History a, then b (same structure), then b again without any cache."""
    os.environ["REVSIM_CACHE_DIR"] = cache_dir
    from revsim.calibrate.compile_cache import compilations

    first = _fit("a")
    after_first = compilations()
    second = _fit("b")
    after_second = compilations()
    cold = _fit("b", cache=False)
    from revsim.calibrate.nutpie_entry import compiled_by_a_child

    return {"compilations": [after_first, after_second, compilations()], "from_child": compiled_by_a_child(),
            "sources": [first.compiled_from, second.compiled_from, cold.compiled_from],
            "warm": _draws(second), "cold": _draws(cold), "notes": second.notes + cold.notes}


def fit_in_new_process(cache_dir: str, which: str = "b") -> dict[str, Any]:
    """One fit, with the disk cache another process filled."""
    os.environ["REVSIM_CACHE_DIR"] = cache_dir
    from revsim.calibrate.compile_cache import compilations

    result = _fit(which)
    return {"compilations": compilations(), "source": result.compiled_from, "draws": _draws(result),
            "notes": result.notes}


def structure_keys() -> dict[str, str]:
    """The structure key of models that differ in data only, or in structure."""
    from revsim.calibrate.context import context_without_scenario
    from revsim.calibrate.fit import build_model, plan_blocks
    from revsim.calibrate.history import History
    from revsim.calibrate.model_structure import model_structure
    from revsim.calibrate.priors import parse_prior_override
    from revsim.calibrate.synthetic import sbg_cohorts

    def key(data: Any, retention: str = "sbg", priors: dict[str, Any] | None = None) -> str:
        context = context_without_scenario(data)
        if priors:
            context = replace(context, priors={k: parse_prior_override(k, v) for k, v in priors.items()})
        blocks, _, _ = plan_blocks(data, context, retention=retention)
        return model_structure(build_model(blocks)).key

    segmented = sbg_cohorts([0.8, 1.0], [6.0, 4.0], cohorts=10, size=200, rng=np.random.default_rng(3),
                            segments=["smb", "enterprise"])
    return {
        "a": key(history("a")),
        "b": key(history("b")),
        "b_both": key(history("b"), retention="both"),
        "b_prior": key(history("b"), priors={"sbg_mean_churn": {"dist": "beta", "mean": 0.1, "sd": 0.05}}),
        "b_cohorts_only": key(History(cohorts=history("b").cohorts)),
        "segmented": key(History(cohorts=segmented)),
    }
