"""Helpers for tasks that an object owns."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancels an owned task and waits until it has finished (None: nothing to do).

    The task's own CancelledError is absorbed; a cancellation of the caller while it waits
    propagates, so an owner that is itself being cancelled still stops."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
