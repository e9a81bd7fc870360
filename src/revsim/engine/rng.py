"""Keyed random streams: what draw ``i`` sees depends only on the seed, ``i`` and what the numbers are for.

* Process streams: draw ``i`` gets one ``np.random.Generator`` per process (arrivals, stage conversion,
  onboarding, retention...), seeded by ``SeedSequence(seed, spawn_key=(0, i, process))``: a child of the
  run's ``SeedSequence`` addressed by its key, like a spawned one, but reached without spawning the
  draws before it. A draw's numbers never depend on how draws are grouped into chunks, threads or
  workers.
* Input streams: each uncertain input has its own stream keyed by its path in the scenario
  (``funnel.stages.mql.conversion``); draw ``i`` uses the ``i``-th uniform of that stream. Changing one
  input therefore leaves every other input's draws, and every process stream, as they were: common random
  numbers for paired what-if comparisons.
"""

from __future__ import annotations

import hashlib

import numpy as np

from revsim.engine.layout import PROCESSES

__all__ = ["process_generators", "input_uniforms", "stream_key"]

_PROCESS_DOMAIN = 0
_INPUT_DOMAIN = 1


def process_generators(seed: int, draw: int) -> tuple[np.random.Generator, ...]:
    """The generators of one draw, one per process in :data:`~revsim.engine.layout.PROCESSES` order."""
    return tuple(
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_PROCESS_DOMAIN, draw, p))))
        for p in range(len(PROCESSES))
    )


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (the same on every machine and Python version)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def input_uniforms(seed: int, name: str, start: int, stop: int) -> np.ndarray:
    """Uniforms in (0, 1) of draws ``start`` to ``stop - 1`` of the input stream ``name``.

    Each draw consumes exactly one 64-bit output of a PCG64 stream, so the stream is advanced to
    ``start`` without generating what comes before it.
    """
    bit_generator = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_INPUT_DOMAIN, stream_key(name))))
    bit_generator.advance(start)
    raw = bit_generator.random_raw(stop - start)
    # the top 53 bits, centred in their interval: never exactly 0 or 1
    return ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
