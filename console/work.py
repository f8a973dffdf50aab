"""The console's work on inbox items: claim, reassign, status, notes, callback attempts,
closing. Written to `rb:console:work:{id}` (and lists beside it); the citizen's records
(`rb:case:*`, `rb:callback:*`, `rb:ticket:*`) are only read, except that closing a case
marks it closed and puts its conversation under the normal retention again.

Claiming is one Lua script: of two clerks who claim at once exactly one becomes the owner,
and the other is told who. Only the owner changes an item; a team lead reassigns it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import cast

from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from contract.conversation import CaseStatus
from contract.records import (
    OPEN_CASES_KEY,
    Channel,
    RecordKind,
    case_key,
    session_key,
    transcript_key,
)
from dialogue.metrics import StaffMetrics, StatChannel

CONSOLE_EVENTS_CHANNEL = "rb:events:console"
CLOSED_KEY = "rb:console:closed"
ITEM_ID = re.compile(r"^(C-\d{8}-[A-Z2-9]{6}|[RS]-[A-Z2-9]{6})$")
MAX_NOTE_CHARS = 4000
MAX_NOTES = 200
MAX_ATTEMPTS = 50
FAILED_ATTEMPTS_FLAG = 3
VIEWER_WINDOW_S = 120


class WorkStatus(StrEnum):
    NEW = "neu"
    IN_PROGRESS = "in Bearbeitung"
    WAITING = "wartet auf Rückmeldung"
    DONE = "erledigt"


class AttemptOutcome(StrEnum):
    REACHED = "erreicht"
    NOT_REACHED = "nicht erreicht"
    MESSAGE_LEFT = "Nachricht hinterlassen"


class Refusal(Enum):
    """Why a change was refused; German text for the clerk in `.value`."""

    NOT_OWNER = "Nur die Person, die den Vorgang übernommen hat, kann ihn ändern."
    UNKNOWN = "Diesen Vorgang gibt es nicht (mehr)."
    EMPTY = "Bitte geben Sie einen Text ein."


class WorkRefused(Exception):
    def __init__(self, refusal: Refusal, owner: str = "") -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.owner = owner


def work_key(item_id: str) -> str:
    return f"rb:console:work:{item_id}"


def notes_key(item_id: str) -> str:
    return f"rb:console:work:{item_id}:notes"


def attempts_key(item_id: str) -> str:
    return f"rb:console:work:{item_id}:attempts"


def viewers_key(item_id: str) -> str:
    return f"rb:console:work:{item_id}:viewers"


def valid_item_id(item_id: str) -> bool:
    return ITEM_ID.match(item_id) is not None


# KEYS: work hash. ARGV: user, now, status for a new claim. Returns {won (0/1), owner}.
_CLAIM_LUA = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= '' then return {0, owner} end
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'updated_at', ARGV[2])
if not status or status == '' or status == 'neu' then
  redis.call('HSET', KEYS[1], 'status', ARGV[3])
end
return {1, ARGV[1]}
"""

# KEYS: work hash. ARGV: user, field, value, now. Sets the field only for the owner.
_OWNER_SET_LUA = """
local owner = redis.call('HGET', KEYS[1], 'owner') or ''
if owner ~= ARGV[1] then return {0, owner} end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], 'updated_at', ARGV[4])
return {1, owner}
"""


@dataclass(frozen=True, slots=True)
class WorkState:
    owner: str
    status: WorkStatus
    failed_attempts: int

    @property
    def flagged(self) -> bool:
        return self.failed_attempts >= FAILED_ATTEMPTS_FLAG


@dataclass(frozen=True, slots=True)
class Note:
    at: float
    user: str
    text: str


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    user: str
    outcome: AttemptOutcome


