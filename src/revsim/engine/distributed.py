"""Run the draws of a scenario on a dask.distributed cluster, for runs too big for one machine.

The draws are split into contiguous chunks; each chunk is one task that calls
:func:`~revsim.engine.run.run_draws` on a worker, and the chunks' outputs are copied into place, in draw order,
as they arrive. Draw ``i``'s random numbers are Philox blocks addressed by the seed, the draw's index and the
event (:mod:`revsim.engine.rng`), independent of every other draw's, so a chunk needs only the seed and its
range, and the results are identical to a local run with the same seed whatever
the number of workers or the chunk size.

The sampled inputs are drawn once, here, and each task receives those of its draws: workers never read the
scenario's files (CSV samples, posteriors), so they need revsim but not the files, and cannot draw other
values than the local run would. Workers receive the scenario without its file samples
(:meth:`~revsim.engine.compile.CompiledScenario.without_samples`): a task's payload does not grow with the
posterior's size.

This module's :func:`run_draws_distributed` brings every draw back to this machine (``revsim run --store
netcdf``); a streamed run (:mod:`revsim.streaming`) has each task write its draws into the store instead.

With no scheduler address a ``LocalCluster`` of worker processes is started on the loopback interface (one
thread each: the tasks of a worker run side by side, so a worker with several threads runs several chunks at
a time). dask is imported only when this backend is used.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from revsim.engine.compile import CompiledScenario, DrawParameters
from revsim.engine.run import RawResults, default_threads
from revsim.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["DEFAULT_CHUNK_SIZE", "BACKENDS", "check_backend_options", "dask_client", "run_draws_distributed"]

#: Draws per task: large enough that a task is much longer than its scheduling overhead (a few ms), small
#: enough to balance the load and show progress.
DEFAULT_CHUNK_SIZE = 256
BACKENDS = ("local", "dask")
#: Without a dashboard the scheduler still serves health checks over HTTP, by default on port 8787 of every
#: interface: keep it on the loopback interface, on any free port.
LOCAL_SCHEDULER_OPTIONS = {"dashboard_address": "127.0.0.1:0"}
_INSTALL = "pip install 'dask[distributed]'"
#: dask keeps the last 1,000 batches of messages each connection sent (``distributed.admin.low-level-log-length``,
#: for debugging), with their payloads when under 1 MB: a task's sampled inputs stayed in the client's log to
#: the scheduler and in the scheduler's log to its worker, both in the process of ``revsim run`` with a local
#: cluster (about 1.6 MiB per board-scale task of 256 draws: the client grew from 344 to 966 MiB from 12 to 391
#: tasks). Ten batches are kept instead.
SHORT_LOGS = {"distributed.admin.low-level-log-length": 10}
#: Preload module of the local cluster's workers: they leave Ctrl-C to the client (:mod:`revsim.engine.local_worker`).
LOCAL_WORKER_SETUP = "revsim.engine.local_worker"


def check_backend_options(backend: str, *, workers: int | None, scheduler: str | None,
                          chunk_size: int | None, threads: int | None) -> None:
    """Refuse options that do not go together, with an :class:`InputError` naming them."""
    if backend == "local":
        given = [name for name, value in (("--workers", workers), ("--scheduler", scheduler),
                                          ("--chunk-size", chunk_size)) if value is not None]
        if given:
            several = len(given) > 1
            raise InputError.single(f"{' and '.join(given)} appl{'y' if several else 'ies'} to --backend dask only; "
                                    f"add --backend dask or leave {'them' if several else 'it'} out",
                                    path=(given[0],))
        return
    if workers is not None and scheduler is not None:
        raise InputError.single("--workers sets the size of a local cluster; with --scheduler the cluster's own "
                                "workers are used: give one or the other", path=("--workers",))
    if threads is not None:
        raise InputError.single("--threads applies to --backend local; with dask each task runs on one thread "
                                "of a worker (start workers with more threads to run more chunks at once)",
                                path=("--threads",))
    if chunk_size is not None and chunk_size < 1:
        raise InputError.single(f"--chunk-size must be at least 1, got {chunk_size}", path=("--chunk-size",))


@contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None,
                timeout: float = 30.0) -> Iterator[Client]:
    """A dask client: connected to ``scheduler``, or to a new local cluster of ``workers`` processes.

    The local cluster (default: one worker per core) listens on 127.0.0.1 only, without a dashboard, and is
    shut down when the block ends.

    Raises
    ------
    InputError
        When dask.distributed is not installed, or the scheduler cannot be reached within ``timeout`` seconds.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError.single(f"--backend dask needs dask.distributed, which is not installed: {_INSTALL}",
                                path=("--backend",)) from None
    if scheduler is not None:
        try:
            with dask.config.set(SHORT_LOGS):  # the client's log of what it sent the scheduler
                client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError.single(f"cannot reach the dask scheduler at {scheduler} ({exc}); check the address "
                                    "(tcp://HOST:8786) and that the scheduler is running",
                                    path=("--scheduler",)) from None
        with client:
            yield client
        return
    with dask.config.set(SHORT_LOGS):  # the scheduler runs in this process, and its workers get the setting
        cluster = LocalCluster(n_workers=workers or default_threads(), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                               scheduler_kwargs=LOCAL_SCHEDULER_OPTIONS, preload=[LOCAL_WORKER_SETUP])
    with cluster:
        with dask.config.set(SHORT_LOGS):
            client = Client(cluster)
        with client:
            yield client


