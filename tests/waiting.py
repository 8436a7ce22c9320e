"""Waiting on a condition, never for a guessed time: poll it until it holds, and fail when it does not hold
by a deadline. Every test that waits for another thread, process or server goes through here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_SECONDS = 0.02


def wait_until(condition: Callable[[], object], *, timeout: float = 10, what: str = "the condition") -> None:
    """Return as soon as `condition()` is true; AssertionError naming `what` once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        time.sleep(POLL_SECONDS)


async def wait_until_async(
    condition: Callable[[], object], *, timeout: float = 10, what: str = "the condition"
) -> None:
    """wait_until for a coroutine: the event loop keeps running its other tasks between polls."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        await asyncio.sleep(POLL_SECONDS)
