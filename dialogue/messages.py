"""Channel-neutral messages between the channels (chat, voice) and the dialogue core."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    """Where a conversation takes place; also the Rasa connector that serves it."""

    WEBCHAT = "webchat"
    VOICE = "voice"


class Role(StrEnum):
    """Who said a transcript line."""

    USER = "user"
    BOT = "bot"
    SYSTEM = "system"


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
class Button:
    """A quick reply: `title` is shown, `payload` is sent back as the user's text."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Handoff:
    """The bot hands the conversation to staff; `case_id` is set once a case is opened."""

    reason: str
    department: str | None = None
    case_id: str | None = None


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
    """What the dialogue engine understood of a user turn."""

    intent: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class EngineAnswer:
    """The dialogue engine's answer to one turn."""

    replies: tuple[BotReply, ...] = ()
    understanding: Understanding = field(default_factory=Understanding)
