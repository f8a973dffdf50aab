"""Record shapes and Redis keys (docs/data-model.md): conversations kept by the gateway,
bookings, tickets and callbacks kept by the action server, and the webhook queue between
them. Every record encodes to flat string fields (a Redis hash or stream entry) and back.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

KEY_PREFIX = "rb"
"""Every key starts with it; also Rasa's tracker and lock store prefix (alphanumeric)."""
CASE_EVENTS_CHANNEL = f"{KEY_PREFIX}:events:cases"
OPEN_CASES_KEY = f"{KEY_PREFIX}:cases:open"
WEBHOOK_QUEUE_KEY = f"{KEY_PREFIX}:webhook:queue"
WEBHOOK_PROCESSING_KEY = f"{KEY_PREFIX}:webhook:processing"
WEBHOOK_FAILED_KEY = f"{KEY_PREFIX}:webhook:failed"
WEBHOOK_QUEUE_LIMIT = 10_000
"""Entries kept in the webhook queue (and in the failed list); the oldest go first."""
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Letters and digits of references and case ids, unambiguous when read out (no 0/O, 1/I)."""
OTHER_CHANNEL = "other"
"""The `channel` field of a record taken on a Rasa channel that is not the gateway's."""


class TextEnum(str, Enum):
    """An enum of wire strings whose str() and format() are the value, as StrEnum's are."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class Channel(TextEnum):
    """Where a conversation takes place; also the Rasa connector that serves it."""

    WEBCHAT = "webchat"
    VOICE = "voice"

    @classmethod
    def of(cls, name: str | None) -> Channel | None:
        """The channel named ``name`` (a Rasa input channel name); None for any other."""
        for channel in cls:
            if channel.value == name:
                return channel
        return None


def channel_field(channel: Channel | None) -> str:
    return channel.value if channel is not None else OTHER_CHANNEL


def session_key(session_id: str) -> str:
    return f"{KEY_PREFIX}:session:{session_id}"


def transcript_key(session_id: str) -> str:
    return f"{KEY_PREFIX}:transcript:{session_id}"


def tracker_key(session_id: str) -> str:
    """Rasa's tracker of the conversation (RedisTrackerStore, key prefix `rb`)."""
    return f"{KEY_PREFIX}:tracker:{session_id}"


def case_key(case_id: str) -> str:
    return f"{KEY_PREFIX}:case:{case_id}"


def slot_key(office: str, day: date, at: time) -> str:
    """Set of the booking references holding one appointment slot."""
    return f"{KEY_PREFIX}:slot:{office}:{day.isoformat()}:{at:%H:%M}"


class SessionState(TextEnum):
    """`state` of a session hash."""

    ACTIVE = "active"
    HANDOFF = "handoff"


class RecordKind(TextEnum):
    """Records the action server takes and the gateway exports and delivers to webhooks."""

    BOOKING = "booking"
    TICKET = "ticket"
    CALLBACK = "callback"

    @classmethod
    def from_plural(cls, name: str) -> RecordKind:
        """ "bookings" -> BOOKING; raises ValueError for other names."""
        for kind in cls:
            if kind.plural == name:
                return kind
        raise ValueError(f"unknown record kind {name!r}")

    @property
    def plural(self) -> str:
        return f"{self.value}s"

    @property
    def prefix(self) -> str:
        """First letter of its references: B, S (Schaden) or R (Rückruf)."""
        return {"booking": "B", "ticket": "S", "callback": "R"}[self.value]

    @property
    def index_key(self) -> str:
        """Sorted set of the references, scored by `created_at`."""
        return f"{KEY_PREFIX}:{self.plural}"

    def key(self, reference: str) -> str:
        return f"{KEY_PREFIX}:{self.value}:{reference}"


def new_reference(kind: RecordKind) -> str:
    """ "B-K7QX2M": the kind's letter and six characters of REFERENCE_ALPHABET."""
    return f"{kind.prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