class Workbench:
    """Changes to inbox items, each audited and announced on `rb:events:console`."""

    def __init__(
        self,
        redis: Redis,
        audit: AuditLog,
        *,
        retention_s: int,
        clock: Callable[[], float] = time.time,
        metrics: StaffMetrics | None = None,
    ) -> None:
        """`metrics` counts waiting times and callbacks done for the team statistics."""
        if retention_s < 1:
            raise ValueError("retention_s must be positive")
        self._redis = redis
        self._audit = audit
        self._retention_s = retention_s
        self._clock = clock
        self._metrics = metrics
        self._claim = redis.register_script(_CLAIM_LUA)
        self._owner_set = redis.register_script(_OWNER_SET_LUA)

    async def state(self, item_id: str) -> WorkState:
        fields = cast(dict[str, str], await self._redis.hgetall(work_key(item_id)))
        return WorkState(
            owner=fields.get("owner", ""),
            status=WorkStatus(fields.get("status", WorkStatus.NEW.value)),
            failed_attempts=int(fields.get("failed_attempts", "0")),
        )

    async def claim(self, item_id: str, user: str) -> tuple[bool, str]:
        """(True, user) when `user` now owns the item; (False, owner) when someone else did."""
        won, owner = await self._claim(
            keys=[work_key(item_id)],
            args=[user, repr(self._clock()), WorkStatus.IN_PROGRESS.value],
        )
        if int(won):
            await self._audit.append(user, AuditAction.CLAIM, item_id)
            await self._count_taken(item_id)
            await self._announce(item_id)
        return bool(int(won)), str(owner)

    async def reassign(self, item_id: str, to_user: str, *, by: str) -> None:
        """A team lead's decision: the caller checks the role."""
        await self._redis.hset(
            work_key(item_id), mapping={"owner": to_user, "updated_at": repr(self._clock())}
        )
        await self._audit.append(by, AuditAction.REASSIGN, item_id, to_user)
        await self._announce(item_id)

    async def set_status(self, item_id: str, status: WorkStatus, *, user: str) -> None:
        """Raises WorkRefused(NOT_OWNER) unless `user` owns the item. DONE closes it."""
        await self._owner_only(item_id, user, "status", status.value)
        await self._audit.append(user, AuditAction.STATUS, item_id, status.value)
        if status is WorkStatus.DONE:
            await self._close(item_id)
            await self._count_callback_done(item_id)
        elif await self._redis.zrem(CLOSED_KEY, item_id):
            await self._reopen(item_id)
        await self._announce(item_id)

    async def add_note(self, item_id: str, text: str, *, user: str) -> None:
        text = text.strip()[:MAX_NOTE_CHARS]
        if not text:
            raise WorkRefused(Refusal.EMPTY)
        await self._owner_only(item_id, user, "noted_at", repr(self._clock()))
        note = json.dumps({"at": self._clock(), "user": user, "text": text})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(notes_key(item_id), note)
            pipe.ltrim(notes_key(item_id), -MAX_NOTES, -1)
            await pipe.execute()
        await self._audit.append(user, AuditAction.NOTE, item_id)

    async def notes(self, item_id: str) -> list[Note]:
        raw = cast(list[str], await self._redis.lrange(notes_key(item_id), 0, -1))
        return [Note(d["at"], d["user"], d["text"]) for d in map(json.loads, raw)]

    async def record_attempt(self, item_id: str, outcome: AttemptOutcome, *, user: str) -> None:
        """A callback attempt; the third failed one flags the item."""
        await self._owner_only(item_id, user, "attempted_at", repr(self._clock()))
        entry = json.dumps({"at": self._clock(), "user": user, "outcome": outcome.value})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(attempts_key(item_id), entry)
            pipe.ltrim(attempts_key(item_id), -MAX_ATTEMPTS, -1)
            if outcome is not AttemptOutcome.REACHED:
                pipe.hincrby(work_key(item_id), "failed_attempts", 1)
            await pipe.execute()
        await self._audit.append(user, AuditAction.CALLBACK_ATTEMPT, item_id, outcome.value)
        await self._announce(item_id)

    async def attempts(self, item_id: str) -> list[Attempt]:
        raw = cast(list[str], await self._redis.lrange(attempts_key(item_id), 0, -1))
        return [
            Attempt(d["at"], d["user"], AttemptOutcome(d["outcome"])) for d in map(json.loads, raw)
        ]

    async def viewing(self, item_id: str, user: str) -> list[str]:
        """Notes that `user` has the item open; returns who else opened it lately."""
        now = self._clock()
        key = viewers_key(item_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {user: now})
            pipe.zremrangebyscore(key, "-inf", now - VIEWER_WINDOW_S)
            pipe.zrange(key, 0, -1)
            pipe.expire(key, VIEWER_WINDOW_S)
            *_, names, _ = await pipe.execute()
        return [name for name in cast(list[str], names) if name != user]

    async def _owner_only(self, item_id: str, user: str, field: str, value: str) -> None:
        ok, owner = await self._owner_set(
            keys=[work_key(item_id)], args=[user, field, value, repr(self._clock())]
        )
        if not int(ok):
            raise WorkRefused(Refusal.NOT_OWNER, str(owner))

    async def _first(self, item_id: str, flag: str) -> bool:
        """True once per item and flag (the statistics count an item once)."""
        return bool(await self._redis.hsetnx(work_key(item_id), flag, "1"))

    async def _count_taken(self, item_id: str) -> None:
        """A case's wait until a clerk first took it (later claims are not counted)."""
        if self._metrics is None or not item_id.startswith("C-"):
            return
        fields = cast(dict[str, str], await self._redis.hgetall(case_key(item_id)))
        channel = Channel.of(fields.get("channel"))
        if channel is None or "created_at" not in fields:
            return
        if await self._first(item_id, "counted_taken"):
            waited = self._clock() - float(fields["created_at"])
            stat = StatChannel.of(channel, fields.get("session_id", ""))
            await self._metrics.case_taken(stat, waited)

    async def _count_callback_done(self, item_id: str) -> None:
        """Callbacks count as phone (asked on a call) or chat; done once per request."""
        if self._metrics is None or not item_id.startswith(f"{RecordKind.CALLBACK.prefix}-"):
            return
        name = await self._redis.hget(RecordKind.CALLBACK.key(item_id), "channel")
        channel = Channel.of(str(name)) if name else None
        if channel is not None and await self._first(item_id, "counted_done"):
            chat = channel is Channel.WEBCHAT
            await self._metrics.callback_done(StatChannel.CHAT if chat else StatChannel.PHONE)

    async def _close(self, item_id: str) -> None:
        """Closed cases leave the open list; their conversation expires after the retention.
        The console's own keys for the item expire with it."""
        now = self._clock()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(CLOSED_KEY, {item_id: now})
            pipe.zremrangebyscore(CLOSED_KEY, "-inf", now - self._retention_s)
            for key in (work_key(item_id), notes_key(item_id), attempts_key(item_id)):
                pipe.expire(key, self._retention_s)
            await pipe.execute()
        if not item_id.startswith("C-"):
            return
        session_id = await self._redis.hget(case_key(item_id), "session_id")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                case_key(item_id),
                mapping={"status": CaseStatus.CLOSED.value, "closed_at": repr(now)},
            )
            pipe.expire(case_key(item_id), self._retention_s)
            pipe.zrem(OPEN_CASES_KEY, item_id)
            if session_id:
                pipe.hdel(session_key(str(session_id)), "case_id")
                pipe.expire(session_key(str(session_id)), self._retention_s)
                pipe.expire(transcript_key(str(session_id)), self._retention_s)
            await pipe.execute()

    async def _reopen(self, item_id: str) -> None:
        """Undoes `_close`: the item is kept again, and a case is back among the open ones
        (its conversation too, unless the citizen has started a new case meanwhile)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in (work_key(item_id), notes_key(item_id), attempts_key(item_id)):
                pipe.persist(key)
            await pipe.execute()
        if not item_id.startswith("C-"):
            return
        fields = cast(dict[str, str], await self._redis.hgetall(case_key(item_id)))
        if not fields.get("created_at"):
            return  # the case record expired meanwhile: nothing to reopen
        session_id = fields.get("session_id", "")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(case_key(item_id), "status", CaseStatus.OPEN.value)
            pipe.hdel(case_key(item_id), "closed_at")
            pipe.persist(case_key(item_id))
            pipe.zadd(OPEN_CASES_KEY, {item_id: float(fields["created_at"])})
            if session_id:
                pipe.hsetnx(session_key(session_id), "case_id", item_id)
                pipe.persist(session_key(session_id))
                pipe.persist(transcript_key(session_id))
            await pipe.execute()

    async def announce(self, item_id: str) -> None:
        """Tells every open inbox that the item changed (e.g. a chat was taken over)."""
        await self._announce(item_id)

    async def _announce(self, item_id: str) -> None:
        await self._redis.publish(
            CONSOLE_EVENTS_CHANNEL, json.dumps({"event": "changed", "id": item_id})
        )
