"""A conversation's records in Redis: transcript lines and escalation cases (written and read
by the gateway; key layout and fields in docs/data-model.md, key builders in `records`)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from contract.language import Register
from contract.payloads import Link
from contract.records import REFERENCE_ALPHABET, Channel, TextEnum


class Role(TextEnum):
    """Who said a transcript line."""

    USER = "user"
    BOT = "bot"
    SYSTEM = "system"
    STAFF = "staff"  # a clerk who took over the chat; `name` is their display name


class Marker(TextEnum):
    """A change of who answers the citizen, kept in the transcript as a system line."""

    TAKEN = "taken"  # a clerk took over (Rasa paused)
    RETURNED = "returned"  # handed back to the assistant (Rasa resumed)
    CLOSED = "closed"  # the clerk ended the conversation


class Delivery(TextEnum):
    """Whether a user turn reached the dialogue engine."""

    OK = "ok"
    UNDELIVERED = "undelivered"


class CaseStatus(TextEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply: `title` is shown, `payload` is sent back as the user's text."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Handoff:
    """The bot hands the conversation to staff; `case_id` is set once a case is opened.
    `reason` is a HandoffReason value for handoffs from Rasa."""

    reason: str
    department: str | None = None
    case_id: str | None = None
    register: Register = Register.DE


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    """One line of a conversation's append-only transcript."""

    record_id: str
    ts: float
    channel: Channel
    role: Role
    text: str
    intent: str | None = None
    confidence: float | None = None
    asr_confidence: float | None = None
    buttons: tuple[Button, ...] = ()
    links: tuple[Link, ...] = ()
    handoff: Handoff | None = None
    hangup: bool = False
    delivery: Delivery = Delivery.OK
    name: str | None = None
    marker: Marker | None = None

    @classmethod
    def new(
        cls,
        channel: Channel,
        role: Role,
        text: str,
        *,
        clock: Callable[[], float],
        intent: str | None = None,
        confidence: float | None = None,
        asr_confidence: float | None = None,
        buttons: tuple[Button, ...] = (),
        links: tuple[Link, ...] = (),
        handoff: Handoff | None = None,
        hangup: bool = False,
        delivery: Delivery = Delivery.OK,
        name: str | None = None,
        marker: Marker | None = None,
    ) -> TranscriptRecord:
        """A new line with a fresh id, said now by ``clock`` (Unix seconds)."""
        return cls(
            record_id=uuid.uuid4().hex,
            ts=clock(),
            channel=channel,
            role=role,
            text=text,
            intent=intent,
            confidence=confidence,
            asr_confidence=asr_confidence,
            buttons=buttons,
            links=links,
            handoff=handoff,
            hangup=hangup,
            delivery=delivery,
            name=name,
            marker=marker,
        )

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for a Redis stream entry; empty optional fields are left out."""
        fields = {
            "id": self.record_id,
            "ts": repr(self.ts),
            "channel": self.channel.value,
            "role": self.role.value,
            "text": self.text,
            "delivery": self.delivery.value,
        }
        if self.intent is not None:
            fields["intent"] = self.intent
        if self.confidence is not None:
            fields["confidence"] = repr(self.confidence)
        if self.asr_confidence is not None:
            fields["asr_confidence"] = repr(self.asr_confidence)
        if self.buttons:
            fields["buttons"] = json.dumps([[b.title, b.payload] for b in self.buttons])
        if self.links:
            fields["links"] = json.dumps([[link.title, link.url] for link in self.links])
        if self.handoff is not None:
            fields["handoff"] = json.dumps(
                [self.handoff.reason, self.handoff.department, self.handoff.case_id]
            )
        if self.hangup:
            fields["hangup"] = "1"
        if self.name is not None:
            fields["name"] = self.name
        if self.marker is not None:
            fields["marker"] = self.marker.value
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> TranscriptRecord:
        handoff = None
        if "handoff" in fields:
            reason, department, case_id = json.loads(fields["handoff"])
            handoff = Handoff(reason=reason, department=department, case_id=case_id)
        return cls(
            record_id=fields["id"],
            ts=float(fields["ts"]),
            channel=Channel(fields["channel"]),
            role=Role(fields["role"]),
            text=fields["text"],
            intent=fields.get("intent"),
            confidence=float(fields["confidence"]) if "confidence" in fields else None,
            asr_confidence=(
                float(fields["asr_confidence"]) if "asr_confidence" in fields else None
            ),
            buttons=tuple(Button(t, p) for t, p in json.loads(fields.get("buttons", "[]"))),
            links=tuple(Link(t, u) for t, u in json.loads(fields.get("links", "[]"))),
            handoff=handoff,
            hangup=fields.get("hangup") == "1",
            delivery=Delivery(fields.get("delivery", Delivery.OK.value)),
            name=fields.get("name"),
            marker=Marker(fields["marker"]) if "marker" in fields else None,
        )


@dataclass(frozen=True, slots=True)
class Case:
    """An escalation case: a conversation that staff must take over or follow up."""

    case_id: str
    session_id: str
    channel: Channel
    reason: str
    department: str | None
    created_at: float
    status: CaseStatus = CaseStatus.OPEN
    register: Register = Register.DE
    """The conversation's register when it was handed over (the console labels it)."""

    @staticmethod
    def new_id(now: float) -> str:
        """ "C-20261121-K7QX2M": the UTC day of ``now`` and six characters to read out."""
        day = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%d")
        suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        return f"C-{day}-{suffix}"

    def to_fields(self) -> dict[str, str]:
        fields = {
            "id": self.case_id,
            "session_id": self.session_id,
            "channel": self.channel.value,
            "reason": self.reason,
            "created_at": repr(self.created_at),
            "status": self.status.value,
        }
        if self.department is not None:
            fields["department"] = self.department
        if self.register is not Register.DE:
            fields["register"] = self.register.value
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Case:
        return cls(
            case_id=fields["id"],
            session_id=fields["session_id"],
            channel=Channel(fields["channel"]),
            reason=fields["reason"],
            department=fields.get("department"),
            created_at=float(fields["created_at"]),
            status=CaseStatus(fields["status"]),
            register=Register.of(fields.get("register")),
        )
