"""The one dialogue core that every channel (web chat, browser call, phone) calls."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from redis import exceptions as redis_errors

from contract.language import LANGUAGE_ENTITY, Register
from contract.payloads import HandoffReason
from dialogue.handoff_notice import HandoffNotice
from dialogue.live import LiveFeed
from dialogue.messages import BotReply, Channel, EngineAnswer, Handoff, Role, UserTurn
from dialogue.metrics import FALLBACK_INTENTS, Metrics, StatChannel, TurnFacts
from dialogue.misses import MissLog
from dialogue.rasa import DialogueEngine, EngineUnavailable
from dialogue.records import Case, Delivery, TranscriptRecord
from dialogue.store import ConsentEntry, ConversationStore
from dialogue.telemetry import CURRENT_SESSION, Stage

log = logging.getLogger(__name__)

# Said when the dialogue engine cannot answer: polite, honest, and never without the
# emergency numbers, since the citizen's message may have been an emergency.
UNAVAILABLE_TEXT = {
    Channel.WEBCHAT: (
        "Entschuldigung, ich kann Ihre Anfrage gerade aus technischen Gründen nicht "
        "bearbeiten. Ihre Nachricht ist gespeichert. Bitte versuchen Sie es in wenigen "
        "Minuten noch einmal. Im Notfall wählen Sie bitte sofort 112 (Feuerwehr, "
        "Rettungsdienst) oder 110 (Polizei)."
    ),
    Channel.VOICE: (
        "Entschuldigung, ich habe gerade technische Schwierigkeiten. Bitte versuchen Sie es "
        "in wenigen Minuten noch einmal. Im Notfall wählen Sie bitte sofort "
        "eins eins zwei oder eins eins null."
    ),
}


# Redis is down: turns go on through the store's outbox; takeover and live chat stand aside
_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

GREET_TRIGGER = "/greet"  # Rasa reads "/intent" as that intent


def greet_trigger(register: Register | None) -> str:
    """The greeting's message to Rasa; a preset register rides along as the `language`
    entity ("/greet{"language":"en"}"), which sets the register slot (docs/languages.md)."""
    if register is None:
        return GREET_TRIGGER
    return GREET_TRIGGER + json.dumps({LANGUAGE_ENTITY: register.value})


class MessageTooLong(ValueError):
    """The user's message exceeds the configured limit; nothing was accepted."""


class TakeoverGate(Protocol):
    """What the core needs of the live takeover (`channels.takeover.Takeover`)."""

    async def active(self, session_id: str) -> bool:
        """Whether a clerk holds the conversation (Rasa is paused)."""
        ...

    async def citizen_said(self, session_id: str, text: str) -> None:
        """Records a message for the clerk on Rasa's paused tracker."""
        ...

    async def staff_available(self, department: str | None) -> bool:
        """Whether a clerk who counts for a case of `department` is free for a live chat."""
        ...

    async def wait_for_staff(self, case_id: str) -> None: ...


