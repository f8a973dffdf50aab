"""Several Rasa servers on one Redis tracker store, each conversation pinned to one of them.

Rasa 3.6's open-source `RedisLockStore` reads, changes and writes a conversation's lock
without a transaction, so two servers working on one conversation at once can both take the
lock. The gateway therefore sends every request of a conversation to one server, chosen by
rendezvous hashing of its id (stable across gateways and restarts; adding a server moves only
the conversations it wins). A server that cannot be reached is skipped for `retry_after_s`
and its conversations go to their next server; once it is back they return to it.

A request fails over only when it never reached Rasa (connection refused or timed out while
connecting): a message Rasa may already have processed is never sent twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from dialogue.messages import BotReply, Channel, EngineAnswer
from dialogue.rasa import EngineUnavailable, EngineUnreachable, RasaClient

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SERVERS = 16


def rank(session_id: str, servers: Sequence[str]) -> list[int]:
    """The servers' indices in the order a conversation tries them (highest random weight
    first): the same on every gateway, for the same id and server URLs."""

    def weight(index: int) -> bytes:
        return hashlib.sha256(f"{servers[index]}\n{session_id}".encode()).digest()

    return sorted(range(len(servers)), key=weight, reverse=True)


class PinnedRasa:
    """A `DialogueEngine` (and the takeover's Rasa API) over several Rasa servers."""

    def __init__(
        self,
        clients: Sequence[RasaClient],
        urls: Sequence[str],
        *,
        retry_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clients[i]` talks to `urls[i]` (the URLs are what the hash uses)."""
        if not 1 <= len(clients) <= MAX_SERVERS or len(clients) != len(urls):
            raise ValueError(f"1 to {MAX_SERVERS} Rasa servers, one URL each")
        if len(set(urls)) != len(urls):
            raise ValueError("a Rasa server is named twice")
        if not 0 < retry_after_s <= 300:
            raise ValueError("retry_after_s must be in (0, 300]")
        self._clients = list(clients)
        self._urls = tuple(urls)
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._down_until = [0.0] * len(clients)

    def order(self, session_id: str) -> list[int]:
        """The servers to try for `session_id` now: its ranking, servers marked down last."""
        now = self._clock()
        ranked = rank(session_id, self._urls)
        up = [i for i in ranked if self._down_until[i] <= now]
        return up + [i for i in ranked if self._down_until[i] > now]

    def down(self) -> list[str]:
        """The URLs of the servers skipped at the moment."""
        now = self._clock()
        return [url for url, until in zip(self._urls, self._down_until, strict=True) if until > now]

    async def send(self, session_id: str, channel: Channel, text: str) -> EngineAnswer:
        return await self._first_reachable(session_id, lambda c: c.send(session_id, channel, text))

    async def append_events(self, session_id: str, events: list[dict[str, object]]) -> bool:
        return await self._first_reachable(
            session_id, lambda c: c.append_events(session_id, events)
        )

    async def execute(self, session_id: str, action: str) -> tuple[BotReply, ...]:
        return await self._first_reachable(session_id, lambda c: c.execute(session_id, action))

    async def _first_reachable(
        self, session_id: str, call: Callable[[RasaClient], Awaitable[T]]
    ) -> T:
        """`call` on the conversation's server, or the next one in its order while a server
        cannot be reached (a request that reached one is never repeated elsewhere)."""
        for index in self.order(session_id):
            try:
                result = await call(self._clients[index])
            except EngineUnreachable as exc:
                self._mark_down(index, exc)
                continue
            self._down_until[index] = 0.0
            return result
        raise EngineUnavailable("no Rasa server reachable")

    def _mark_down(self, index: int, exc: EngineUnreachable) -> None:
        if self._down_until[index] <= self._clock():
            log.warning("Rasa server %d of %d unreachable (%s)", index + 1, len(self._urls), exc)
        self._down_until[index] = self._clock() + self._retry_after_s

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
