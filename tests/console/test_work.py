"""Inbox and work on a real Redis: atomic claim, owner-only changes, attempts, closing."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from console.audit import AuditLog
from console.inbox import Filters, Inbox, ItemKind, due_after
from console.work import (
    CLOSED_KEY,
    AttemptOutcome,
    Workbench,
    WorkRefused,
    WorkStatus,
    notes_key,
    valid_item_id,
    work_key,
)
from contract.conversation import Case, Role, TranscriptRecord
from contract.records import (
    OPEN_CASES_KEY,
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
from telephony.staff_hours import BERLIN, StaffHours

NOW = 1_795_000_000.0  # Sunday 16 Nov 2026, 08:06 in Berlin
RETENTION = 30 * 86_400
CASE = "C-20261116-K7QX2M"
SESSION = "s" * 32
HOURS = StaffHours.parse("Mo-Fr 08:00-16:00")


def clock() -> float:
    return NOW


async def open_case(
    redis: Redis, case_id: str = CASE, channel: Channel = Channel.WEBCHAT, age: float = 600
) -> None:
    case = Case(case_id, SESSION, channel, "user_request", "buergerbuero", NOW - age)
    await redis.hset(case_key(case_id), mapping=case.to_fields())  # type: ignore[arg-type]
    await redis.zadd(OPEN_CASES_KEY, {case_id: case.created_at})
    lines = [
        TranscriptRecord(
            "a" * 32, NOW - 700, channel, Role.USER, "<b>Ausweis</b>", "id_card", 0.93
        ),
        TranscriptRecord("b" * 32, NOW - 650, channel, Role.BOT, "Gern."),
        TranscriptRecord("c" * 32, NOW - 610, channel, Role.USER, "Mensch bitte", "human_handoff"),
    ]
    for line in lines:
        await redis.xadd(transcript_key(SESSION), line.to_fields())  # type: ignore[arg-type]
    await redis.hset(session_key(SESSION), mapping={"case_id": case_id, "channel": "webchat"})


@pytest.fixture
def work(redis: Redis) -> Workbench:
    return Workbench(redis, AuditLog(redis, clock=clock), retention_s=RETENTION, clock=clock)


@pytest.fixture
def inbox(redis: Redis, work: Workbench) -> Inbox:
    return Inbox(redis, work, staff_hours=HOURS, clock=clock)


async def test_inbox_lists_cases_callbacks_and_tickets(redis: Redis, inbox: Inbox) -> None:
    await open_case(redis)
    await open_case(redis, "C-20261116-PHNE22", Channel.VOICE, age=300)
    callback = Callback("R-K7QX2M", "+49301234", CallbackWindow.MORNING, Channel.VOICE, NOW - 60)
    ticket = Ticket("S-K7QX2M", "schlagloch", "Hauptstr. 1", "tief", Channel.WEBCHAT, NOW - 30)
    for record, kind in ((callback, RecordKind.CALLBACK), (ticket, RecordKind.TICKET)):
        await redis.hset(kind.key(record.reference), mapping=record.to_fields())  # type: ignore[arg-type]
        await redis.zadd(kind.index_key, {record.reference: record.created_at})
    await redis.zadd(RecordKind.TICKET.index_key, {"S-GONE22": NOW})  # expired record
    items = await inbox.items(Filters())
    assert [i.item_id for i in items] == [CASE, "C-20261116-PHNE22", "R-K7QX2M", "S-K7QX2M"]
    chat, phone, cb, tk = items
    assert (chat.kind, phone.kind, cb.kind, tk.kind) == (
        ItemKind.CHAT,
        ItemKind.PHONE,
        ItemKind.CALLBACK,
        ItemKind.TICKET,
    )
    assert chat.topic == "Personalausweis" and chat.reason == "Bürger/in wünscht Kontakt"
    assert chat.department == "buergerbuero" and chat.work.status is WorkStatus.NEW
    assert cb.due_at is not None and tk.due_at is None
    assert [i.item_id for i in await inbox.items(Filters(kind=ItemKind.PHONE))] == [
        "C-20261116-PHNE22"
    ]
    assert [i.item_id for i in await inbox.items(Filters(query="r-k7"))] == ["R-K7QX2M"]
    assert await inbox.items(Filters(department="bauamt")) == []


def test_callbacks_fall_due_after_24_service_hours() -> None:
    from datetime import datetime

    start = datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN).timestamp()  # Monday 08:00
    due = datetime.fromtimestamp(due_after(start, HOURS), BERLIN)
    assert due == datetime(2026, 11, 18, 16, 0, tzinfo=BERLIN)  # three 8-hour days
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=BERLIN).timestamp()
    due = datetime.fromtimestamp(due_after(friday, HOURS, service_hours=2), BERLIN)
    assert due == datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)  # over the weekend


async def test_exactly_one_of_two_concurrent_claims_wins(redis: Redis, work: Workbench) -> None:
    await open_case(redis)
    results = await asyncio.gather(work.claim(CASE, "erika"), work.claim(CASE, "max"))
    winners = [owner for won, owner in results if won]
    assert len(winners) == 1
    loser = next(owner for won, owner in results if not won)
    assert loser == winners[0]  # the other is told who has it
    state = await work.state(CASE)
    assert (state.owner, state.status) == (winners[0], WorkStatus.IN_PROGRESS)


async def test_only_the_owner_changes_and_a_lead_reassigns(redis: Redis, work: Workbench) -> None:
    await open_case(redis)
    with pytest.raises(WorkRefused):
        await work.set_status(CASE, WorkStatus.WAITING, user="erika")  # nobody owns it
    await work.claim(CASE, "erika")
    with pytest.raises(WorkRefused) as refused:
        await work.set_status(CASE, WorkStatus.WAITING, user="max")
    assert refused.value.owner == "erika"
    with pytest.raises(WorkRefused):
        await work.add_note(CASE, "x", user="max")
    await work.set_status(CASE, WorkStatus.WAITING, user="erika")
    await work.reassign(CASE, "max", by="lead")
    await work.add_note(CASE, "  Rückfrage gestellt  ", user="max")
    with pytest.raises(WorkRefused):
        await work.add_note(CASE, "   ", user="max")
    notes = await work.notes(CASE)
    assert [(n.user, n.text) for n in notes] == [("max", "Rückfrage gestellt")]
    assert (await work.state(CASE)).status is WorkStatus.WAITING


async def test_three_failed_callback_attempts_flag_the_item(redis: Redis, work: Workbench) -> None:
    await work.claim("R-K7QX2M", "erika")
    await work.record_attempt("R-K7QX2M", AttemptOutcome.REACHED, user="erika")
    await work.record_attempt("R-K7QX2M", AttemptOutcome.NOT_REACHED, user="erika")
    await work.record_attempt("R-K7QX2M", AttemptOutcome.MESSAGE_LEFT, user="erika")
    assert not (await work.state("R-K7QX2M")).flagged  # two failed
    await work.record_attempt("R-K7QX2M", AttemptOutcome.NOT_REACHED, user="erika")
    assert (await work.state("R-K7QX2M")).flagged  # three failed
    assert [a.outcome for a in await work.attempts("R-K7QX2M")][0] is AttemptOutcome.REACHED


async def test_closing_restores_retention(redis: Redis, work: Workbench, inbox: Inbox) -> None:
    await open_case(redis)
    await work.claim(CASE, "erika")
    assert await redis.ttl(transcript_key(SESSION)) == -1
    await work.set_status(CASE, WorkStatus.DONE, user="erika")
    assert RETENTION - 5 < await redis.ttl(transcript_key(SESSION)) <= RETENTION
    assert RETENTION - 5 < await redis.ttl(session_key(SESSION)) <= RETENTION
    assert await redis.hget(case_key(CASE), "status") == "closed"
    assert not await redis.zscore(OPEN_CASES_KEY, CASE)
    assert await redis.zscore(CLOSED_KEY, CASE) == NOW
    assert await inbox.items(Filters()) == []
    done = await inbox.items(Filters(status=WorkStatus.DONE))
    assert [i.item_id for i in done] == [CASE]


@pytest.mark.parametrize("newer_case", [None, "C-20261201-NEWER2"])
async def test_reopening_a_done_case_puts_it_back_among_the_open_ones(
    redis: Redis, work: Workbench, inbox: Inbox, newer_case: str | None
) -> None:
    await open_case(redis)
    await redis.hset(session_key(SESSION), "case_id", CASE)
    await work.claim(CASE, "erika")
    await work.add_note(CASE, "Erledigt am Telefon", user="erika")
    await work.set_status(CASE, WorkStatus.DONE, user="erika")
    if newer_case is not None:  # the citizen asked again meanwhile: that case stays theirs
        await redis.hset(session_key(SESSION), "case_id", newer_case)
    await work.set_status(CASE, WorkStatus.IN_PROGRESS, user="erika")
    assert await redis.hget(case_key(CASE), "status") == "open"
    assert await redis.hget(case_key(CASE), "closed_at") is None
    assert await redis.zscore(OPEN_CASES_KEY, CASE) == NOW - 600  # created_at, as first opened
    assert await redis.zscore(CLOSED_KEY, CASE) is None
    for key in (case_key(CASE), transcript_key(SESSION), session_key(SESSION)):
        assert await redis.ttl(key) == -1, key
    for key in (work_key(CASE), notes_key(CASE)):
        assert await redis.ttl(key) == -1, key
    assert await redis.hget(session_key(SESSION), "case_id") == (newer_case or CASE)
    assert [i.item_id for i in await inbox.items(Filters())] == [CASE]
    assert await inbox.items(Filters(status=WorkStatus.DONE)) == []
    # another change of status leaves it open and once in the index
    await work.set_status(CASE, WorkStatus.WAITING, user="erika")
    assert await redis.zcard(OPEN_CASES_KEY) == 1


async def test_reopening_an_expired_case_or_a_callback_keeps_the_work(
    redis: Redis, work: Workbench
) -> None:
    await open_case(redis)
    await work.claim(CASE, "erika")
    await work.set_status(CASE, WorkStatus.DONE, user="erika")
    await redis.delete(case_key(CASE))  # its retention ran out
    await work.set_status(CASE, WorkStatus.IN_PROGRESS, user="erika")
    assert not await redis.exists(case_key(CASE))
    assert await redis.zscore(OPEN_CASES_KEY, CASE) is None
    assert await redis.ttl(work_key(CASE)) == -1
    await work.claim("R-K7QX2M", "erika")
    await work.set_status("R-K7QX2M", WorkStatus.DONE, user="erika")
    await work.set_status("R-K7QX2M", WorkStatus.WAITING, user="erika")
    assert await redis.ttl(work_key("R-K7QX2M")) == -1
    assert await redis.zscore(CLOSED_KEY, "R-K7QX2M") is None


async def test_viewers_and_case_detail(redis: Redis, work: Workbench, inbox: Inbox) -> None:
    await open_case(redis)
    await redis.set(
        tracker_key(SESSION),
        '{"events": [{"event": "slot", "name": "department", "value": "buergerbuero"},'
        ' {"event": "slot", "name": "x", "value": 1},'
        ' {"event": "slot", "name": "x", "value": null}]}',
    )
    assert await work.viewing(CASE, "erika") == []
    assert await work.viewing(CASE, "max") == ["erika"]
    detail = await inbox.detail(CASE)
    assert detail is not None
    assert [line.text for line in detail.transcript][0] == "<b>Ausweis</b>"
    assert detail.slots == {"department": "buergerbuero"}
    await redis.set(tracker_key(SESSION), "not json")
    detail = await inbox.detail(CASE)
    assert detail is not None and detail.slots == {}
    assert await inbox.detail("C-20261116-NONE22") is None


def test_item_ids_are_checked() -> None:
    assert valid_item_id(CASE) and valid_item_id("R-K7QX2M") and valid_item_id("S-K7QX2M")
    for bad in ("B-K7QX2M", "C-2026-K7QX2M", "R-K7QX2M:x", "R-k7qx2m", "*"):
        assert not valid_item_id(bad)
