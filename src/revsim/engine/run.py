"""Run the kernels over draws on a thread pool (the whole run, to a Dataset, is :mod:`revsim.pipeline`).

Draws are split into contiguous blocks, each block runs on a worker thread (the kernel releases the GIL),
and every draw writes into its own slice of the output arrays. Since each draw's random numbers are keyed by
the draw's index (:mod:`revsim.engine.rng`), the results are identical whatever the number of threads or
blocks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from revsim.engine import layout as L
from revsim.engine.compile import CompiledScenario, DrawParameters
from revsim.engine.draw_data import DrawOutputs
from revsim.engine.rng import draw_key, kernel_key
from revsim.errors import InputError, SimulationError

__all__ = ["RawResults", "RunawayWarning", "run_draws", "default_threads", "check_run_options", "check_flags",
           "check_overflow", "flag_tally", "merge_tallies", "runaway_messages", "keeps_cohorts", "COHORT_DETAIL_LIMIT"]

MAX_DRAWS = 10_000_000
#: Draws per block a thread takes (at most), each run by one call of the kernel: between calls a thread
#: checks for an interruption and reports progress (32 board-scale draws take about 0.2 s). Each call costs
#: a few microseconds of Python holding the GIL (its arguments unboxed), which other threads wait for.
_TASK_DRAWS = 32
_CALL_DRAWS = _TASK_DRAWS


class RunawayWarning(UserWarning):
    """A growth loop or a channel grew beyond what can be counted and was capped."""


@dataclass(frozen=True)
class RawResults:
    """The kernels' outputs for draws ``params.start`` to ``params.stop - 1`` (see :mod:`revsim.engine.layout`)."""

    params: DrawParameters
    stage_entries: np.ndarray  # [draw, month, segment, stage]
    stage_open: np.ndarray  # [draw, month, segment, stage]
    stage_converted: np.ndarray  # [draw, month, segment, stage]
    stage_lost: np.ndarray  # [draw, month, segment, stage]
    counts: np.ndarray  # [draw, month, segment, N_COUNTS]
    money: np.ndarray  # [draw, month, segment, N_MONEY], cents of MRR
    loop_entries: np.ndarray  # [draw, month, loop]
    flags: np.ndarray  # [draw, n_loops + n_channels + 1]
    # [draw, acquisition month, segment, age]: customers and MRR cents per cohort, or size 0 without that detail
    cohort_customers: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0), np.int64))
    cohort_mrr: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 0), np.int64))

    @classmethod
    def zeros(cls, compiled: CompiledScenario, params: DrawParameters, *, cohorts: bool = False) -> RawResults:
        """Zeroed outputs for the draws of ``params``, to be filled by a simulation of ``compiled``."""
        n, T = len(params), compiled.n_months
        S, K = len(compiled.segments), len(compiled.stages)
        n_loops, n_channels = len(compiled.loops), len(compiled.channels)
        return cls(
            params=params,
            stage_entries=np.zeros((n, T, S, K), np.int64),
            stage_open=np.zeros((n, T, S, K), np.int64),
            stage_converted=np.zeros((n, T, S, K), np.int64),
            stage_lost=np.zeros((n, T, S, K), np.int64),
            counts=np.zeros((n, T, S, L.N_COUNTS), np.int64),
            money=np.zeros((n, T, S, L.N_MONEY), np.int64),
            loop_entries=np.zeros((n, T, n_loops), np.int64),
            flags=np.zeros((n, n_loops + n_channels + 1), np.int64),
            cohort_customers=np.zeros((n, T, S, T) if cohorts else (n, 0, 0, 0), np.int64),
            cohort_mrr=np.zeros((n, T, S, T) if cohorts else (n, 0, 0, 0), np.int64),
        )

    def draw(self, i: int) -> DrawOutputs:
        """Where the ``i``-th draw of these results writes, as the kernel takes it."""
        return DrawOutputs(self.stage_entries[i], self.stage_open[i], self.stage_converted[i], self.stage_lost[i],
                           self.counts[i], self.money[i], self.loop_entries[i], self.flags[i],
                           self.cohort_customers[i], self.cohort_mrr[i])

    def stacked(self) -> DrawOutputs:
        """Where every draw of these results writes, each field with the draws first (for
        :func:`~revsim.engine.kernels.simulate_draws`)."""
        return DrawOutputs(self.stage_entries, self.stage_open, self.stage_converted, self.stage_lost, self.counts,
                           self.money, self.loop_entries, self.flags, self.cohort_customers, self.cohort_mrr)


