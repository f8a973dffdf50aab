"""Team statistics that outlive the conversations: counters per day and channel in Redis,
written as turns happen and never recomputed from transcripts (which expire).

A day hash `rb:stats:day:<YYYY-MM-DD>:<channel>` holds only counts, never text, numbers or
ids. Every field name comes from a closed set (counters below, handoff reasons of the
contract, intents of the domain or "other", hours 0-23), so the key space is bounded. Each
day hash expires `keep_days` after its day (retention type `statistics`), so erasure of a
citizen's data leaves it intact and the purge job has nothing to do.

A conversation counts on the day and channel of its first user turn. It is *resolved
without staff* when it opened no case (handoff, callback or complaint) and its last user
turn was not a fallback. To keep that share exact while turns happen, a short-lived
per-session marker (`rb:stats:session:<id>`, no content, expires with `session_ttl_s`)
remembers the conversation's day and whether it ended on a fallback so far.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contract.payloads import HandoffReason
from contract.records import Channel
from contract.stats import MISS_INTENTS, stat_channel, stats_day_key, stats_session_key

log = logging.getLogger(__name__)

BERLIN = ZoneInfo("Europe/Berlin")
FALLBACK_INTENTS = MISS_INTENTS
OTHER_INTENT = "other"
MAX_INTENTS = 200
DAY_S = 86_400


class StatChannel(StrEnum):
    """The channels the statistics tell apart."""

    CHAT = "chat"
    PHONE = "phone"
    BROWSER = "browser"

    @classmethod
    def of(cls, channel: Channel, session_id: str) -> StatChannel:
        """Chat for the web chat; phone for SIP calls (session ids `sip-…`); else a
        browser call."""
        return cls(stat_channel(channel is Channel.WEBCHAT, session_id))

    @property
    def label(self) -> str:
        return {StatChannel.CHAT: "Chat", StatChannel.PHONE: "Telefon"}.get(self, "Browser-Anruf")


def domain_intents(domain_dir: Path) -> frozenset[str]:
    """The intents a Rasa domain directory declares (the closed set the counters use)."""
    names: set[str] = set()
    for path in sorted(domain_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("intents", []) if isinstance(data, dict) else []:
            name = next(iter(entry)) if isinstance(entry, dict) and entry else entry
            if isinstance(name, str):
                names.add(name)
    return frozenset(names)


class Count(StrEnum):
    """Plain counters of a day hash."""

    CONVERSATIONS = "conversations"
    TURNS = "turns"
    FALLBACKS = "fallbacks"
    ESCALATED = "escalated"  # conversations that opened a case (counted once)
    ENDED_ON_FALLBACK = "ended_on_fallback"  # not escalated, last user turn a fallback
    CALLBACKS_DUE = "callbacks_due"  # callback requests made that day
    CALLBACKS_DONE = "callbacks_done"  # callback requests closed in the console that day


def day_key(day: date, channel: StatChannel) -> str:
    return stats_day_key(day, channel.value)


def handoff_field(reason: str) -> str:
    """The field of a handoff reason; unknown reasons count as `unspecified`."""
    known = {r.value for r in HandoffReason}
    return f"handoff:{reason if reason in known else HandoffReason.UNSPECIFIED.value}"


def keep_for(now: datetime, keep_s: int) -> int:
    """Seconds from `now` until a day hash of `now`'s day is `keep_s` old at its day's end
    (relative, so that it holds on a fake clock too)."""
    midnight = datetime.combine(now.date(), datetime.min.time(), BERLIN)
    return max(round(midnight.timestamp() + keep_s + DAY_S - now.timestamp()), 1)


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What the statistics learn from one user turn: no text, no ids beyond the session."""

    session_id: str
    channel: StatChannel
    intent: str | None
    fallback: bool
    handoff_reasons: tuple[str, ...] = ()


