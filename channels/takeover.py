"""Live takeover of a chat: a clerk answers the citizen while Rasa is paused.

Who holds a conversation is one Redis hash (`rb:takeover:{session}`), set by a Lua script so
that of two clerks exactly one wins. Rasa keeps the record: `pause` when a clerk takes
over, the citizen's messages as `user` events (no prediction while paused), the clerk's as
`agent` events, `resume` plus `action_listen` when handed back. The widget hears of it
through the session's fan-out channel, so every tab on every gateway sees it; the case view
through the live feed (`dialogue.live`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, cast

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from channels.fanout import fanout_channel
from channels.protocol import (
    RETURNED_TEXT,
    BotLine,
    HandoffState,
    HandoffStatus,
    ServerMessage,
    StaffLine,
    Typing,
    encode_server,
    taken_text,
)
from contract.conversation import Marker
from dialogue.handoff_notice import CALLBACK_BUTTON
from dialogue.live import LiveFeed
from dialogue.messages import BotReply, Button, Channel, Role
from dialogue.rasa import EngineUnavailable
from dialogue.records import KEY_PREFIX, TranscriptRecord, case_key
from dialogue.store import ConversationStore

log = logging.getLogger(__name__)

WAITING_KEY = f"{KEY_PREFIX}:takeover:waiting"
"""Chat cases waiting for a person: case id scored by when the wait began."""
AVAILABLE_KEY = f"{KEY_PREFIX}:staff:available"
"""Clerks marked `verfügbar`: user name scored by when the mark lapses."""
INBOX_EVENTS_CHANNEL = f"{KEY_PREFIX}:events:console"  # console.work.CONSOLE_EVENTS_CHANNEL
MAX_STAFF_CHARS = 2000
MAX_WAITING = 10_000
WELCOME_BACK_ACTION = "utter_welcome_back"
WELCOME_BACK_TEXT = "Hier ist wieder der automatische Assistent. Wie kann ich Ihnen weiterhelfen?"
GOODBYE_TEXT = "Das Gespräch mit der Stadtverwaltung ist beendet. Vielen Dank und auf Wiedersehen!"
NOBODY_CAME_TEXT = (
    "Leider konnte sich gerade niemand aus der Stadtverwaltung Ihrer Anfrage annehmen. "
    "Ihr Anliegen ist unter der Vorgangsnummer {case_id} gespeichert; nichts geht verloren. "
    "Wir rufen Sie gern zurück („Rückruf vereinbaren“). Oder Sie hinterlassen Ihre Frage "
    "hier im Chat: Sie wird mit dem Vorgang gespeichert, und wir melden uns dazu."
)
_FROM = "takeover"  # the fan-out sender id of frames from the console


def holder_key(session_id: str) -> str:
    return f"{KEY_PREFIX}:takeover:{session_id}"


class Availability(Enum):
    """A clerk's own mark; only `verfügbar` clerks make the assistant offer a live chat."""

    AVAILABLE = "verfügbar"
    PAUSE = "pause"


class AvailabilityScope(Enum):
    """Whose `verfügbar` mark makes the assistant offer a live chat for a case: a clerk of
    the case's department (or one with no department assigned), or anyone."""

    DEPARTMENT = "department"
    ANYONE = "anyone"


class StaffDirectory(Protocol):
    """The departments a clerk works for (`console.accounts.Accounts`; empty: all)."""

    async def departments_of(self, user: str) -> frozenset[str]: ...


class Refusal(Enum):
    """Why a takeover step was refused; German text for the clerk in `.value`."""

    TAKEN = "Dieses Gespräch hat bereits jemand anderes übernommen."
    NOT_HOLDER = "Nur wer das Gespräch übernommen hat, kann hier schreiben."
    EMPTY = "Bitte geben Sie eine Antwort ein."
    TOO_LONG = f"Die Antwort ist zu lang (höchstens {MAX_STAFF_CHARS} Zeichen)."
    ENGINE = "Der Assistent ist gerade nicht erreichbar; bitte versuchen Sie es gleich erneut."


class TakeoverRefused(Exception):
    def __init__(self, refusal: Refusal, holder: str = "") -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.holder = holder


