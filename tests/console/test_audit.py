"""The audit chain on a real Redis: appends, concurrent writers, tampering shows."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from console.audit import GENESIS, HEAD_KEY, STREAM_KEY, AuditAction, AuditLog, entry_hash
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
    assert [r.value for r in Role] == ["sachbearbeitung", "teamleitung", "admin", "datenschutz"]
    assert Role("teamleitung").label == "Teamleitung"
    assert Role.PRIVACY.label == "Datenschutz"
