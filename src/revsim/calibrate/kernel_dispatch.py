"""A revsim kernel as the numba implementation of a PyTensor operation, cached under the kernel's source.

The likelihood kernels (:mod:`revsim.calibrate.conversion_kernel`, :mod:`revsim.calibrate.survival_kernel`)
sit behind PyTensor operations whose Python ``perform`` calls them; :func:`register_kernel` makes PyTensor's
numba backend call the kernel itself when it compiles a graph holding the operation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["register_kernel"]

_REGISTERED: set[type] = set()


def register_kernel(op_type: type, kernel: Any, module: ModuleType) -> None:
    """Make PyTensor's numba backend call ``kernel`` (a numba function of ``module``) for ``op_type``.

    PyTensor's numba cache keeps the operation's compiled code under a key made of ``module.IMPLEMENTATION``
    and a hash of the module's source, so that an edited kernel is never served from the cache. Registering
    an operation again does nothing.
    """
    if op_type in _REGISTERED:
        return
    from pytensor.link.numba.dispatch import basic as numba_basic

    source = hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:16]
    key = f"{module.IMPLEMENTATION}-{source}"

    @numba_basic.register_funcify_and_cache_key(op_type)
    def numba_funcify_kernel(op: Any, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
        return kernel, key

    _REGISTERED.add(op_type)
