"""The conversation store against a real Redis, outages included."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from dialogue.messages import Channel, Role
from dialogue.records import Case, TranscriptRecord, session_key, tracker_key, transcript_key
from dialogue.store import ConversationStore, StoreFull
from rathausbot.app import make_redis
from rathausbot.secrets import RedisTarget
from tests.redis_server import RedisServer

RETENTION_S = 3600


def line(text: str, role: Role = Role.USER) -> TranscriptRecord:
    return TranscriptRecord.new(Channel.WEBCHAT, role, text, clock=time.time)


async def test_transcript_is_append_only_in_order_with_retention(redis: Redis) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        lines = [line("Hallo"), line("Guten Tag!", Role.BOT), line("Wann hat das Amt auf?")]
        for record in lines:
            await store.append("s1", record)
        assert await store.transcript("s1") == lines
        assert 0 < await store.ttl(transcript_key("s1")) <= RETENTION_S
        assert 0 < await store.ttl(session_key("s1")) <= RETENTION_S
        session = await store.session("s1")
        assert session is not None
        assert session.channel is Channel.WEBCHAT
        assert session.state == "active"
        assert session.last_seen == lines[-1].ts


async def test_a_retried_append_is_not_written_twice(redis: Redis) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        turn = (line("Hallo"), line("Guten Tag!", Role.BOT))
        await store.append("s1", *turn)
        await store.append("s1", *turn)
        assert await store.transcript("s1") == list(turn)


async def test_an_open_case_keeps_the_transcript_beyond_retention(redis: Redis) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        await store.append("s1", line("Ich möchte mit einem Menschen sprechen"))
        case = Case(Case.new_id(1.0e9), "s1", Channel.WEBCHAT, "user_request", "standesamt", 1.0e9)
        pubsub = redis.pubsub()
        await pubsub.subscribe("rb:events:cases")
        await store.open_case(case)
        await store.append("s1", line("Danke", Role.USER))
        assert await store.case(case.case_id) == case
        assert await store.open_case_ids() == [case.case_id]
        assert await store.ttl(transcript_key("s1")) == -1  # kept until the case is closed
        assert await store.ttl(session_key("s1")) == -1
        session = await store.session("s1")
        assert session is not None and session.case_id == case.case_id
        assert session.state == "handoff"
        messages = []
        async with asyncio.timeout(5):
            while not messages:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message:
                    messages.append(message)
        assert case.case_id in messages[0]["data"]
        await pubsub.aclose()


async def test_a_case_opened_before_the_first_line_still_keeps_it(redis: Redis) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        case = Case(Case.new_id(1.0e9), "s2", Channel.VOICE, "user_request", None, 1.0e9)
        await store.open_case(case)
        await store.append("s2", line("Mensch bitte"))
        assert await store.ttl(transcript_key("s2")) == -1
        session = await store.session("s2")
        assert session is not None
        assert (session.state, session.case_id, session.channel) == (
            "handoff",
            case.case_id,
            Channel.WEBCHAT,
        )


async def test_deleting_a_conversation_removes_transcript_session_and_tracker(
    redis: Redis,
) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        await store.append("s1", line("Hallo"), line("Guten Tag!", Role.BOT))
        await store.append("s2", line("Andere Sitzung"))
        await redis.set(tracker_key("s1"), "{}")
        assert await store.delete_conversation("s1") is True
        assert await store.transcript("s1") == []
        assert await store.session("s1") is None
        assert not await redis.exists(tracker_key("s1"))
        assert [r.text for r in await store.transcript("s2")] == ["Andere Sitzung"]


async def test_a_conversation_with_a_case_is_not_deleted(redis: Redis) -> None:
    async with ConversationStore(redis, retention_s=RETENTION_S) as store:
        await store.append("s1", line("Mensch bitte"))
        await store.open_case(Case(Case.new_id(1.0e9), "s1", Channel.WEBCHAT, "x", None, 1.0e9))
        assert await store.delete_conversation("s1") is False
        assert [r.text for r in await store.transcript("s1")] == ["Mensch bitte"]


@pytest.fixture
async def own_redis(tmp_path: Path) -> RedisServer:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def client_of(server: RedisServer) -> Redis:
    return make_redis(RedisTarget("127.0.0.1", server.port, 0, server.password))


async def test_writes_during_an_outage_arrive_in_order_after_it(own_redis: RedisServer) -> None:
    redis = client_of(own_redis)
    async with ConversationStore(redis, retention_s=RETENTION_S, retry_initial_s=0.05) as store:
        before = line("vor dem Ausfall")
        await store.append("s1", before)
        own_redis.stop()
        during = [line("während 1"), line("während 2", Role.BOT)]
        for record in during:
            await store.append("s1", record)  # accepted, not lost
        assert store.pending == 2
        own_redis.start()
        await asyncio.wait_for(store.wait_flushed(), 10)
        after = line("nach dem Ausfall")
        await store.append("s1", after)
        assert await store.transcript("s1") == [before, *during, after]
    await redis.aclose()


async def test_a_full_outbox_refuses_instead_of_dropping(own_redis: RedisServer) -> None:
    redis = client_of(own_redis)
    own_redis.stop()
    async with ConversationStore(redis, retention_s=RETENTION_S, outbox_limit=2) as store:
        await store.append("s1", line("eins"))
        await store.append("s1", line("zwei"))
        with pytest.raises(StoreFull):
            await store.append("s1", line("drei"))
        assert store.pending == 2
        own_redis.start()
        await asyncio.wait_for(store.wait_flushed(), 10)
        assert [r.text for r in await store.transcript("s1")] == ["eins", "zwei"]
    await redis.aclose()


async def test_what_redis_lacks_at_shutdown_survives_a_restart(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    spill = tmp_path / "outbox.jsonl"
    redis = client_of(own_redis)
    own_redis.stop()
    record = line("gespeichert trotz Ausfall")
    case = Case(Case.new_id(1.0e9), "s1", Channel.VOICE, "user_request", None, 1.0e9)
    async with ConversationStore(redis, retention_s=RETENTION_S, spill_path=spill) as store:
        await store.append("s1", record)
        await store.open_case(case)
        await store.attach_recording(case.case_id, "call.wav")
        await store.note_transfer(case.case_id, "sip:buergerbuero@pbx.example")
    assert spill.exists()
    own_redis.start()
    async with ConversationStore(redis, retention_s=RETENTION_S, spill_path=spill) as store:
        await asyncio.wait_for(store.wait_flushed(), 10)
        assert await store.transcript("s1") == [record]
        assert await store.case(case.case_id) == case
        fields = await redis.hgetall(f"rb:case:{case.case_id}")
        assert fields["recording"] == "call.wav"
        assert fields["transferred_to"] == "sip:buergerbuero@pbx.example"
    assert not spill.exists()
    await redis.aclose()
