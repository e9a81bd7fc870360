"""Which files a scenario may read: those in its own folder, and in directories the user allows.

Scenario files are shared between colleagues and loaded by a local web page; a scenario naming
``/home/me/.ssh/id_rsa`` or ``../../other_team/deals.csv`` as an empirical sample would otherwise put what it
reads into a results file without a word. A ``file:`` must therefore resolve, with every symbolic link
followed, inside the scenario's folder, or inside a directory allowed with ``--allow-files DIR`` (repeatable)
or the ``REVSIM_ALLOW_FILES`` environment variable (directories separated by ``:``, ``;`` on Windows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = ["ENVIRONMENT_VARIABLE", "allow_files", "allowed_directories", "outside_message"]

#: The environment variable that allows directories, as ``--allow-files`` does.
ENVIRONMENT_VARIABLE = "REVSIM_ALLOW_FILES"

_ALLOWED: ContextVar[tuple[Path, ...]] = ContextVar("revsim_allowed_files", default=())


@contextmanager
def allow_files(directories: Sequence[str | os.PathLike[str]]) -> Iterator[None]:
    """Let scenarios loaded inside the block read files under ``directories`` too."""
    token = _ALLOWED.set(_ALLOWED.get() + tuple(Path(d).resolve() for d in directories))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def allowed_directories() -> tuple[Path, ...]:
    """The directories allowed besides a scenario's folder (``--allow-files``, then the environment)."""
    from_environment = tuple(Path(d).resolve() for d in os.environ.get(ENVIRONMENT_VARIABLE, "").split(os.pathsep)
                             if d.strip())
    return _ALLOWED.get() + from_environment


def outside_message(written: str, file: Path, base_dir: Path) -> str | None:
    """Why ``file`` (named ``written`` in a scenario of ``base_dir``) may not be read, or None when it may."""
    resolved = file.resolve()
    folder = Path(base_dir).resolve()
    for root in (folder, *allowed_directories()):
        if resolved == root or resolved.is_relative_to(root):
            return None
    via = "" if str(resolved) in (written, str(file)) else f" resolves to {resolved}, which"
    return (f"'{written}'{via} is outside the scenario's folder ({folder}): a scenario reads files in its own "
            f"folder only; move the file there, or allow its directory with --allow-files {resolved.parent} "
            f"(or {ENVIRONMENT_VARIABLE})")
