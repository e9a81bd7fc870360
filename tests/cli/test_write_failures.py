"""Every operating-system error on the write path is one clear message: exit code 2 for a location the user
can change (read-only, full, under a regular file, a dangling symbolic link, an empty or too long name), 1 for
an error of the machine that another location would not cure (an input/output error); temporary files are
removed, and problems of the path are found before the simulation runs.

The read-only and full file systems are small tmpfs mounts, made only when the tests run as root.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from revsim.cli.main import cli

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="tmpfs mounts and Linux errors")

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _mount(point: Path, options: str) -> None:
    point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[list[Path]]:
    points: list[Path] = []
    yield points
    for point in points:
        subprocess.run(["umount", str(point)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path, mounts: list[Path]) -> Path:
    """A 256 kB file system: enough for a lock file and a small CSV, not for results.nc."""
    if not IS_ROOT:
        pytest.skip("mounting a small tmpfs needs root")
    point = tmp_path / "full"
    _mount(point, "size=256k")
    mounts.append(point)
    return point


@pytest.fixture
def read_only(tmp_path: Path, mounts: list[Path]) -> Path:
    """A read-only directory: a read-only tmpfs as root (root ignores permissions), else a mode-555 folder."""
    point = tmp_path / "read_only"
    if IS_ROOT:
        _mount(point, "ro,size=64k")
        mounts.append(point)
    else:
        point.mkdir(mode=0o555)
    return point


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the simulation starts: these problems must be found before it."""
    from revsim import pipeline, streaming
    from revsim.engine import run as engine_run

    def simulate(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation ran before the output path was checked")

    # patched where it is called: a module imported first while the patch is on would keep it for later tests
    for module in (engine_run, pipeline, streaming):
        monkeypatch.setattr(module, "run_draws", simulate)


def _run(scenario: Path, out: str, *more: str):
    return CliRunner().invoke(cli, ["run", str(scenario), "--draws", "200", "--out", out, "--quiet", *more])


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1) for p in folder.rglob("*")}


def test_an_empty_out_is_refused(base_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 no_simulation: None) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = _run(base_scenario, "")
    assert result.exit_code == 2, result.output
    assert ("Error: Invalid value for '--out' / '-o': an empty path names no directory; give a directory "
            "(. for the current one)") in result.stderr
    assert list(work.iterdir()) == [], "something was written in the current directory"


def test_out_under_a_regular_file_is_refused_before_simulating(base_scenario: Path, tmp_path: Path,
                                                               no_simulation: None) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine\n")
    result = _run(base_scenario, str(blocker / "out"))
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --out: cannot create {blocker / 'out'}: {blocker} is a file, not a directory; "
                             "choose another --out\n")
    assert blocker.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "notes.txt"]


def test_a_dangling_symbolic_link_as_out_is_refused_before_simulating(base_scenario: Path, tmp_path: Path,
                                                                      no_simulation: None) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone" / "results")
    result = _run(base_scenario, str(link))
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --out: {link} is a symbolic link to {tmp_path / 'gone' / 'results'}, which "
                             "does not exist; create it or choose another --out\n")
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def test_a_read_only_out_is_refused_before_simulating(base_scenario: Path, read_only: Path,
                                                      no_simulation: None) -> None:
    out = read_only / "out"
    result = _run(base_scenario, str(out))
    assert result.exit_code == 2, result.output
    reason = "the file system is read-only" if IS_ROOT else "permission denied"
    assert result.stderr == f"error: --out: cannot write to {out}: {reason}; choose another --out\n"
    assert list(read_only.iterdir()) == []


