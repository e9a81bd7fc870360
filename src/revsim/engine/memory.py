"""The memory a run needs, estimated before it starts, and a refusal when the machine does not have it.

A run keeps every draw's monthly outputs (int64 per stage, count and money item), then builds the results
Dataset and its summary from them. Measured peak memory per output value: 22 bytes keeping every draw (4,000
draws x 120 months), 14 keeping quantiles (20,000 draws x 120 months), about 360 to 570 bytes per draw, month
and segment for a three-stage funnel; the estimate takes 18, and 20 per value of the per-cohort detail of
``--cohorts`` (measured 20). Without this check, ``--draws 10000000`` on a long horizon allocated until numpy
failed, minutes into the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from revsim.engine import layout as L

if TYPE_CHECKING:  # pragma: no cover
    from revsim.engine.compile import CompiledScenario

__all__ = ["run_bytes", "available_bytes", "check_run_memory", "format_bytes"]

#: Peak bytes per int64 value the kernels output, measured: 22 keeping every draw, 14 keeping quantiles.
PEAK_PER_VALUE = 18
#: Peak bytes per value of the per-cohort detail (customers and MRR at every age).
PEAK_PER_COHORT_VALUE = 20


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
