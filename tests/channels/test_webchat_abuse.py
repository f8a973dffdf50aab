"""Hostile use of /ws/chat over real sockets: crafted frames, session floods, forged
proxy headers, Redis near its memory limit, sessions nobody writes in."""

from __future__ import annotations

import logging

import pytest

from channels.admission import MIB, AdmissionLimits
from channels.protocol import CloseCode, Error, ErrorCode, SendText, ServerMessage
from channels.sessions import token_key
from dialogue.records import session_key, transcript_key
from tests.channels.chat_client import chat
from tests.channels.conftest import ServeChat

NESTED_OPEN = "[" * 5000  # RecursionError in json.loads before the fix
NESTED_CLOSED = "[" * 5000 + "]" * 5000
HUGE_INT = '{"type": "text", "id": "x", "text": ' + "7" * 5000 + "}"  # int() digit limit


def refusal(message: ServerMessage) -> ErrorCode | None:
    return message.code if isinstance(message, Error) else None


@pytest.mark.parametrize("frame", [NESTED_OPEN, NESTED_CLOSED, HUGE_INT])
async def test_a_crafted_frame_is_refused_and_closes_cleanly(
    serve_chat: ServeChat, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        serve_chat(max_frame_bytes=16384) as server,
        chat(server.url) as bad,
        chat(server.url) as good,
    ):
        await good.hello()
        await bad.hello()
        caplog.clear()
        await bad.send_raw(frame)
        assert refusal(await bad.recv()) is ErrorCode.FRAME_TOO_COMPLEX
        assert await bad.close_code() == CloseCode.POLICY
        assert "Echo: weiter" in str(await good.turn(SendText("g1", "weiter")))
    lines = [r for r in caplog.records if "frame_too_complex" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_session_flood_from_one_address_is_refused(serve_chat: ServeChat) -> None:
    async with serve_chat(admission=AdmissionLimits(session_burst=3)) as server:
        tokens = []
        for _ in range(3):
            async with chat(server.url) as client:
                await client.hello()
                tokens.append(client.token)
        async with chat(server.url) as fourth:
            await fourth.send_raw('{"type": "hello", "v": 1, "token": null}')
            reply = await fourth.recv()
            assert refusal(reply) is ErrorCode.TOO_MANY_SESSIONS
            assert isinstance(reply, Error) and "zu viele Chats" in reply.text
            assert await fourth.close_code() == CloseCode.POLICY
        async with chat(server.url) as resumed:  # running conversations go on
            assert (await resumed.hello(tokens[0]))[0].resumed  # type: ignore[union-attr]


async def test_a_forged_forwarded_for_does_not_bypass_the_limits(serve_chat: ServeChat) -> None:
    async with serve_chat(
        admission=AdmissionLimits(session_burst=2), max_connections_per_ip=2
    ) as server:
        for n in range(2):
            async with chat(server.url, headers={"X-Forwarded-For": f"198.51.100.{n}"}) as c:
                await c.hello()
        async with chat(server.url, headers={"X-Forwarded-For": "198.51.100.9"}) as third:
            await third.send_raw('{"type": "hello", "v": 1, "token": null}')
            assert refusal(await third.recv()) is ErrorCode.TOO_MANY_SESSIONS
        forged = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(3)]
        async with (
            chat(server.url, headers=forged[0]),
            chat(server.url, headers=forged[1]),
            chat(server.url, headers=forged[2]) as third,
        ):
            assert refusal(await third.recv()) is ErrorCode.TOO_MANY_CONNECTIONS


async def test_a_trusted_proxy_gives_each_client_its_own_limit(serve_chat: ServeChat) -> None:
    async with serve_chat(
        admission=AdmissionLimits(session_burst=1), forwarded_allow_ips=("127.0.0.1",)
    ) as server:
        for n in range(3):
            async with chat(server.url, headers={"X-Forwarded-For": f"198.51.100.{n}"}) as c:
                await c.hello()
        async with chat(server.url, headers={"X-Forwarded-For": "198.51.100.0"}) as again:
            await again.send_raw('{"type": "hello", "v": 1, "token": null}')
            assert refusal(await again.recv()) is ErrorCode.TOO_MANY_SESSIONS


async def test_near_the_memory_limit_only_new_sessions_are_refused(
    serve_chat: ServeChat,
) -> None:
    async with serve_chat() as roomy, chat(roomy.url) as running:
        await running.hello()
        tight = AdmissionLimits(memory_limit_bytes=MIB, soft_limit_percent=1)
        async with serve_chat(admission=tight) as full:
            async with chat(full.url) as new:
                await new.send_raw('{"type": "hello", "v": 1, "token": null}')
                reply = await new.recv()
                assert refusal(reply) is ErrorCode.BUSY
                assert isinstance(reply, Error) and "112" in reply.text
                assert await new.close_code() == CloseCode.POLICY
            async with chat(full.url) as tab:
                await tab.hello(running.token)
                assert "Echo: geht noch" in str(await tab.turn(SendText("m1", "geht noch")))


async def test_a_session_nobody_writes_in_expires_within_minutes(serve_chat: ServeChat) -> None:
    limits = AdmissionLimits(unanswered_s=120)
    async with (
        serve_chat(admission=limits, session_idle_s=1800) as server,
        chat(server.url) as client,
    ):
        await client.hello()
        session = await server.endpoint_session(client.token)
        assert client.token is not None
        keys = [transcript_key(session), session_key(session), token_key(client.token)]
        for key in keys:
            assert 0 < await server.redis.ttl(key) <= 120, key
        await client.turn(SendText("m1", "Jetzt schreibe ich"))
        assert await server.redis.ttl(transcript_key(session)) > 120  # the retention
        assert await server.redis.ttl(session_key(session)) > 120
        assert await server.redis.ttl(token_key(client.token)) > 120  # the idle time
