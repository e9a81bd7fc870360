"""Keyed random numbers: what draw ``i`` sees depends only on the seed, ``i`` and what the numbers are for.

* Events of the kernel: every random event of a draw (a channel's arrivals in a month, a stage's leavers, a
  cohort's renewal...) takes its uniforms from one block of Philox-4x64-10 (:mod:`revsim.engine.philox`)
  under the run's key, :func:`kernel_key` of the seed, at the counter ``(draw, process * 2**32 + month + 1,
  a, b)``, with ``(a, b)`` what the event is about in its process (channel, stage and segment, acquisition
  month and segment...: :mod:`revsim.engine.layout`). A block has four 64-bit words, one uniform each, for
  events that go together (a cohort's onboarding, renewal, upgrades and downgrades). No event's uniforms
  depend on another's, so the kernel skips the events that cannot happen (a cohort without customers) and
  a draw's numbers never depend on how draws are grouped into chunks, threads or workers.
* Input streams: each uncertain input has its own stream keyed by its path in the scenario
  (``funnel.stages.mql.conversion``); draw ``i`` uses the ``i``-th uniform of that stream. Changing one
  input therefore leaves every other input's draws, and every event's uniforms, as they were: common
  random numbers for paired what-if comparisons.
"""

from __future__ import annotations

import hashlib

import numpy as np

from revsim.engine.draw_data import RandomKey

__all__ = ["kernel_key", "draw_key", "event_uniforms", "input_uniforms", "stream_key"]

_KERNEL_DOMAIN = 2  # (0 keyed the per-draw, per-process PCG64 streams of earlier versions)
_INPUT_DOMAIN = 1


def kernel_key(seed: int) -> tuple[int, int]:
    """The Philox key of a run's kernel events: ``SeedSequence(seed, spawn_key=(2,))``'s first two 64-bit words."""
    k0, k1 = np.random.SeedSequence(seed, spawn_key=(_KERNEL_DOMAIN,)).generate_state(2, np.uint64)
    return int(k0), int(k1)


def draw_key(key: tuple[int, int], draw: int) -> RandomKey:
    """The key the kernel takes for draw ``draw`` of a run whose :func:`kernel_key` is ``key``."""
    return RandomKey(np.uint64(key[0]), np.uint64(key[1]), np.uint64(draw))


def event_uniforms(key: tuple[int, int], draw: int, process: int, month: int, a: int, b: int) -> np.ndarray:
    """The four uniforms of the kernel event ``(process, month, a, b)`` of draw ``draw`` under the run's
    :func:`kernel_key`, computed with numpy's ``np.random.Philox`` (for checks and references: the kernel
    computes the same numbers with :func:`revsim.engine.philox.philox_uniforms`).

    numpy's Philox increments its counter before each block, so it starts one below the event's counter.
    """
    k0, k1 = key
    counter = draw | ((process << 32 | (month + 1)) << 64) | (a << 128) | (b << 192)
    raw = np.random.Philox(counter=(counter - 1) & (2**256 - 1), key=k0 | k1 << 64).random_raw(4)
    return ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


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
