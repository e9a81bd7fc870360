"""The one run pipeline: scenario -> compiled arrays -> kernels -> flags -> Dataset -> invariants.

Every command and function that simulates goes through here: :func:`revsim.simulate`, ``revsim run``,
``revsim reproduce``, the what-if functions (compare, sensitivity, goal seeking, ``revsim serve``) and the
RevOps lever effects. So each of them checks the run options, compiles, reports runaway loops and channels,
refuses an overflow, records provenance and checks the invariants in the same way.

* :func:`run_raw`: the kernels' outputs (for callers that read a few totals, like goal seeking);
* :func:`run_dataset`: the results Dataset, checked, with the runaway warnings;
* :func:`simulate`: the public function, which turns those warnings into :class:`RunawayWarning` warnings.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from revsim.engine.compile import CompiledScenario, compile_scenario
from revsim.engine.memory import check_run_memory
from revsim.engine.run import (
    RawResults,
    RunawayWarning,
    check_flags,
    check_run_options,
    keeps_cohorts,
    run_draws,
)
from revsim.scenario.load import LoadedScenario, load_scenario

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["Backend", "RawRun", "run_dataset", "run_raw", "simulate"]


class Backend(NamedTuple):
    """Where the draws run: ``local`` threads, or a ``dask`` cluster (``revsim run --backend dask``)."""

    name: str = "local"
    workers: int | None = None
    scheduler: str | None = None
    chunk_size: int | None = None


class RawRun(NamedTuple):
    """The compiled scenario, the kernels' outputs and the runaway warnings of one run."""

    compiled: CompiledScenario
    raw: RawResults
    warnings: list[str]


def run_raw(scenario: LoadedScenario | CompiledScenario, *, draws: int, seed: int, threads: int | None = None,
            progress: Callable[[int], None] | None = None, cohorts: bool | None = False,
            backend: Backend | None = None) -> RawRun:
    """Compile (if needed) and run draws ``0 .. draws - 1``.

    Parameters
    ----------
    scenario
        A loaded scenario, or one compiled already.
    draws, seed, threads, progress
        As for :func:`simulate`.
    cohorts
        Keep each simulated cohort at every age; None: when the run is small enough (:func:`keeps_cohorts`).
    backend
        Local threads (None, the default) or a dask cluster.

    Raises
    ------
    InputError
        For impossible run options.
    SimulationError
        When MRR grows beyond what can be counted in some draw.
    """
    check_run_options(draws=draws, seed=seed, threads=threads)
    compiled = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    keep = keeps_cohorts(cohorts, draws=draws, months=compiled.n_months, segments=len(compiled.segments))
    check_run_memory(compiled, draws, cohorts=keep)  # before a dask cluster is started, too
    if backend is not None and backend.name == "dask":
        from revsim.engine.distributed import dask_client, run_draws_distributed

        with dask_client(workers=backend.workers, scheduler=backend.scheduler) as client:
            raw = run_draws_distributed(compiled, seed, 0, draws, client=client, chunk_size=backend.chunk_size,
                                        progress=progress, cohorts=keep)
    else:
        raw = run_draws(compiled, seed, 0, draws, threads=threads, progress=progress, cohorts=keep)
    return RawRun(compiled, raw, check_flags(compiled, raw))


def run_dataset(scenario: LoadedScenario | CompiledScenario, *, draws: int, seed: int, threads: int | None = None,
                progress: Callable[[int], None] | None = None, cohorts: bool | None = False,
                backend: Backend | None = None, command: str | None = None) -> tuple[xr.Dataset, list[str]]:
    """The results Dataset of one run, its invariants checked, and its runaway warnings.

    Parameters are those of :func:`run_raw`; ``command`` is recorded in the Dataset's provenance.
    """
    from revsim.results.dataset import build_dataset
    from revsim.results.invariants import check_invariants

    compiled, raw, messages = run_raw(scenario, draws=draws, seed=seed, threads=threads, progress=progress,
                                      cohorts=cohorts, backend=backend)
    ds = build_dataset(compiled, raw, seed=seed, warnings=messages, command=command)
    check_invariants(ds)
    return ds, messages


def simulate(
    scenario: LoadedScenario | str | os.PathLike[str],
    *,
    draws: int = 1000,
    seed: int = 0,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    cohorts: bool | None = None,
) -> xr.Dataset:
    """Simulate a scenario and return the distribution of every flow, stock and metric.

    Parameters
    ----------
    scenario
        A scenario from :func:`revsim.load_scenario`, or the path of a scenario file.
    draws
        Number of Monte Carlo draws (worlds); each samples every uncertain input once.
    seed
        The run's seed: the same scenario, seed and draws give identical results on any number of threads.
    threads
        Worker threads (default: all cores).
    progress
        Called with the number of draws just finished, from the worker threads.
    cohorts
        Keep each simulated cohort's customers and ARR at every age (``cohort_customers``, ``cohort_arr``).
        Default: when draws x months^2 x segments is at most
        :data:`~revsim.engine.run.COHORT_DETAIL_LIMIT`.

    Returns
    -------
    xarray.Dataset
        Dimensions ``draw``, ``month``, ``segment``, ``stage``, ``loop``; see ``docs/outputs.md``.

    Warns
    -----
    RunawayWarning
        When a growth loop or a channel grew beyond what can be counted and was capped.

    Examples
    --------
    >>> import revsim
    >>> ds = revsim.simulate("scenarios/saas_sales_led.yaml", draws=200, seed=1)   # doctest: +SKIP
    >>> float(ds.arr.sum("segment").isel(month=-1).median())                      # doctest: +SKIP
    """
    source = scenario if isinstance(scenario, LoadedScenario) else load_scenario(Path(scenario))
    ds, messages = run_dataset(source, draws=draws, seed=seed, threads=threads, progress=progress, cohorts=cohorts)
    for message in messages:
        warnings.warn(message, RunawayWarning, stacklevel=2)
    return ds
