"""The memory a run needs, estimated before it starts, and a refusal when the machine does not have it.

A run keeps every draw's monthly outputs (int64 per stage, count and money item), then builds the results
Dataset and its summary from them. Measured peak memory per output value: 22 bytes keeping every draw (4,000
draws x 120 months), 14 keeping quantiles (20,000 draws x 120 months), about 360 to 570 bytes per draw, month
and segment for a three-stage funnel; the estimate takes 18, and 20 per value of the per-cohort detail of
``--cohorts`` (measured 20). Without this check, ``--draws 10000000`` on a long horizon allocated until numpy
failed, minutes into the run.

A streamed run (``results.zarr``, :mod:`revsim.streaming`) holds only the blocks of draws being computed: its
peak is that of a few blocks (:func:`stream_chunk` sizes them), whatever the number of draws, and
:func:`check_run_memory` is asked about those blocks only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from revsim.engine import layout as L

if TYPE_CHECKING:  # pragma: no cover
    from revsim.engine.compile import CompiledScenario

__all__ = ["run_bytes", "available_bytes", "check_run_memory", "format_bytes", "stream_chunk", "BLOCK_BYTES",
           "STREAM_ABOVE_BYTES"]

#: Peak bytes per int64 value the kernels output, measured: 22 keeping every draw, 14 keeping quantiles.
PEAK_PER_VALUE = 18
#: Peak bytes per value of the per-cohort detail (customers and MRR at every age).
PEAK_PER_COHORT_VALUE = 20


#: Estimated peak memory of one block of a streamed run: its draws' outputs, their slice of the Dataset, the write.
BLOCK_BYTES = 128 * 2**20
#: Most draws in a block of a streamed run (and a chunk of its store along ``draw``).
MAX_BLOCK_DRAWS = 4096
#: ``revsim run --store auto`` streams a run whose in-memory estimate is above this or above half the
#: memory available, whichever is smaller.
STREAM_ABOVE_BYTES = 2 * 2**30


def stream_chunk(compiled: CompiledScenario, draws: int, *, threads: int, cohorts: bool) -> int:
    """Draws per block of a streamed run on ``threads`` threads: about :data:`BLOCK_BYTES` of peak memory
    each, at least four blocks per thread when the run is small (the threads then finish together)."""
    per_draw, _ = run_bytes(compiled, 1, cohorts=cohorts)
    by_memory = max(1, BLOCK_BYTES // max(per_draw, 1))
    balanced = max(1, -(-draws // (4 * threads)))
    return int(min(by_memory, balanced, MAX_BLOCK_DRAWS))


def fits_comfortably(compiled: CompiledScenario, draws: int, *, cohorts: bool) -> bool:
    """Whether a run held in memory stays under :data:`STREAM_ABOVE_BYTES` and half the available memory."""
    need, _ = run_bytes(compiled, draws, cohorts=cohorts)
    available = available_bytes()
    limit = STREAM_ABOVE_BYTES if available is None else min(STREAM_ABOVE_BYTES, available // 2)
    return need <= limit


def run_bytes(compiled: CompiledScenario, draws: int, *, cohorts: bool) -> tuple[int, int]:
    """Estimated peak memory of a run: (total, the part of it that is the per-cohort detail)."""
    months, segments = compiled.n_months, len(compiled.segments)
    per_cell = 4 * len(compiled.stages) + L.N_COUNTS + L.N_MONEY
    values = draws * months * (segments * per_cell + len(compiled.loops))
    cohort = 2 * draws * months * months * segments if cohorts else 0
    cohort_bytes = cohort * PEAK_PER_COHORT_VALUE
    return values * PEAK_PER_VALUE + cohort_bytes, cohort_bytes


def available_bytes() -> int | None:
    """Memory available to a new allocation (MemAvailable of /proc/meminfo), or None where it is not known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def format_bytes(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"


def check_run_memory(compiled: CompiledScenario, draws: int, *, cohorts: bool) -> None:
    """Refuse, before anything is allocated, a run that needs more memory than the machine has available.

    ``draws`` are those held in memory at once: the whole run's, or a streamed run's blocks in progress.

    Raises
    ------
    InputError
        With the estimate, what is available, and how many draws would fit.
    """
    from revsim.errors import InputError

    available = available_bytes()
    if available is None:
        return
    need, cohort_bytes = run_bytes(compiled, draws, cohorts=cohorts)
    if need <= available:
        return
    per_draw = need / max(draws, 1)
    fit = int(available // per_draw)
    size = f"{draws:,} draws x {compiled.n_months} months x {len(compiled.segments)} segment(s)"
    detail = f", of which {format_bytes(cohort_bytes)} for the per-cohort detail" if cohorts else ""
    ways = [f"run fewer draws ({fit:,} fit)" if fit >= 1 else "run a smaller scenario"]
    if cohorts:
        ways.append("leave out the per-cohort detail (--no-cohorts)")
    ways.append("or shorten the horizon")
    raise InputError.single(
        f"this run needs about {format_bytes(need)} of memory ({size}{detail}), more than the "
        f"{format_bytes(available)} available: {', '.join(ways)}", path=("--draws",))
