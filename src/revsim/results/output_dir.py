"""Writing outputs so that nothing is ever half-written.

Every file is written under a temporary name in the destination directory and renamed into place once it is
complete. A new output directory is created only once the results exist, so a run that fails leaves nothing
behind; an existing one is reused only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from revsim.errors import InputError

__all__ = ["check_output_dir", "write_files"]

#: A writer receives a temporary path and writes the whole file there (or, in place of that empty file, a
#: whole directory: a Zarr store).
Writer = Callable[[Path], None]


def check_output_dir(out_dir: Path, names: list[str], *, force: bool) -> None:
    """Claim ``out_dir`` for the command, then refuse to overwrite earlier results without ``force``; refuse a
    path that is a file.

    Called before the run starts, so a user learns about it before waiting for the simulation. Inside a
    command (:func:`revsim.results.output_claim.command_scope`) the directory is created and claimed
    exclusively until the command ends: a second command given the same ``--out`` meanwhile is refused.
    """
    from revsim.results.output_claim import claim_output_dir
    from revsim.results.write_errors import check_creatable, output_error

    try:  # any OS error (read-only, permissions, a name too long, a full disk) becomes a message
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError.single(f"{out_dir} exists and is not a directory", path=("--out",))
        check_creatable(out_dir)
        claim_output_dir(out_dir)  # before looking for earlier results: a run finishing meanwhile is seen
        existing = [n for n in names if (out_dir / n).exists()]
    except OSError as exc:
        raise output_error(exc, out_dir) from None
    if existing and not force:
        raise InputError.single(
            f"{out_dir} already holds {', '.join(existing)}; choose another --out or pass --force to replace them",
            path=("--out",),
        )


def write_files(out_dir: Path, writers: Mapping[str, Writer], *, replaces: Sequence[str] = ()) -> list[Path]:
    """Write each file atomically into ``out_dir`` (created if needed); return the written paths.

    ``replaces`` names earlier outputs in ``out_dir`` (files or folders) that the new files make obsolete:
    they are removed together with the renames, so the directory never holds them beside the new files.

    Files are renamed into place only once every one is complete. If a writer fails or the process is
    interrupted (SIGINT, SIGTERM, SIGHUP) before that, nothing is renamed, the temporary files are removed,
    and a directory this call created is removed again; a signal that arrives during the renames takes
    effect once they are all done, so the directory never holds a mix of old and new files. An operating
    system error (read-only, permissions, a full disk) is reported as
    :func:`~revsim.results.write_errors.output_error` words it: exit code 2 for the path, 1 for the machine.
    """
    from revsim.interruption import deferred_interruption
    from revsim.results.output_claim import partial_prefix
    from revsim.results.write_errors import check_creatable, output_error

    temporary: list[Path] = []
    written: list[Path] = []
    current: str | None = None
    created = False
    try:
        check_creatable(out_dir)
        created = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in writers:
            current = name
            with deferred_interruption("nothing was written"):  # every temporary file is known, to be removed
                fd, tmp = tempfile.mkstemp(prefix=partial_prefix(name), suffix=".partial", dir=out_dir)
                temporary.append(Path(tmp))
                os.close(fd)
            writers[name](Path(tmp))
            if not Path(tmp).is_dir():
                os.chmod(tmp, _file_mode())  # mkstemp makes files private; outputs get the usual permissions
        current = None
        # A signal during the renames takes effect once they are all done: the set of files is never mixed.
        with deferred_interruption("stopped after the results were written"):
            obsolete = _set_aside(out_dir, [n for n in replaces if n not in writers])
            # a directory cannot replace another in one rename: the earlier one is set aside first
            obsolete += _set_aside(out_dir, [name for name, tmp in zip(writers, temporary, strict=True)
                                             if tmp.is_dir() or (out_dir / name).is_dir()])
            for (name, _), tmp in zip(writers.items(), temporary, strict=True):
                os.replace(tmp, out_dir / name)
                written.append(out_dir / name)
            for path in obsolete:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    except BaseException as exc:
        for tmp in temporary:
            try:
                shutil.rmtree(tmp) if tmp.is_dir() and not tmp.is_symlink() else tmp.unlink(missing_ok=True)
            except OSError:
                pass
        if created and len(written) < len(writers):
            shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(exc, OSError):
            raise output_error(exc, out_dir, name=current) from None
        raise
    return written


def _set_aside(out_dir: Path, names: Sequence[str]) -> list[Path]:
    """Rename the outputs ``names`` that exist out of the way (to temporary names a later run would clean up
    if this one died now); return their new paths."""
    from revsim.results.output_claim import partial_prefix

    moved = []
    for name in names:
        path = out_dir / name
        if path.exists() or path.is_symlink():
            aside = out_dir / f"{partial_prefix(name)}{os.urandom(4).hex()}.partial"
            os.replace(path, aside)
            moved.append(aside)
    return moved


def _file_mode() -> int:
    """The permissions a new file gets from ``open`` (0o666 less the process's umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
