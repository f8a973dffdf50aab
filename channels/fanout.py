"""Every tab of a chat session sees every line, whichever gateway serves it: frames are
published on a per-session Redis pub/sub channel and delivered to local connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from dialogue.records import KEY_PREFIX
from dialogue.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_PREFIX = f"{KEY_PREFIX}:chat:out:"
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

Deliver = Callable[[str], None]


def fanout_channel(session_id: str) -> str:
    return _PREFIX + session_id


class Fanout:
    """Owns one pattern subscription; use as `async with fanout:`. A connection registers
    a non-blocking `deliver(frame)` callback under its session and its own id; it never
    receives its own frames back."""

    def __init__(self, redis: Redis, *, retry_max_s: float = 2.0) -> None:
        self._redis = redis
        self._retry_max_s = retry_max_s
        self._local: dict[str, dict[str, Deliver]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="chat-fanout")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def wait_subscribed(self) -> None:
        await self._subscribed.wait()

    def register(self, session_id: str, conn_id: str, deliver: Deliver) -> None:
        self._local.setdefault(session_id, {})[conn_id] = deliver

    def unregister(self, session_id: str, conn_id: str) -> None:
        conns = self._local.get(session_id)
        if conns is not None:
            conns.pop(conn_id, None)
            if not conns:
                del self._local[session_id]

    def local_connections(self, session_id: str) -> int:
        return len(self._local.get(session_id, {}))

    async def publish(self, session_id: str, conn_id: str, *frames: str) -> None:
        """Sends frames to the session's other tabs (best effort: a tab that misses one
        sees it in the history when it reconnects)."""
        if not frames:
            return
        body = json.dumps({"from": conn_id, "frames": list(frames)})
        try:
            await self._redis.publish(fanout_channel(session_id), body)
        except _UNREACHABLE as exc:
            log.warning("chat fan-out unavailable: %s", type(exc).__name__)

    def _dispatch(self, channel: str, data: str) -> None:
        conns = self._local.get(channel.removeprefix(_PREFIX))
        if not conns:
            return
        message = json.loads(data)
        for conn_id, deliver in list(conns.items()):
            if conn_id != message["from"]:
                for frame in message["frames"]:
                    deliver(frame)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(_PREFIX + "*")
                self._subscribed.set()
                delay = 0.05
                async for message in pubsub.listen():
                    if message["type"] == "pmessage":
                        self._dispatch(str(message["channel"]), str(message["data"]))
            except _UNREACHABLE as exc:
                if self._subscribed.is_set():
                    log.warning("chat fan-out lost Redis (%s); retrying", type(exc).__name__)
                self._subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
            finally:
                with contextlib.suppress(*_UNREACHABLE):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
