"""cancel_and_wait: the owned task's cancellation is absorbed, the caller's own is not."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from dialogue.tasks import cancel_and_wait, raise_if_cancelled


async def test_the_owned_task_is_cancelled_and_awaited() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(forever())
    await started.wait()
    await cancel_and_wait(task)
    assert task.cancelled()
    await cancel_and_wait(None)  # nothing to do
    await cancel_and_wait(task)  # already finished: no error


async def test_the_callers_own_cancellation_propagates() -> None:
    child_started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        child_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # cleans up slowly
            raise

    child = asyncio.create_task(stubborn())
    await child_started.wait()
    owner_waiting = asyncio.Event()

    async def owner() -> str:
        owner_waiting.set()
        await cancel_and_wait(child)
        return "carried on"  # must not happen: the owner itself was cancelled

    task = asyncio.create_task(owner())
    await owner_waiting.wait()
    await asyncio.sleep(0)  # the owner is now awaiting the child
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and child.cancelled()


async def test_a_swallowed_cancellation_still_ends_a_loop_that_checks() -> None:
    rounds: list[int] = []

    async def library_call() -> None:  # as redis-py 8.1 sometimes does with a cancel
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    async def loop() -> None:
        while True:
            rounds.append(1)
            await library_call()
            raise_if_cancelled()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task}, timeout=10)  # bounded: a swallowed cancel would loop on
    assert task.cancelled() and rounds == [1]


async def test_no_cancellation_asked_means_nothing_raised() -> None:
    raise_if_cancelled()  # in a running task without a cancel request
