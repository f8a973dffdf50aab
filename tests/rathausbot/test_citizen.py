"""Access and erasure of one citizen's data against a real Redis."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from console.work import CLOSED_KEY, notes_key, work_key
from contract.conversation import Case, Role, TranscriptRecord
from contract.records import (
    OPEN_CASES_KEY,
    WEBHOOK_QUEUE_KEY,
    Booking,
    Callback,
    CallbackWindow,
    Channel,
    RecordKind,
    Ticket,
    case_key,
    session_key,
    tracker_key,
    transcript_key,
)
from dialogue.store import ConsentEntry, ConversationStore, consent_key
from rathausbot.citizen import (
    MAX_KEY_CHARS,
    CitizenData,
    KeyKind,
    KeyRefused,
    Lookup,
    normal_name,
    tombstone,
)
from rathausbot.purge import booking_slot_key

T0 = 1_800_000_000.0
ERIKA = "+49301234567"
MAX = "+49301234568"


# --- the key parser ---


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("030 1234567", ERIKA),
        ("+49 (30) 123-45 67", ERIKA),
        ("0049301234567", ERIKA),
        ("  +49301234567 ", ERIKA),
    ],
)
def test_phone_keys_are_normalised(raw: str, value: str) -> None:
    assert Lookup.parse(KeyKind.PHONE, raw) == Lookup(KeyKind.PHONE, value)


@pytest.mark.parametrize("raw", ["1234567", "Erika", "+49"])
def test_incomplete_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(KeyRefused, match="keine vollständige Telefonnummer"):
        Lookup.parse(KeyKind.PHONE, raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("b-k7qx2m", "B-K7QX2M"),
        (" S-ABCDEF ", "S-ABCDEF"),
        ("R-222222", "R-222222"),
        ("c-20261201-k7qx2m", "C-20261201-K7QX2M"),
    ],
)
def test_references_are_upper_cased(raw: str, value: str) -> None:
    assert Lookup.parse(KeyKind.REFERENCE, raw).value == value


@pytest.mark.parametrize(
    "raw",
    ["B-K7QX2", "B-K7QX2MM", "X-K7QX2M", "B-K7QX0M", "B-K7QXIM", "C-2026120-K7QX2M", "BK7QX2M"],
)
def test_malformed_references_are_refused(raw: str) -> None:
    with pytest.raises(KeyRefused, match="keine Vorgangs-"):
        Lookup.parse(KeyKind.REFERENCE, raw)


def test_session_keys() -> None:
    assert Lookup.parse(KeyKind.SESSION, "abcd").value == "abcd"
    assert Lookup.parse(KeyKind.SESSION, "a3f@10.0.0.1").value == "a3f@10.0.0.1"
    for bad in ("abc", "rb:*", "a b c d", "x" * 201):
        with pytest.raises(KeyRefused):
            Lookup.parse(KeyKind.SESSION, bad)


def test_names_are_compared_without_case_and_spacing() -> None:
    assert normal_name("  Erika   MUSTER ") == "erika muster"
    assert Lookup.parse(KeyKind.NAME, "Jo").value == "jo"
    assert Lookup.parse(KeyKind.NAME, "x" * 100).value == "x" * 100
    for bad in ("J", "x" * 101):
        with pytest.raises(KeyRefused, match="2 bis 100 Zeichen"):
            Lookup.parse(KeyKind.NAME, bad)


@pytest.mark.parametrize("kind", list(KeyKind))
def test_empty_and_overlong_keys_are_refused(kind: KeyKind) -> None:
    for bad in ("", "   ", "1" * (MAX_KEY_CHARS + 1)):
        with pytest.raises(KeyRefused, match="Suchbegriff"):
            Lookup.parse(kind, bad)


def test_key_kinds_have_german_labels() -> None:
    assert [k.value for k in KeyKind] == ["phone", "reference", "session", "name"]
    assert KeyKind.PHONE.label == "Telefonnummer"
    assert KeyKind.NAME.label == "Name (in Terminbuchungen)"


# --- two citizens in a real Redis ---


def booking(reference: str, name: str, phone: str, day: date) -> Booking:
    return Booking.local(
        reference=reference,
        service="personalausweis",
        office="buergerbuero",
        day=day,
        at=time(9, 0),
        minutes=15,
        timezone="Europe/Berlin",
        name=name,
        phone=phone,
        channel=Channel.VOICE,
        created_at=T0,
    )


async def put(redis: Redis, kind: RecordKind, fields: dict[str, str]) -> None:
    await redis.hset(kind.key(fields["reference"]), mapping=fields)
    await redis.zadd(kind.index_key, {fields["reference"]: T0})


async def call(redis: Redis, session_id: str, number: str, text: str) -> None:
    async with ConversationStore(redis, retention_s=3600) as store:
        line = TranscriptRecord.new(Channel.VOICE, Role.USER, text, clock=lambda: T0)
        await store.append(session_id, line)
        await store.note_caller(session_id, number)
    await redis.set(tracker_key(session_id), "{}")


@pytest.fixture
async def citizens(redis: Redis, tmp_path: Path) -> CitizenData:
    """Erika called (a case with a recording), booked and asked for a callback; Max too."""
    await call(redis, "call-erika", "030 1234567", "Ich heiße Erika Muster")
    await call(redis, "call-max", MAX, "Ich heiße Max Beispiel")
    async with ConversationStore(redis, retention_s=3600) as store:
        for session_id, name in (("call-erika", "erika.wav"), ("call-max", "max.wav")):
            entry = ConsentEntry("answer", "granted", "key", T0, "2", T0 - 5, name)
            await store.log_consent(session_id, entry)
    case = Case("C-20261201-ERKAAA", "call-erika", Channel.VOICE, "user_request", None, T0)
    async with ConversationStore(redis, retention_s=3600) as store:
        await store.open_case(case)
        await store.attach_recording(case.case_id, "erika.wav")
    await redis.hset(work_key(case.case_id), "owner", "anna")
    await redis.rpush(notes_key(case.case_id), json.dumps({"text": "Notiz"}))
    (tmp_path / "erika.wav").write_bytes(b"RIFF")
    (tmp_path / "max.wav").write_bytes(b"RIFF")
    due = booking("B-ERKAA2", "Erika Muster", "0301234567", date(2027, 2, 1))
    await put(redis, RecordKind.BOOKING, {**due.to_fields(), "webhook_delivered": "1"})
    await redis.sadd(booking_slot_key(due.to_fields()) or "", "B-ERKAA2", "B-MAXXX2")
    other = booking("B-MAXXX2", "Max Beispiel", MAX, date(2027, 2, 1))
    await put(redis, RecordKind.BOOKING, other.to_fields())
    await put(
        redis,
        RecordKind.CALLBACK,
        Callback("R-ERKAA3", ERIKA, CallbackWindow.ANYTIME, Channel.VOICE, T0).to_fields(),
    )
    await put(
        redis,
        RecordKind.CALLBACK,
        Callback("R-MAXXX3", MAX, CallbackWindow.ANYTIME, Channel.VOICE, T0).to_fields(),
    )
    await put(
        redis,
        RecordKind.TICKET,
        Ticket("S-ERKAA4", "graffiti", "Markt 1", "bunt", Channel.VOICE, T0).to_fields(),
    )
    return CitizenData(redis, AuditLog(redis), recordings_dir=tmp_path, clock=lambda: T0)


async def test_search_by_phone_finds_the_call_its_case_the_booking_and_callback(
    citizens: CitizenData, redis: Redis
) -> None:
    found = await citizens.search(Lookup.parse(KeyKind.PHONE, ERIKA), actor="dora")
    assert set(found.sessions) == {"call-erika"}
    assert set(found.cases) == {"C-20261201-ERKAAA"}
    assert set(found.records[RecordKind.BOOKING]) == {"B-ERKAA2"}
    assert set(found.records[RecordKind.CALLBACK]) == {"R-ERKAA3"}
    assert RecordKind.TICKET not in found.records
    assert found.recordings == ["erika.wav"]
    assert found.counts() == {
        "sessions": 1,
        "transcript_lines": 1,
        "cases": 1,
        "recordings": 1,
        "consent_entries": 1,
        "bookings": 1,
        "tickets": 0,
        "callbacks": 1,
    }
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert (entry.actor, entry.action, entry.detail) == (
        "dora",
        AuditAction.PRIVACY_SEARCH,
        "phone",
    )
    assert "1234567" not in json.dumps(await redis.xrange("rb:audit"))


async def test_search_by_each_other_key(citizens: CitizenData) -> None:
    by_name = await citizens.find(Lookup.parse(KeyKind.NAME, "erika  muster"))
    assert set(by_name.records[RecordKind.BOOKING]) == {"B-ERKAA2"} and not by_name.sessions
    by_case = await citizens.find(Lookup.parse(KeyKind.REFERENCE, "c-20261201-erkaaa"))
    assert set(by_case.sessions) == {"call-erika"} and set(by_case.cases) == {"C-20261201-ERKAAA"}
    by_session = await citizens.find(Lookup.parse(KeyKind.SESSION, "call-erika"))
    assert set(by_session.cases) == {"C-20261201-ERKAAA"}
    by_ticket = await citizens.find(Lookup.parse(KeyKind.REFERENCE, "S-ERKAA4"))
    assert set(by_ticket.records[RecordKind.TICKET]) == {"S-ERKAA4"}
    missing = await citizens.find(Lookup.parse(KeyKind.REFERENCE, "R-ZZZZZZ"))
    assert missing.empty


async def test_the_export_holds_all_of_erikas_records_and_none_of_max(
    citizens: CitizenData, redis: Redis
) -> None:
    document = await citizens.export(Lookup.parse(KeyKind.PHONE, ERIKA), actor="dora")
    text = json.dumps(document, ensure_ascii=False)
    for mine in ("Erika Muster", "B-ERKAA2", "R-ERKAA3", "C-20261201-ERKAAA", "erika.wav"):
        assert mine in text
    for theirs in ("Max", "B-MAXXX2", "R-MAXXX3", MAX, "max.wav", "call-max"):
        assert theirs not in text
    assert document["key"] == "phone"
    conversation = document["conversations"][0]  # type: ignore[index]
    assert conversation["caller"] == ERIKA
    assert conversation["transcript"][0]["text"] == "Ich heiße Erika Muster"
    assert "webhook_delivered" not in text
    consent = document["consent"][0]  # type: ignore[index]
    assert consent["session"] == "call-erika"
    assert consent["entries"][0]["answer"] == "granted"
    assert (await AuditLog(redis).entries(count=1))[0].action is AuditAction.PRIVACY_EXPORT


async def test_erasure_by_phone_removes_erikas_data_and_nothing_of_max(
    citizens: CitizenData, redis: Redis, tmp_path: Path
) -> None:
    before = {k async for k in redis.scan_iter(match="rb:*")}
    found = await citizens.find(Lookup.parse(KeyKind.PHONE, ERIKA))
    counts = await citizens.erase(found, actor="dora")
    assert counts["sessions"] == 1 and counts["bookings"] == 1 and counts["held"] == 0
    after = {k async for k in redis.scan_iter(match="rb:*")}
    gone = before - after
    assert gone == {
        session_key("call-erika"),
        transcript_key("call-erika"),
        tracker_key("call-erika"),
        consent_key("call-erika"),
        case_key("C-20261201-ERKAAA"),
        work_key("C-20261201-ERKAAA"),
        notes_key("C-20261201-ERKAAA"),
        RecordKind.BOOKING.key("B-ERKAA2"),
        RecordKind.CALLBACK.key("R-ERKAA3"),
        OPEN_CASES_KEY,  # empty now
    }
    assert not (tmp_path / "erika.wav").exists() and (tmp_path / "max.wav").exists()
    slot = booking_slot_key({"office": "buergerbuero", "date": "2027-02-01", "time": "09:00"})
    assert await redis.smembers(slot or "") == {"B-MAXXX2"}  # Erika's place is free
    assert await redis.zrange(RecordKind.BOOKING.index_key, 0, -1) == ["B-MAXXX2"]
    assert await redis.zrange(OPEN_CASES_KEY, 0, -1) == []
    # Only the booking had reached the office: it alone is announced as deleted.
    assert await redis.lrange(WEBHOOK_QUEUE_KEY, 0, -1) == [
        json.dumps({"type": "booking", "event": "deleted", "reference": "B-ERKAA2"})
    ]
    entry = (await AuditLog(redis).entries(count=1))[0]
    assert entry.action is AuditAction.ERASURE and entry.actor == "dora"
    assert entry.detail == (
        "key=phone sessions=1 transcript_lines=1 cases=1 recordings=1 consent_entries=1 "
        "bookings=1 tickets=0 "
        "callbacks=1 held=0"
    )
    assert await AuditLog(redis).verify()
    again = await citizens.find(Lookup.parse(KeyKind.PHONE, ERIKA))
    assert again.empty


async def test_a_case_under_legal_hold_survives_erasure(
    citizens: CitizenData, redis: Redis, tmp_path: Path
) -> None:
    assert await citizens.set_hold("C-20261201-ERKAAA", True, actor="dora")
    assert await redis.ttl(session_key("call-erika")) == -1
    found = await citizens.find(Lookup.parse(KeyKind.PHONE, ERIKA))
    assert found.held == ["C-20261201-ERKAAA"]
    assert tombstone(found).endswith(" held=1")
    counts = await citizens.erase(found, actor="dora")
    assert counts["held"] == 1
    assert await redis.exists(case_key("C-20261201-ERKAAA"), session_key("call-erika")) == 2
    assert (tmp_path / "erika.wav").exists()
    assert not await redis.exists(RecordKind.BOOKING.key("B-ERKAA2"))
    assert await citizens.set_hold("C-20261201-ERKAAA", False, actor="dora")
    assert not await redis.hexists(case_key("C-20261201-ERKAAA"), "legal_hold")
    assert not await citizens.set_hold("C-20990101-ZZZZZZ", True, actor="dora")
    actions = [
        e.detail for e in await AuditLog(redis).entries() if e.action is AuditAction.LEGAL_HOLD
    ]
    assert actions == ["off", "on"]


async def test_no_erasure_without_its_tombstone(citizens: CitizenData, redis: Redis) -> None:
    from console.audit import AuditError

    found = await citizens.find(Lookup.parse(KeyKind.PHONE, ERIKA))
    broken = CitizenData(
        redis, AuditLog(redis, stream_key=CLOSED_KEY), recordings_dir=Path("/nonexistent")
    )
    await redis.zadd(CLOSED_KEY, {"x": 1})  # a stream write to a sorted set fails
    with pytest.raises(AuditError):
        await broken.erase(found, actor="dora")
    assert await redis.exists(session_key("call-erika"))


def test_keys_up_to_200_characters() -> None:
    assert MAX_KEY_CHARS == 200
    assert Lookup.parse(KeyKind.SESSION, "a" * 200).value == "a" * 200
    with pytest.raises(KeyRefused, match="höchstens 200 Zeichen"):
        Lookup.parse(KeyKind.SESSION, "a" * 201)
