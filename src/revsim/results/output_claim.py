"""An exclusive claim on an output directory for the length of a command, and the clean-up of dead writers' files.

Two commands given the same new ``--out`` at once would both find it free, both simulate, and one would
silently replace the other's results. A command therefore claims its output directory before checking it:
it creates the directory if needed and holds an exclusive ``flock`` on ``DIR/.revsim.lock`` until the command
ends. A second command finds the lock held and refuses (exit code 2), naming the process that holds it. The
kernel releases the lock of a process that dies (even by SIGKILL), so a claim is never stale.

Claims are taken only inside :func:`command_scope` (the command line wraps every command in it), which
releases them when the command ends: the lock file is removed, and a directory the claim created is removed
again when nothing was written into it.

Temporary files are named ``.NAME.PID.RANDOM.partial`` after the process writing them; a claim removes those
whose process is gone (killed before it could clean up), or is a newer process with a reused id.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOCK_NAME", "claim_output_dir", "command_scope", "output_name", "partial_prefix", "remove_stale_partials"]

#: The lock file inside a claimed output directory (removed when the command ends).
LOCK_NAME = ".revsim.lock"

#: A temporary file's name (:func:`partial_prefix`): ``.NAME.PID.RANDOM.partial``.
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.partial$")


@dataclass
class _Claim:
    directory: Path
    fd: int
    created: bool


_claims: dict[Path, _Claim] = {}
_scope = {"depth": 0}


@contextmanager
def command_scope() -> Iterator[None]:
    """Hold the output directories claimed inside the block until it ends, then release them."""
    _scope["depth"] += 1
    try:
        yield
    finally:
        _scope["depth"] -= 1
        if _scope["depth"] == 0:
            for claim in list(_claims.values()):
                _release(claim)
            _claims.clear()


def partial_prefix(name: str) -> str:
    """The prefix of a temporary file for output ``name`` written by this process."""
    return f".{name}.{os.getpid()}."


def output_name(path: Path) -> str:
    """The name of the output that ``path`` is written for: its own, or the one its temporary name was made from."""
    match = _PARTIAL.match(path.name)
    return match["name"] if match else path.name


def claim_output_dir(out_dir: Path) -> bool:
    """Claim ``out_dir`` (created if missing) for the rest of the command; return False outside a command.

    Raises
    ------
    InputError
        When another process holds the claim (exit code 2).
    OSError
        When the directory cannot be created or the lock file cannot be written (the caller words it).
    """
    if _scope["depth"] == 0:
        return False
    key = Path(os.path.abspath(out_dir))
    if key in _claims or any(claimed in key.parents for claimed in _claims):
        return True  # this command's already, or inside a directory it owns (run --report: DIR/report)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = _lock(out_dir)
    except BaseException:
        if created:
            _remove_if_empty(out_dir)
        raise
    _claims[key] = _Claim(out_dir, fd, created)
    remove_stale_partials(out_dir)
    return True


def _lock(out_dir: Path) -> int:
    """Open and lock DIR/.revsim.lock; the lock file may be removed by its previous holder meanwhile: retry."""
    from revsim.errors import InputError

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no claim
        return -1
    path = out_dir / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"another revsim process (pid {holder})" if holder.isdigit() else "another revsim process"
            raise InputError.single(f"{out_dir} is being written by {who}; wait for it to finish or choose "
                                    "another --out", path=("--out",)) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file we locked: lock the new one
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _release(claim: _Claim) -> None:
    if claim.fd >= 0:
        try:
            os.unlink(claim.directory / LOCK_NAME)  # while still holding the lock: no one else holds this file
        except OSError:
            pass
        os.close(claim.fd)
    if claim.created:
        _remove_if_empty(claim.directory)


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass  # it holds outputs (or a file someone else put there)


def remove_stale_partials(directory: Path) -> list[Path]:
    """Remove the temporary files of writers that died before cleaning up; return them."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL.match(entry.name)
        if match is None or entry.is_symlink():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive_since_before(pid, entry.stat(follow_symlinks=False).st_mtime):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):  # an earlier output folder set aside (write_files' replaces)
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _alive_since_before(pid: int, mtime: float) -> bool:
    """True when process ``pid`` runs and started before ``mtime`` (so it may be writing the file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    started = _process_start_time(pid)
    return started is None or started <= mtime + 1.0


def _process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