class Metrics:
    """Writes the counters. Never fails a turn: a Redis error is logged and the turn goes on."""

    def __init__(
        self,
        redis: Redis,
        *,
        intents: Iterable[str],
        keep_days: int = 730,
        session_ttl_s: int = 6 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`intents` is the domain's closed set; any other intent counts as `other`."""
        known = frozenset(intents)
        if len(known) > MAX_INTENTS:
            raise ValueError(f"at most {MAX_INTENTS} intents can be counted")
        if not 1 <= keep_days <= 3650:
            raise ValueError("keep_days must be 1 to 3650")
        if session_ttl_s < 60:
            raise ValueError("session_ttl_s must be at least 60 seconds")
        self._redis = redis
        self._intents = known
        self._keep_s = keep_days * DAY_S
        self._session_ttl_s = session_ttl_s
        self._clock = clock

    def intent_field(self, intent: str | None) -> str:
        name = intent if intent in self._intents else OTHER_INTENT
        return f"intent:{name}"

    async def turn(self, facts: TurnFacts) -> None:
        """Counts one user turn (and the conversation, on its first turn)."""
        try:
            await self._turn(facts)
        except RedisError as exc:
            log.warning("statistics not written for a %s turn: %s", facts.channel, exc)

    async def answer_latency(self, session_id: str, ms: int) -> None:
        """Counts one answer on a SIP call (`sip-…` session): `ms` from the end of the caller's
        speech to the first audio of the reply. Browser calls and chats are not counted."""
        if StatChannel.of(Channel.VOICE, session_id) is not StatChannel.PHONE:
            return
        now = datetime.fromtimestamp(self._clock(), BERLIN)
        today = day_key(now.date(), StatChannel.PHONE)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hincrby(today, latency_field(max(ms, 0)), 1)
            pipe.expire(today, keep_for(now, self._keep_s))
            await pipe.execute()
        except RedisError as exc:
            log.warning("statistics not written for a phone answer: %s", exc)

    async def _turn(self, facts: TurnFacts) -> None:
        now = datetime.fromtimestamp(self._clock(), BERLIN)
        today = day_key(now.date(), facts.channel)
        marker = stats_session_key(facts.session_id)
        first = await self._redis.hsetnx(marker, "day", today)
        await self._redis.expire(marker, self._session_ttl_s)
        state = await self._redis.hgetall(marker)
        home = str(state.get("day", today))
        escalated = state.get("esc") == "1"
        on_fallback = state.get("fb") == "1"

        pipe = self._redis.pipeline(transaction=True)
        if first:
            pipe.hincrby(today, Count.CONVERSATIONS.value, 1)
        pipe.hincrby(today, Count.TURNS.value, 1)
        pipe.hincrby(today, f"hour:{now.hour}", 1)
        if facts.fallback:
            pipe.hincrby(today, Count.FALLBACKS.value, 1)
        else:
            pipe.hincrby(today, self.intent_field(facts.intent), 1)
        for reason in facts.handoff_reasons:
            pipe.hincrby(today, handoff_field(reason), 1)
        if facts.handoff_reasons and not escalated:
            pipe.hincrby(home, Count.ESCALATED.value, 1)
            pipe.hset(marker, "esc", "1")
            escalated = True
        ends_on_fallback = facts.fallback and not escalated
        if ends_on_fallback and not on_fallback:
            pipe.hincrby(home, Count.ENDED_ON_FALLBACK.value, 1)
            pipe.hset(marker, "fb", "1")
        elif on_fallback and not ends_on_fallback:
            pipe.hincrby(home, Count.ENDED_ON_FALLBACK.value, -1)
            pipe.hset(marker, "fb", "0")
        pipe.expire(today, keep_for(now, self._keep_s))
        await pipe.execute()


LATENCY_BUCKETS_MS = (250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000)
"""Upper bounds of the phone answer-latency classes; slower answers count in `latency:more`."""


def latency_field(ms: int) -> str:
    for bound in LATENCY_BUCKETS_MS:
        if ms <= bound:
            return f"latency:{bound}"
    return "latency:more"


WAIT_BUCKETS_S = (60, 300, 900, 1800, 3600, 4 * 3600, DAY_S, 3 * DAY_S)
"""Upper bounds of the waiting-time classes; longer waits count in `wait:more`."""


def wait_field(seconds: float) -> str:
    """The histogram field of a wait: `wait:<upper bound in s>` or `wait:more`."""
    for bound in WAIT_BUCKETS_S:
        if seconds <= bound:
            return f"wait:{bound}"
    return "wait:more"


class StaffMetrics:
    """Counts what staff work adds to a day: a case taken after a wait, a callback done.
    Team totals only; the clerk is never named. Never fails the console action."""

    def __init__(
        self, redis: Redis, *, keep_days: int = 730, clock: Callable[[], float] = time.time
    ) -> None:
        if not 1 <= keep_days <= 3650:
            raise ValueError("keep_days must be 1 to 3650")
        self._redis = redis
        self._keep_s = keep_days * DAY_S
        self._clock = clock

    async def _count(self, channel: StatChannel, field: str) -> None:
        now = datetime.fromtimestamp(self._clock(), BERLIN)
        key = day_key(now.date(), channel)
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hincrby(key, field, 1)
            pipe.expire(key, keep_for(now, self._keep_s))
            await pipe.execute()
        except RedisError as exc:
            log.warning("statistics not written (%s): %s", field, exc)

    async def case_taken(self, channel: StatChannel, waited_s: float) -> None:
        """A clerk took a case `waited_s` after it was opened."""
        await self._count(channel, wait_field(max(waited_s, 0.0)))

    async def callback_done(self, channel: StatChannel) -> None:
        await self._count(channel, Count.CALLBACKS_DONE.value)
