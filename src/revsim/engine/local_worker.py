"""Set-up of the worker processes of the local dask cluster (``revsim run --backend dask`` without
``--scheduler``), loaded by each worker as a dask preload module.

Ctrl-C in a terminal sends SIGINT to every process of the foreground group: ``revsim run`` and its cluster's
worker processes alike. ``revsim run`` stops the run and shuts the cluster down itself (exit code 130, its
temporary files removed); a worker that took the signal as well would print a ``KeyboardInterrupt``
traceback and drop its connection while the client is still shutting down. The workers therefore ignore
SIGINT and are stopped by the client (SIGTERM and a kill still stop them).
"""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["dask_setup"]


def dask_setup(worker: Any) -> None:
    """Called by dask in each worker process as it starts: ignore SIGINT (the client stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
