"""The audit chain on a real Redis: appends, concurrent writers, tampering shows."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from console.audit import (
    ANCHOR_KEY,
    GENESIS,
    HEAD_KEY,
    STREAM_KEY,
    AuditAction,
    AuditLog,
    ChainCheck,
    entry_hash,
)
from console.roles import Role


def clock(start: float = 1_795_000_000.0):
    now = [start]

    def tick() -> float:
        now[0] += 1.5
        return now[0]

    return tick


async def test_entries_are_chained_and_read_newest_first(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    first = await log.append("erika", AuditAction.LOGIN)
    second = await log.append("erika", AuditAction.CLAIM, "C-20261201-K7QX2M", "neu")
    assert first.prev == GENESIS and second.prev == first.hash
    assert first.hash == entry_hash(GENESIS, "1795000001.5", "erika", "login", "", "")
    assert second.at == 1_795_000_003.0
    entries = await log.entries()
    assert [e.action for e in entries] == [AuditAction.CLAIM, AuditAction.LOGIN]
    assert entries[0] == second
    assert await redis.get(HEAD_KEY) == second.hash
    assert await log.verify()


async def test_two_writers_at_once_never_fork_the_chain(redis: Redis) -> None:
    logs = [AuditLog(redis), AuditLog(redis)]
    await asyncio.gather(
        *(logs[n % 2].append(f"user{n}", AuditAction.STATUS, f"C-{n}") for n in range(40))
    )
    entries = await logs[0].entries(count=100)
    assert len(entries) == 40
    assert len({e.prev for e in entries}) == 40  # every entry follows a different one
    assert await logs[1].verify()


@pytest.mark.parametrize("field", ["actor", "target", "action", None])
async def test_a_changed_entry_shows(redis: Redis, field: str | None) -> None:
    log = AuditLog(redis, clock=clock())
    await log.append("erika", AuditAction.LOGIN)
    entry = await log.append("erika", AuditAction.VIEW_TRANSCRIPT, "C-1")
    await log.append("max", AuditAction.LOGOUT)
    rows = await redis.xrange(STREAM_KEY)
    await redis.delete(STREAM_KEY)
    for n, (entry_id, fields) in enumerate(rows, start=1):
        if entry_id == entry.id and field is not None:
            fields = {**fields, field: "note" if field == "action" else "mallory"}
        await redis.xadd(STREAM_KEY, fields, id=f"1-{n}")
    assert await log.verify() is (field is None)  # new stream ids alone change nothing


async def test_a_removed_entry_or_head_shows(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    await log.append("erika", AuditAction.LOGIN)
    last = await log.append("erika", AuditAction.LOGOUT)
    assert await log.verify()
    await redis.xdel(STREAM_KEY, last.id)
    assert not await log.verify()  # the head names an entry that is gone


async def test_an_empty_log_verifies_and_reads_empty(redis: Redis) -> None:
    log = AuditLog(redis)
    assert await log.verify() and await log.entries() == []


def test_roles_carry_their_german_names() -> None:
    assert [r.value for r in Role] == [
        "sachbearbeitung",
        "teamleitung",
        "admin",
        "datenschutz",
        "redaktion",
    ]
    assert Role("teamleitung").label == "Teamleitung"
    assert Role.PRIVACY.label == "Datenschutz"
    assert Role.EDITOR.label == "Redaktion"


async def test_check_names_the_first_broken_link(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    await log.append("erika", AuditAction.LOGIN)
    middle = await log.append("erika", AuditAction.NOTE, "C-1")
    await log.append("erika", AuditAction.LOGOUT)
    assert await log.check() == ChainCheck(True, 3, None)
    await redis.xdel(STREAM_KEY, middle.id)
    check = await log.check()
    assert not check.intact and check.checked == 1
    assert check.broken_at == (await log.entries(count=1))[0].id  # the one after the gap


async def test_check_flags_a_wrong_head_and_an_unreadable_entry(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    await log.append("erika", AuditAction.LOGIN)
    await redis.set(HEAD_KEY, "f" * 40)
    assert await log.check() == ChainCheck(False, 1, "head")
    await redis.xadd(STREAM_KEY, {"at": "x"}, id="99999999999999-0")
    check = await log.check()
    assert check.broken_at == "99999999999999-0" and check.checked == 1


async def test_trim_keeps_the_last_trimmed_hash_as_anchor(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    for n in range(4):
        await log.append("erika", AuditAction.NOTE, f"C-{n}")
    rows = await redis.xrange(STREAM_KEY)
    third_ms = int(rows[2][0].split("-")[0])
    # Entries before the third's millisecond go; in one millisecond several may share it.
    expected = sum(1 for entry_id, _ in rows if int(entry_id.split("-")[0]) < third_ms)
    assert await log.trim(third_ms / 1000, dry_run=True) == expected
    assert await redis.xlen(STREAM_KEY) == 4
    assert await log.trim(third_ms / 1000) == expected
    if expected:
        assert await redis.get(ANCHOR_KEY) == rows[expected - 1][1]["hash"]
    assert await redis.xlen(STREAM_KEY) == 4 - expected
    assert await log.verify()
    assert await log.trim(0) == 0  # nothing before the epoch


async def test_trim_of_everything_verifies_from_the_anchor(redis: Redis) -> None:
    log = AuditLog(redis, clock=clock())
    entries = [await log.append("erika", AuditAction.NOTE, f"C-{n}") for n in range(3)]
    assert await log.trim(10_000_000_000) == 3
    assert await redis.get(ANCHOR_KEY) == entries[-1].hash
    assert await log.check() == ChainCheck(True, 0, None)
    nxt = await log.append("erika", AuditAction.LOGOUT)
    assert nxt.prev == entries[-1].hash
    assert await log.verify()
    await redis.set(ANCHOR_KEY, GENESIS)  # a forged anchor breaks the first link
    assert (await log.check()).broken_at == nxt.id
