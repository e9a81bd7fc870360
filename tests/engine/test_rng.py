"""The keyed random streams: generators seeded a block of draws at a time are numpy's, bit for bit."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1, 2**32, 2**40 + 7, 2**64 + 5, 10**30])
@pytest.mark.parametrize("start", [0, 7, 123_456, 2**31 + 3])
def test_generators_seeded_by_block_are_those_of_numpys_seed_sequence(seed: int, start: int) -> None:
    """block_generators hashes the seeds of many draws at once: the same states as SeedSequence's, bit for bit."""
    from revsim.engine.rng import block_generators, process_generators

    block = block_generators(seed, start, start + 3)
    assert len(block) == 3
    for offset, generators in enumerate(block):
        expected = process_generators(seed, start + offset)
        assert [g.bit_generator.state for g in generators] == [g.bit_generator.state for g in expected]
