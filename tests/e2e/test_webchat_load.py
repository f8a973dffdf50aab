"""Load: 200 concurrent chat sessions, each a three-turn conversation through `/ws/chat`
of the real gateway (real Rasa, real Redis). No message may be lost or crossed; no timing
is asserted (`make bench` measures speed)."""

from __future__ import annotations

import asyncio

import pytest

from channels.protocol import Ack, BotLine, SendText, ServerMessage
from channels.sessions import token_key
from dialogue.core import UNAVAILABLE_TEXT
from dialogue.messages import Channel, Role
from rathausbot.app import Runtime
from tests.channels.chat_client import ChatClient, chat
from tests.e2e.conftest import Gateway

pytestmark = pytest.mark.slow

SESSIONS = 200


def turns(n: int) -> list[str]:
    return [f"Guten Tag, hier schreibt Nummer {n}", "Sind Sie ein Mensch?", f"Danke {n}, tschüss"]


def bot_lines(frames: list[ServerMessage]) -> list[str]:
    return [m.text for m in frames if isinstance(m, BotLine)]


async def conversation(client: ChatClient, n: int, start: asyncio.Event) -> list[str]:
    """Runs one session; returns every bot text it received, greeting first."""
    received = bot_lines(await client.hello())
    await start.wait()  # every session is connected before the first turn
    for index, text in enumerate(turns(n)):
        frames = await client.turn(SendText(f"n{n}-{index}", text))
        assert Ack(f"n{n}-{index}") in frames, frames
        received += bot_lines(frames)
    return received


async def test_200_concurrent_sessions_lose_and_cross_nothing(
    gateway: Gateway, rt: Runtime
) -> None:
    url = gateway.url.replace("http://", "ws://") + "/ws/chat"
    start = asyncio.Event()
    clients: dict[int, ChatClient] = {}

    async def session(n: int) -> list[str]:
        async with chat(url) as client:
            clients[n] = client
            return await conversation(client, n, start)

    tasks = [asyncio.create_task(session(n)) for n in range(SESSIONS)]
    while len(clients) < SESSIONS and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    assert len(clients) == SESSIONS, "not every session could connect"
    start.set()
    results = await asyncio.gather(*tasks)

    session_ids: set[str] = set()
    for n, received in enumerate(results):
        assert UNAVAILABLE_TEXT[Channel.WEBCHAT] not in received, f"session {n}: Rasa timed out"
        session_id = await rt.redis.get(token_key(clients[n].token or ""))
        assert isinstance(session_id, str)
        session_ids.add(session_id)
        records = await rt.store.transcript(session_id)
        users = [r.text for r in records if r.role is Role.USER]
        assert users == turns(n), f"session {n}: a message was lost or went elsewhere"
        bots = [r.text for r in records if r.role is Role.BOT and r.text]
        assert bots == received, f"session {n} saw other replies than its transcript holds"
        assert len(received) >= 1 + len(turns(n))  # the greeting, then an answer per turn
    assert len(session_ids) == SESSIONS
    log = gateway.log_path.read_text(errors="replace")
    assert "chat session started" in log  # the gateway's log, at DEBUG level
    for n in (0, SESSIONS - 1):
        assert clients[n].token not in log, "a chat token reached the log"
        for text in turns(n):
            assert text not in log, "a message text reached the log"