def _run_chunk(compiled: CompiledScenario, seed: int, params: DrawParameters, cohorts: bool = False
               ) -> dict[str, np.ndarray]:
    """One task: the draws of ``params`` on a worker, their output arrays by name."""
    from revsim.engine.run import run_draws

    raw = run_draws(compiled, seed, params.start, params.stop, threads=1, params=params, cohorts=cohorts)
    return {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw) if f.name != "params"}


def _slice(params: DrawParameters, start: int, stop: int) -> DrawParameters:
    """The parameters of draws ``start`` to ``stop - 1`` (within those of ``params``)."""
    rows = slice(start - params.start, stop - params.start)
    arrays = {f.name: getattr(params, f.name)[rows] for f in dataclasses.fields(params)
              if isinstance(getattr(params, f.name), np.ndarray)}
    inputs = {path: values[rows] for path, values in params.inputs.items()}
    return dataclasses.replace(params, start=start, stop=stop, inputs=inputs, **arrays)


def run_draws_distributed(
    compiled: CompiledScenario,
    seed: int,
    start: int,
    stop: int,
    *,
    client: Client,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    cohorts: bool = False,
) -> RawResults:
    """Run draws ``start`` to ``stop - 1`` on the cluster of ``client``; the same results as ``run_draws``.

    Parameters
    ----------
    compiled
        The compiled scenario; sent once to every worker.
    seed, start, stop
        As for :func:`~revsim.engine.run.run_draws`.
    client
        A ``distributed.Client`` (see :func:`dask_client`).
    chunk_size
        Draws per task (default :data:`DEFAULT_CHUNK_SIZE`). The results do not depend on it.
    progress
        Called with the number of draws of each chunk as it completes.
    cohorts
        Keep each cohort's customers and MRR at every age, as for :func:`~revsim.engine.run.run_draws`.

    Examples
    --------
    >>> with dask_client(workers=2) as client:                                   # doctest: +SKIP
    ...     raw = run_draws_distributed(compiled, 42, 0, 10_000, client=client)
    """
    from distributed import as_completed

    from revsim.engine.memory import check_run_memory
    from revsim.interruption import check_stop

    check_run_memory(compiled, stop - start, cohorts=cohorts)  # every draw's outputs come back here
    size = chunk_size or DEFAULT_CHUNK_SIZE
    # drawn once, here: an input the model cannot use is reported before any task starts
    params = compiled.draw_parameters(seed, start, stop)
    edges = [*range(start, stop, size), stop]
    chunks = list(zip(edges[:-1], edges[1:], strict=True))
    shared = client.scatter(compiled.without_samples(), broadcast=True, hash=False)  # no posterior samples
    run_id = uuid.uuid4().hex[:12]
    futures = [client.submit(_run_chunk, shared, seed, _slice(params, a, b), cohorts,
                             key=f"revsim-draws-{run_id}-{a}-{b}", pure=False)
               for a, b in chunks]
    where = {future.key: chunk for future, chunk in zip(futures, chunks, strict=True)}
    outputs: dict[str, np.ndarray] = {}
    try:
        for future in as_completed(futures):
            check_stop()
            part: dict[str, Any] = future.result()
            a, b = where[future.key]
            for name, values in part.items():
                if name not in outputs:
                    outputs[name] = np.empty((stop - start, *values.shape[1:]), values.dtype)
                outputs[name][a - start:b - start] = values
            future.release()
            if progress is not None:
                progress(b - a)
    finally:
        client.cancel(futures)
    return RawResults(params=params, **outputs)
