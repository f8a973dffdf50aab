"""Channel-neutral messages between the channels (chat, voice) and the dialogue core."""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.conversation import Button, Handoff, Role
from contract.payloads import Link
from contract.records import Channel


@dataclass(frozen=True, slots=True)
class UserTurn:
    """One thing the citizen said, typed or chose.

    `confidence` is the speech recogniser's confidence for voice turns, None for typed text.
    """

    session_id: str
    channel: Channel
    text: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class BotReply:
    """One bubble (chat) or utterance (voice) of the assistant."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    links: tuple[Link, ...] = ()
    handoff: Handoff | None = None
    hangup: bool = False


@dataclass(frozen=True, slots=True)
class Understanding:
    """What the dialogue engine understood of a user turn. After a fallback, `guess` is the
    best intent other than the fallback with its confidence; `names` are words the NLU
    tagged as names (masked before any storage of the text)."""

    intent: str | None = None
    confidence: float | None = None
    guess: str | None = None
    guess_confidence: float | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineAnswer:
    """The dialogue engine's answer to one turn."""

    replies: tuple[BotReply, ...] = ()
    understanding: Understanding = field(default_factory=Understanding)


__all__ = [
    "BotReply",
    "Button",
    "Channel",
    "EngineAnswer",
    "Handoff",
    "Link",
    "Role",
    "Understanding",
    "UserTurn",
]
