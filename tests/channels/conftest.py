"""The chat endpoint served in-process by uvicorn on a free port, on a real Redis and a
DialogueCore with the fake engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis

from channels.admission import AdmissionLimits, SessionAdmission
from channels.fanout import Fanout
from channels.limits import ChatLimits
from channels.sessions import TokenStore, token_key
from channels.webchat import HUMAN_PAYLOAD, ChatEndpoint
from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Button, Channel, EngineAnswer, Handoff, Link
from dialogue.store import ConversationStore
from rathausbot.health import HealthMonitor
from rathausbot.http import create_app, server_config
from tests.fakes import FakeEngine
from tests.redis_server import free_port

GREETING = "Guten Tag! Ich bin ein automatisierter Assistent, kein Mensch."


def scripted(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text == "/greet":
        buttons = (Button("Mit einem Menschen sprechen", HUMAN_PAYLOAD), Button("Weiter", "/deny"))
        return EngineAnswer((BotReply(GREETING, buttons=buttons),))
    if text == HUMAN_PAYLOAD:
        return EngineAnswer((BotReply("Ich verbinde Sie.", handoff=Handoff("user_request")),))
    if text == "/deny":
        return EngineAnswer((BotReply("In Ordnung."),))
    link = Link("Formular", "https://musterstadt.example/formular")
    return EngineAnswer((BotReply(f"Echo: {text}", links=(link,)),))


@dataclass
class ChatServer:
    url: str
    http_url: str
    endpoint: ChatEndpoint
    store: ConversationStore
    engine: FakeEngine
    redis: Redis
    admission: SessionAdmission

    async def endpoint_session(self, token: str | None) -> str:
        """The session id behind a token (read from Redis, as any gateway would)."""
        assert token is not None
        session_id = await self.redis.get(token_key(token))
        assert isinstance(session_id, str)
        return session_id


ServeChat = Callable[..., AbstractAsyncContextManager[ChatServer]]


@pytest.fixture
def serve_chat(redis: Redis) -> ServeChat:
    """`async with serve_chat(rate_burst=3, ...) as server:` (ChatLimits options; the
    admission limits and proxy addresses as the gateway takes them)."""

    @contextlib.asynccontextmanager
    async def serve(
        max_message_chars: int = 2000,
        admission: AdmissionLimits | None = None,
        forwarded_allow_ips: tuple[str, ...] = (),
        health_token: str | None = None,
        **limits: object,
    ) -> AsyncIterator[ChatServer]:
        engine = FakeEngine(scripted)
        async with (
            ConversationStore(redis, retention_s=3600) as store,
            Fanout(redis) as fanout,
            httpx.AsyncClient() as http,
        ):
            core = DialogueCore(engine, store, max_message_chars=max_message_chars)
            chat_limits = ChatLimits(**limits)  # type: ignore[arg-type]
            session_admission = SessionAdmission(
                redis, limits=admission or AdmissionLimits(session_burst=1000)
            )
            endpoint = ChatEndpoint(
                core=core,
                store=store,
                tokens=TokenStore(redis, idle_s=chat_limits.session_idle_s),
                fanout=fanout,
                limits=chat_limits,
                admission=session_admission,
            )
            health = HealthMonitor(
                redis=redis,
                http=http,
                rasa_url="http://127.0.0.1:9",
                rasa_token="-",
                actions_url="http://127.0.0.1:9",
                start_timeout_s=1,
            )
            port = free_port()
            config = server_config(
                create_app(health=health, chat=endpoint, health_token=health_token),
                host="127.0.0.1",
                port=port,
                forwarded_allow_ips=forwarded_allow_ips,
            )
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            await fanout.wait_subscribed()
            while not server.started:
                await asyncio.sleep(0.01)
            try:
                yield ChatServer(
                    f"ws://127.0.0.1:{port}/ws/chat",
                    f"http://127.0.0.1:{port}",
                    endpoint,
                    store,
                    engine,
                    redis,
                    session_admission,
                )
            finally:
                server.should_exit = True
                await task

    return serve
