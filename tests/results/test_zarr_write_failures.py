"""A failed zarr write waits for the writes still in flight before its error goes on (no file after cleanup)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from revsim.results import zarr_store


def test_a_failed_write_waits_for_the_other_writes_in_flight(tmp_path: Path) -> None:
    from zarr.core.sync import _get_loop

    late = tmp_path / "late"

    async def slow_write() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(late.write_bytes, b"x")

    asyncio.run_coroutine_threadsafe(slow_write(), _get_loop())
    started = time.monotonic()
    with pytest.raises(OSError, match="device is full"):
        with zarr_store._zarr_writes():
            raise OSError(28, "device is full")
    assert late.exists(), "the error went on while a write was still in flight"
    assert time.monotonic() - started >= 0.25


def test_a_write_in_flight_that_fails_too_is_waited_for(tmp_path: Path) -> None:
    from zarr.core.sync import _get_loop

    async def failing_write() -> None:
        await asyncio.sleep(0.1)
        await asyncio.to_thread((tmp_path / "gone" / "file").write_bytes, b"x")

    task = asyncio.run_coroutine_threadsafe(failing_write(), _get_loop())
    with pytest.raises(OSError):
        with zarr_store._zarr_writes():
            raise OSError(28, "device is full")
    assert task.done()
    assert isinstance(task.exception(), FileNotFoundError)
