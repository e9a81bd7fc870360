"""A streamed run: each block of draws is simulated, turned into its slice of the results Dataset, checked,
written into ``results.zarr`` (:mod:`revsim.results.zarr_store`) and dropped.

A block is a thread's work on this machine, or a task on a dask worker, which writes its slice itself: the
draws never travel back to the machine that started the run, so its memory is that of a few blocks whatever
the number of draws. The store must therefore be on a filesystem the workers see (always, for a local
cluster).

Each block's sampled inputs are drawn where the run starts (:meth:`CompiledScenario.draw_parameters
<revsim.engine.compile.CompiledScenario.draw_parameters>`, which depends only on the seed and the draw's
index), one block at a time just before it is handed out; a dask task receives them with the scenario
without its file samples (:meth:`~revsim.engine.compile.CompiledScenario.without_samples`), sent once to
each worker. What every block returns is the small tally of its runaway flags
(:func:`~revsim.engine.run.flag_tally`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from revsim.engine.compile import CompiledScenario, DrawParameters
from revsim.engine.run import check_overflow, flag_tally, merge_tallies, run_draws

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["stream_block", "stream_local", "stream_distributed", "block_edges"]


def block_edges(draws: int, chunk: int) -> list[tuple[int, int]]:
    """Blocks of ``chunk`` draws (the last one shorter): the store's chunks along ``draw``."""
    return [(a, min(a + chunk, draws)) for a in range(0, draws, chunk)]


def stream_block(compiled: CompiledScenario, seed: int, params: DrawParameters, *, cohorts: bool, store: str,
                 progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Simulate the draws of ``params``, write their results into ``store``; return their flag tally.

    Raises
    ------
    SimulationError
        When MRR overflowed in one of the draws, or the block's results break an invariant.
    """
    from revsim.results.dataset import build_dataset
    from revsim.results.invariants import check_invariants
    from revsim.results.zarr_store import write_block

    raw = run_draws(compiled, seed, params.start, params.stop, threads=1, params=params, cohorts=cohorts,
                    progress=progress)
    check_overflow(compiled, raw)
    tally = flag_tally(compiled, raw)
    block = build_dataset(compiled, raw, seed=seed, provenance=False)
    del raw
    check_invariants(block)
    write_block(store, block)
    return tally


def _empty_tally(compiled: CompiledScenario) -> np.ndarray:
    n = len(compiled.loops) + len(compiled.channels)
    return np.stack([np.zeros(n, np.int64), np.full(n, np.iinfo(np.int64).max)])


def stream_local(compiled: CompiledScenario, seed: int, draws: int, *, store: Path, chunk: int, threads: int,
                 cohorts: bool, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Stream draws ``0 .. draws - 1`` into ``store`` on ``threads`` threads, a block of ``chunk`` at a time.

    At most ``threads`` blocks are in memory at once. Returns the run's flag tally.
    """
    from revsim.interruption import check_stop

    def one(a: int, b: int) -> np.ndarray:
        check_stop()
        return stream_block(compiled, seed, compiled.draw_parameters(seed, a, b), cohorts=cohorts,
                            store=str(store), progress=progress)

    # compile the kernel (or load it from the cache) once before the threads start: one draw, thrown away
    run_draws(compiled, seed, 0, 1, threads=1)
    tally = _empty_tally(compiled)
    blocks = block_edges(draws, chunk)
    if threads == 1 or len(blocks) == 1:
        for a, b in blocks:
            tally = merge_tallies(tally, one(a, b))
        return tally
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        for future in [pool.submit(one, a, b) for a, b in blocks]:
            tally = merge_tallies(tally, future.result())
    finally:  # on a failure or a signal: the blocks not started are dropped, the running ones stop
        pool.shutdown(wait=True, cancel_futures=True)
    return tally


def stream_distributed(compiled: CompiledScenario, seed: int, draws: int, *, store: Path, chunk: int,
                       client: Client, cohorts: bool, progress: Callable[[int], None] | None = None
                       ) -> np.ndarray:
    """Stream draws ``0 .. draws - 1`` into ``store`` on the cluster of ``client``: each task writes its block.

    A few tasks per worker thread are queued at a time, so the sampled inputs waiting on the scheduler stay
    a few blocks' worth. Returns the run's flag tally.
    """
    from distributed import as_completed

    from revsim.interruption import check_stop

    shared = client.scatter(compiled.without_samples(), broadcast=True, hash=False)
    run_id = uuid.uuid4().hex[:12]
    blocks = iter(block_edges(draws, chunk))
    ahead = 2 * max(1, sum(client.nthreads().values()))
    running = as_completed()
    pending: dict[str, tuple[object, int]] = {}  # key of each unfinished task -> (it, its draws)

    def submit() -> bool:
        edge = next(blocks, None)
        if edge is None:
            return False
        a, b = edge
        future = client.submit(stream_block, shared, seed, compiled.draw_parameters(seed, a, b), cohorts=cohorts,
                               store=str(store), key=f"revsim-stream-{run_id}-{a}-{b}", pure=False)
        pending[future.key] = (future, b - a)
        running.add(future)
        return True

    tally = _empty_tally(compiled)
    try:
        for _ in range(ahead):
            if not submit():
                break
        for future in running:
            check_stop()
            tally = merge_tallies(tally, future.result())
            future.release()
            _, done = pending.pop(future.key)
            if progress is not None:
                progress(done)
            submit()
    finally:
        if pending:
            client.cancel([future for future, _ in pending.values()])
    return tally
