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


def raise_if_cancelled() -> None:
    """Raises CancelledError when the current task was asked to stop but the request never
    arrived as an exception: redis-py 8.1 swallows a cancellation that lands inside some of
    its commands (a loop of two commands, cancelled at random: about one in five). A loop
    that issues Redis commands calls this after them, so that `cancel()` still ends it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
