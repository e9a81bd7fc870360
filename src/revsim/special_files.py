"""Refusing special files (FIFOs, devices, sockets) before they are opened.

Opening a FIFO for reading blocks until another process writes to it (``revsim validate`` waited forever), and
a device such as ``/dev/zero`` or ``/dev/urandom`` never ends. Every file revsim reads is looked at with
``stat`` first, which neither blocks nor reads.
"""

from __future__ import annotations

import os
import stat

__all__ = ["special_kind"]

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a directory (``"a named pipe
    (FIFO)"``...), else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None  # missing or unreadable: the caller's open() reports it
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return None