class DialogueCore:
    """Sends user turns to the dialogue engine, keeps the transcript, opens cases."""

    def __init__(
        self,
        engine: DialogueEngine,
        store: ConversationStore,
        *,
        max_message_chars: int = 2000,
        clock: Callable[[], float] = time.time,
        notice: HandoffNotice | None = None,
        takeover: TakeoverGate | None = None,
        live: LiveFeed | None = None,
        metrics: Metrics | None = None,
        misses: MissLog | None = None,
    ) -> None:
        """`notice` completes handoff replies with the case number and staff hours;
        `takeover` lets a clerk answer chats; `live` shows every line in the case view;
        `metrics` counts turns for the team statistics; `misses` keeps (redacted) messages
        the assistant did not understand."""
        if max_message_chars < 1:
            raise ValueError("max_message_chars must be positive")
        self._engine = engine
        self._store = store
        self._max_chars = max_message_chars
        self._clock = clock
        self._notice = notice
        self._takeover = takeover
        self._live = live
        self._metrics = metrics
        self._misses = misses

    async def handle(self, turn: UserTurn) -> list[BotReply]:
        """Answers one turn. Raises MessageTooLong, or StoreFull when input must be refused."""
        text = turn.text.strip()
        if not text:
            return []
        if len(text) > self._max_chars:
            raise MessageTooLong(f"message has {len(text)} characters, limit {self._max_chars}")
        if await self._held(turn.session_id):
            await self._to_clerk(turn, text)
            return []
        return await self._exchange(turn.session_id, turn.channel, text, user_turn=turn)

    async def unsure(self, turn: UserTurn) -> None:
        """Keeps a voice turn the recogniser was too unsure of (re-asked, never answered)
        in the "Nicht verstanden" inbox, masked like every miss."""
        if self._misses is not None and turn.confidence is not None:
            await self._misses.unsure(turn.channel, turn.text, turn.confidence)

    async def note_caller(self, session_id: str, number: str) -> None:
        """Keeps the caller's number (normalised) on a call's session, so that the privacy
        officer finds the call by it; never fails the call."""
        await self._store.note_caller(session_id, number)

    async def answer_latency(self, session_id: str, seconds: float) -> None:
        """A call's answer reached the caller `seconds` after they stopped speaking (the
        phone answer latency of the statistics)."""
        if self._metrics is not None:
            await self._metrics.answer_latency(session_id, round(1000 * seconds))

    def observe(self, stage: Stage, seconds: float) -> None:
        """One measured stage of a turn (the live metrics)."""
        if self._metrics is not None:
            self._metrics.observe(stage, seconds)

    def transcribed(self, seconds: float, *, audio_s: float) -> None:
        """One utterance of `audio_s` seconds was transcribed in `seconds`."""
        if self._metrics is not None:
            self._metrics.asr(seconds, audio_s=audio_s)

    async def log_consent(self, session_id: str, entry: ConsentEntry) -> None:
        """Writes the call's consent question, answer or withdrawal to its consent log."""
        await self._store.log_consent(session_id, entry)

    async def note_said(self, session_id: str, channel: Channel, *texts: str) -> None:
        """Keeps what a channel said on its own (a call's consent question, re-prompts,
        callback offer) in the transcript, so a clerk reads the question before its answer."""
        lines = [TranscriptRecord.new(channel, Role.BOT, t, clock=self._clock) for t in texts if t]
        if not lines:
            return
        await self._store.append(session_id, *lines)
        if self._live is not None:
            await self._live.lines(session_id, *lines)

    async def _held(self, session_id: str) -> bool:
        """Whether a clerk holds the chat; False while Redis cannot tell (the turn then goes
        to Rasa, which records it without prediction if it was paused)."""
        if self._takeover is None:
            return False
        try:
            return await self._takeover.active(session_id)
        except _REDIS_DOWN as exc:
            log.warning("takeover state unavailable: %s", type(exc).__name__)
            return False

    async def _to_clerk(self, turn: UserTurn, text: str) -> None:
        """A clerk holds the chat: the message goes to them and to Rasa's record, unanswered."""
        assert self._takeover is not None
        self._store.ensure_capacity()
        shown = await self._chosen_title(turn.session_id, text)
        line = TranscriptRecord.new(turn.channel, Role.USER, shown, clock=self._clock)
        await self._store.append(turn.session_id, line)
        if self._live is not None:
            await self._live.lines(turn.session_id, line)
        await self._takeover.citizen_said(turn.session_id, text)
        log.info("turn on %s went to the clerk holding the chat", turn.channel)

    async def _chosen_title(self, session_id: str, text: str) -> str:
        """The title of the quick reply whose payload `text` is, when the citizen was offered
        it (the clerk reads "Rückruf vereinbaren", not "/callback_request"); else `text`."""
        if not text.startswith("/"):
            return text
        try:
            offered = await self._store.offered_buttons(session_id)
        except _REDIS_DOWN:
            return text
        for button in offered:
            if button.payload == text:
                return button.title
        return text

    async def attach_recording(self, case_id: str, name: str) -> None:
        """Names the consented recording of a call on the case it opened."""
        await self._store.attach_recording(case_id, name)

    async def detach_recording(self, case_id: str) -> None:
        """Takes a recording the caller withdrew consent to off the case it was named on."""
        await self._store.detach_recording(case_id)

    async def note_transfer(self, case_id: str, target: str) -> None:
        """Records on the case of a call that the call went to staff at `target`."""
        await self._store.note_transfer(case_id, target)

    async def greet(
        self, session_id: str, channel: Channel, *, register: Register | None = None
    ) -> list[BotReply]:
        """Opens a conversation: the assistant's greeting with its AI disclosure, in the
        ``register`` the widget or the call preset (None: German until the citizen chooses)."""
        return await self._exchange(session_id, channel, greet_trigger(register), user_turn=None)

    async def _exchange(
        self, session_id: str, channel: Channel, text: str, *, user_turn: UserTurn | None
    ) -> list[BotReply]:
        self._store.ensure_capacity()
        CURRENT_SESSION.set(session_id)
        started = time.monotonic()
        try:
            answer = await self._engine.send(session_id, channel, text)
            delivery = Delivery.OK
            self.observe(Stage.RASA, time.monotonic() - started)
        except EngineUnavailable as exc:
            log.warning("dialogue engine unavailable for a %s turn: %s", channel, exc)
            answer = EngineAnswer(replies=(BotReply(text=UNAVAILABLE_TEXT[channel]),))
            delivery = Delivery.UNDELIVERED

        lines: list[TranscriptRecord] = []
        if user_turn is not None:
            lines.append(
                TranscriptRecord.new(
                    channel,
                    Role.USER,
                    text,
                    intent=answer.understanding.intent,
                    confidence=answer.understanding.confidence,
                    asr_confidence=user_turn.confidence,
                    delivery=delivery,
                    clock=self._clock,
                )
            )
        cases = [self._case_for(session_id, channel, r.handoff) for r in answer.replies]
        live_chats = [await self._live_chat(channel, case) for case in cases]
        replies = [
            reply if case is None else self._with_case(reply, channel, case, live_chat)
            for reply, case, live_chat in zip(answer.replies, cases, live_chats, strict=True)
        ]
        role = Role.BOT if delivery is Delivery.OK else Role.SYSTEM
        lines += [self._line(channel, role, reply) for reply in replies]
        await self._store.append(session_id, *lines)  # the turn in one write
        if self._live is not None:
            await self._live.lines(session_id, *lines)
        if user_turn is not None and self._metrics is not None:
            await self._metrics.turn(
                TurnFacts(
                    session_id=session_id,
                    channel=StatChannel.of(channel, session_id),
                    intent=answer.understanding.intent,
                    fallback=answer.understanding.intent in FALLBACK_INTENTS,
                    handoff_reasons=tuple(c.reason for c in cases if c is not None),
                )
            )
        if user_turn is not None and self._misses is not None:
            handoff = any(c is not None for c in cases)
            await self._misses.turn(
                session_id, channel, text, answer.understanding, handoff=handoff
            )
        for case, live_chat in zip(cases, live_chats, strict=True):
            if case is not None:
                await self._store.open_case(case)
                log.info("escalation case %s opened (%s)", case.case_id, case.reason)
                if live_chat and self._takeover is not None and self._staffed():
                    await self._takeover.wait_for_staff(case.case_id)  # Redis answered just now
        log.info(
            "turn on %s: intent=%s confidence=%s replies=%d",
            channel,
            answer.understanding.intent,
            answer.understanding.confidence,
            len(replies),
        )
        return replies

    async def _live_chat(self, channel: Channel, case: Case | None) -> bool | None:
        """Whether a clerk of the case's department is free for a live chat (None: no
        live chat on this channel, or no case)."""
        if case is None or channel is not Channel.WEBCHAT or self._takeover is None:
            return None
        try:
            return await self._takeover.staff_available(case.department)
        except _REDIS_DOWN as exc:  # nobody can be told to take over: offer the callback
            log.warning("staff availability unavailable: %s", type(exc).__name__)
            return None

    def _staffed(self) -> bool:
        return self._notice is not None and self._notice.staffed_now()

    def _with_case(
        self, reply: BotReply, channel: Channel, case: Case, live_chat: bool | None
    ) -> BotReply:
        assert reply.handoff is not None  # a case is opened for handoff replies only
        reply = replace(reply, handoff=replace(reply.handoff, case_id=case.case_id))
        if self._notice is None:
            return reply
        return self._notice.complete(
            reply, channel, case.case_id, available=live_chat, register=case.register
        )

    def _line(self, channel: Channel, role: Role, reply: BotReply) -> TranscriptRecord:
        return TranscriptRecord.new(
            channel,
            role,
            reply.text,
            buttons=reply.buttons,
            links=reply.links,
            handoff=reply.handoff,
            hangup=reply.hangup,
            clock=self._clock,
        )

    def _case_for(self, session_id: str, channel: Channel, handoff: Handoff | None) -> Case | None:
        if handoff is None:
            return None
        now = self._clock()
        reason = handoff.reason
        if (
            reason == HandoffReason.USER_REQUEST.value
            and self._notice is not None
            and not self._notice.staffed_now()
        ):
            reason = HandoffReason.OUTSIDE_HOURS.value  # the inbox tells why nobody answered
        return Case(
            case_id=Case.new_id(now),
            session_id=session_id,
            channel=channel,
            reason=reason,
            department=handoff.department,
            created_at=now,
            register=handoff.register,
        )
