"""A test client of the chat protocol over a real WebSocket (python-websockets)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from channels.protocol import (
    Ack,
    AskHuman,
    BotLine,
    Choose,
    ClientMessage,
    Error,
    Hello,
    SendText,
    ServerMessage,
    Typing,
    Welcome,
    encode_client,
    parse_server,
)

# A safety net so that a broken server fails a test instead of hanging it; never a
# measure of speed (Rasa on a busy 2-core machine may take seconds).
SAFETY_S = 120.0
_ids = itertools.count(1)


class ChatClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.token: str | None = None
        self.welcome: Welcome | None = None

    async def send(self, message: ClientMessage) -> None:
        await self.ws.send(encode_client(message))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self) -> ServerMessage:
        async with asyncio.timeout(SAFETY_S):
            return parse_server(await self.ws.recv())

    async def until(self, done: Callable[[ServerMessage], bool]) -> list[ServerMessage]:
        """Frames up to and including the first for which `done` is true."""
        seen: list[ServerMessage] = []
        while True:
            message = await self.recv()
            seen.append(message)
            if done(message):
                return seen

    async def hello(self, token: str | None = None) -> list[ServerMessage]:
        """Welcome, then (for a new session) the greeting up to the end of typing."""
        await self.send(Hello(token=token))
        first = await self.recv()
        assert isinstance(first, Welcome), first
        self.welcome = first
        self.token = first.token
        if first.resumed:
            return [first]
        return [first, *await self.until(lambda m: m == Typing(False))]

    async def turn(self, message: SendText | Choose | AskHuman) -> list[ServerMessage]:
        """Sends one message and returns the frames of its turn (ack ... typing off, or
        the error that refused it)."""
        await self.send(message)
        acked = False

        def done(m: ServerMessage) -> bool:
            nonlocal acked
            acked = acked or m == Ack(message.id)
            return (acked and m == Typing(False)) or (isinstance(m, Error) and m.id == message.id)

        return await self.until(done)

    async def say(self, text: str) -> list[ServerMessage]:
        return await self.turn(SendText(f"t{next(_ids)}", text))

    async def close_code(self) -> int | None:
        """Reads until the server closes; its close code."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(SAFETY_S):
                while True:
                    await self.ws.recv()
        return self.ws.close_code


def bot_texts(messages: list[ServerMessage]) -> str:
    return " ".join(m.text for m in messages if isinstance(m, BotLine))


@contextlib.asynccontextmanager
async def chat(
    url: str, *, origin: str | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[ChatClient]:
    async with connect(
        url,
        origin=Origin(origin) if origin else None,
        additional_headers=headers,
        max_size=None,
    ) as ws:
        yield ChatClient(ws)
