"""What the inbox and the case view show, read from the dialogue store's keys and the action
server's records: chat and phone cases, callback requests and damage tickets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import cast

from redis.asyncio import Redis

from console.work import CLOSED_KEY, Workbench, WorkState, WorkStatus
from contract.conversation import Case, TranscriptRecord
from contract.language import Register
from contract.records import (
    OPEN_CASES_KEY,
    Channel,
    RecordKind,
    case_key,
    tracker_key,
    transcript_key,
)
from telephony.staff_hours import BERLIN, StaffHours

MAX_ROWS = 300
DUE_SERVICE_HOURS = 24
_QUARTER = timedelta(minutes=15)

REASONS = {
    "user_request": "Bürger/in wünscht Kontakt",
    "fallback": "Assistent zweimal gescheitert",
    "outside_hours": "außerhalb der Servicezeiten",
    "complaint": "Beschwerde",
    "unspecified": "ohne Angabe",
}
TOPICS = {
    "human_handoff": "Kontaktwunsch",
    "id_card": "Personalausweis",
    "passport": "Reisepass",
    "document_pickup": "Dokumentenabholung",
    "register_residence": "Anmeldung Wohnsitz",
    "deregister_residence": "Abmeldung Wohnsitz",
    "certificate_of_conduct": "Führungszeugnis",
    "civil_status_certificate": "Personenstandsurkunde",
    "marriage": "Eheschließung",
    "vehicle_registration": "Kfz-Zulassung",
    "parking_permit": "Bewohnerparkausweis",
    "bulky_waste": "Sperrmüll",
    "dog_tax": "Hundesteuer",
    "business_registration": "Gewerbeanmeldung",
    "lost_and_found": "Fundbüro",
    "building_permit": "Bauantrag",
    "childcare": "Kinderbetreuung",
    "housing_benefit": "Wohngeld",
    "property_tax": "Grundsteuer",
    "opening_hours": "Öffnungszeiten",
    "book_appointment": "Terminbuchung",
    "cancel_appointment": "Terminabsage",
    "report_damage": "Schadensmeldung",
    "callback_request": "Rückrufwunsch",
    "waste_collection": "Abfuhrtermine",
    "responsible_office": "Zuständigkeit",
    "complaint": "Beschwerde",
    "emergency": "Notfall",
    "out_of_scope": "nicht verstanden",
}


class ItemKind(Enum):
    CHAT = "chat"
    PHONE = "phone"
    CALLBACK = "callback"
    TICKET = "ticket"

    @property
    def label(self) -> str:
        return {
            ItemKind.CHAT: "Chat",
            ItemKind.PHONE: "Telefon",
            ItemKind.CALLBACK: "Rückruf",
            ItemKind.TICKET: "Schadensmeldung",
        }[self]

    @property
    def icon(self) -> str:
        return {
            ItemKind.CHAT: "⌨",
            ItemKind.PHONE: "☎",
            ItemKind.CALLBACK: "↩",
            ItemKind.TICKET: "⚠",
        }[self]


REGISTER_LABELS = {Register.EN: "Englisch", Register.EINFACH: "Leichte Sprache"}
FLAGGED_NOTE = " – zur Prüfung vorgelegt: lange ohne Bearbeitung, wird sonst gelöscht"


@dataclass(frozen=True, slots=True)
class InboxItem:
    item_id: str
    kind: ItemKind
    reason: str  # German label
    topic: str  # German label
    department: str  # the department's id ("" when unknown)
    created_at: float
    work: WorkState
    due_at: float | None = None  # callbacks: 24 service hours after the request
    session_id: str = ""
    phone_masked: str = ""  # callbacks: the number to call, masked for lists
    register: Register = Register.DE  # cases: the conversation's register at the handoff
    flagged_at: float | None = None  # cases: when the purge job flagged it as inactive

    @property
    def register_label(self) -> str:
        """The badge for a conversation not held in standard German ("" for German)."""
        return REGISTER_LABELS.get(self.register, "")


def mask_phone(number: str) -> str:
    """A number for lists: its first four and last two characters, the rest hidden
    ("+491•••••67"); numbers of six characters or fewer are hidden entirely."""
    number = number.strip()
    if len(number) <= 6:
        return "•" * len(number)
    return number[:4] + "•" * (len(number) - 6) + number[-2:]


@dataclass(frozen=True, slots=True)
class Filters:
    department: str = ""
    kind: ItemKind | None = None
    status: WorkStatus | None = None
    mine: str = ""  # a user name: only items this user owns
    query: str = ""  # a case id or reference, or its start

    def admits(self, item: InboxItem) -> bool:
        if self.department and item.department != self.department:
            return False
        if self.kind is not None and item.kind is not self.kind:
            return False
        if self.status is not None and item.work.status is not self.status:
            return False
        if self.status is None and item.work.status is WorkStatus.DONE:
            return False
        if self.mine and item.work.owner != self.mine:
            return False
        return not self.query or item.item_id.startswith(self.query.strip().upper())


@dataclass(frozen=True, slots=True)
class CaseDetail:
    item: InboxItem
    transcript: list[TranscriptRecord]
    slots: dict[str, str]
    fields: dict[str, str]  # the record's own fields (callback phone, ticket location, ...)
    recording: str = ""  # a recording's file name, when the caller consented
    extra: dict[str, str] = field(default_factory=dict)


def due_after(start: float, hours: StaffHours, *, service_hours: int = DUE_SERVICE_HOURS) -> float:
    """When `service_hours` of staff hours have passed since `start` (15-minute steps, at
    most 60 days ahead)."""
    moment = datetime.fromtimestamp(start, BERLIN)
    moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=-moment.minute % 15)
    if moment.timestamp() < start:
        moment += _QUARTER
    needed = service_hours * 4
    for _ in range(60 * 24 * 4):
        if hours.is_open(moment):
            needed -= 1
            if needed == 0:
                return (moment + _QUARTER).timestamp()
        moment += _QUARTER
    return moment.timestamp()


class Inbox:
    """Reads inbox rows and case details."""

    def __init__(
        self,
        redis: Redis,
        work: Workbench,
        *,
        staff_hours: StaffHours,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._work = work
        self._hours = staff_hours
        self._clock = clock

    async def items(self, filters: Filters) -> list[InboxItem]:
        """The matching items, oldest first (first come, first served)."""
        ids: list[str] = []
        if filters.status is WorkStatus.DONE:
            ids += cast(list[str], await self._redis.zrevrange(CLOSED_KEY, 0, MAX_ROWS - 1))
        ids += cast(list[str], await self._redis.zrevrange(OPEN_CASES_KEY, 0, MAX_ROWS - 1))
        if filters.kind in (None, ItemKind.CALLBACK):
            ids += cast(
                list[str],
                await self._redis.zrevrange(RecordKind.CALLBACK.index_key, 0, MAX_ROWS - 1),
            )
        if filters.kind in (None, ItemKind.TICKET):
            ids += cast(
                list[str], await self._redis.zrevrange(RecordKind.TICKET.index_key, 0, MAX_ROWS - 1)
            )
        rows = []
        for item_id in dict.fromkeys(ids):
            item = await self.item(item_id)
            if item is not None and filters.admits(item):
                rows.append(item)
        rows.sort(key=lambda row: row.created_at)
        return rows

    async def item(self, item_id: str) -> InboxItem | None:
        detail = await self._record(item_id)
        if detail is None:
            return None
        return detail[0]

    async def detail(self, item_id: str) -> CaseDetail | None:
        found = await self._record(item_id)
        if found is None:
            return None
        item, fields = found
        transcript: list[TranscriptRecord] = []
        slots: dict[str, str] = {}
        if item.session_id:
            transcript = await self._transcript(item.session_id)
            slots = await self._slots(item.session_id)
        return CaseDetail(item, transcript, slots, fields, recording=fields.get("recording", ""))

    async def _record(self, item_id: str) -> tuple[InboxItem, dict[str, str]] | None:
        if item_id.startswith("C-"):
            fields = await self._hash(case_key(item_id))
            if not fields:
                return None
            case = Case.from_fields(fields)
            kind = ItemKind.PHONE if case.channel is Channel.VOICE else ItemKind.CHAT
            topic = await self._topic(case.session_id)
            reason = REASONS.get(case.reason, case.reason)
            if fields.get("flagged_at"):  # the purge job found no activity for long
                reason += FLAGGED_NOTE
            item = InboxItem(
                item_id,
                kind,
                reason,
                topic,
                case.department or "",
                case.created_at,
                await self._work.state(item_id),
                session_id=case.session_id,
                register=case.register,
                flagged_at=_time(fields.get("flagged_at")),
            )
            return item, fields
        kind_of = {"R": RecordKind.CALLBACK, "S": RecordKind.TICKET}.get(item_id[:1])
        if kind_of is None:
            return None
        fields = await self._hash(kind_of.key(item_id))
        if not fields or "created_at" not in fields:
            return None
        created = float(fields["created_at"])
        if kind_of is RecordKind.CALLBACK:
            item = InboxItem(
                item_id,
                ItemKind.CALLBACK,
                "Rückrufwunsch",
                f"Rückruf {fields.get('window', '')}".strip(),
                fields.get("department", ""),
                created,
                await self._work.state(item_id),
                due_at=due_after(created, self._hours),
                phone_masked=mask_phone(fields.get("phone", "")),
            )
        else:
            item = InboxItem(
                item_id,
                ItemKind.TICKET,
                "Schadensmeldung",
                f"Schaden: {fields.get('damage_type', 'sonstiges')}",
                fields.get("department", "ordnungsamt"),
                created,
                await self._work.state(item_id),
            )
        return item, fields

    async def _hash(self, key: str) -> dict[str, str]:
        return cast(dict[str, str], await self._redis.hgetall(key))

    async def _transcript(self, session_id: str) -> list[TranscriptRecord]:
        rows = cast(
            list[tuple[str, dict[str, str]]], await self._redis.xrange(transcript_key(session_id))
        )
        return [TranscriptRecord.from_fields(fields) for _, fields in rows]

    async def _topic(self, session_id: str) -> str:
        rows = cast(
            list[tuple[str, dict[str, str]]],
            await self._redis.xrevrange(transcript_key(session_id), count=30),
        )
        for _, fields in rows:
            intent = fields.get("intent")
            if fields.get("role") == "user" and intent and intent != "human_handoff":
                return TOPICS.get(intent, intent)
        return TOPICS["human_handoff"]

    async def _slots(self, session_id: str) -> dict[str, str]:
        """The slots Rasa had set, from its tracker in Redis (latest value per slot)."""
        raw = await self._redis.get(tracker_key(session_id))
        if not raw:
            return {}
        try:
            document = json.loads(raw)
            events = document.get("events", []) if isinstance(document, Mapping) else []
        except ValueError:
            return {}
        slots: dict[str, str] = {}
        for event in events:
            if isinstance(event, Mapping) and event.get("event") == "slot":
                name, value = event.get("name"), event.get("value")
                if isinstance(name, str) and value is not None:
                    slots[name] = str(value)
                elif isinstance(name, str):
                    slots.pop(name, None)
        return slots


def _time(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