#: Per-cohort detail is kept by default while draws x months^2 x segments stays below this (about 160 MB).
COHORT_DETAIL_LIMIT = 10_000_000


def keeps_cohorts(choice: bool | None, *, draws: int, months: int, segments: int) -> bool:
    """Whether a run keeps per-cohort detail: as asked, or by default when it stays small."""
    if choice is not None:
        return choice
    return draws * months * months * segments <= COHORT_DETAIL_LIMIT


def default_threads() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def check_run_options(*, draws: int, seed: int, threads: int | None) -> None:
    """Refuse impossible run options with an :class:`InputError`."""
    if not isinstance(draws, int | np.integer) or not 1 <= draws <= MAX_DRAWS:
        raise InputError.single(f"draws must be a whole number from 1 to {MAX_DRAWS:,}, got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise InputError.single(f"seed must be a whole number from 0 to 2^63 - 1, got {seed!r}")
    if threads is not None and (not isinstance(threads, int | np.integer) or threads < 1):
        raise InputError.single(f"threads must be a whole number >= 1, got {threads!r}")


def run_draws(
    compiled: CompiledScenario,
    seed: int,
    start: int,
    stop: int,
    *,
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
    params: DrawParameters | None = None,
    cohorts: bool = False,
) -> RawResults:
    """Run draws ``start`` to ``stop - 1`` of a compiled scenario.

    With ``cohorts``, each simulated cohort's customers and MRR at every age are kept too (memory grows
    with draws x months^2 x segments: see :func:`keeps_cohorts`).

    ``params`` are the draws' parameters when they were drawn already (``compiled.draw_parameters(seed, start,
    stop)``, e.g. by the machine that sends the draws to a cluster); by default they are drawn here.
    """
    from numba import typeof

    from revsim.engine.kernels import simulate_draws
    from revsim.engine.memory import check_run_memory

    check_run_memory(compiled, stop - start, cohorts=cohorts)  # before anything is allocated
    threads = threads or default_threads()
    if params is None:
        params = compiled.draw_parameters(seed, start, stop, threads=threads)
    elif (params.start, params.stop) != (start, stop):
        raise ValueError(f"params are those of draws {params.start} to {params.stop - 1}, not {start} to {stop - 1}")
    n = stop - start
    raw = RawResults.zeros(compiled, params, cohorts=cohorts)
    structure, book = compiled.structure, compiled.book
    kernel = simulate_draws  # until the first call has compiled it (or loaded it from the cache)
    # every draw's inputs, outputs and key, as the kernel takes them (draw i of the block is draw start + i)
    inputs, outputs, key = params.stacked(), raw.stacked(), draw_key(kernel_key(seed), start)

    def run_block(first: int, last: int) -> None:
        from revsim.interruption import check_stop

        nonlocal kernel
        for i in range(first, last, _CALL_DRAWS):
            check_stop()  # SIGINT/SIGTERM: every worker gives up between calls
            j = min(i + _CALL_DRAWS, last)
            arguments = (structure, book, inputs, key, outputs, i, j)
            kernel(*arguments)
            if kernel is simulate_draws and hasattr(simulate_draws, "get_overload"):  # (not when run as Python)
                # every call has the same argument types: skip numba's dispatch on them (typing the named
                # tuples again would cost about as much as a small scenario's draw)
                kernel = simulate_draws.get_overload(tuple(typeof(argument) for argument in arguments))
            if progress is not None:
                progress(j - i)

    blocks = _blocks(n, threads)
    if threads == 1 or len(blocks) == 1:
        for first, last in blocks:
            run_block(first, last)
    else:
        # compile (or load from cache) once before the threads start
        run_block(*blocks[0])
        _run_on_threads(run_block, blocks[1:], threads)
    return raw


def _run_on_threads(run_block: Callable[[int, int], None], blocks: list[tuple[int, int]], threads: int) -> None:
    """Run every block on ``threads`` threads, each taking the next block when it is done with one (one
    thread task each, rather than a task per block: a task costs some 20 us of Python holding the GIL).

    A thread that fails, or an interruption of the calling thread, stops the threads after their current
    block, and they are waited for (the caller's clean-up may clear :data:`~revsim.interruption.STOP`); the
    first failure is raised.
    """
    pending = iter(blocks)
    lock = threading.Lock()
    failed = threading.Event()

    def work() -> None:
        while not failed.is_set():
            with lock:
                block = next(pending, None)
            if block is None:
                return
            try:
                run_block(*block)
            except BaseException:
                failed.set()
                raise

    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        for future in [pool.submit(work) for _ in range(threads)]:
            future.result()
    except BaseException:  # a failed thread, or a signal raised here in the main thread
        failed.set()
        raise
    finally:  # the threads end after their current block: none runs on once this returns
        pool.shutdown(wait=True)


def _blocks(n: int, threads: int) -> list[tuple[int, int]]:
    """Contiguous blocks of draws: a small first block (it compiles), then a few per thread."""
    if n <= 1 or threads == 1:
        return [(0, n)]
    size = max(1, min(_TASK_DRAWS, n // (threads * 4)))  # small blocks: the threads finish together
    edges = [0, 1, *range(1 + size, n, size), n]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def check_flags(compiled: CompiledScenario, raw: RawResults) -> list[str]:
    """Turn the kernels' flags into messages; raise when a draw could not be completed.

    Raises
    ------
    SimulationError
        When MRR grew beyond what can be counted in some draw.
    """
    check_overflow(compiled, raw)
    return runaway_messages(compiled, flag_tally(compiled, raw), len(raw.params))


def check_overflow(compiled: CompiledScenario, raw: RawResults) -> None:
    """Raise a :class:`SimulationError` naming the first draw of ``raw`` whose MRR could not be counted."""
    n_loops, n_channels = len(compiled.loops), len(compiled.channels)
    sources = _flag_sources(compiled)
    overflow = raw.flags[:, n_loops + n_channels]
    if overflow.any():
        i = int(np.argmax(overflow > 0))
        month = compiled.model.month_label(int(overflow[i]) - 1)
        culprits = [name for j, name in enumerate(sources) if raw.flags[i, j]]
        blame = f"{', '.join(culprits)} ran away first" if culprits else "check channel growth and loop coefficients"
        raise SimulationError(
            f"draw {raw.params.start + i}: MRR exceeded {L.MONEY_CAP / 100:.3g} {compiled.model.currency} in "
            f"{month}, beyond what revsim can count; the scenario grows without bound ({blame})"
        )


def _flag_sources(compiled: CompiledScenario) -> list[str]:
    return [*(f"loop '{x}'" for x in compiled.loops), *(f"channel '{x}'" for x in compiled.channels)]


#: In a :func:`flag_tally`, the first month of a source that never ran away.
_NEVER = np.iinfo(np.int64).max


def flag_tally(compiled: CompiledScenario, raw: RawResults) -> np.ndarray:
    """What the runaway messages need of ``raw``'s flags, small and mergeable across blocks of draws.

    ``[2, loops + channels]``: the number of draws in which each loop or channel ran away, and the first
    month (1-based) it did in any of them. Blocks merge with :func:`merge_tallies`.
    """
    n_sources = len(compiled.loops) + len(compiled.channels)
    hits = raw.flags[:, :n_sources]
    first = np.where(hits > 0, hits, _NEVER).min(axis=0) if len(hits) else np.full(n_sources, _NEVER)
    return np.stack([(hits > 0).sum(axis=0), first]).astype(np.int64)


def merge_tallies(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The :func:`flag_tally` of two blocks of draws together."""
    return np.stack([a[0] + b[0], np.minimum(a[1], b[1])])


def runaway_messages(compiled: CompiledScenario, tally: np.ndarray, draws: int) -> list[str]:
    """A message for every loop or channel that ran away in some of ``draws`` draws (see :func:`flag_tally`)."""
    messages = []
    for j, name in enumerate(_flag_sources(compiled)):
        if tally[0, j]:
            first = int(tally[1, j]) - 1
            messages.append(
                f"{name} ran away in {int(tally[0, j])} of {draws} draws (first in "
                f"{compiled.model.month_label(first)}): its entries were capped at {L.COUNT_CAP:,} a month; "
                f"results after that month are not meaningful"
            )
    return messages