class Tracker(Protocol):
    """What a takeover needs of Rasa (`dialogue.rasa.RasaClient`; a fake in tests)."""

    async def append_events(self, session_id: str, events: list[dict[str, object]]) -> bool: ...

    async def execute(self, session_id: str, action: str) -> tuple[BotReply, ...]: ...


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a conversation: a user name, the name citizens see, the case, since when."""

    user: str
    name: str
    case_id: str
    since: float


# KEYS: holder hash. ARGV: user, name, case id, now, force ("1": take it from another
# holder). Returns {won (0/1), holder user}.
_START_LUA = """
local user = redis.call('HGET', KEYS[1], 'user')
if user and user ~= ARGV[1] and ARGV[5] ~= '1' then return {0, user} end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'name', ARGV[2], 'case_id', ARGV[3], 'since', ARGV[4])
return {1, ARGV[1]}
"""

# KEYS: holder hash. ARGV: user. Deletes it when `user` holds it. Returns 1 or 0.
_RELEASE_LUA = """
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


def _event(kind: str, **fields: object) -> dict[str, object]:
    return {"event": kind, "timestamp": time.time(), **fields}


def _listen() -> dict[str, object]:
    return _event("action", name="action_listen")


class Takeover:
    """The takeover steps for the console and the citizen's side for the dialogue core."""

    def __init__(
        self,
        redis: Redis,
        store: ConversationStore,
        tracker: Tracker,
        live: LiveFeed,
        *,
        staff: StaffDirectory | None = None,
        scope: AvailabilityScope = AvailabilityScope.DEPARTMENT,
        wait_s: float = 180.0,
        available_s: int = 10 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`wait_s`: how long a citizen waits for a person before the callback offer;
        `available_s`: how long a `verfügbar` mark holds without being renewed; `staff`
        tells the clerks' departments (without it, or with `scope` ANYONE, any clerk counts)."""
        if not 1 <= wait_s <= 3600 or not 60 <= available_s <= 86_400:
            raise ValueError("wait_s 1..3600, available_s 60..86400")
        self._redis = redis
        self._store = store
        self._tracker = tracker
        self._live = live
        self._staff = staff
        self._scope = scope
        self.wait_s = wait_s
        self._available_s = available_s
        self._clock = clock
        self._start = redis.register_script(_START_LUA)
        self._release = redis.register_script(_RELEASE_LUA)

    # --- who holds it ---

    async def holder(self, session_id: str) -> Holder | None:
        fields = cast(dict[str, str], await self._redis.hgetall(holder_key(session_id)))
        if not fields.get("user"):
            return None
        return Holder(fields["user"], fields["name"], fields["case_id"], float(fields["since"]))

    async def active(self, session_id: str) -> bool:
        return bool(await self._redis.exists(holder_key(session_id)))

    # --- availability ---

    async def set_availability(self, user: str, mark: Availability) -> None:
        if mark is Availability.AVAILABLE:
            await self._redis.zadd(AVAILABLE_KEY, {user: self._clock() + self._available_s})
        else:
            await self._redis.zrem(AVAILABLE_KEY, user)

    async def availability(self, user: str) -> Availability:
        score = await self._redis.zscore(AVAILABLE_KEY, user)
        live = score is not None and float(score) > self._clock()
        return Availability.AVAILABLE if live else Availability.PAUSE

    async def staff_available(self, department: str | None) -> bool:
        """Whether a clerk who counts for a case of `department` (None: not known) is marked
        `verfügbar` now: see AvailabilityScope; a case without department takes anyone."""
        now = self._clock()
        users = cast(list[str], await self._redis.zrangebyscore(AVAILABLE_KEY, f"({now}", "+inf"))
        if self._scope is AvailabilityScope.ANYONE or self._staff is None or department is None:
            return bool(users)
        for user in users:
            departments = await self._staff.departments_of(user)
            if not departments or department in departments:
                return True
        return False

    # --- waiting for a person ---

    async def wait_for_staff(self, case_id: str) -> None:
        """The case waits for a clerk; after `wait_s` the citizen gets the callback offer."""
        if await self._redis.zcard(WAITING_KEY) < MAX_WAITING:
            await self._redis.zadd(WAITING_KEY, {case_id: self._clock()}, nx=True)
            await self._inbox_changed(case_id)  # open inboxes show it waiting, live

    async def watch(self, *, poll_s: float = 1.0) -> None:
        """Runs `expire_waiting` every `poll_s` until cancelled (a lost Redis is retried)."""
        while True:
            try:
                await self.expire_waiting()
            except (redis_errors.RedisError, OSError) as exc:
                log.warning("takeover waiting list unavailable: %s", type(exc).__name__)
            await asyncio.sleep(poll_s)

    async def waiting_since(self, case_id: str) -> float | None:
        score = await self._redis.zscore(WAITING_KEY, case_id)
        return None if score is None else float(score)

    async def expire_waiting(self) -> list[str]:
        """Tells the citizens whose wait ran out that nobody came and offers a callback;
        returns their case ids. Each case is handled by the one gateway that removes it."""
        due = cast(
            list[str],
            await self._redis.zrangebyscore(WAITING_KEY, "-inf", self._clock() - self.wait_s),
        )
        told = []
        for case_id in due:
            if not await self._redis.zrem(WAITING_KEY, case_id):
                continue  # another gateway took it
            case = cast(dict[str, str], await self._redis.hgetall(case_key(case_id)))
            session_id = case.get("session_id")
            if case.get("status") != "open" or not session_id or await self.active(session_id):
                continue  # closed meanwhile, or a clerk holds it
            reply = BotReply(
                text=NOBODY_CAME_TEXT.format(case_id=case_id),
                buttons=(CALLBACK_BUTTON,),
            )
            record = self._record(Role.SYSTEM, reply.text, buttons=reply.buttons)
            await self._append(str(session_id), record)
            await self._widget(str(session_id), BotLine(reply.text, reply.buttons))
            told.append(case_id)
            await self._inbox_changed(case_id)
            log.info("case %s: nobody took the chat over in time; callback offered", case_id)
        return told

    # --- the clerk's steps ---

    async def start(
        self, *, session_id: str, case_id: str, user: str, name: str, force: bool = False
    ) -> Holder:
        """`user` takes the conversation over (again); raises TakeoverRefused(TAKEN) when
        someone else holds it (unless `force`: the case was reassigned to `user`), or
        (ENGINE) when Rasa cannot record the pause."""
        current = await self.holder(session_id)
        if current is not None and current.user != user and not force:
            raise TakeoverRefused(Refusal.TAKEN, current.user)
        try:
            await self._tracker.append_events(session_id, [_event("pause")])
        except EngineUnavailable as exc:
            log.warning("takeover refused: %s", exc)
            raise TakeoverRefused(Refusal.ENGINE) from None
        now = self._clock()
        won, holder = await self._start(
            keys=[holder_key(session_id)], args=[user, name, case_id, repr(now), str(int(force))]
        )
        if not int(won):
            raise TakeoverRefused(Refusal.TAKEN, str(holder))
        await self._redis.zrem(WAITING_KEY, case_id)
        if current is None or current.user != user:
            record = self._record(Role.SYSTEM, taken_text(name), name=name, marker=Marker.TAKEN)
            await self._append(session_id, record)
            await self._widget(session_id, HandoffStatus(HandoffState.TAKEN, case_id, name=name))
        return Holder(user, name, case_id, now)

    async def say(self, session_id: str, user: str, text: str) -> None:
        """The holder's message to the citizen."""
        text = text.strip()
        if not text:
            raise TakeoverRefused(Refusal.EMPTY)
        if len(text) > MAX_STAFF_CHARS:
            raise TakeoverRefused(Refusal.TOO_LONG)
        holder = await self._holder_or_refuse(session_id, user)
        record = self._record(Role.STAFF, text, name=holder.name)
        await self._append(session_id, record)
        await self._widget(session_id, StaffLine(text, holder.name), Typing(False, holder.name))
        await self._tracked(
            session_id, [_event("agent", text=text, data={"name": holder.name, "role": "staff"})]
        )

    async def typing(self, session_id: str, user: str, on: bool) -> None:
        holder = await self._holder_or_refuse(session_id, user)
        await self._widget(session_id, Typing(on, holder.name))

    async def hand_back(self, session_id: str, user: str) -> None:
        """Rasa answers again; the assistant greets the citizen back briefly."""
        await self._end(session_id, user, Marker.RETURNED, RETURNED_TEXT)
        replies: tuple[BotReply, ...] = ()
        try:
            replies = await self._tracker.execute(session_id, WELCOME_BACK_ACTION)
            # Rasa waits for the citizen again (rules expect a turn after action_listen)
            await self._tracker.append_events(session_id, [_listen()])
        except EngineUnavailable as exc:
            log.warning("welcome back not said by Rasa: %s", exc)
        texts = [r.text for r in replies if r.text] or [WELCOME_BACK_TEXT]
        records = [self._record(Role.BOT, text) for text in texts]
        await self._append(session_id, *records)
        await self._widget(
            session_id,
            HandoffStatus(HandoffState.RETURNED),
            *(BotLine(text) for text in texts),
        )

    async def close(self, session_id: str, user: str) -> None:
        """Ends the clerk's conversation with a goodbye; the assistant answers new questions,
        and the widget says so (the caller closes the case)."""
        await self._end(session_id, user, Marker.CLOSED, GOODBYE_TEXT)
        await self._widget(session_id, BotLine(GOODBYE_TEXT), HandoffStatus(HandoffState.RETURNED))

    async def _end(self, session_id: str, user: str, marker: Marker, text: str) -> None:
        holder = await self._holder_or_refuse(session_id, user)
        try:
            await self._tracker.append_events(session_id, [_event("resume"), _listen()])
        except EngineUnavailable as exc:
            log.warning("hand-back refused: %s", exc)
            raise TakeoverRefused(Refusal.ENGINE) from None
        if not int(await self._release(keys=[holder_key(session_id)], args=[user])):
            raise TakeoverRefused(Refusal.NOT_HOLDER)
        await self._append(session_id, self._record(Role.SYSTEM, text, marker=marker))
        await self._widget(session_id, Typing(False, holder.name))

    # --- the citizen's side (the dialogue core) ---

    async def citizen_said(self, session_id: str, text: str) -> None:
        """Records a citizen's message on Rasa's tracker while a clerk holds the chat; the
        pause is renewed if a new Rasa session cleared it."""
        # no intent: nothing was classified, and Rasa's API needs `parse_data` to be there
        parse_data = {"intent": {}, "entities": [], "text": text}
        user = _event("user", text=text, parse_data=parse_data, input_channel="webchat")
        await self._tracked(session_id, [user])

    async def citizen_typing(self, session_id: str, on: bool) -> None:
        await self._live.typing(session_id, on)

    # --- helpers ---

    async def _inbox_changed(self, case_id: str) -> None:
        """Open inboxes reload the case's row (console.events listens on this channel)."""
        changed = json.dumps({"event": "changed", "id": case_id})
        await self._redis.publish(INBOX_EVENTS_CHANNEL, changed)

    async def _tracked(self, session_id: str, events: list[dict[str, object]]) -> None:
        try:
            paused = await self._tracker.append_events(session_id, events)
            if not paused:
                log.info("Rasa's conversation was not paused (a new session?); pausing again")
                await self._tracker.append_events(session_id, [_event("pause")])
        except EngineUnavailable as exc:
            log.warning("takeover line not recorded by Rasa: %s", exc)

    async def _holder_or_refuse(self, session_id: str, user: str) -> Holder:
        holder = await self.holder(session_id)
        if holder is None or holder.user != user:
            raise TakeoverRefused(Refusal.NOT_HOLDER, holder.user if holder else "")
        return holder

    def _record(
        self,
        role: Role,
        text: str,
        *,
        name: str | None = None,
        marker: Marker | None = None,
        buttons: tuple[Button, ...] = (),
    ) -> TranscriptRecord:
        return TranscriptRecord.new(
            Channel.WEBCHAT,
            role,
            text,
            name=name,
            marker=marker,
            buttons=buttons,
            clock=self._clock,
        )

    async def _append(self, session_id: str, *records: TranscriptRecord) -> None:
        await self._store.append(session_id, *records)
        await self._live.lines(session_id, *records)

    async def _widget(self, session_id: str, *messages: ServerMessage) -> None:
        body = json.dumps({"from": _FROM, "frames": [encode_server(m) for m in messages]})
        await self._redis.publish(fanout_channel(session_id), body)
