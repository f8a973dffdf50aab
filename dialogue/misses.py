"""The "Nicht verstanden" inbox's store: citizen messages the assistant did not understand.

Captured as turns happen: a message that fell back (`nlu_fallback` or `out_of_scope`,
both answered with a request to rephrase), the citizen's next
message after such a fallback (re-asked), a handoff right after a fallback, and a caller's
turn the speech recogniser was too unsure of to pass on (re-asked on the phone). The text is
redacted *before* it is stored (digits, e-mail addresses, words the NLU tagged as names and
words after a German name cue such as "ich heiße" or "Frau"), cut to MAX_TEXT_CHARS, and
kept `retention.misses` days (default 90). At most MAX_ITEMS are kept; the oldest go first.
Nothing here touches the model; see `intents/review.py` for proposed examples.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contract.records import Channel
from contract.stats import MISS_INTENTS
from dialogue.messages import Understanding

log = logging.getLogger(__name__)

INDEX_KEY = "rb:misses"
ITEM_PREFIX = "rb:miss:"
AFTER_FALLBACK_PREFIX = "rb:misses:after:"
MAX_TEXT_CHARS = 300
MAX_ITEMS = 5000
AFTER_FALLBACK_S = 15 * 60
MASK = "…"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DIGITS = re.compile(r"\d")
NAME_CUE = re.compile(
    r"\b((?i:ich heiße|ich heisse|mein name ist|name:?|herrn?|frau))(\s+)"
    r"([^\W\d_][\w'-]*(?:\s+[A-ZÄÖÜ][\w'-]*)?)"
)
WORD = re.compile(r"[a-zäöüß]+")
STOPWORD_TEXT = (
    "der die das ein eine einen einem und oder ich sie wir mein meine ist bin hat habe "
    "zu im in am an auf für mit von wie was wo wann kann können bitte den dem des "
    "es er mir mich ihr ihnen noch auch nicht kein keine"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())


def redact(text: str, names: Iterable[str] = ()) -> str:
    """The text with e-mail addresses, digits, the given names and words after a name cue
    masked; cut to MAX_TEXT_CHARS. Pure."""
    out = EMAIL.sub("[E-Mail]", text[: MAX_TEXT_CHARS * 2])
    for name in sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True):
        out = re.sub(rf"(?i)\b{re.escape(name)}\b", "[Name]", out)
    out = NAME_CUE.sub(lambda m: f"{m.group(1)}{m.group(2)}[Name]", out)
    out = DIGITS.sub("#", out)
    return out[:MAX_TEXT_CHARS]


def tokens(text: str) -> frozenset[str]:
    """Lower-case words of three letters or more without stop words (for grouping)."""
    return frozenset(w for w in WORD.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice overlap of two token sets (2|A∩B| / (|A|+|B|)); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


class MissKind(StrEnum):
    FALLBACK = "fallback"
    REASKED = "reasked"  # the citizen's next message after a fallback
    HANDOFF_AFTER_FALLBACK = "handoff_after_fallback"
    LOW_CONFIDENCE = "low_confidence"  # the speech recogniser was too unsure: re-asked

    @property
    def label(self) -> str:
        return {
            MissKind.FALLBACK: "nicht verstanden",
            MissKind.REASKED: "neu formuliert",
            MissKind.LOW_CONFIDENCE: "schlecht verstanden (Telefon)",
        }.get(self, "Übergabe nach „nicht verstanden“")


class MissStatus(StrEnum):
    OPEN = "offen"
    EXAMPLE = "beispiel"  # proposed as a training example
    DONE = "erledigt"
    NOT_MUNICIPAL = "kein_thema"


@dataclass(frozen=True, slots=True)
class Miss:
    id: str
    text: str  # redacted
    kind: MissKind
    channel: Channel
    guess: str | None
    confidence: float | None
    at: float
    status: MissStatus = MissStatus.OPEN

    def to_fields(self) -> dict[str, str]:
        return {
            "text": self.text,
            "kind": self.kind.value,
            "channel": self.channel.value,
            "guess": self.guess or "",
            "confidence": "" if self.confidence is None else repr(self.confidence),
            "at": repr(self.at),
            "status": self.status.value,
        }

    @classmethod
    def from_fields(cls, miss_id: str, fields: dict[str, str]) -> Miss | None:
        try:
            return cls(
                id=miss_id,
                text=fields["text"],
                kind=MissKind(fields["kind"]),
                channel=Channel(fields["channel"]),
                guess=fields.get("guess") or None,
                confidence=float(fields["confidence"]) if fields.get("confidence") else None,
                at=float(fields["at"]),
                status=MissStatus(fields.get("status", MissStatus.OPEN.value)),
            )
        except (KeyError, ValueError):
            return None


def valid_miss_id(miss_id: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_-]{16}", miss_id) is not None


@dataclass(frozen=True, slots=True)
class Group:
    """Similar messages; `lead` is the first (newest) one."""

    items: tuple[Miss, ...]

    @property
    def lead(self) -> Miss:
        return self.items[0]


def group(items: list[Miss], *, threshold: float = 0.5) -> list[Group]:
    """Greedy grouping by token overlap: each message joins the first group whose lead it
    resembles at least `threshold`, else starts a group. Largest groups first."""
    groups: list[tuple[frozenset[str], list[Miss]]] = []
    for item in items:
        words = tokens(item.text)
        for lead_words, members in groups:
            if similarity(words, lead_words) >= threshold or (not words and not lead_words):
                members.append(item)
                break
        else:
            groups.append((words, [item]))
    found = [Group(tuple(members)) for _, members in groups]
    return sorted(found, key=lambda g: -len(g.items))


class MissLog:
    """Writes and reads the captured messages. Writing never fails a turn."""

    def __init__(
        self,
        redis: Redis,
        *,
        keep_days: int = 90,
        max_items: int = MAX_ITEMS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= keep_days <= 3650:
            raise ValueError("keep_days must be 1 to 3650")
        if not 1 <= max_items <= 100_000:
            raise ValueError("max_items must be 1 to 100000")
        self._redis = redis
        self._keep_s = keep_days * 86_400
        self._max_items = max_items
        self._clock = clock

    async def turn(
        self,
        session_id: str,
        channel: Channel,
        text: str,
        understanding: Understanding,
        *,
        handoff: bool,
    ) -> None:
        """Captures the turn if it fell back or followed a fallback."""
        try:
            await self._turn(session_id, channel, text, understanding, handoff=handoff)
        except RedisError as exc:
            log.warning("a not-understood message was not kept: %s", exc)

    async def _turn(
        self,
        session_id: str,
        channel: Channel,
        text: str,
        understanding: Understanding,
        *,
        handoff: bool,
    ) -> None:
        marker = AFTER_FALLBACK_PREFIX + session_id
        fell_back = understanding.intent in MISS_INTENTS
        after_fallback = bool(await self._redis.delete(marker))
        if fell_back:
            await self._redis.set(marker, "1", ex=AFTER_FALLBACK_S)
            if text.startswith("/"):
                return  # a payload (a form's miss for an unsure turn), no citizen's words
            kind = MissKind.HANDOFF_AFTER_FALLBACK if handoff else MissKind.FALLBACK
            guess, confidence = understanding.guess, understanding.guess_confidence
        elif after_fallback:
            kind = MissKind.HANDOFF_AFTER_FALLBACK if handoff else MissKind.REASKED
            guess, confidence = understanding.intent, understanding.confidence
        else:
            return
        await self._keep(redact(text, understanding.names), kind, channel, guess, confidence)

    async def unsure(self, channel: Channel, text: str, confidence: float) -> None:
        """Captures a turn the speech recogniser was too unsure of (`confidence`): the
        caller was asked again and the dialogue never saw it. Never fails the call."""
        if not text.strip():
            return
        try:
            await self._keep(redact(text), MissKind.LOW_CONFIDENCE, channel, None, confidence)
        except RedisError as exc:
            log.warning("an unsure message was not kept: %s", exc)

    async def _keep(
        self,
        text: str,
        kind: MissKind,
        channel: Channel,
        guess: str | None,
        confidence: float | None,
    ) -> None:
        now = self._clock()
        miss = Miss(
            id=secrets.token_urlsafe(12),
            text=text,
            kind=kind,
            channel=channel,
            guess=guess,
            confidence=confidence,
            at=now,
        )
        key = ITEM_PREFIX + miss.id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=miss.to_fields())  # type: ignore[arg-type]
            pipe.expire(key, self._keep_s)
            pipe.zadd(INDEX_KEY, {miss.id: now})
            pipe.zremrangebyscore(INDEX_KEY, "-inf", now - self._keep_s)
            pipe.zremrangebyrank(INDEX_KEY, 0, -self._max_items - 1)
            await pipe.execute()

    async def items(self, *, status: MissStatus = MissStatus.OPEN, limit: int = 500) -> list[Miss]:
        """The newest items with `status` (at most `limit`)."""
        ids = cast(list[str], await self._redis.zrevrange(INDEX_KEY, 0, self._max_items - 1))
        pipe = self._redis.pipeline(transaction=False)
        for miss_id in ids:
            pipe.hgetall(ITEM_PREFIX + miss_id)
        found: list[Miss] = []
        for miss_id, fields in zip(ids, await pipe.execute(), strict=True):
            miss = Miss.from_fields(miss_id, fields) if fields else None
            if miss is not None and miss.status is status:
                found.append(miss)
                if len(found) >= limit:
                    break
        return found

    async def get(self, miss_id: str) -> Miss | None:
        if not valid_miss_id(miss_id):
            return None
        fields = cast(dict[str, str], await self._redis.hgetall(ITEM_PREFIX + miss_id))
        return Miss.from_fields(miss_id, fields) if fields else None

    async def set_status(self, miss_id: str, status: MissStatus) -> bool:
        """False for an unknown (or expired) item."""
        if await self.get(miss_id) is None:
            return False
        await self._redis.hset(ITEM_PREFIX + miss_id, "status", status.value)
        return True
