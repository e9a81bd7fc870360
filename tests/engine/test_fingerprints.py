"""The kernel's outputs on the example scenarios, against fingerprints stored in ``fingerprints.json``.

A change to the engine's code that should not change any number (a refactoring, a faster sampler) must keep
every output array of 40 draws of each example scenario identical, cent for cent: the fingerprint of an array
is the start of the SHA-256 of its bytes, with its shape. A change meant to alter the numbers (a model change,
a new output column) writes the fingerprints again and says why in its commit::

    python tests/engine/test_fingerprints.py --write

(``test_reference.py`` compares the kernel with an independent pure-Python model on small scenarios; this
test pins the examples' exact outputs, which the reference's small scenarios do not reach.)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from revsim.engine.compile import compile_scenario
from revsim.engine.run import run_draws
from revsim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]
STORED = Path(__file__).with_name("fingerprints.json")
EXAMPLES = sorted(path.name for path in (ROOT / "scenarios").glob("*.yaml"))
SEED = 20261205
DRAWS = 40
OUTPUTS = ("stage_entries", "stage_open", "stage_converted", "stage_lost", "counts", "money", "loop_entries",
           "flags", "cohort_customers", "cohort_mrr")


def fingerprints(name: str) -> dict[str, str]:
    """The fingerprint of every output array of ``DRAWS`` draws of the example ``name``."""
    compiled = compile_scenario(load_scenario(ROOT / "scenarios" / name))
    raw = run_draws(compiled, SEED, 0, DRAWS, threads=2, cohorts=True)
    prints = {}
    for output in OUTPUTS:
        array = np.ascontiguousarray(getattr(raw, output), dtype="<i8")
        prints[output] = f"{hashlib.sha256(array.tobytes()).hexdigest()[:16]} {list(array.shape)}"
    return prints


def test_every_example_has_a_fingerprint():
    assert EXAMPLES and sorted(json.loads(STORED.read_text())) == EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_outputs_equal_the_stored_fingerprints(name):
    stored = json.loads(STORED.read_text())[name]
    changed = {output: value for output, value in fingerprints(name).items() if stored.get(output) != value}
    assert not changed, (f"{name}: {sorted(changed)} changed; if the change is meant, write the fingerprints "
                         "again: python tests/engine/test_fingerprints.py --write")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/engine/test_fingerprints.py --write")
    STORED.write_text(json.dumps({name: fingerprints(name) for name in EXAMPLES}, indent=1) + "\n")
    print(f"wrote {STORED.name}")
