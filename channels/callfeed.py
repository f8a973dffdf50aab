"""The live transcript of a browser call in its chat session's tabs: what the caller said
and what the bot says appear in the chat log as they happen (the call's text alternative,
EN 301 549). Lines go through the chat fan-out like another tab's; best effort, bounded."""

from __future__ import annotations

import asyncio
import logging

from channels.fanout import Fanout
from channels.protocol import BotLine, ServerMessage, UserLine, encode_server

log = logging.getLogger(__name__)

CONN_ID = "voice-call"  # the fan-out's sender id: every tab of the session gets the lines


class CallTranscriptFeed:
    """`said(session_id, text)` / `heard(...)` never block: lines wait in a bounded queue
    (the oldest dropped when full) for `run()`, which the gateway owns."""

    def __init__(self, fanout: Fanout, *, queue: int = 256) -> None:
        if not 8 <= queue <= 100_000:
            raise ValueError("queue must be in [8, 100000]")
        self._fanout = fanout
        self._queue: asyncio.Queue[tuple[str, ServerMessage]] = asyncio.Queue(maxsize=queue)
        self.dropped = 0

    def heard(self, session_id: str, text: str) -> None:
        """The caller's recognised words."""
        if text.strip():
            self._put(session_id, UserLine(text))

    def said(self, session_id: str, text: str) -> None:
        """A sentence the bot speaks."""
        if text.strip():
            self._put(session_id, BotLine(text))

    def _put(self, session_id: str, message: ServerMessage) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait((session_id, message))

    async def run(self) -> None:
        while True:
            session_id, message = await self._queue.get()
            await self._fanout.publish(session_id, CONN_ID, encode_server(message))
