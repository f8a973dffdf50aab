"""Rasa custom payloads between the action server (and domain responses) and the gateway.

A custom payload is one JSON object whose keys are payload types:
``{"links": [{"title", "url"}, ...]}``, ``{"handoff": {"reason", "department"}}``,
``{"hangup": true}``. The action server builds it with `encode`, the gateway reads it with
`decode`: a round trip gives the payloads back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from contract.language import Register


class PayloadError(ValueError):
    """A custom payload is not a JSON object."""


class HandoffReason(str, Enum):
    """Why the bot hands over; recorded in the escalation case."""

    USER_REQUEST = "user_request"
    """The citizen asked for a person."""
    FALLBACK = "fallback"
    """The bot did not understand twice and offered a person, and the citizen accepted."""
    COMPLAINT = "complaint"
    """A complaint the citizen wants forwarded to a person."""
    OUTSIDE_HOURS = "outside_hours"
    """The citizen asked for a person outside staff hours (set by the gateway, which knows
    the hours): the case waits for the next service day or a callback."""
    UNSPECIFIED = "unspecified"
    """A handoff payload without a (known) reason; the handoff still happens."""

    @classmethod
    def after(cls, previous_bot_action: str | None) -> HandoffReason:
        """The reason given the bot's last action before the citizen's request: the offer
        after two misunderstandings, the complaint answer, or anything else."""
        if previous_bot_action == "utter_offer_handoff":
            return cls.FALLBACK
        if previous_bot_action == "utter_complaint":
            return cls.COMPLAINT
        return cls.USER_REQUEST

    @classmethod
    def of(cls, value: object) -> HandoffReason:
        """The reason named by ``value``; UNSPECIFIED for anything else."""
        for reason in cls:
            if reason.value == value:
                return reason
        return cls.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Links:
    """Links shown under a chat message (never spoken)."""

    items: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """Hand the conversation to staff of ``department`` (an id of departments.yml)."""

    reason: HandoffReason = HandoffReason.UNSPECIFIED
    department: str | None = None
    register: Register = Register.DE
    """The conversation's register, for the case and the gateway's notice."""


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call after this message (voice only)."""


Payload = Links | HandoffRequest | Hangup


def encode(*payloads: Payload) -> dict[str, object]:
    """The custom payload object carrying ``payloads`` (each type at most once)."""
    custom: dict[str, object] = {}
    for payload in payloads:
        key: str
        value: object
        match payload:
            case Links(items):
                key, value = "links", [{"title": i.title, "url": i.url} for i in items]
            case HandoffRequest(reason, department, register):
                handoff: dict[str, object] = {"reason": reason.value}
                if department is not None:
                    handoff["department"] = department
                if register is not Register.DE:
                    handoff["register"] = register.value
                key, value = "handoff", handoff
            case Hangup():
                key, value = "hangup", True
        if key in custom:
            raise ValueError(f"two {key} payloads in one message")
        custom[key] = value
    return custom


def decode(custom: object) -> tuple[Payload, ...]:
    """The payloads of a custom payload object, in encoding order; unknown keys are ignored.

    Lenient where losing the payload would hurt the citizen: a handoff without a valid
    reason or department is still a handoff; links without title or url are skipped.
    Raises PayloadError when ``custom`` is not an object.
    """
    if not isinstance(custom, Mapping):
        raise PayloadError(f"a custom payload must be a JSON object, got {type(custom).__name__}")
    payloads: list[Payload] = []
    raw_links = custom.get("links")
    if isinstance(raw_links, list):
        links = tuple(
            Link(title=str(item["title"]), url=str(item["url"]))
            for item in raw_links
            if isinstance(item, Mapping) and "title" in item and "url" in item
        )
        payloads.append(Links(links))
    raw_handoff = custom.get("handoff")
    if isinstance(raw_handoff, Mapping):
        department = raw_handoff.get("department")
        payloads.append(
            HandoffRequest(
                reason=HandoffReason.of(raw_handoff.get("reason")),
                department=department if isinstance(department, str) and department else None,
                register=Register.of(raw_handoff.get("register")),
            )
        )
    if custom.get("hangup") is True:
        payloads.append(Hangup())
    return tuple(payloads)


def without_handoff(custom: object) -> dict[str, object] | None:
    """``custom`` re-encoded without its handoff (a repeated message must not hand over
    twice); None when nothing is left."""
    kept = [p for p in decode(custom) if not isinstance(p, HandoffRequest)]
    return encode(*kept) or None


__all__ = [
    "HandoffReason",
    "HandoffRequest",
    "Hangup",
    "Link",
    "Links",
    "Payload",
    "PayloadError",
    "decode",
    "encode",
    "without_handoff",
]
