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
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from revsim.engine.layout import PROCESSES

__all__ = ["process_generators", "block_generators", "input_uniforms", "stream_key"]

_PROCESS_DOMAIN = 0
_INPUT_DOMAIN = 1


def process_generators(seed: int, draw: int) -> tuple[np.random.Generator, ...]:
    """The generators of one draw, one per process in :data:`~revsim.engine.layout.PROCESSES` order."""
    return tuple(
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_PROCESS_DOMAIN, draw, p))))
        for p in range(len(PROCESSES))
    )


def block_generators(seed: int, start: int, stop: int) -> list[tuple[np.random.Generator, ...]]:
    """The generators of draws ``start`` to ``stop - 1`` (see :func:`process_generators`).

    Each is ``Generator(PCG64(SeedSequence(seed, spawn_key=(0, draw, process))))``, exactly; the
    ``SeedSequence`` hashing is done for the whole block at once with numpy (:func:`_seed_words`), which
    takes a few microseconds per draw instead of the 0.1 ms that 8 ``SeedSequence`` objects take in Python
    while holding the GIL.
    """
    n_processes = len(PROCESSES)
    draws = np.repeat(np.arange(start, stop, dtype=np.uint64), n_processes)
    processes = np.tile(np.arange(n_processes, dtype=np.uint64), stop - start)
    words = _seed_words(seed, draws, processes)
    generators = [np.random.Generator(np.random.PCG64(_Words(row))) for row in words]
    return [tuple(generators[i:i + n_processes]) for i in range(0, len(generators), n_processes)]


class _Words(ISeedSequence):
    """A seed sequence whose state words were computed already (by :func:`_seed_words`)."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != self.words.size or np.dtype(dtype) != self.words.dtype:  # pragma: no cover - PCG64 asks 4
            raise ValueError(f"these words are 4 uint64, not {n_words} {np.dtype(dtype)}")
        return self.words


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx)
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R, _XSHIFT, _POOL_SIZE = 0xCA01F9DD, 0x4973F715, 16, 4
_MASK32 = 0xFFFFFFFF


def _uint32_words(value: int) -> list[int]:
    """A non-negative integer as SeedSequence reads it: little-endian 32-bit words ([0] for 0)."""
    words = []
    while True:
        words.append(value & _MASK32)
        value >>= 32
        if value == 0:
            return words


def _seed_words(seed: int, draws: np.ndarray, processes: np.ndarray) -> np.ndarray:
    """``SeedSequence(seed, spawn_key=(0, draw, process)).generate_state(4, np.uint64)`` for each pair, as rows.

    numpy's algorithm, run on all pairs at once (tests check it against numpy's SeedSequence).
    """
    if draws.size and int(draws.max()) > _MASK32 or int(processes.max(initial=0)) > _MASK32:
        raise ValueError("draws and processes beyond 2**32 are not supported")  # pragma: no cover
    run_entropy = _uint32_words(int(seed))
    run_entropy += [0] * (_POOL_SIZE - len(run_entropy))  # spawn keys follow a pool-sized run entropy
    n = draws.size
    entropy = [np.full(n, word, np.uint32) for word in run_entropy]
    entropy += [np.full(n, _PROCESS_DOMAIN, np.uint32), draws.astype(np.uint32), processes.astype(np.uint32)]

    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_A) & _MASK32
        value = value * np.uint32(hash_const)
        return value ^ (value >> np.uint32(_XSHIFT))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
        return result ^ (result >> np.uint32(_XSHIFT))

    pool = [hashmix(entropy[i]) for i in range(_POOL_SIZE)]
    for i_src in range(_POOL_SIZE):
        for i_dst in range(_POOL_SIZE):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    for i_src in range(_POOL_SIZE, len(entropy)):
        for i_dst in range(_POOL_SIZE):
            pool[i_dst] = mix(pool[i_dst], hashmix(entropy[i_src]))

    # generate_state(4, uint64): 8 uint32 words, read in pairs as little-endian uint64
    hash_const = _INIT_B
    state = np.empty((n, 8), np.uint32)
    for i in range(8):
        value = pool[i % _POOL_SIZE] ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _MASK32
        value = value * np.uint32(hash_const)
        state[:, i] = value ^ (value >> np.uint32(_XSHIFT))
    return state[:, 0::2].astype(np.uint64) | (state[:, 1::2].astype(np.uint64) << np.uint64(32))


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
