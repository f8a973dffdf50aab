"""Redis killed with SIGKILL (not SIGTERM) mid-conversation, with the AOF policy the
gateway ships (`appendonly yes`, `appendfsync everysec`). docs/deployment.md calls durable
what Redis acknowledged before a crash of Redis alone: after the gateway restarted Redis
from its append-only file, no transcript line, case or booking confirmed before the kill
is missing, and the conversation goes on."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest

from contract.records import OPEN_CASES_KEY, Booking, Channel, case_key
from dialogue.metrics import BERLIN
from intents.actions.records import BookingResult, Records
from rathausbot.app import Runtime
from rathausbot.health import probe_redis
from tests.e2e.conftest import Gateway, listening_process
from tests.e2e.test_gateway import new_session, say

pytestmark = pytest.mark.slow


async def test_redis_sigkill_loses_nothing_confirmed(rt: Runtime, gateway: Gateway) -> None:
    session = new_session()
    for text in (
        "Hallo",
        "Wann hat das Bürgeramt geöffnet?",
        "Ich möchte mit einem Menschen sprechen",
    ):
        assert await say(rt, session, text)  # answered: the turn is confirmed
    start = datetime.now(BERLIN).replace(microsecond=0) + timedelta(days=3)
    booking = Booking(
        reference="R-DURA01",
        service="personalausweis",
        office="buergeramt",
        starts_at=start,
        ends_at=start + timedelta(minutes=15),
        name="Erika Beispiel",
        phone="+4930555000",
        channel=Channel.WEBCHAT,
        created_at=time.time(),
    )
    records = Records(rt.redis, retention_s=3600)
    assert await records.book(booking, capacity=1) is BookingResult.BOOKED  # confirmed
    lines = await rt.store.transcript(session)
    assert len(lines) >= 6
    cases = await rt.redis.zrange(OPEN_CASES_KEY, 0, -1)
    ours = [c for c in cases if (await rt.redis.hget(case_key(c), "session_id")) == session]
    assert len(ours) == 1, "the handoff opened no case"
    case = await rt.redis.hgetall(case_key(ours[0]))

    redis = listening_process(gateway.settings.redis_port)
    redis.kill()  # SIGKILL: no AOF rewrite, no shutdown save
    redis.wait(timeout=15)
    async with asyncio.timeout(90):  # the gateway's supervisor restarts Redis from its AOF
        while not await probe_redis(rt.redis):
            await asyncio.sleep(0.2)

    assert await rt.store.transcript(session) == lines
    assert await rt.redis.hgetall(case_key(ours[0])) == case
    assert ours[0] in await rt.redis.zrange(OPEN_CASES_KEY, 0, -1)
    assert await records.booking("R-DURA01") == booking
    assert await say(rt, session, "Danke")  # the conversation goes on
    assert len(await rt.store.transcript(session)) > len(lines)
