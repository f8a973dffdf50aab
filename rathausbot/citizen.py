"""Everything about one citizen, for access (Art. 15 GDPR) and erasure (Art. 17).

`Lookup.parse` is sans-I/O: it checks and normalises the privacy officer's key (a phone
number, a case/booking/ticket/callback reference, a chat session or a name within bookings).
`CitizenData` finds what that key leads to, exports it as a JSON-ready document and erases
it all at once. Searches and exports are audited by the kind of key, never its value;
an erasure leaves a tombstone with kinds and counts only, written before anything is deleted
(no audit, no erasure). A case under legal hold is neither erased nor its conversation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import cast

from redis.asyncio import Redis

from console.audit import AuditAction, AuditLog
from console.work import CLOSED_KEY
from contract.phone import to_e164
from contract.records import (
    DELIVERED_FIELD,
    OPEN_CASES_KEY,
    REFERENCE_ALPHABET,
    WEBHOOK_QUEUE_KEY,
    WEBHOOK_QUEUE_LIMIT,
    RecordKind,
    WebhookEntry,
    WebhookEvent,
    case_key,
    session_key,
    transcript_key,
)
from dialogue.store import CALLER_FIELD, consent_key
from rathausbot.purge import SCAN_COUNT, booking_slot_key, conversation_keys, work_keys

MAX_KEY_CHARS = 200
MIN_NAME_CHARS = 2
MAX_NAME_CHARS = 100
_REF = f"[{REFERENCE_ALPHABET}]{{6}}"
REFERENCE = re.compile(rf"C-\d{{8}}-{_REF}|[BSR]-{_REF}")
SESSION = re.compile(r"[A-Za-z0-9._@:+=/-]{4,200}")


class KeyKind(StrEnum):
    PHONE = "phone"
    REFERENCE = "reference"
    SESSION = "session"
    NAME = "name"

    @property
    def label(self) -> str:
        return {
            KeyKind.PHONE: "Telefonnummer",
            KeyKind.REFERENCE: "Vorgangs- oder Buchungsnummer",
            KeyKind.SESSION: "Chat-Sitzung",
            KeyKind.NAME: "Name (in Terminbuchungen)",
        }[self]


class KeyRefused(ValueError):
    """The key is not a valid one of its kind; the message is German, for the officer."""


def normal_name(text: str) -> str:
    """A name compared without case and extra spaces: " Erika  MUSTER " -> "erika muster"."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Lookup:
    """A checked, normalised search key."""

    kind: KeyKind
    value: str

    @classmethod
    def parse(cls, kind: KeyKind, raw: str) -> Lookup:
        """KeyRefused (German message) when `raw` is not a key of `kind`."""
        text = raw.strip()
        if not text or len(text) > MAX_KEY_CHARS:
            raise KeyRefused("Bitte geben Sie einen Suchbegriff an (höchstens 200 Zeichen).")
        match kind:
            case KeyKind.PHONE:
                e164 = to_e164(text)
                if e164 is None:
                    raise KeyRefused("Das ist keine vollständige Telefonnummer mit Vorwahl.")
                return cls(kind, e164)
            case KeyKind.REFERENCE:
                reference = text.upper()
                if not REFERENCE.fullmatch(reference):
                    raise KeyRefused(
                        "Das ist keine Vorgangs-, Buchungs-, Meldungs- oder Rückrufnummer "
                        "(z. B. C-20261201-K7QX2M oder B-K7QX2M)."
                    )
                return cls(kind, reference)
            case KeyKind.SESSION:
                if not SESSION.fullmatch(text):
                    raise KeyRefused("Das ist keine Sitzungskennung.")
                return cls(kind, text)
            case KeyKind.NAME:
                name = normal_name(text)
                if not MIN_NAME_CHARS <= len(name) <= MAX_NAME_CHARS:
                    raise KeyRefused("Bitte geben Sie einen Namen mit 2 bis 100 Zeichen an.")
                return cls(kind, name)


