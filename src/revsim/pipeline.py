"""The one run pipeline: scenario -> compiled arrays -> kernels -> flags -> Dataset -> invariants.

Every command and function that simulates goes through here: :func:`revsim.simulate`, ``revsim run``,
``revsim reproduce``, the what-if functions (compare, sensitivity, goal seeking, ``revsim serve``) and the
RevOps lever effects. So each of them checks the run options, compiles, reports runaway loops and channels,
refuses an overflow, records provenance and checks the invariants in the same way.

* :func:`run_raw`: the kernels' outputs (for callers that read a few totals, like goal seeking);
* :func:`run_dataset`: the results Dataset, checked, with the runaway warnings;
* :func:`simulate`: the public function, which turns those warnings into :class:`RunawayWarning` warnings;
* :func:`run_store`: the streamed run, which writes the Dataset into a Zarr store block by block
  (:mod:`revsim.streaming`) instead of holding it; :func:`streams` says when ``revsim run`` uses it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from revsim.engine.compile import CompiledScenario, compile_scenario
from revsim.engine.memory import check_run_memory, fits_comfortably, stream_chunk
from revsim.engine.run import (
    RawResults,
    RunawayWarning,
    check_flags,
    check_run_options,
    default_threads,
    keeps_cohorts,
    run_draws,
    runaway_messages,
)
from revsim.scenario.load import LoadedScenario, load_scenario

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["Backend", "RawRun", "StreamedRun", "STORE_CHOICES", "run_dataset", "run_raw", "run_store", "simulate",
           "streams"]

#: ``revsim run --store``: ``netcdf`` holds the run in memory and writes results.nc, ``zarr`` streams it into
#: results.zarr, ``auto`` streams on dask or when the run would not fit comfortably in memory.
STORE_CHOICES = ("auto", "netcdf", "zarr")


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


class StreamedRun(NamedTuple):
    """The compiled scenario and the runaway warnings of a run streamed into a store."""

    compiled: CompiledScenario
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


def streams(store: str, compiled: CompiledScenario, *, draws: int, cohorts: bool | None = False,
            backend: Backend | None = None) -> bool:
    """Whether a run is streamed (:func:`run_store`) for the choice ``store`` (:data:`STORE_CHOICES`).

    ``auto`` streams a run on dask (its draws then never travel back to this machine) and a run whose
    in-memory estimate is above 2 GiB or half the available memory
    (:func:`~revsim.engine.memory.fits_comfortably`).
    """
    if store not in STORE_CHOICES:
        raise ValueError(f"store must be one of {', '.join(STORE_CHOICES)}, got {store!r}")
    if store != "auto":
        return store == "zarr"
    if backend is not None and backend.name == "dask":
        return True
    keep = keeps_cohorts(cohorts, draws=draws, months=compiled.n_months, segments=len(compiled.segments))
    return not fits_comfortably(compiled, draws, cohorts=keep)


def run_store(scenario: LoadedScenario | CompiledScenario, store: str | os.PathLike[str], *, draws: int, seed: int,
              threads: int | None = None, progress: Callable[[int], None] | None = None,
              cohorts: bool | None = False, backend: Backend | None = None, command: str | None = None,
              attrs: dict[str, object] | None = None, client: object | None = None,
              exact: bool = False) -> StreamedRun:
    """Run draws ``0 .. draws - 1`` and write their results into a new Zarr store at ``store``, block by block.

    The store holds what :func:`run_dataset`'s Dataset holds (its ``--keep draws`` form, see
    :mod:`revsim.results.zarr_store`), plus ``attrs``; the run holds a few blocks of draws at a time. Write it
    to a temporary path and rename it when this returns: on an error the store is incomplete.

    Parameters are those of :func:`run_dataset`; with ``backend`` dask, each task writes its block from its
    worker, so ``store`` must be on a filesystem the workers share (always, for a local cluster). The
    backend's ``chunk_size`` is the draws per block (and per chunk of the store), on dask (default 256) or
    locally (default: about 128 MB of peak memory per block, :func:`~revsim.engine.memory.stream_chunk`).
    ``client``: a ``distributed.Client`` already connected, used in place of the backend's cluster.
    ``exact``: keep every variable's in-memory type even in a large run, whose money and ratios are otherwise
    stored as float32 (:mod:`revsim.results.zarr_store`): numbers read back from the store are then those
    of the same run held in memory, bit for bit (``revsim compare`` relies on it).

    Raises
    ------
    InputError
        For impossible run options, an input the model cannot use (found when its block is drawn), or a
        device that clearly has too little room for the store
        (:func:`~revsim.results.zarr_store.check_store_room`).
    SimulationError
        When MRR grows beyond what can be counted in some draw.
    """
    from revsim.engine.distributed import DEFAULT_CHUNK_SIZE
    from revsim.results.dataset import build_dataset, run_attrs
    from revsim.results.storage import is_large
    from revsim.results.zarr_store import check_store_room, create_store, finish_store
    from revsim.streaming import stream_distributed, stream_local

    check_run_options(draws=draws, seed=seed, threads=threads)
    compiled = scenario if isinstance(scenario, CompiledScenario) else compile_scenario(scenario)
    keep = keeps_cohorts(cohorts, draws=draws, months=compiled.n_months, segments=len(compiled.segments))
    on_dask = client is not None or (backend is not None and backend.name == "dask")
    if on_dask:
        chunk = min((backend.chunk_size if backend is not None else None) or DEFAULT_CHUNK_SIZE, draws)
        here = client is None and backend is not None and backend.scheduler is None
        at_once = (backend.workers or default_threads()) if here else 1  # workers on this machine, or elsewhere
    else:
        threads = threads or default_threads()
        chunk = min((backend.chunk_size if backend is not None else None)
                    or stream_chunk(compiled, draws, threads=threads, cohorts=keep), draws)
        at_once = threads
    check_run_memory(compiled, min(draws, chunk * at_once), cohorts=keep)
    path = Path(store).absolute()
    sample = build_dataset(compiled, RawResults.zeros(compiled, compiled.draw_parameters(seed, 0, 1), cohorts=keep),
                           seed=seed, provenance=False)
    large = not exact and is_large(draws, compiled.n_months, len(compiled.segments))
    check_store_room(Path(store), sample, draws=draws, chunk=chunk, large=large)  # before any draw is computed
    create_store(path, sample, draws=draws, chunk=chunk, large=large,
                 attrs={**run_attrs(compiled, seed=seed, draws=draws, command=command), **(attrs or {})})
    del sample
    if on_dask:
        from contextlib import nullcontext

        from revsim.engine.distributed import dask_client

        options = backend or Backend("dask")
        cluster = nullcontext(client) if client is not None else \
            dask_client(workers=options.workers, scheduler=options.scheduler)
        with cluster as connected:
            tally = stream_distributed(compiled, seed, draws, store=path, chunk=chunk, client=connected,
                                       cohorts=keep, progress=progress)
    else:
        tally = stream_local(compiled, seed, draws, store=path, chunk=chunk, threads=threads, cohorts=keep,
                             progress=progress)
    messages = runaway_messages(compiled, tally, draws)
    finish_store(path, {"warnings": json.dumps(messages)})
    return StreamedRun(compiled, messages)


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
