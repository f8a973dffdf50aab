"""The purge job against a real Redis with a fake clock."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from console.work import CLOSED_KEY, work_key
from contract.conversation import Case, Role, TranscriptRecord
from contract.records import (
    OPEN_CASES_KEY,
    WEBHOOK_FAILED_KEY,
    WEBHOOK_QUEUE_KEY,
    Booking,
    Callback,
    CallbackWindow,
    Channel,
    RecordKind,
    Ticket,
    WebhookEntry,
    WebhookEvent,
    case_key,
    session_key,
    tracker_key,
    transcript_key,
)
from dialogue.store import ConversationStore
from rathausbot.purge import (
    TTL_REPAIRED,
    WEBHOOK_ENTRIES,
    Purger,
    booking_slot_key,
    lock_key,
    record_expiry,
    rotate_logs,
    stream_time,
    tracker_time,
)
from rathausbot.retention import DAY_S, DataType, Retention
from tests.fakes import PURGE_NOW, FakeClock

T0 = PURGE_NOW  # the test clock's "now"
T0_DAY = datetime.fromtimestamp(T0, UTC).date()


def purger(redis: Redis, tmp_path: Path, clock: FakeClock, **days: int) -> Purger:
    return Purger(
        redis,
        AuditLog(redis, clock=clock),
        retention=Retention.parse(days),
        recordings_dir=tmp_path / "recordings",
        log_dir=tmp_path / "log",
        clock=clock,
    )


async def conversation(redis: Redis, session_id: str, at: float, *, text: str = "Hallo") -> None:
    store = ConversationStore(redis, retention_s=30 * DAY_S)
    async with store:
        line = TranscriptRecord.new(Channel.WEBCHAT, Role.USER, text, clock=lambda: at)
        await store.append(session_id, line)
    tracker = {"sender_id": session_id, "events": [{"event": "user", "timestamp": at}]}
    await redis.set(tracker_key(session_id), json.dumps(tracker))
    await redis.set(lock_key(session_id), "lock")


async def open_case(redis: Redis, case_id: str, session_id: str, at: float) -> None:
    await conversation(redis, session_id, at)
    case = Case(case_id, session_id, Channel.WEBCHAT, "user_request", None, at)
    store = ConversationStore(redis, retention_s=30 * DAY_S)
    async with store:
        await store.open_case(case)


async def expires_at(redis: Redis, key: str) -> int:
    """The key's expiry as a Unix time (EXPIRETIME needs Redis 7), exact to a second."""
    before = (await redis.time())[0]
    ttl = await redis.ttl(key)
    after = (await redis.time())[0]
    assert ttl > 0
    assert after - before <= 1, "Redis clock read spans too long to say"
    return int(before + ttl)


async def keys(redis: Redis) -> set[str]:
    return {k async for k in redis.scan_iter(match="rb:*")} - {
        "rb:audit",
        "rb:audit:head",
        "rb:audit:anchor",
    }


async def test_a_conversation_without_case_goes_with_every_key_after_its_retention(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    await conversation(redis, "old", T0 - 30 * DAY_S - 1)
    await conversation(redis, "young", T0 - 30 * DAY_S + 60)
    dry = await purger(redis, tmp_path, clock).run(dry_run=True)
    assert dry.counts[DataType.CONVERSATIONS] == 1
    assert await redis.exists(session_key("old"))  # a dry run deletes nothing
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.CONVERSATIONS] == 1
    assert await keys(redis) == {
        session_key("young"),
        transcript_key("young"),
        tracker_key("young"),
        lock_key("young"),
    }


