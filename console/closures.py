"""Ad-hoc closures that team leads set in the console ("Bürgerbüro heute ab 12 Uhr
geschlossen"). The action server reads them on every opening-hours answer, so a change
applies at once. Shape and key: contract.closures; every change goes to the audit log."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from console.audit import AuditAction, AuditError, AuditLog
from contract.closures import CLOSURES_KEY, MAX_CLOSURES, MAX_NOTE_CHARS, Closure, parse_all
from contract.knowledge import knowledge_dir, load_directory

BERLIN = ZoneInfo("Europe/Berlin")
MAX_DURATION = timedelta(days=366)

# KEYS: the closures hash. ARGV: limit, id, json. Adds unless the hash holds `limit` already.
_ADD = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


class ClosureRejected(ValueError):
    """The closure cannot be set; the message (German) says why, for the team lead."""


class ClosureStore:
    """Sets, lists and removes closures in Redis. Offices are the department ids of the
    knowledge (`knowledge`, default: $RATHAUSBOT_KNOWLEDGE_DIR or intents/knowledge).
    Naive datetimes are read as Europe/Berlin."""

    def __init__(
        self,
        redis: Redis,
        *,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
        knowledge: Path | None = None,
        limit: int = MAX_CLOSURES,
    ) -> None:
        if not 1 <= limit <= MAX_CLOSURES:
            raise ValueError(f"limit must be in [1, {MAX_CLOSURES}]")
        self._redis = redis
        self._audit = audit
        self._clock = clock
        self._limit = limit
        self._offices = frozenset(
            d.id for d in load_directory(knowledge or knowledge_dir()).departments
        )
        self._add = redis.register_script(_ADD)

    @property
    def offices(self) -> frozenset[str]:
        """The office ids a closure may name."""
        return self._offices

    async def set(
        self, *, office: str, starts: datetime, ends: datetime, note: str, actor: str
    ) -> Closure:
        """Stores a closure and audits it. ClosureRejected for invalid input or when the
        bound is reached; AuditError (nothing stored) when the audit log fails."""
        starts, ends, note = _aware(starts), _aware(ends), note.strip()
        now = datetime.fromtimestamp(self._clock(), BERLIN)
        if office not in self._offices:
            raise ClosureRejected(f"Unbekannte Dienststelle: {office!r}.")
        if ends <= starts:
            raise ClosureRejected("Das Ende muss nach dem Beginn liegen.")
        if ends <= now:
            raise ClosureRejected("Die Schließung liegt bereits in der Vergangenheit.")
        if ends - starts > MAX_DURATION:
            raise ClosureRejected("Eine Schließung dauert höchstens ein Jahr.")
        if not note:
            raise ClosureRejected("Bitte geben Sie einen kurzen Hinweis an.")
        if len(note) > MAX_NOTE_CHARS:
            raise ClosureRejected(f"Der Hinweis hat mehr als {MAX_NOTE_CHARS} Zeichen.")
        closure = Closure(
            id=secrets.token_hex(6),
            office=office,
            starts=starts,
            ends=ends,
            note=note,
            created_by=actor,
        )
        await self._prune(now)
        added = await self._add(
            keys=[CLOSURES_KEY], args=[self._limit, closure.id, closure.to_json()]
        )
        if int(added) != 1:
            raise ClosureRejected(
                f"Es sind bereits {self._limit} Schließungen eingetragen; bitte entfernen Sie "
                "zuerst eine."
            )
        try:
            await self._audit.append(
                actor, AuditAction.CLOSURE, target=office, detail=_detail(closure)
            )
        except AuditError:
            await self._redis.hdel(CLOSURES_KEY, closure.id)
            raise
        return closure

    async def active(self, *, at: datetime | None = None) -> list[Closure]:
        """The closures in force at ``at`` (default: now), by start."""
        moment = _aware(at) if at is not None else datetime.fromtimestamp(self._clock(), BERLIN)
        return [c for c in await self.all() if c.active_at(moment)]

    async def all(self) -> list[Closure]:
        """Every stored closure (past ones until pruned, current and future), by start."""
        raw = cast(dict[str, str], await self._redis.hgetall(CLOSURES_KEY))
        return parse_all(raw)

    async def remove(self, closure_id: str, *, actor: str) -> bool:
        """Removes a closure and audits it; False when there is none with that id."""
        raw = await self._redis.hget(CLOSURES_KEY, closure_id)
        if raw is None:
            return False
        closure = Closure.parse(raw if isinstance(raw, str) else raw.decode())
        office = closure.office if closure is not None else ""
        await self._audit.append(
            actor, AuditAction.CLOSURE, target=office, detail=f"removed {closure_id}"
        )
        return int(await self._redis.hdel(CLOSURES_KEY, closure_id)) == 1

    async def _prune(self, now: datetime) -> None:
        ended = [c.id for c in await self.all() if c.ends <= now]
        if ended:
            await self._redis.hdel(CLOSURES_KEY, *ended)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BERLIN)


def _detail(closure: Closure) -> str:
    return f"set {closure.id} {closure.starts.isoformat()}/{closure.ends.isoformat()}"
