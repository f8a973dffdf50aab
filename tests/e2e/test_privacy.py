"""Privacy end to end against the real gateway, Rasa, the action server and Redis: a
conversation's every key (Rasa's tracker included) is gone after its retention while a
case under legal hold survives; erasure by phone number through `rathausbot privacy`
removes one citizen's call transcript, callback and booking and nothing of another's."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from console.audit import AuditAction, AuditLog
from contract.records import Channel, case_key, session_key, tracker_key, transcript_key
from rathausbot.app import Runtime
from rathausbot.citizen import CitizenData
from rathausbot.purge import Purger
from rathausbot.retention import DAY_S, Retention
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_conversations import BOOKING_REF, Talk, book

pytestmark = pytest.mark.slow

CALLBACK_REF = re.compile(r"\bR-[A-Z2-9]{6}\b")
CASE_REF = re.compile(r"\bC-\d{8}-[A-Z2-9]{6}\b")


async def keys_of(rt: Runtime, session_id: str) -> set[str]:
    return {k async for k in rt.redis.scan_iter(match=f"rb:*{session_id}*", count=500)}


async def test_after_the_retention_every_key_is_gone_but_a_legal_hold_survives(
    rt: Runtime, tmp_path: Path
) -> None:
    plain = Talk(rt)
    await plain.greet()
    assert await plain.say("Wann hat das Bürgerbüro geöffnet?")
    await rt.store.wait_flushed()
    before = await keys_of(rt, plain.session)
    assert {session_key(plain.session), transcript_key(plain.session)} <= before
    assert tracker_key(plain.session) in before  # Rasa's own key
    held = Talk(rt)
    case_id = CASE_REF.search(await held.say("Ich möchte mit einem Menschen sprechen"))
    assert case_id, held.text
    await rt.store.wait_flushed()
    audit = AuditLog(rt.redis)
    citizens = CitizenData(rt.redis, audit, recordings_dir=tmp_path)
    assert await citizens.set_hold(case_id[0], True, actor="e2e")
    await rt.redis.hset(case_key(case_id[0]), mapping={"status": "closed", "closed_at": "1"})
    purger = Purger(
        rt.redis,
        audit,
        retention=Retention.parse({"conversations": 1, "closed_cases": 1}),
        recordings_dir=tmp_path / "recordings",
        log_dir=tmp_path / "log",
        clock=lambda: time.time() + 2 * DAY_S,
    )
    report = await purger.run()
    assert report.counts["conversations"] >= 1
    assert await keys_of(rt, plain.session) == set()
    kept = await keys_of(rt, held.session)
    assert {session_key(held.session), transcript_key(held.session)} <= kept
    assert await rt.redis.exists(case_key(case_id[0]))
    assert await citizens.set_hold(case_id[0], False, actor="e2e")
    await purger.run()
    assert not await rt.redis.exists(case_key(case_id[0]))
    assert await keys_of(rt, held.session) == set()
    entries = await audit.entries(count=20)
    assert [e.action for e in entries].count(AuditAction.PURGE) >= 2
    assert await audit.verify()


def privacy_cli(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "rathausbot"), "privacy", *args],
        env=gateway.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def test_erasure_by_phone_removes_one_citizens_call_callback_and_booking(
    rt: Runtime, gateway: Gateway
) -> None:
    chat = Talk(rt)  # Erika books in the chat (the form offers days as buttons) ...
    day, at = await book(chat, "einen Personalausweis")
    booking = BOOKING_REF.search(await chat.say("ja"))
    assert booking, chat.text
    known = set(await rt.redis.zrange("rb:callbacks", 0, -1))
    erika = Talk(rt, Channel.VOICE)  # ... and calls for a callback
    await erika.greet()
    assert "Telefonnummer" in await erika.say("Können Sie mich bitte zurückrufen?")
    await erika.say("0171 2345678")
    assert "vormittags" in await erika.say("vormittags")  # read out without its reference
    mine = [
        ref
        for ref in await rt.redis.zrange("rb:callbacks", 0, -1)
        if ref not in known and await rt.redis.hget(f"rb:callback:{ref}", "phone") == "01712345678"
    ]
    assert len(mine) == 1, mine
    callback = [mine[0]]
    await rt.store.wait_flushed()
    assert await rt.store.note_caller(erika.session, "+49 171 2345678")
    max_ = Talk(rt)
    assert "Telefonnummer" in await max_.say("Rufen Sie mich bitte zurück")
    await max_.say("030 7654321")
    theirs = CALLBACK_REF.search(await max_.say("nachmittags"))
    assert theirs, max_.text
    await rt.store.wait_flushed()

    exported = await asyncio.to_thread(privacy_cli, gateway, "export", "--phone", "01712345678")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    # (other tests book and ask for callbacks with the same number: they count as Erika's
    # too, so only the callbacks this test made are compared)
    assert booking[0] in [b["reference"] for b in document["bookings"]]
    new_callbacks = [c["reference"] for c in document["callbacks"] if c["reference"] not in known]
    assert new_callbacks == [callback[0]]
    assert [c["session"] for c in document["conversations"]] == [erika.session]
    lines = [line["text"] for line in document["conversations"][0]["transcript"]]
    assert "Können Sie mich bitte zurückrufen?" in lines
    for other in (theirs[0], max_.session, "7654321"):
        assert other not in exported.stdout

    slot = f"rb:slot:buergerbuero:{booking_day(day)}:{at}"
    assert booking[0] in await rt.redis.smembers(slot)
    erased = await asyncio.to_thread(
        privacy_cli, gateway, "erase", "--phone", "0171/2345678", "--yes"
    )
    assert erased.returncode == 0, erased.stderr
    assert "Erased" in erased.stdout
    assert await keys_of(rt, erika.session) == set()
    assert not await rt.redis.exists(f"rb:booking:{booking[0]}", f"rb:callback:{callback[0]}")
    assert booking[0] not in await rt.redis.smembers(slot)  # the slot is free again
    assert await rt.redis.exists(f"rb:callback:{theirs[0]}")
    assert await keys_of(rt, max_.session) != set()
    tombstone = (await AuditLog(rt.redis).entries(count=1))[0]
    erased_callbacks = len(document["callbacks"])  # this test's and earlier tests' ones
    assert tombstone.action is AuditAction.ERASURE
    assert f" callbacks={erased_callbacks} " in tombstone.detail
    assert "2345678" not in tombstone.detail


def booking_day(shown: str) -> str:
    """ "01.12.2026" -> "2026-12-01"."""
    d, m, y = shown.split(".")
    return f"{y}-{m}-{d}"
