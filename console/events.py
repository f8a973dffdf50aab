"""Live inbox updates: one Redis subscription per gateway (new cases on `rb:events:cases`,
console changes on `rb:events:console`) fanned out to the open inbox pages' event streams,
each with a small bounded queue. Use as `async with hub:`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Self

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from console.work import CONSOLE_EVENTS_CHANNEL
from contract.records import CASE_EVENTS_CHANNEL
from dialogue.tasks import cancel_and_wait

log = logging.getLogger(__name__)
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


class EventKind(Enum):
    OPENED = "opened"  # a new case
    CHANGED = "changed"  # claimed, status changed, ...


@dataclass(frozen=True, slots=True)
class InboxEvent:
    kind: EventKind
    item_id: str


def parse_event(channel: str, data: str) -> InboxEvent | None:
    try:
        document = json.loads(data)
        item_id = document.get("case_id") or document.get("id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(item_id, str):
        return None
    kind = EventKind.OPENED if channel == CASE_EVENTS_CHANNEL else EventKind.CHANGED
    return InboxEvent(kind, item_id)


class EventHub:
    """At most `max_streams` listeners; each keeps at most `queue_size` events (older ones
    are dropped: the page reloads its rows on any event anyway)."""

    def __init__(self, redis: Redis, *, max_streams: int = 100, queue_size: int = 16) -> None:
        if not 1 <= max_streams <= 10_000 or not 1 <= queue_size <= 1000:
            raise ValueError("max_streams 1..10000, queue_size 1..1000")
        self._redis = redis
        self._max_streams = max_streams
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[InboxEvent]] = set()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="console-events")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def wait_subscribed(self) -> None:
        await self._subscribed.wait()

    @property
    def full(self) -> bool:
        return len(self._queues) >= self._max_streams

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[InboxEvent]]:
        queue: asyncio.Queue[InboxEvent] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def dispatch(self, event: InboxEvent) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CASE_EVENTS_CHANNEL, CONSOLE_EVENTS_CHANNEL)
                self._subscribed.set()
                delay = 0.05
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    event = parse_event(str(message["channel"]), str(message["data"]))
                    if event is not None:
                        self.dispatch(event)
            except _UNREACHABLE as exc:
                if self._subscribed.is_set():
                    log.warning("console events lost Redis (%s); retrying", type(exc).__name__)
                self._subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(*_UNREACHABLE):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
