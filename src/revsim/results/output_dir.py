"""Writing outputs so that nothing is ever half-written.

Every file is written under a temporary name in the destination directory and renamed into place once it is
complete. A new output directory is created only once the results exist, so a run that fails leaves nothing
behind; an existing one is reused only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from revsim.errors import InputError

__all__ = ["check_output_dir", "write_files"]

#: A writer receives a temporary path and writes the whole file there.
Writer = Callable[[Path], None]


def check_output_dir(out_dir: Path, names: list[str], *, force: bool) -> None:
    """Refuse to overwrite earlier results without ``force``; refuse a path that is a file.

    Called before the run starts, so a user learns about it before waiting for the simulation.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError.single(f"{out_dir} exists and is not a directory", path=("--out",))
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not force:
        raise InputError.single(
            f"{out_dir} already holds {', '.join(existing)}; choose another --out or pass --force to replace them",
            path=("--out",),
        )


def write_files(out_dir: Path, writers: Mapping[str, Writer]) -> list[Path]:
    """Write each file atomically into ``out_dir`` (created if needed); return the written paths.

    If any writer fails, the files already renamed into place stay, the temporary files are removed, and a
    directory this call created is removed again.
    """
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary: list[Path] = []
    try:
        for name in writers:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=out_dir)
            os.close(fd)
            temporary.append(Path(tmp))
            writers[name](Path(tmp))
        written = []
        for (name, _), tmp in zip(writers.items(), temporary, strict=True):
            os.replace(tmp, out_dir / name)
            written.append(out_dir / name)
        return written
    except BaseException:
        for tmp in temporary:
            tmp.unlink(missing_ok=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
