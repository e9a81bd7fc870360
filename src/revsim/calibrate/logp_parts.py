"""The log density split into parts that are compiled at the same time, each on its own core.

Compiling a calibration model is mostly numba compiling the operations of the log density and its
gradient one by one, in one process. The log density is a sum of terms (one per variable, observed or
not), and its gradient is the sum of the terms' gradients, so it can be computed as a sum of *parts*, each
a sum of terms, compiled separately: then two processes compile half the operations each, and the entry
point nutpie calls adds the parts (:mod:`revsim.calibrate.nutpie_entry`).

Terms that share a parameter go in the same part, so no part computes what another computes too and each
element of the gradient comes from one part. The split depends on the model's structure only, never on
the machine, so the same model gives the same arithmetic (hence the same draws) everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["split_terms", "PARTS", "MIN_PART_NODES"]

#: How many parts a large log density is split into (the compilation runs on this many cores at most).
PARTS = 2
#: Operations (before rewriting) below which a part is not worth compiling in a process of its own.
MIN_PART_NODES = 300


def split_terms(terms: Sequence[Any], parameters: Sequence[Any], *, parts: int | None = None,
                min_part_nodes: int | None = None) -> list[list[int]]:
    """Group the log density's ``terms`` into at most ``parts`` parts of similar size.

    Parameters
    ----------
    terms
        The log density's terms (PyTensor variables), in the model's order.
    parameters
        The model's value variables: terms that depend on a common one stay together.
    parts, min_part_nodes
        The number of parts wanted, and the size (operations in its graph) below which a part is not
        made: a model too small, or whose terms all share parameters, stays in one part. By default
        :data:`PARTS` and :data:`MIN_PART_NODES`.

    Returns
    -------
    list of list of int
        The indices of the terms in each part, in the model's order; parts ordered by their first term.
    """
    from pytensor.graph.traversal import ancestors, io_toposort

    parts = PARTS if parts is None else parts
    min_part_nodes = MIN_PART_NODES if min_part_nodes is None else min_part_nodes
    count = len(terms)
    if count == 0:
        return [[]]  # one part, an empty sum
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Any, int] = {}
    wanted = set(parameters)
    for index, term in enumerate(terms):
        for var in ancestors([term]):
            if var in wanted:
                if var in owner:
                    a, b = root(owner[var]), root(index)
                    parent[max(a, b)] = min(a, b)
                else:
                    owner[var] = index
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(root(index), []).append(index)
    components = list(groups.values())
    sizes = [len(io_toposort([], [terms[i] for i in members])) for members in components]
    total = sum(sizes)
    wanted_parts = max(1, min(parts, len(components), total // max(min_part_nodes, 1)))
    if wanted_parts == 1:
        return [list(range(count))]
    # longest first, each to the lightest part (ties: the first part): deterministic
    bins: list[list[int]] = [[] for _ in range(wanted_parts)]
    loads = [0] * wanted_parts
    for size, members in sorted(zip(sizes, components, strict=True), key=lambda item: (-item[0], item[1][0])):
        lightest = loads.index(min(loads))
        bins[lightest].extend(members)
        loads[lightest] += size
    found = [sorted(members) for members in bins if members]
    return sorted(found, key=lambda members: members[0])
