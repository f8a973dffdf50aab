"""One call's turn-taking as a sans-I/O state machine: events in, commands out.

No audio, engines or event loop here: `voice/session.py` runs the engines and the call and
feeds what happened in (`handle(event)`), then carries out the commands it gets back.
Time is the caller's audio time (`Timer` events), so a recording gives the same commands
every time. The machine's `Phase` says what the call is doing; a reply, a spoken prompt or
a transfer it waits for is a continuation, and caller turns wait in a bounded queue
meanwhile.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from contract.german import spell_digits
from contract.language import Register, spell_digits_en
from contract.phone import NUMBER_NOT_ALLOWED_TEXT, NUMBER_NOT_ALLOWED_TEXT_EN, CallbackPolicy
from dialogue.messages import BotReply, Handoff
from voice.keymenu import REASK, REASK_EN, STOP_PAYLOAD, TOPICS, TOPICS_EN, KeyMenu, key_menu
from voice.prompts import Prompts
from voice.signals import (
    AnswerLatency,
    AttachRecording,
    CallStarted,
    Command,
    Dtmf,
    EndOfSpeech,
    EndReason,
    Engine,
    EngineFailed,
    Event,
    FirstAudio,
    Greet,
    HangUp,
    HungUp,
    KeepUnsure,
    LogConsent,
    RecordingState,
    RecordOff,
    RecordOn,
    Reply,
    Say,
    SendTurn,
    SpeechDone,
    SpeechStart,
    StopPlayback,
    Timer,
    Transcript,
    Transfer,
    TransferOutcome,
    TransferResult,
    Unprotected,
)
from voice.speech import Consent, parse_consent, parse_withdrawal

log = logging.getLogger(__name__)

WITHDRAW_TRIGGER = "/withdraw_recording"  # never sent to Rasa
HANDOFF_TRIGGER = "/human_handoff"
CALLBACK_TRIGGER = "/callback_request"
MISS_TRIGGER = "/nlu_fallback"  # a turn the recogniser was unsure of: a miss, never a guess
NUMBER_QUESTION = "Unter welcher Telefonnummer"  # the forms ask for a phone number so
MAX_QUEUED_TURNS = 8
CONSENT_TRIES = 2
CALLBACK_TRIES = 2


class Phase(Enum):
    GREETING = "greeting"
    LISTENING = "listening"
    CONSENT = "consent"
    CALLBACK_OFFER = "callback_offer"
    TRANSFERRING = "transferring"
    ENDING = "ending"


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineOptions:
    reprompt_after_s: float
    max_reprompts: int
    recording_enabled: bool
    max_dtmf_digits: int
    dtmf_timeout_s: float
    callback_policy: CallbackPolicy
    min_confidence: float


@dataclass
class Outcome:
    end: EndReason = EndReason.CALLER_HANGUP
    consent: Consent | None = None
    barge_ins: int = 0
    turns: int = 0


Then = Callable[[], list[Command]]
OnReply = Callable[[tuple[BotReply, ...]], list[Command]]


class CallMachine:
    """The turn-taking of one call. Feed every event to `handle()` and carry out the
    commands it returns, in order; `finished` turns True when the session is over."""

    def __init__(
        self,
        *,
        options: MachineOptions,
        prompts: Prompts,
        caller_id: Callable[[], str | None],
        read_back: Callable[[str], str | None],
        clock: Callable[[], float],
        english: Prompts | None = None,
        register: Callable[[], Register] | None = None,
    ) -> None:
        """`english`: the prompts for a call in English; `register()`: the call's register
        now (voice/language.py), German without it."""
        self._opts = options
        self._german = prompts
        self._english = english
        self._register = register
        self._caller = caller_id
        self._read_back = read_back
        self._clock = clock
        self.phase = Phase.GREETING
        self.outcome = Outcome()
        self.finished = False
        # caller turns waiting, each with when its speech ended (None: typed)
        self._turns: collections.deque[tuple[Transcript, float | None]] = collections.deque()
        self._speech: int | None = None  # the Say playing now
        self._interruptible = False
        self._last_texts: tuple[str, ...] = ()  # the texts of the last Say
        self._said = 0  # Say ids
        self._after: tuple[int, Then] | None = None  # what follows the end of a Say
        self._on_reply: OnReply | None = None
        self._transferring: Handoff | None = None
        self._recording = False
        # ended turns whose transcript is still to come: when the caller stopped speaking
        self._recognising: collections.deque[float | None] = collections.deque(
            maxlen=MAX_QUEUED_TURNS
        )
        self._answer_due: tuple[int, float] | None = None  # (say id, end of the speech it answers)
        self._asked = ""  # the last answer's last text: what the caller is asked now
        self._silence_s = 0.0
        self._reprompts = 0
        self._digits = ""
        self._dtmf_idle_s = 0.0
        self._awaiting_choice = False  # consent or callback: "1" and "2" answer at once
        self._menu: KeyMenu | None = None
        self._in_form = False
        self._tries = 0
        self._asked_at = 0.0
        self._own_number: str | None = None
        self._disclosed_in_english = False  # the English disclosure, once per call

    @property
    def english(self) -> bool:
        """The call is held in English now (and English prompts were given)."""
        return (
            self._english is not None
            and self._register is not None
            and self._register() is Register.EN
        )

    @property
    def prompts(self) -> Prompts:
        """The prompts in the call's language now (English only for an English call)."""
        return self._english if self._english is not None and self.english else self._german

    def _spell(self, digits: str) -> str:
        return spell_digits_en(digits) if self.english else spell_digits(digits)

    @property
    def _p(self) -> Prompts:
        return self.prompts

    @property
    def speaking(self) -> bool:
        return self._speech is not None

    @property
    def waiting(self) -> bool:
        """An engine owes the call something: a transcript, a reply or a transfer."""
        return bool(self._recognising) or self._on_reply is not None or bool(self._transferring)

    @property
    def idle(self) -> bool:
        """Listening, with nothing said, owed or queued (the caller's turn)."""
        listening = self.phase is Phase.LISTENING and not self._turns and not self._busy()
        return listening and not self.speaking and not self._recognising

    def handle(self, event: Event) -> list[Command]:
        if self.finished:
            return []
        match event:
            case CallStarted():
                self._on_reply = self._greeted
                return [Greet()]
            case Reply(replies):
                on_reply, self._on_reply = self._on_reply, None
                out = on_reply(replies) if on_reply is not None else []
                return out + self._pump()
            case SpeechDone(say_id) | EngineFailed(Engine.TTS, say_id) if say_id != self._speech:
                return []  # speech that was stopped already
            case SpeechDone():
                self._speech = None
                return self._speech_over() + self._pump()
            case Unprotected(say_id):
                self._interruptible = self._interruptible or say_id == self._speech
                return []
            case FirstAudio(say_id, at):
                return self._first_audio(say_id, at)
            case EngineFailed(engine):
                return self._failed(engine) + self._pump()
            case TransferResult(outcome):
                return self._transferred(outcome) + self._pump()
            case RecordingState(on):
                self._recording = on
                return []
            case HungUp():
                return self._end(EndReason.CALLER_HANGUP)
        if self.phase is Phase.ENDING:
            return []  # the goodbye plays: the caller's input changes nothing now
        match event:
            case Timer(elapsed_s, caller_speaking):
                return self._timer(elapsed_s, caller_speaking) + self._pump()
            case SpeechStart():
                return self._speech_started() + self._pump()
            case EndOfSpeech(spoke_until):
                self._recognising.append(spoke_until)
                return []
            case Transcript():
                spoke_until = self._recognising.popleft() if self._recognising else None
                if event.text.strip():
                    self._reprompts = 0
                    self._queue(event, spoke_until)
                return self._pump()
            case Dtmf(digit):
                return self._dtmf(digit) + self._pump()
        raise AssertionError(f"unhandled event {event!r}")  # pragma: no cover

    # --- input: turns, keys, silence -------------------------------------------------------

    def _queue(self, turn: Transcript, spoke_until: float | None = None) -> None:
        if len(self._turns) >= MAX_QUEUED_TURNS:
            log.warning("caller turn dropped: %d turns wait already", len(self._turns))
            return
        self._turns.append((turn, spoke_until))

    def _busy(self) -> bool:
        return self._after is not None or self._on_reply is not None or bool(self._transferring)

    def _pump(self) -> list[Command]:
        """Takes queued turns while nothing is awaited."""
        out: list[Command] = []
        while self._turns and not self._busy() and not self.finished:
            turn, spoke_until = self._turns.popleft()
            match self.phase:
                case Phase.CONSENT:
                    out += self._consent_answer(turn)
                case Phase.CALLBACK_OFFER:
                    out += self._callback_answer(turn)
                case Phase.LISTENING:
                    out += self._turn(turn, spoke_until)
                case _:  # pragma: no cover - busy in every other phase
                    self._turns.appendleft((turn, spoke_until))
                    break
        return out

    def _speech_started(self) -> list[Command]:
        self._silence_s = 0.0
        if self._speech is None or not self._interruptible:
            return []
        self.outcome.barge_ins += 1
        log.info("barge-in: playback stopped")
        return self._stop()

    def _timer(self, elapsed_s: float, caller_speaking: bool) -> list[Command]:
        out = self._dtmf_timeout(elapsed_s)
        if self._speech is not None or caller_speaking or self._recognising or self._busy():
            self._silence_s = 0.0
            return out
        self._silence_s += elapsed_s
        if self._silence_s < self._opts.reprompt_after_s:
            return out
        self._silence_s = 0.0
        self._reprompts += 1
        if self._reprompts > self._opts.max_reprompts:
            self.outcome.end = EndReason.SILENCE
            self.phase = Phase.ENDING
            return out + self._say((self._p.silence_goodbye,), own=True, then=self._hang_up)
        return out + self._say((self._p.reprompt,), own=True)

    def _dtmf(self, digit: str) -> list[Command]:
        if len(digit) != 1 or digit not in "0123456789*#":
            return []
        self._silence_s = 0.0
        picked = self._menu.pick(digit) if self._menu and not self._digits else None
        if self._awaiting_choice and digit in "12" and not self._digits:
            self._queue(Transcript(digit))
        elif picked is not None and not self._awaiting_choice:
            self._menu = None
            self._queue(Transcript(picked))
        elif digit == "#":
            digits, self._digits = self._digits, ""
            if digits:
                self._queue(Transcript(digits))
        elif digit == "*":
            self._digits = ""
        elif len(self._digits) < self._opts.max_dtmf_digits:
            self._digits += digit
            self._dtmf_idle_s = 0.0
        return []

    def _dtmf_timeout(self, elapsed_s: float) -> list[Command]:
        """A lone "0" left alone for `dtmf_timeout_s` asks for a person, a lone "9" during
        a recording withdraws consent, unless the caller is asked for a number."""
        if not self._digits:
            return []
        self._dtmf_idle_s += elapsed_s
        if self._dtmf_idle_s < self._opts.dtmf_timeout_s:
            return []
        digits, self._digits = self._digits, ""
        if digits == "0":
            self._queue(Transcript(HANDOFF_TRIGGER))
        elif digits == "9" and self._recording and not self._number_entry():
            self._queue(Transcript(WITHDRAW_TRIGGER))
        return []

    def _number_entry(self) -> bool:
        """Whether the caller is asked to answer with keys (a "9" is then a digit): a
        choice (consent, callback offer) or the dialogue's question for a phone number."""
        return self._awaiting_choice or NUMBER_QUESTION in self._asked

    # --- speaking ------------------------------------------------------------------------

    def _say(
        self,
        texts: tuple[str, ...],
        *,
        own: bool | tuple[str, ...] = False,
        protect_first: bool = False,
        then: Then | None = None,
        answers: float | None = None,
    ) -> list[Command]:
        """Speaks `texts` (stopping what plays); `then` runs when they end, also by a
        barge-in. `own`: all texts (True) or these are the session's, for the transcript.
        `answers`: when the caller stopped speaking the turn these texts answer (their first
        audio reports the caller's wait)."""
        out = self._stop()
        texts = tuple(t for t in texts if t)
        if not texts:
            return out + (then() if then is not None else [])
        self._said += 1
        self._speech = self._said
        self._last_texts = texts
        self._interruptible = not protect_first
        note = texts if own is True else own if isinstance(own, tuple) else ()
        out.append(Say(self._said, texts, protect_first, tuple(t for t in note if t)))
        self._answer_due = (self._said, answers) if answers is not None else None
        if then is not None:
            self._after = (self._said, then)
        return out

    def _first_audio(self, say_id: int, at: float) -> list[Command]:
        due, self._answer_due = self._answer_due, None
        if due is None or due[0] != say_id:
            self._answer_due = due
            return []
        return [AnswerLatency(at - due[1])]

    def _stop(self) -> list[Command]:
        if self._speech is None:
            return []
        self._speech = None
        return [StopPlayback(), *self._speech_over()]

    def _speech_over(self) -> list[Command]:
        after, self._after = self._after, None
        return after[1]() if after is not None else []

    def _hang_up(self) -> list[Command]:
        self.finished = True
        return [HangUp()]

    def _end(self, reason: EndReason) -> list[Command]:
        if self.phase is not Phase.ENDING:
            self.outcome.end = reason
        self.phase = Phase.ENDING
        self.finished = True
        return []

    # --- greeting and consent --------------------------------------------------------------

    def _greeted(self, replies: tuple[BotReply, ...]) -> list[Command]:
        texts = tuple(r.text for r in replies)
        return self._say(texts, protect_first=True, then=self._after_greeting)

    def _after_greeting(self) -> list[Command]:
        if not self._opts.recording_enabled:
            self.phase = Phase.LISTENING
            return []
        self.phase = Phase.CONSENT
        self._awaiting_choice = True
        self._tries = 0
        self._asked_at = self._clock()
        return self._ask_consent()

    def _ask_consent(self) -> list[Command]:
        self._tries += 1
        return self._say((self._p.consent,), own=True, then=list)

    def _consent_answer(self, turn: Transcript) -> list[Command]:
        answer = parse_consent(turn.text)
        if answer is Consent.UNCLEAR and self._tries < CONSENT_TRIES:
            return self._ask_consent()
        via = "none"
        if answer is not Consent.UNCLEAR:
            via = "key" if turn.text.strip() in ("1", "2") else "speech"
        final = Consent.GRANTED if answer is Consent.GRANTED else Consent.DENIED
        self._awaiting_choice = False
        self.phase = Phase.LISTENING
        self.outcome.consent = final
        log.info("recording consent: %s", final.value)
        out: list[Command] = [RecordOn()] if final is Consent.GRANTED else []
        return [*out, LogConsent(final, via, self._asked_at)]

    # --- dialogue turns ----------------------------------------------------------------------

    def _turn(self, turn: Transcript, spoke_until: float | None) -> list[Command]:
        out = self._stop()
        withdraw_key = turn.text == WITHDRAW_TRIGGER
        if self._recording and (withdraw_key or parse_withdrawal(turn.text)):
            self._recording = False
            via = "key" if withdraw_key else "speech"
            log.info("recording consent withdrawn: recording stopped and deleted")
            return [*out, RecordOff(via), *self._say((self._p.withdrawn,), own=True, then=list)]
        if withdraw_key:
            return out  # nothing is being recorded
        self.outcome.turns += 1
        own: list[str] = []
        text = turn.text
        if turn.confidence is not None and turn.confidence < self._opts.min_confidence:
            log.info("unsure transcript (confidence %.2f): re-asking", turn.confidence)
            out.append(KeepUnsure(text, turn.confidence))  # for the "Nicht verstanden" inbox
            if not self._in_form:
                english = self.english
                self._menu = KeyMenu(TOPICS_EN if english else TOPICS)
                reask = REASK_EN if english else REASK
                return out + self._say((reask, self._menu.prompt(english=english)), own=True)
            text = MISS_TRIGGER  # the form counts a miss
            turn = Transcript(text)
        elif text.isdigit():
            own.append(self._p.typed_digits.format(digits=self._spell(text)))
        elif (confirmation := self._read_back(text)) is not None:
            own.append(confirmation)
        first = tuple(own)
        self._on_reply = lambda replies: self._answered(first, replies, spoke_until)
        return [*out, SendTurn(text, turn.confidence)]

    def _answered(
        self, own: tuple[str, ...], replies: tuple[BotReply, ...], spoke_until: float | None
    ) -> list[Command]:
        if self.english and not self._disclosed_in_english:  # the greeting was German
            self._disclosed_in_english = True
            own = (self._p.disclosure, *own)
        texts = [*own, *(r.text for r in replies if r.text)]
        buttons = tuple(b for r in replies for b in r.buttons)
        self._in_form = any(b.payload == STOP_PAYLOAD for b in buttons)
        self._menu = key_menu(buttons)
        notes = list(own)
        if self._menu is not None:
            texts.append(self._menu.prompt(english=self.english))
            notes.append(self._menu.prompt(english=self.english))
        self._asked = texts[-1] if texts else ""
        handoff = next((r.handoff for r in replies if r.handoff is not None), None)
        if handoff is not None:
            out: list[Command] = []
            if handoff.case_id and self._recording:  # staff may play it back
                out.append(AttachRecording(handoff.case_id))
            self.phase = Phase.TRANSFERRING
            then = lambda: self._transfer(handoff)  # noqa: E731
            return out + self._say(tuple(texts), own=tuple(notes), then=then, answers=spoke_until)
        if any(r.hangup for r in replies):
            self.outcome.end = EndReason.BOT_HANGUP
            self.phase = Phase.ENDING
            then = self._hang_up
            return self._say(tuple(texts), own=tuple(notes), then=then, answers=spoke_until)
        return self._say(tuple(texts), own=tuple(notes), answers=spoke_until)

    # --- transfer and callback ---------------------------------------------------------------

    def _transfer(self, handoff: Handoff) -> list[Command]:
        self._transferring = handoff
        return [Transfer(handoff)]

    def _transferred(self, outcome: TransferOutcome) -> list[Command]:
        if self._transferring is None:
            return []
        self._transferring = None
        match outcome:
            case TransferOutcome.DONE:
                # the call is staff's now: a hang-up while the case is noted changes nothing
                return self._end(EndReason.TRANSFERRED)
            case TransferOutcome.STAFF_AWAY:
                return self._offer_callback(self._p.staff_away)
            case TransferOutcome.FAILED:
                log.info("transfer failed: offering a callback")
                return self._offer_callback(self._p.transfer_failed)

    def _offer_callback(self, intro: str) -> list[Command]:
        """Offers a callback to the caller's own number (key 1 or "ja") or a typed one (#).
        Only numbers the callback policy allows are taken: a forged caller number is not
        offered, and a premium-rate or foreign one typed in is refused."""
        policy = self._opts.callback_policy
        caller = self._caller()
        self._own_number = caller if caller and policy.allows(caller) else None
        self.phase = Phase.CALLBACK_OFFER
        self._awaiting_choice = True
        self._tries = 0
        return self._ask_callback(intro)

    def _ask_callback(self, intro: str) -> list[Command]:
        self._tries += 1
        own = self._own_number
        offer = (
            self._p.callback_own_number.format(number=self._spell(own))
            if own
            else self._p.callback_type_number
        )
        return self._say((intro, offer), own=True, then=list)

    def _callback_answer(self, turn: Transcript) -> list[Command]:
        answer = turn.text.strip()
        consent = parse_consent(answer)
        own = self._own_number
        number: str | None = None
        intro = ""
        if own and (answer == "1" or (consent is Consent.GRANTED and not answer.isdigit())):
            number = own
        elif answer.isdigit() and len(answer) >= 3:
            if self._opts.callback_policy.allows(answer):
                number = answer
            else:
                intro = NUMBER_NOT_ALLOWED_TEXT_EN if self.english else NUMBER_NOT_ALLOWED_TEXT
        elif consent is Consent.DENIED and not answer.isdigit():
            return self._callback_over(None)
        if number is None and self._tries < CALLBACK_TRIES:
            return self._ask_callback(intro)
        return self._callback_over(number)

    def _callback_over(self, number: str | None) -> list[Command]:
        self._awaiting_choice = False
        self.phase = Phase.LISTENING
        if number is None:
            self._asked = self._p.callback_declined
            return self._say((self._p.callback_declined,), own=True)
        confirmed = self._p.callback_confirmed.format(number=self._spell(number))
        self._on_reply = lambda _: self._callback_number(number, confirmed)
        return [SendTurn(CALLBACK_TRIGGER)]

    def _callback_number(self, number: str, confirmed: str) -> list[Command]:
        self._on_reply = lambda replies: self._callback_taken(confirmed, replies)
        return [SendTurn(number)]

    def _callback_taken(self, confirmed: str, replies: tuple[BotReply, ...]) -> list[Command]:
        texts = (confirmed, *(r.text for r in replies if r.text))
        self._asked = texts[-1]
        return self._say(texts, own=(confirmed,))

    # --- engine failures -------------------------------------------------------------------

    def _failed(self, engine: Engine) -> list[Command]:
        """An engine failed: the caller hears an apology that offers a person (key 0), and
        the call goes on where it was (never silence, never a hang-up)."""
        log.warning("%s engine failed: apologising and offering a person", engine.value)
        then: Then | None = None
        match engine:
            case Engine.ASR:
                if self._recognising:
                    self._recognising.popleft()
            case Engine.DIALOGUE:
                on_reply, self._on_reply = self._on_reply, None
                if on_reply is None:
                    return []  # nothing was asked of the dialogue
                if self.phase is Phase.GREETING:
                    then = self._after_greeting
            case Engine.TTS:
                self._speech = None
                after, self._after = self._after, None
                then = after[1] if after is not None else None
                if self.phase is Phase.ENDING or self._last_texts == (self._p.apology,):
                    return then() if then is not None else []  # go on without it
        if self.phase is Phase.ENDING:
            return []
        self._menu = KeyMenu(())  # key 0: a person, at once
        if self._after is not None:  # a prompt plays that something waits for: after it
            said, after_prompt = self._after
            self._after = (said, lambda: self._say((self._p.apology,), own=True, then=after_prompt))
            return []
        return self._say((self._p.apology,), own=True, then=then)