@dataclass(slots=True)
class Findings:
    """What a key leads to: ids and references, plus the records' fields for the export."""

    lookup: Lookup
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    transcripts: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    cases: dict[str, dict[str, str]] = field(default_factory=dict)
    consent: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    records: dict[RecordKind, dict[str, dict[str, str]]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many of each kind (the preview and the tombstone)."""
        counts = {
            "sessions": len(self.sessions),
            "transcript_lines": sum(len(lines) for lines in self.transcripts.values()),
            "cases": len(self.cases),
            "recordings": len(self.recordings),
            "consent_entries": sum(len(lines) for lines in self.consent.values()),
        }
        for kind in RecordKind:
            counts[kind.plural] = len(self.records.get(kind, {}))
        return counts

    @property
    def recordings(self) -> list[str]:
        return sorted({c["recording"] for c in self.cases.values() if c.get("recording")})

    @property
    def held(self) -> list[str]:
        """Cases under legal hold: kept, with their conversations."""
        return sorted(i for i, c in self.cases.items() if c.get("legal_hold") == "1")

    @property
    def empty(self) -> bool:
        return not any(self.counts().values())

    def document(self, generated_at: float) -> dict[str, object]:
        """The Art. 15 export as JSON-ready data."""
        return {
            "generated_at": datetime.fromtimestamp(generated_at).astimezone().isoformat(),
            "key": self.lookup.kind.value,
            "counts": self.counts(),
            "conversations": [
                {
                    "session": session_id,
                    **{k: v for k, v in fields.items() if k != "last_record"},
                    "transcript": self.transcripts.get(session_id, []),
                }
                for session_id, fields in sorted(self.sessions.items())
            ],
            "cases": [self.cases[i] for i in sorted(self.cases)],
            "bookings": _values(self.records.get(RecordKind.BOOKING, {})),
            "tickets": _values(self.records.get(RecordKind.TICKET, {})),
            "callbacks": _values(self.records.get(RecordKind.CALLBACK, {})),
            "recordings": self.recordings,
            "consent": [
                {"session": session_id, "entries": entries}
                for session_id, entries in sorted(self.consent.items())
            ],
        }


def _values(records: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in records[r].items() if k != DELIVERED_FIELD} for r in sorted(records)]


def tombstone(findings: Findings) -> str:
    """The erasure's audit detail: the key's kind and counts per kind, never content."""
    counts = " ".join(f"{k}={v}" for k, v in findings.counts().items())
    return f"key={findings.lookup.kind.value} {counts} held={len(findings.held)}"


class CitizenData:
    """Finds, exports and erases one citizen's data; `actor` names who asks (audited)."""

    def __init__(
        self,
        redis: Redis,
        audit: AuditLog,
        *,
        recordings_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._audit = audit
        self._recordings = recordings_dir
        self._clock = clock

    async def search(self, lookup: Lookup, *, actor: str) -> Findings:
        """Everything the key leads to; audited by the key's kind."""
        await self._audit.append(actor, AuditAction.PRIVACY_SEARCH, "", lookup.kind.value)
        return await self.find(lookup)

    async def export(self, lookup: Lookup, *, actor: str) -> dict[str, object]:
        findings = await self.find(lookup)
        await self._audit.append(actor, AuditAction.PRIVACY_EXPORT, "", lookup.kind.value)
        return findings.document(self._clock())

    async def find(self, lookup: Lookup) -> Findings:
        """What the key leads to, without auditing (callers audit)."""
        found = Findings(lookup)
        session_ids: set[str] = set()
        case_ids: set[str] = set()
        match lookup.kind:
            case KeyKind.PHONE:
                for kind in (RecordKind.BOOKING, RecordKind.CALLBACK):
                    await self._records(
                        found, kind, lambda f: to_e164(f.get("phone", "")) == lookup.value
                    )
                async for key in self._redis.scan_iter(match="rb:session:*", count=SCAN_COUNT):
                    if await self._redis.hget(key, CALLER_FIELD) == lookup.value:
                        session_ids.add(cast(str, key).removeprefix("rb:session:"))
            case KeyKind.NAME:
                await self._records(
                    found,
                    RecordKind.BOOKING,
                    lambda f: normal_name(f.get("name", "")) == lookup.value,
                )
            case KeyKind.SESSION:
                session_ids.add(lookup.value)
            case KeyKind.REFERENCE:
                if lookup.value.startswith("C-"):
                    case_ids.add(lookup.value)
                else:
                    kind = next(k for k in RecordKind if lookup.value.startswith(k.prefix + "-"))
                    fields = await self._hash(kind.key(lookup.value))
                    if fields:
                        found.records.setdefault(kind, {})[lookup.value] = fields
        # A conversation brings its cases and a case its conversation.
        async for key in self._redis.scan_iter(match="rb:case:*", count=SCAN_COUNT):
            fields = await self._hash(cast(str, key))
            if fields.get("id") in case_ids or fields.get("session_id") in session_ids:
                found.cases[fields["id"]] = fields
                session_ids.add(fields.get("session_id", ""))
        session_ids.discard("")
        for session_id in sorted(session_ids):
            fields = await self._hash(session_key(session_id))
            lines = cast(
                list[tuple[str, dict[str, str]]],
                await self._redis.xrange(transcript_key(session_id)),
            )
            if fields:
                found.sessions[session_id] = fields
            if lines:
                found.sessions.setdefault(session_id, {})
                found.transcripts[session_id] = [line for _, line in lines]
            consent = cast(
                list[tuple[str, dict[str, str]]], await self._redis.xrange(consent_key(session_id))
            )
            if consent:
                found.consent[session_id] = [entry for _, entry in consent]
        return found

    async def _hash(self, key: str) -> dict[str, str]:
        return cast(dict[str, str], await self._redis.hgetall(key))

    async def _records(
        self, found: Findings, kind: RecordKind, matches: Callable[[dict[str, str]], bool]
    ) -> None:
        async for key in self._redis.scan_iter(match=kind.key("*"), count=SCAN_COUNT):
            fields = await self._hash(cast(str, key))
            if fields.get("reference") and matches(fields):
                found.records.setdefault(kind, {})[fields["reference"]] = fields

    async def erase(self, findings: Findings, *, actor: str) -> dict[str, int]:
        """Erases everything found, except cases under legal hold and their conversations;
        the tombstone is written first. Due bookings are cancelled (their slot freed) and
        the office's webhook told of each record it was sent. Returns the counts erased."""
        await self._audit.append(actor, AuditAction.ERASURE, "", tombstone(findings))
        held = set(findings.held)
        held_sessions = {findings.cases[i].get("session_id", "") for i in held}
        pipe = self._redis.pipeline(transaction=True)
        for session_id in set(findings.sessions) | set(findings.consent):
            if session_id not in held_sessions:
                pipe.delete(*conversation_keys(session_id), consent_key(session_id))
        for case_id in findings.cases:
            if case_id in held:
                continue
            pipe.delete(case_key(case_id), *work_keys(case_id))
            pipe.zrem(OPEN_CASES_KEY, case_id)
            pipe.zrem(CLOSED_KEY, case_id)
        for kind, records in findings.records.items():
            for reference, fields in records.items():
                pipe.delete(kind.key(reference), *work_keys(reference))
                pipe.zrem(kind.index_key, reference)
                pipe.zrem(CLOSED_KEY, reference)
                slot = booking_slot_key(fields) if kind is RecordKind.BOOKING else None
                if slot is not None:
                    pipe.srem(slot, reference)  # a due appointment's slot is free again
                if fields.get(DELIVERED_FIELD) == "1":
                    notice = WebhookEntry(kind, WebhookEvent.DELETED, reference).to_json()
                    pipe.lpush(WEBHOOK_QUEUE_KEY, notice)
                    pipe.ltrim(WEBHOOK_QUEUE_KEY, 0, WEBHOOK_QUEUE_LIMIT - 1)
        await pipe.execute()
        for case_id in findings.cases:
            name = findings.cases[case_id].get("recording", "")
            if name and case_id not in held:
                (self._recordings / Path(name).name).unlink(missing_ok=True)
        counts = findings.counts()
        counts["held"] = len(held)
        return counts

    async def set_hold(self, case_id: str, on: bool, *, actor: str) -> bool:
        """Puts a case under legal hold (no purge, no erasure; its keys lose their expiry)
        or lifts it; False when there is no such case."""
        fields = await self._hash(case_key(case_id))
        if not fields:
            return False
        await self._audit.append(actor, AuditAction.LEGAL_HOLD, case_id, "on" if on else "off")
        keys = [case_key(case_id)]
        if fields.get("session_id"):
            keys += [session_key(fields["session_id"]), transcript_key(fields["session_id"])]
        if on:
            await self._redis.hset(case_key(case_id), "legal_hold", "1")
            for key in keys:
                await self._redis.persist(key)
        else:
            await self._redis.hdel(case_key(case_id), "legal_hold")  # the purge sets TTLs again
        return True