async def test_missing_ttls_are_repaired_to_the_retention(redis: Redis, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    await conversation(redis, "s", T0 - DAY_S)
    await redis.persist(session_key("s"))
    await redis.persist(transcript_key("s"))
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[TTL_REPAIRED] >= 2
    # expiry = last line + 30 days; the real clock is far before T0, so the TTL is large
    for key in (session_key("s"), transcript_key("s")):
        assert abs(await expires_at(redis, key) - (int(T0 - DAY_S + 30 * DAY_S) + 1)) <= 1


async def test_orphan_tracker_and_transcript_purged_by_their_own_times(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    await conversation(redis, "gone", T0 - 40 * DAY_S)
    await redis.delete(session_key("gone"))  # only Rasa's tracker and the stream remain
    await redis.set(tracker_key("fresh"), json.dumps({"events": [{"timestamp": T0 - 5}]}))
    await redis.set(tracker_key("garbage"), "not json")
    await purger(redis, tmp_path, clock).run()
    remaining = await keys(redis)
    assert tracker_key("gone") not in remaining
    assert tracker_key("garbage") not in remaining
    assert tracker_key("fresh") in remaining
    assert await redis.ttl(tracker_key("fresh")) > 0


async def test_open_case_keeps_its_conversation_then_is_flagged_then_purged(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    await open_case(redis, "C-1", "s1", T0 - 61 * DAY_S)
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts.get("flagged_cases") == 1
    assert await redis.hget(case_key("C-1"), "flagged_at") == repr(T0)
    assert await redis.exists(session_key("s1"))  # flagged, not yet purged
    entries = await AuditLog(redis).entries()
    assert [e.action for e in entries[:2]] == [AuditAction.PURGE, AuditAction.CASE_FLAGGED]
    assert entries[1].target == "C-1"
    clock.now += 14 * DAY_S + 1
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.INACTIVE_CASES] == 1
    assert await keys(redis) == set()


async def test_activity_unflags_a_case(redis: Redis, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    await open_case(redis, "C-2", "s2", T0 - 61 * DAY_S)
    await purger(redis, tmp_path, clock).run()
    await redis.hset(work_key("C-2"), "updated_at", repr(T0 + 10))
    clock.now += 15 * DAY_S
    report = await purger(redis, tmp_path, clock).run()
    assert DataType.INACTIVE_CASES not in report.counts
    assert not await redis.hexists(case_key("C-2"), "flagged_at")
    assert await redis.exists(case_key("C-2"))


async def test_closed_case_purged_with_its_keys_and_recording_but_a_legal_hold_survives(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for case_id, session_id in (("C-OLD", "a"), ("C-HELD", "b")):
        await open_case(redis, case_id, session_id, T0 - 200 * DAY_S)
        name = f"{case_id}.wav"
        (recordings / name).write_bytes(b"RIFF")
        os.utime(recordings / name, (T0 - 200 * DAY_S, T0 - 200 * DAY_S))
        await redis.hset(
            case_key(case_id),
            mapping={"status": "closed", "closed_at": repr(T0 - 91 * DAY_S), "recording": name},
        )
        await redis.zrem(OPEN_CASES_KEY, case_id)
        await redis.zadd(CLOSED_KEY, {case_id: T0 - 91 * DAY_S})
        await redis.hset(work_key(case_id), "status", "erledigt")
    await redis.hset(case_key("C-HELD"), "legal_hold", "1")
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.CLOSED_CASES] == 1
    assert report.counts[DataType.RECORDINGS] == 1
    assert not (recordings / "C-OLD.wav").exists()
    assert (recordings / "C-HELD.wav").exists()
    remaining = await keys(redis)
    assert case_key("C-OLD") not in remaining
    assert work_key("C-OLD") not in remaining
    assert session_key("a") not in remaining and tracker_key("a") not in remaining
    assert {case_key("C-HELD"), session_key("b"), transcript_key("b"), work_key("C-HELD")} <= (
        remaining
    )
    assert await redis.zrange(CLOSED_KEY, 0, -1) == ["C-HELD"]


async def test_closed_case_inside_its_retention_stays(redis: Redis, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    await open_case(redis, "C-3", "c", T0 - 100 * DAY_S)
    await redis.hset(case_key("C-3"), mapping={"status": "closed", "closed_at": repr(T0 - DAY_S)})
    report = await purger(redis, tmp_path, clock).run()
    assert DataType.CLOSED_CASES not in report.counts
    assert abs(await expires_at(redis, case_key("C-3")) - (int(T0 - DAY_S + 90 * DAY_S) + 1)) <= 1


def booking(reference: str, day: date, phone: str = "+49301234567") -> Booking:
    return Booking.local(
        reference=reference,
        service="personalausweis",
        office="buergerbuero",
        day=day,
        at=time(9, 0),
        minutes=15,
        timezone="Europe/Berlin",
        name="Erika Muster",
        phone=phone,
        channel=Channel.WEBCHAT,
        created_at=T0 - 100 * DAY_S,
    )


async def store_record(redis: Redis, kind: RecordKind, fields: dict[str, str]) -> None:
    await redis.hset(kind.key(fields["reference"]), mapping=fields)
    await redis.zadd(kind.index_key, {fields["reference"]: float(fields["created_at"])})


async def test_records_purged_by_type_and_their_queue_entries_and_slots(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    old = booking("B-AAAAAA", T0_DAY - timedelta(days=32))  # ends past 30 days
    due = booking("B-BBBBBB", T0_DAY - timedelta(days=1))
    for b in (old, due):
        await store_record(redis, RecordKind.BOOKING, b.to_fields())
        await redis.sadd(booking_slot_key(b.to_fields()) or "", b.reference)
    ticket_old = Ticket("S-AAAAAA", "graffiti", "Markt 1", "x", Channel.VOICE, T0 - 181 * DAY_S)
    ticket_new = Ticket("S-BBBBBB", "graffiti", "Markt 1", "x", Channel.VOICE, T0 - 179 * DAY_S)
    cb_old = Callback("R-AAAAAA", "+49301234567", CallbackWindow.ANYTIME, None, T0 - 31 * DAY_S)
    for kind, record in (
        (RecordKind.TICKET, ticket_old),
        (RecordKind.TICKET, ticket_new),
        (RecordKind.CALLBACK, cb_old),
    ):
        await store_record(redis, kind, record.to_fields())
    await redis.zadd(RecordKind.CALLBACK.index_key, {"R-GONE22": T0})
    queued = WebhookEntry(RecordKind.TICKET, WebhookEvent.CREATED, "S-AAAAAA").to_json()
    notice = WebhookEntry(RecordKind.TICKET, WebhookEvent.DELETED, "S-ZZZZZZ").to_json()
    kept = WebhookEntry(RecordKind.TICKET, WebhookEvent.CREATED, "S-BBBBBB").to_json()
    await redis.lpush(WEBHOOK_QUEUE_KEY, queued, notice, kept)
    await redis.lpush(WEBHOOK_FAILED_KEY, "garbage")
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.BOOKINGS] == 1
    assert report.counts[DataType.TICKETS] == 1
    assert report.counts[DataType.CALLBACKS] == 1
    assert report.counts[WEBHOOK_ENTRIES] == 2
    assert await redis.zrange(RecordKind.BOOKING.index_key, 0, -1) == ["B-BBBBBB"]
    assert await redis.zrange(RecordKind.TICKET.index_key, 0, -1) == ["S-BBBBBB"]
    assert await redis.zrange(RecordKind.CALLBACK.index_key, 0, -1) == []
    assert not await redis.exists(booking_slot_key(old.to_fields()) or "")
    assert await redis.smembers(booking_slot_key(due.to_fields()) or "") == {"B-BBBBBB"}
    assert await redis.lrange(WEBHOOK_QUEUE_KEY, 0, -1) == [kept, notice]
    assert await redis.llen(WEBHOOK_FAILED_KEY) == 0
    assert (
        abs(await expires_at(redis, RecordKind.TICKET.key("S-BBBBBB")) - int(T0 + DAY_S) - 1) <= 1
    )


async def test_each_run_audits_its_counts_and_trims_the_audit_log_with_an_anchor(
    redis: Redis, tmp_path: Path
) -> None:
    audit = AuditLog(redis)
    for n in range(3):
        await audit.append("anna", AuditAction.LOGIN, str(n))
    newest = (await audit.entries(count=1))[0]
    # Stream ids carry Redis' own time: a clock a year and a day on trims all three.
    clock = FakeClock(stream_time(newest.id) + 366 * DAY_S)
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.AUDIT] == 3
    assert await redis.get("rb:audit:anchor") == newest.hash
    entries = await audit.entries()
    assert len(entries) == 1 and entries[0].action is AuditAction.PURGE
    assert entries[0].actor == "system"
    assert entries[0].detail.startswith("conversations=0 closed_cases=0 inactive_cases=0 ")
    assert " audit=3 " in entries[0].detail
    check = await audit.check()
    assert check.intact and check.checked == 1


async def test_a_dry_run_counts_the_audit_trim_but_writes_nothing(
    redis: Redis, tmp_path: Path
) -> None:
    audit = AuditLog(redis)
    await audit.append("anna", AuditAction.LOGIN)
    newest = (await audit.entries(count=1))[0]
    report = await purger(redis, tmp_path, FakeClock(stream_time(newest.id) + 366 * DAY_S)).run(
        dry_run=True
    )
    assert report.counts[DataType.AUDIT] == 1
    assert [e.id for e in await audit.entries()] == [newest.id]


async def test_files_recordings_and_rotated_logs_after_their_retention(
    redis: Redis, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    recordings, logs = tmp_path / "recordings", tmp_path / "log"
    recordings.mkdir()
    logs.mkdir()
    for name, age in (("old.wav", 31), ("new.wav", 29)):
        (recordings / name).write_bytes(b"x")
        os.utime(recordings / name, (T0 - age * DAY_S,) * 2)
    (logs / "rasa.log").write_text("today\n")
    (logs / "rasa.log.2020-01-01").write_text("old\n")
    os.utime(logs / "rasa.log.2020-01-01", (T0 - 15 * DAY_S,) * 2)
    report = await purger(redis, tmp_path, clock).run()
    assert report.counts[DataType.RECORDINGS] == 1
    assert report.counts[DataType.LOGS] == 1
    assert sorted(p.name for p in recordings.iterdir()) == ["new.wav"]
    assert sorted(p.name for p in logs.iterdir()) == ["rasa.log", f"rasa.log.{T0_DAY}"]
    assert (logs / "rasa.log").read_text() == ""
    assert (logs / f"rasa.log.{T0_DAY}").read_text() == "today\n"


def test_rotate_appends_to_the_days_file_and_skips_empty_logs(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("two\n")
    (tmp_path / f"a.log.{T0_DAY}").write_text("one\n")
    (tmp_path / "empty.log").write_text("")
    assert rotate_logs(tmp_path, T0) == [tmp_path / f"a.log.{T0_DAY}"]
    assert (tmp_path / f"a.log.{T0_DAY}").read_text() == "one\ntwo\n"
    assert not (tmp_path / f"empty.log.{T0_DAY}").exists()


def test_small_parsers() -> None:
    assert stream_time("1800000000123-4") == 1_800_000_000.123
    assert tracker_time(json.dumps({"events": [{"timestamp": 5}, {"timestamp": 7.5}, {}]})) == 7.5
    assert tracker_time(json.dumps({"events": []})) is None
    assert tracker_time("[]") is None
    assert tracker_time("{") is None
    assert record_expiry(RecordKind.TICKET, {"created_at": "10.0"}, 5) == 15.0
    assert record_expiry(RecordKind.TICKET, {}, 5) == 0.0
    assert record_expiry(RecordKind.BOOKING, {"ends_at": "bad"}, 5) == 0.0
    fields = {"office": "bb", "date": "2027-01-01", "time": "09:00"}
    assert booking_slot_key(fields) == "rb:slot:bb:2027-01-01:09:00"
    assert booking_slot_key({**fields, "time": ""}) is None


def test_periodic_interval_bounded() -> None:
    import asyncio

    from rathausbot.purge import purge_periodically

    with pytest.raises(ValueError, match="interval_s must be positive"):
        asyncio.run(purge_periodically(None, interval_s=0))  # type: ignore[arg-type]


async def test_consent_logs_outlive_the_recording_by_their_own_retention(
    redis: Redis, tmp_path: Path
) -> None:
    await redis.xadd("rb:consent:a", {"event": "answer"})
    newest = stream_time((await redis.xrange("rb:consent:a"))[-1][0])
    keep = (30 + 365) * DAY_S
    inside = await purger(redis, tmp_path, FakeClock(newest + keep - 10)).run()
    assert DataType.CONSENT not in inside.counts and inside.counts[TTL_REPAIRED] == 1
    await redis.persist("rb:consent:a")
    past = await purger(redis, tmp_path, FakeClock(newest + keep + 1)).run()
    assert past.counts[DataType.CONSENT] == 1
    assert not await redis.exists("rb:consent:a")
