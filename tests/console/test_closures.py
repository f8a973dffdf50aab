"""ClosureStore on a real Redis: validation, bounds, listing, removal and the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from console.audit import AuditAction, AuditError, AuditLog
from console.closures import ClosureRejected, ClosureStore
from contract.closures import CLOSURES_KEY, MAX_NOTE_CHARS, Closure

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)  # a Tuesday


def store(redis: Redis, *, limit: int = 100, audit: AuditLog | None = None) -> ClosureStore:
    return ClosureStore(redis, audit=audit or AuditLog(redis), clock=NOW.timestamp, limit=limit)


async def test_a_closure_is_set_listed_while_active_and_removed(redis: Redis) -> None:
    closures = store(redis)
    noon = NOW.replace(hour=12)
    closure = await closures.set(
        office="buergerbuero",
        starts=noon,
        ends=noon.replace(hour=23, minute=59),
        note="Bürgerbüro heute ab 12 Uhr geschlossen",
        actor="teamleitung1",
    )
    assert isinstance(closure, Closure) and closure.created_by == "teamleitung1"
    assert await closures.active() == []  # 10:00: not yet
    assert await closures.active(at=noon) == [closure]
    assert await closures.active(at=noon.replace(hour=23, minute=59)) == []  # end excluded
    assert await closures.all() == [closure]
    assert await closures.remove(closure.id, actor="teamleitung1")
    assert not await closures.remove(closure.id, actor="teamleitung1")
    assert await closures.all() == []
    entries = await AuditLog(redis).entries()
    assert [e.action for e in entries] == [AuditAction.CLOSURE, AuditAction.CLOSURE]
    assert entries[0].detail == f"removed {closure.id}" and entries[0].target == "buergerbuero"
    assert entries[1].detail.startswith(f"set {closure.id} 2026-12-01T12:00:00+01:00/")
    assert "Bürgerbüro heute" not in entries[1].detail  # the note stays out of the log


async def test_naive_times_are_berlin_time(redis: Redis) -> None:
    closure = await store(redis).set(
        office="standesamt",
        starts=datetime(2026, 12, 2, 8),
        ends=datetime(2026, 12, 2, 12),
        note="Betriebsausflug",
        actor="tl",
    )
    assert closure.starts == datetime(2026, 12, 2, 8, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("office", "starts", "ends", "note", "why"),
    [
        ("rathauskeller", NOW, NOW + timedelta(hours=1), "zu", "Unbekannte Dienststelle"),
        ("buergerbuero", NOW, NOW, "zu", "Ende muss nach dem Beginn"),
        ("buergerbuero", NOW, NOW - timedelta(hours=1), "zu", "Ende muss nach dem Beginn"),
        ("buergerbuero", NOW - timedelta(hours=2), NOW, "zu", "Vergangenheit"),
        ("buergerbuero", NOW, NOW + timedelta(days=367), "zu", "höchstens ein Jahr"),
        ("buergerbuero", NOW, NOW + timedelta(hours=1), "   ", "kurzen Hinweis"),
        ("buergerbuero", NOW, NOW + timedelta(hours=1), "x" * 201, "mehr als 200"),
    ],
)
async def test_invalid_closures_are_refused_and_nothing_is_stored(
    redis: Redis, office: str, starts: datetime, ends: datetime, note: str, why: str
) -> None:
    with pytest.raises(ClosureRejected, match=why):
        await store(redis).set(office=office, starts=starts, ends=ends, note=note, actor="tl")
    assert await redis.hlen(CLOSURES_KEY) == 0
    assert await AuditLog(redis).entries() == []


async def test_a_note_of_exactly_the_limit_is_taken(redis: Redis) -> None:
    note = "x" * MAX_NOTE_CHARS
    closure = await store(redis).set(
        office="bauamt", starts=NOW, ends=NOW + timedelta(hours=1), note=note, actor="tl"
    )
    assert closure.note == note


async def test_the_number_of_closures_is_bounded_and_ended_ones_make_room(redis: Redis) -> None:
    closures = store(redis, limit=2)
    hour = timedelta(hours=1)
    for n in range(2):
        await closures.set(
            office="bauamt", starts=NOW + n * hour, ends=NOW + (n + 1) * hour, note="zu", actor="tl"
        )
    with pytest.raises(ClosureRejected, match="bereits 2"):
        await closures.set(office="bauamt", starts=NOW, ends=NOW + hour, note="zu", actor="tl")
    assert await redis.hlen(CLOSURES_KEY) == 2
    later = ClosureStore(
        redis, audit=AuditLog(redis), clock=(NOW + 90 * timedelta(minutes=1)).timestamp, limit=2
    )
    await later.set(office="bauamt", starts=NOW + hour, ends=NOW + 3 * hour, note="zu", actor="tl")
    assert len(await later.all()) == 2  # the first had ended and was pruned


async def test_a_damaged_entry_is_skipped(redis: Redis) -> None:
    await redis.hset(CLOSURES_KEY, "broken", "{not json")
    assert await store(redis).all() == []


async def test_when_the_audit_log_fails_the_closure_is_not_kept(redis: Redis) -> None:
    class FailingAudit(AuditLog):
        async def append(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise AuditError("down")

    closures = store(redis, audit=FailingAudit(redis))
    with pytest.raises(AuditError):
        await closures.set(
            office="bauamt", starts=NOW, ends=NOW + timedelta(hours=1), note="zu", actor="tl"
        )
    assert await redis.hlen(CLOSURES_KEY) == 0


def test_the_limit_option_is_bounded(redis: Redis) -> None:
    with pytest.raises(ValueError, match="limit"):
        store(redis, limit=0)
    with pytest.raises(ValueError, match="limit"):
        store(redis, limit=101)
