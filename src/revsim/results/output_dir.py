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
    """Claim ``out_dir`` for the command, then refuse to overwrite earlier results without ``force``; refuse a
    path that is a file.

    Called before the run starts, so a user learns about it before waiting for the simulation. Inside a
    command (:func:`revsim.results.output_claim.command_scope`) the directory is created and claimed
    exclusively until the command ends: a second command given the same ``--out`` meanwhile is refused.
    """
    from revsim.results.output_claim import claim_output_dir

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError.single(f"{out_dir} exists and is not a directory", path=("--out",))
    claim_output_dir(out_dir)  # before looking for earlier results: a run finishing meanwhile is seen
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not force:
        raise InputError.single(
            f"{out_dir} already holds {', '.join(existing)}; choose another --out or pass --force to replace them",
            path=("--out",),
        )


def write_files(out_dir: Path, writers: Mapping[str, Writer]) -> list[Path]:
    """Write each file atomically into ``out_dir`` (created if needed); return the written paths.

    Files are renamed into place only once every one is complete. If a writer fails or the process is
    interrupted (SIGINT, SIGTERM) before that, nothing is renamed, the temporary files are removed, and a
    directory this call created is removed again; a signal that arrives during the renames takes effect once
    they are all done, so the directory never holds a mix of old and new files.
    """
    from revsim.interruption import deferred_interruption
    from revsim.results.output_claim import partial_prefix

    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary: list[Path] = []
    written: list[Path] = []
    try:
        for name in writers:
            with deferred_interruption("nothing was written"):  # every temporary file is known, to be removed
                fd, tmp = tempfile.mkstemp(prefix=partial_prefix(name), suffix=".partial", dir=out_dir)
                temporary.append(Path(tmp))
                os.close(fd)
            writers[name](Path(tmp))
            os.chmod(tmp, _file_mode())  # mkstemp makes files private; outputs get the usual permissions
        # A signal during the renames takes effect once they are all done: the set of files is never mixed.
        with deferred_interruption("stopped after the results were written"):
            for (name, _), tmp in zip(writers.items(), temporary, strict=True):
                os.replace(tmp, out_dir / name)
                written.append(out_dir / name)
    except BaseException:
        for tmp in temporary:
            tmp.unlink(missing_ok=True)
        if created and len(written) < len(writers):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return written


def _file_mode() -> int:
    """The permissions a new file gets from ``open`` (0o666 less the process's umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