def test_a_name_longer_than_the_file_system_allows_is_refused(base_scenario: Path, tmp_path: Path,
                                                              no_simulation: None) -> None:
    out = tmp_path / ("q" * 300)
    result = _run(base_scenario, str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --out: cannot write to ")
    assert result.stderr.endswith(": a name in the path is longer than the file system allows; choose another --out\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml"]


def test_a_full_disk_in_a_real_process_is_one_message_and_leaves_nothing(base_scenario: Path,
                                                                        full_disk: Path) -> None:
    """Before: dozens of h5py tracebacks, a segmentation fault (exit 139) and sometimes a .partial file."""
    out = full_disk / "out"
    proc = subprocess.run([sys.executable, "-m", "revsim.cli.main", "run", str(base_scenario), "--draws", "2000",
                           "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: --out: cannot write results.nc into {out}: the device is full (")
    assert " to write, " in lines[0], "the bytes to write are named"
    assert lines[0].endswith(" free); nothing was written. Free some space or choose another --out")
    assert list(full_disk.iterdir()) == [], _tree(full_disk)


def test_a_disk_that_fills_while_writing_keeps_the_earlier_results(base_scenario: Path, full_disk: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The device looked roomy but filled during the write (another process): the write itself fails."""
    from revsim.results import write_errors

    out = full_disk / "out"
    out.mkdir()
    earlier = {"results.nc": b"earlier results", "summary.csv": b"month\n"}
    for name, content in earlier.items():
        (out / name).write_bytes(content)
    monkeypatch.setattr(write_errors, "free_bytes", lambda path: 10**12)
    result = _run(base_scenario, str(out), "--force")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --out: cannot write results.nc into {out}: the device is full (")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier


def test_an_input_output_error_while_writing_is_a_failure_of_the_machine(
        base_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from revsim.results import storage

    def broken_disk(ds: object, path: Path, keep: str) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage, "write_results", broken_disk)
    out = tmp_path / "out"
    result = _run(base_scenario, str(out))
    assert result.exit_code == 1, result.output
    assert result.stderr == f"error: cannot write results.nc into {out}: Input/output error; nothing was written\n"
    assert not out.exists()


def test_force_replaces_the_earlier_report_with_the_results(base_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(base_scenario, str(out), "--report").exit_code == 0
    (out / "report" / "arr_fan.svg").write_text("<svg/>")  # a chart of an earlier report in another format
    (out / "report" / "team_partners.png").write_bytes(b"png")  # a team the scenario no longer has
    result = _run(base_scenario, str(out), "--report", "--force", "--seed", "5")
    assert result.exit_code == 0, result.output
    fresh = tmp_path / "fresh"
    assert _run(base_scenario, str(fresh), "--report", "--seed", "5").exit_code == 0
    assert sorted(_tree(out)) == sorted(_tree(fresh)), "files of the earlier report were kept"

    result = _run(base_scenario, str(out), "--force")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.nc", "summary.csv"], "the report of other results"


# ------------------------------------------------------------------------------------------- streamed runs


def test_a_read_only_out_is_refused_before_streaming(base_scenario: Path, read_only: Path) -> None:
    out = read_only / "out"
    result = _run(base_scenario, str(out), "--store", "zarr")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --out: cannot write to {out}: ")
    assert list(read_only.iterdir()) == []


def test_a_folder_that_turns_read_only_while_streaming_keeps_the_earlier_results(
        base_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block's write fails on the path (exit code 2, the path named): the partial store is removed."""
    from revsim.results import zarr_store

    out = tmp_path / "out"
    first = _run(base_scenario, str(out), "--store", "zarr")
    assert first.exit_code == 0, first.output
    earlier = _tree(out)
    written = []
    real_write = zarr_store.write_block

    def turns_read_only(path: Path, block: object) -> None:
        if written:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_write(path, block)
        written.append(path)

    monkeypatch.setattr(zarr_store, "write_block", turns_read_only)
    result = _run(base_scenario, str(out), "--store", "zarr", "--force", "--threads", "1")
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: --out: cannot write results.zarr into {out}: the file system is read-only; "
                             "choose another --out\n")
    assert written, "the failure came after a block was written"
    assert _tree(out) == earlier


def test_a_store_a_real_device_clearly_cannot_take_is_refused(base_scenario: Path, full_disk: Path) -> None:
    out = full_disk / "out"
    proc = subprocess.run([sys.executable, "-m", "revsim.cli.main", "run", str(base_scenario), "--draws", "4000",
                           "--out", str(out), "--quiet", "--store", "zarr"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: --out: {out} has ")
    assert " free, and results.zarr of 4,000 draws needs at least " in lines[0]
    assert list(full_disk.iterdir()) == [], _tree(full_disk)


def test_a_disk_that_fills_while_streaming_leaves_nothing(base_scenario: Path, full_disk: Path) -> None:
    """Few enough draws to pass the check (room for a tenth of the uncompressed store), too many to fit."""
    out = full_disk / "out"
    proc = subprocess.run([sys.executable, "-m", "revsim.cli.main", "run", str(base_scenario), "--draws", "100",
                           "--threads", "1", "--out", str(out), "--quiet", "--store", "zarr"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: --out: cannot write results.zarr into {out}: the device is full (")
    assert lines[0].endswith(" free); nothing was written. Free some space or choose another --out")
    assert list(full_disk.iterdir()) == [], _tree(full_disk)


# ------------------------------------------------------------------------------------------- other commands


def test_a_report_on_a_full_disk_is_a_usage_error_and_leaves_nothing(base_scenario: Path, tmp_path: Path,
                                                                    full_disk: Path) -> None:
    """The other commands write through the same code: a full device is another --out to choose (exit 2)."""
    run_dir = tmp_path / "run"
    assert _run(base_scenario, str(run_dir)).exit_code == 0
    out = full_disk / "report"
    result = CliRunner().invoke(cli, ["report", str(run_dir / "results.nc"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --out: cannot write ")
    assert f" into {out}: the device is full (" in result.stderr
    assert result.stderr.endswith(" free); nothing was written. Free some space or choose another --out\n")
    assert list(full_disk.iterdir()) == [], _tree(full_disk)


def test_the_exit_code_of_each_write_error() -> None:
    """Another location cures a full or read-only device (2); an input/output error is the machine's (1)."""
    from revsim.results.write_errors import NoRoom, output_error

    out = Path("out")
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
        assert output_error(OSError(code, os.strerror(code)), out, name="results.nc").exit_code == 2, code
    room = output_error(NoRoom(3_000_000, 250_000, out / "results.nc"), out, name="results.nc")
    assert (room.exit_code, str(room)) == (2, "--out: cannot write results.nc into out: the device is full (3.0 MB "
                                              "to write, 250.0 kB free); nothing was written. Free some space or "
                                              "choose another --out")
    assert output_error(OSError(errno.EIO, "Input/output error"), out, name="results.nc").exit_code == 1


# ------------------------------------------------------------------------------- room for a streamed store


def _free_space(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    import shutil

    real = shutil.disk_usage

    def disk_usage(path: object) -> object:
        usage = real(path)
        return type(usage)(usage.total, usage.total - free, free)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_a_store_the_device_clearly_cannot_take_is_refused_before_simulating(
        base_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_simulation: None,
        backend: str) -> None:
    """The store's uncompressed size is known before a draw is computed: less room than a tenth of it is
    refused (exit 2, the folder and the sizes named), before a dask cluster is started, and nothing written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.nc").write_bytes(b"earlier results")
    _free_space(monkeypatch, 50_000)
    result = _run(base_scenario, str(out), "--store", "zarr", "--backend", backend, "--force")
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith(f"error: --out: {out} has 50.0 kB free, and results.zarr of 200 draws needs at least ")
    assert " uncompressed, compressed to 10% at best); nothing was written. Free some space, choose another " \
           "--out, or run fewer draws (" in message
    assert len(message.splitlines()) == 1
    assert _tree(out) == {"results.nc": 15}


def test_a_store_that_may_fit_is_streamed(base_scenario: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for the store as compressed (not for its uncompressed bound, about three times larger): it runs."""
    out = tmp_path / "out"
    assert _run(base_scenario, str(tmp_path / "first"), "--store", "zarr").exit_code == 0
    written = sum(p.stat().st_blocks * 512 for p in (tmp_path / "first" / "results.zarr").rglob("*") if p.is_file())
    _free_space(monkeypatch, written)
    result = _run(base_scenario, str(out), "--store", "zarr")
    assert result.exit_code == 0, result.output
    assert (out / "results.zarr").is_dir()