class BookingStatus(TextEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class RequestStatus(TextEnum):
    """`status` of a ticket or callback request."""

    NEW = "new"


class CallbackWindow(TextEnum):
    MORNING = "vormittags"
    AFTERNOON = "nachmittags"
    ANYTIME = "jederzeit"


@dataclass(frozen=True, slots=True)
class Booking:
    """An appointment (`rb:booking:{reference}`); starts_at and ends_at are aware local times
    of the town, so `day` and `at` are the date and time the citizen chose."""

    reference: str
    service: str
    office: str
    starts_at: datetime
    ends_at: datetime
    name: str
    phone: str
    channel: Channel | None
    created_at: float
    status: BookingStatus = BookingStatus.BOOKED
    cancelled_at: float | None = None

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at <= self.starts_at:
            raise ValueError("a booking needs aware starts_at before ends_at")

    @classmethod
    def local(
        cls,
        *,
        reference: str,
        service: str,
        office: str,
        day: date,
        at: time,
        minutes: int,
        timezone: str,
        name: str,
        phone: str,
        channel: Channel | None,
        created_at: float,
    ) -> Booking:
        """A new booking of ``minutes`` at ``day`` ``at`` in ``timezone`` (an IANA name)."""
        starts = datetime.combine(day, at, tzinfo=ZoneInfo(timezone))
        return cls(
            reference=reference,
            service=service,
            office=office,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            name=name,
            phone=phone,
            channel=channel,
            created_at=created_at,
        )

    @property
    def day(self) -> date:
        return self.starts_at.date()

    @property
    def at(self) -> time:
        return self.starts_at.time().replace(tzinfo=None)

    def to_fields(self) -> dict[str, str]:
        fields = {
            "reference": self.reference,
            "status": self.status.value,
            "service": self.service,
            "office": self.office,
            "date": self.day.isoformat(),
            "time": f"{self.at:%H:%M}",
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "name": self.name,
            "phone": self.phone,
            "channel": channel_field(self.channel),
            "created_at": repr(self.created_at),
        }
        if self.cancelled_at is not None:
            fields["cancelled_at"] = repr(self.cancelled_at)
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Booking:
        """Raises KeyError or ValueError for fields that are not a booking."""
        return cls(
            reference=fields["reference"],
            service=fields["service"],
            office=fields["office"],
            starts_at=datetime.fromisoformat(fields["starts_at"]),
            ends_at=datetime.fromisoformat(fields["ends_at"]),
            name=fields["name"],
            phone=fields["phone"],
            channel=Channel.of(fields["channel"]),
            created_at=float(fields["created_at"]),
            status=BookingStatus(fields["status"]),
            cancelled_at=float(fields["cancelled_at"]) if "cancelled_at" in fields else None,
        )


@dataclass(frozen=True, slots=True)
class Ticket:
    """A damage report (`rb:ticket:{reference}`)."""

    reference: str
    damage_type: str
    location: str
    description: str
    channel: Channel | None
    created_at: float
    status: RequestStatus = RequestStatus.NEW

    def to_fields(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "status": self.status.value,
            "damage_type": self.damage_type,
            "location": self.location,
            "description": self.description,
            "channel": channel_field(self.channel),
            "created_at": repr(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Ticket:
        return cls(
            reference=fields["reference"],
            damage_type=fields["damage_type"],
            location=fields["location"],
            description=fields["description"],
            channel=Channel.of(fields["channel"]),
            created_at=float(fields["created_at"]),
            status=RequestStatus(fields["status"]),
        )


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback request (`rb:callback:{reference}`)."""

    reference: str
    phone: str
    window: CallbackWindow
    channel: Channel | None
    created_at: float
    status: RequestStatus = RequestStatus.NEW

    def to_fields(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "status": self.status.value,
            "phone": self.phone,
            "window": self.window.value,
            "channel": channel_field(self.channel),
            "created_at": repr(self.created_at),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Callback:
        return cls(
            reference=fields["reference"],
            phone=fields["phone"],
            window=CallbackWindow(fields["window"]),
            channel=Channel.of(fields["channel"]),
            created_at=float(fields["created_at"]),
            status=RequestStatus(fields["status"]),
        )


class WebhookEvent(TextEnum):
    CREATED = "created"
    CANCELLED = "cancelled"
    DELETED = "deleted"  # erased on a citizen's request; the office gets only the reference


DELIVERED_FIELD = "webhook_delivered"
"""Set (`1`) on a record once the office's webhook took it: erasure then notifies the office."""


@dataclass(frozen=True, slots=True)
class WebhookEntry:
    """An entry of `rb:webhook:queue`: a record to deliver to the office's webhook."""

    kind: RecordKind
    event: WebhookEvent
    reference: str

    def to_json(self) -> str:
        return json.dumps(
            {"type": self.kind.value, "event": self.event.value, "reference": self.reference}
        )

    @classmethod
    def parse(cls, raw: str) -> WebhookEntry | None:
        """None when ``raw`` is not a queue entry."""
        try:
            document = json.loads(raw)
            reference = document["reference"]
            if not isinstance(reference, str):
                return None
            return cls(RecordKind(document["type"]), WebhookEvent(document["event"]), reference)
        except (ValueError, KeyError, TypeError):
            return None
