"""The voice session: joins one call's audio to the dialogue core (turn-taking, barge-in,
silence handling, DTMF, recording consent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from contract.german import spell_digits
from contract.phone import NUMBER_NOT_ALLOWED_TEXT, CallbackPolicy
from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, Handoff, UserTurn
from dialogue.store import ConsentEntry
from dialogue.tasks import cancel_and_wait
from voice.asr import Transcriber
from voice.audio import AudioFrame, resample
from voice.keymenu import REASK, STOP_PAYLOAD, TOPICS, KeyMenu, key_menu
from voice.recording import Recorder
from voice.speculative import SpeculativeTranscriber
from voice.speech import Consent, parse_consent, parse_withdrawal, readback
from voice.tts import Synthesizer, speech_units, split_sentences
from voice.vad import Endpointer, SpeechEnded, SpeechPaused, SpeechStarted

log = logging.getLogger(__name__)

FRAME_MS = 20
REPROMPT_TEXT = "Sind Sie noch da? Wie kann ich Ihnen helfen?"
SILENCE_GOODBYE_TEXT = "Ich höre leider nichts mehr. Vielen Dank für Ihren Anruf. Auf Wiederhören!"
CONSENT_TEXT = (
    "Dürfen wir dieses Gespräch zur Qualitätssicherung aufzeichnen? "
    "Sagen Sie ja oder nein, oder drücken Sie die Eins für ja und die Zwei für nein. "
    "Sie können die Aufzeichnung jederzeit beenden: Sagen Sie „Aufnahme stoppen“ oder "
    "drücken Sie die Neun."
)
CONSENT_VERSION = "2"
"""Version of CONSENT_TEXT in the consent log; raise it whenever the question changes."""
WITHDRAWN_TEXT = "Die Aufzeichnung ist beendet und gelöscht."
WITHDRAW_TRIGGER = "/withdraw_recording"  # never sent to Rasa
HANDOFF_TRIGGER = "/human_handoff"
NUMBER_QUESTION = "Unter welcher Telefonnummer"  # the forms ask for a phone number so
CALLBACK_TRIGGER = "/callback_request"
MISS_TRIGGER = "/nlu_fallback"  # a turn the recogniser was unsure of: a miss, never a guess
TRANSFER_FAILED_TEXT = "Die Weiterleitung ist leider nicht gelungen."
STAFF_AWAY_TEXT = "Im Moment ist leider keine Mitarbeiterin und kein Mitarbeiter erreichbar."
CALLBACK_OWN_NUMBER_TEXT = (
    "Wir rufen Sie gern zurück. Sollen wir Sie unter der Nummer {number} zurückrufen? "
    "Dann drücken Sie die Eins oder sagen Sie ja. Für eine andere Nummer tippen Sie diese "
    "bitte ein und drücken danach die Raute-Taste."
)
CALLBACK_TYPE_NUMBER_TEXT = (
    "Wir rufen Sie gern zurück. Bitte tippen Sie Ihre Telefonnummer ein und drücken Sie "
    "danach die Raute-Taste."
)
CALLBACK_DECLINED_TEXT = "In Ordnung. Kann ich Ihnen sonst noch helfen?"
FIXED_PROMPTS = (
    REPROMPT_TEXT,
    SILENCE_GOODBYE_TEXT,
    CONSENT_TEXT,
    WITHDRAWN_TEXT,
)  # cached at start-up


@dataclass(frozen=True, slots=True)
class AudioIn:
    frame: AudioFrame


@dataclass(frozen=True, slots=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    pass


CallEvent = AudioIn | DtmfIn | CallerHungUp


class VoiceCall(Protocol):
    """What a session needs from a call (telephony's SIP or WebRTC call; a fake in tests)."""

    @property
    def sample_rate(self) -> int: ...

    def events(self) -> AsyncIterator[CallEvent]: ...

    async def play(self, frame: AudioFrame) -> None:
        """Sends one 20 ms frame; returns when the call is ready for the next one."""
        ...

    async def stop_playback(self) -> None:
        """Drops audio queued for playback (barge-in)."""
        ...

    @property
    def caller_id(self) -> str | None:
        """The caller's number as the network gave it, if any (offered for a callback)."""
        ...

    def can_transfer(self) -> bool:
        """True when a transfer to staff may be tried now (target configured, staff hours)."""
        ...

    @property
    def transfer_target(self) -> str | None:
        """Where a transfer goes (shown on the case), None when transfers are off."""
        ...

    async def transfer(self, handoff: Handoff) -> bool:
        """Hands the caller to staff; False when the transfer was refused or failed."""
        ...

    async def hangup(self) -> None: ...


class EndReason(Enum):
    BOT_HANGUP = "bot_hangup"
    CALLER_HANGUP = "caller_hangup"
    SILENCE = "silence"
    TRANSFERRED = "transferred"


@dataclass
class SessionResult:
    end: EndReason
    consent: Consent | None = None
    barge_ins: int = 0
    turns: int = 0
    recording: Path | None = None  # only when the caller consented


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Bounded options of a voice session; times count the caller's audio, not wall time."""

    reprompt_after_s: float = 8.0
    max_reprompts: int = 2
    recording_enabled: bool = False
    max_dtmf_digits: int = 20
    dtmf_timeout_s: float = 2.0
    callback_policy: CallbackPolicy = CallbackPolicy()  # whom callbacks may go to
    min_confidence: float = 0.2  # below: re-asked (or a form's miss), never guessed

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be in [0, 1]")
        if not 2 <= self.reprompt_after_s <= 60 or not 0 <= self.max_reprompts <= 5:
            raise ValueError("reprompt_after_s must be in [2, 60], max_reprompts in [0, 5]")
        if not 1 <= self.max_dtmf_digits <= 64:
            raise ValueError("max_dtmf_digits must be in [1, 64]")
        if not 0.5 <= self.dtmf_timeout_s <= 10:
            raise ValueError("dtmf_timeout_s must be in [0.5, 10]")


@dataclass
class _Speech:
    task: asyncio.Task[None]
    interruptible: asyncio.Event = field(default_factory=asyncio.Event)


async def _cancel_bounded(task: asyncio.Task[None], *, tries: int = 50) -> None:
    """Cancels the dialogue task, again if a cancellation was swallowed on the way (a call's
    session must always end); gives up after `tries` short waits (the task group then waits)."""
    for _ in range(tries):
        if task.done():
            return
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)


class VoiceSession:
    """One call. `run()` returns when the call ends; every task it starts ends with it."""

    def __init__(
        self,
        call: VoiceCall,
        core: DialogueCore,
        *,
        session_id: str,
        endpointer: Endpointer,
        transcriber: Transcriber,
        synthesizer: Synthesizer,
        options: SessionOptions = SessionOptions(),
        on_consent: Callable[[Consent], None] | None = None,
        read_back: Callable[[str], str | None] = readback,
        recorder: Callable[[int], Recorder] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._call = call
        self._clock = clock
        self._core = core
        self._id = session_id
        self._ep = endpointer
        self._asr = SpeculativeTranscriber(transcriber)
        self._tts = synthesizer
        self._opts = options
        self._on_consent = on_consent
        self._read_back = read_back  # voice.readback.ReadBack: dates, streets, numbers
        self._make_recorder = recorder  # used only after the caller consented
        self._recorder: Recorder | None = None
        self._recording_cases: list[str] = []  # cases the recording is named on
        self._speech: _Speech | None = None
        self._result = SessionResult(EndReason.CALLER_HANGUP)
        self._silence_s = 0.0
        self._reprompts = 0
        self._digits = ""
        self._dtmf_idle_s = 0.0
        self._awaiting_choice = False
        self._menu: KeyMenu | None = None  # the last reply's choices, picked by one key
        self._in_form = False  # the last reply was a form's question (it offers Abbrechen)
        self._turns: asyncio.Queue[UserTurn | None] = asyncio.Queue(maxsize=8)
        self._spoken: list[tuple[UserTurn, float]] = []  # queued spoken turns: end of speech
        self._answer_due: float | None = None  # end of the speech whose reply is not heard yet
        self._asked = ""  # the last answer's last text: what the caller is asked now
        self._done = asyncio.Event()

    async def run(self) -> SessionResult:
        async with asyncio.TaskGroup() as group:
            dialogue = group.create_task(self._dialogue(), name=f"voice-dialogue-{self._id}")
            try:
                await self._listen()
            finally:
                self._done.set()
                await self._asr.aclose()
                if self._recorder is not None:
                    self._recorder.close()
                await self._stop_speaking()
                await _cancel_bounded(dialogue)
        if self._call.caller_id:  # found by the privacy officer's search by number
            await self._core.note_caller(self._id, self._call.caller_id)
        return self._result

    # --- input side: audio, DTMF, silence --------------------------------------------

    async def _listen(self) -> None:
        async for event in self._call.events():
            if self._done.is_set():
                return
            match event:
                case AudioIn(frame):
                    await self._on_audio(frame)
                case DtmfIn(digit):
                    await self._on_dtmf(digit)
                case CallerHungUp():
                    self._result.end = EndReason.CALLER_HANGUP
                    return

    async def _on_audio(self, frame: AudioFrame) -> None:
        if self._recorder is not None:
            self._recorder.caller(frame)
        await self._dtmf_timeout(frame.duration_s)
        for event in self._ep.feed(frame):
            match event:
                case SpeechStarted():
                    self._silence_s = 0.0
                    speech = self._speech
                    if speech and not speech.task.done() and speech.interruptible.is_set():
                        self._result.barge_ins += 1
                        log.info("barge-in: playback stopped")
                        await self._stop_speaking()
                case SpeechPaused():
                    self._asr.paused(event)
                case SpeechEnded():
                    await self._recognise(event)
        if self._speaking() or self._ep.in_speech:
            self._silence_s = 0.0
            return
        self._silence_s += frame.duration_s
        if self._silence_s >= self._opts.reprompt_after_s:
            self._silence_s = 0.0
            self._reprompts += 1
            if self._reprompts > self._opts.max_reprompts:
                self._result.end = EndReason.SILENCE
                await self._say_and_wait(SILENCE_GOODBYE_TEXT)
                await self._call.hangup()
                self._done.set()
            else:
                self._start_speaking([REPROMPT_TEXT])

    async def _recognise(self, ended: SpeechEnded) -> None:
        transcript = (await self._asr.ended(ended)).transcript
        if transcript.text.strip():
            self._reprompts = 0
            turn = UserTurn(self._id, Channel.VOICE, transcript.text, transcript.confidence)
            self._spoken = [*self._spoken[-7:], (turn, self._clock() - ended.endpoint_silence_s)]
            await self._turns.put(turn)

    async def _on_dtmf(self, digit: str) -> None:
        if digit not in "0123456789*#" or len(digit) != 1:
            return
        self._silence_s = 0.0
        picked = self._menu.pick(digit) if self._menu and not self._digits else None
        if self._awaiting_choice and digit in "12" and not self._digits:
            await self._turns.put(UserTurn(self._id, Channel.VOICE, digit))
        elif picked is not None and not self._awaiting_choice:
            self._menu = None
            await self._turns.put(UserTurn(self._id, Channel.VOICE, picked))
        elif digit == "#":
            digits, self._digits = self._digits, ""
            if digits:
                await self._turns.put(UserTurn(self._id, Channel.VOICE, digits))
        elif digit == "*":
            self._digits = ""
        elif len(self._digits) < self._opts.max_dtmf_digits:
            self._digits += digit
            self._dtmf_idle_s = 0.0

    async def _dtmf_timeout(self, elapsed_s: float) -> None:
        """A lone "0" left alone for `dtmf_timeout_s` asks for a person."""
        if not self._digits:
            return
        self._dtmf_idle_s += elapsed_s
        if self._dtmf_idle_s >= self._opts.dtmf_timeout_s:
            digits, self._digits = self._digits, ""
            if digits == "0":
                await self._turns.put(UserTurn(self._id, Channel.VOICE, HANDOFF_TRIGGER))
            elif digits == "9" and self._recorder is not None and not self._number_entry():
                await self._turns.put(UserTurn(self._id, Channel.VOICE, WITHDRAW_TRIGGER))

    # --- output side: one dialogue turn at a time -----------------------------------

    async def _dialogue(self) -> None:
        greeting = await self._core.greet(self._id, Channel.VOICE)
        await self._say_and_wait(*(r.text for r in greeting), protect_first=True)
        if self._opts.recording_enabled:
            await self._ask_consent()
        while True:
            turn = await self._turns.get()
            if turn is None:
                continue
            await self._stop_speaking()
            if self._recorder is not None and (
                turn.text == WITHDRAW_TRIGGER or parse_withdrawal(turn.text)
            ):
                via = "key" if turn.text == WITHDRAW_TRIGGER else "speech"
                await self._withdraw(via)
                continue
            if turn.text == WITHDRAW_TRIGGER:
                continue  # nothing is being recorded
            self._result.turns += 1
            texts: list[str] = []
            if turn.confidence is not None and turn.confidence < self._opts.min_confidence:
                log.info("unsure transcript (confidence %.2f): re-asking", turn.confidence)
                await self._core.unsure(turn)
                if not self._in_form:
                    self._menu = KeyMenu(TOPICS)
                    self._start_speaking([REASK, self._menu.prompt()])
                    continue
                turn = UserTurn(self._id, Channel.VOICE, MISS_TRIGGER)  # the form counts a miss
            elif turn.text.isdigit():
                texts.append(f"Sie haben eingegeben: {spell_digits(turn.text)}.")
            elif (confirmation := self._read_back(turn.text)) is not None:
                texts.append(confirmation)
            replies = await self._core.handle(turn)
            texts += [r.text for r in replies if r.text]
            buttons = tuple(b for r in replies for b in r.buttons)
            self._in_form = any(b.payload == STOP_PAYLOAD for b in buttons)
            self._menu = key_menu(buttons)
            if self._menu is not None:
                texts.append(self._menu.prompt())
            self._answer_due = self._spoken_at(turn)  # _play reports its first audio
            next_texts = await self._act(replies, texts)
            if not next_texts:
                self._answer_due = None
            self._asked = next_texts[-1] if next_texts else ""
            if next_texts is None:
                return
            self._start_speaking(next_texts)

    def _number_entry(self) -> bool:
        """Whether the caller is asked to answer with keys (a "9" is then a digit)."""
        return self._awaiting_choice or NUMBER_QUESTION in self._asked

    def _spoken_at(self, turn: UserTurn) -> float | None:
        """When the caller stopped speaking `turn` (None: typed), forgetting older turns."""
        for index, (spoken, at) in enumerate(self._spoken):
            if spoken is turn:
                del self._spoken[: index + 1]
                return at
        return None

    async def _ask_consent(self) -> None:
        self._awaiting_choice = True
        answer = Consent.UNCLEAR
        via = "none"
        asked_at = self._clock()
        for _ in range(2):
            await self._say_and_wait(CONSENT_TEXT)
            turn = await self._turns.get()
            answer = parse_consent(turn.text) if turn else Consent.UNCLEAR
            if answer is not Consent.UNCLEAR:
                via = "key" if turn is not None and turn.text.strip() in ("1", "2") else "speech"
                break
        self._awaiting_choice = False
        final = Consent.GRANTED if answer is Consent.GRANTED else Consent.DENIED
        self._result.consent = final
        log.info("recording consent: %s", final.value)
        if self._on_consent is not None:
            self._on_consent(final)
        if final is Consent.GRANTED and self._make_recorder is not None:
            self._start_recording(self._make_recorder)
        recording = self._recorder.path.name if self._recorder is not None else ""
        entry = ConsentEntry(
            "answer", final.value, via, self._clock(), CONSENT_VERSION, asked_at, recording
        )
        await self._core.log_consent(self._id, entry)

    async def _withdraw(self, via: str) -> None:
        """The caller withdrew consent: the recording stops and its file is deleted."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.close()
        with contextlib.suppress(OSError):
            recorder.path.unlink(missing_ok=True)
        self._result.recording = None
        for case_id in self._recording_cases:
            await self._core.detach_recording(case_id)
        self._recording_cases.clear()
        log.info("recording consent withdrawn: recording stopped and deleted")
        entry = ConsentEntry(
            "withdrawn", "withdrawn", via, self._clock(), CONSENT_VERSION, None, recorder.path.name
        )
        await self._core.log_consent(self._id, entry)
        await self._say_and_wait(WITHDRAWN_TEXT)

    def _start_recording(self, make: Callable[[int], Recorder]) -> None:
        try:
            self._recorder = make(self._call.sample_rate)
        except (OSError, ValueError) as exc:
            log.warning("recording could not start (%s); the call goes on", type(exc).__name__)
            return
        self._result.recording = self._recorder.path

    async def _act(self, replies: list[BotReply], texts: list[str]) -> list[str] | None:
        """Acts on handoff and hang-up replies: what to say next, or None when the call ends."""
        handoff = next((r.handoff for r in replies if r.handoff is not None), None)
        if handoff is not None:
            if handoff.case_id and self._recorder is not None:  # staff may play it back
                await self._core.attach_recording(handoff.case_id, self._recorder.path.name)
                self._recording_cases.append(handoff.case_id)
            await self._say_and_wait(*texts)  # where it goes, and its case number
            if not self._call.can_transfer():
                return await self._offer_callback(STAFF_AWAY_TEXT)
            if await self._call.transfer(handoff):
                # the call is staff's now: a hang-up while the case is noted changes nothing
                self._result.end = EndReason.TRANSFERRED
                self._done.set()
                target = self._call.transfer_target
                if handoff.case_id and target:
                    await self._core.note_transfer(handoff.case_id, target)
                return None
            log.info("transfer failed: offering a callback")
            return await self._offer_callback(TRANSFER_FAILED_TEXT)
        if any(r.hangup for r in replies):
            await self._say_and_wait(*texts)
            await self._call.hangup()
            self._result.end = EndReason.BOT_HANGUP
            self._done.set()
            return None
        return texts

    async def _offer_callback(self, intro: str) -> list[str]:
        """Offers a callback to the caller's own number (DTMF 1 or "ja") or a typed one (#),
        then lets the dialogue's callback form take it from there. Only numbers the callback
        policy allows are taken: a forged caller number is not offered, and a premium-rate or
        foreign one typed in is refused."""
        caller = self._call.caller_id
        policy = self._opts.callback_policy
        own = caller if caller and policy.allows(caller) else None
        offer = (
            CALLBACK_OWN_NUMBER_TEXT.format(number=spell_digits(own))
            if own
            else CALLBACK_TYPE_NUMBER_TEXT
        )
        number: str | None = None
        self._awaiting_choice = True
        try:
            for _ in range(2):
                await self._say_and_wait(intro, offer)
                intro = ""
                turn = await self._turns.get()
                answer = turn.text.strip() if turn else ""
                consent = parse_consent(answer)
                if own and (answer == "1" or (consent is Consent.GRANTED and not answer.isdigit())):
                    number = own
                elif answer.isdigit() and len(answer) >= 3:
                    if policy.allows(answer):
                        number = answer
                    else:
                        intro = NUMBER_NOT_ALLOWED_TEXT
                elif consent is Consent.DENIED and not answer.isdigit():
                    break
                if number:
                    break
        finally:
            self._awaiting_choice = False
        if number is None:
            return [CALLBACK_DECLINED_TEXT]
        await self._core.handle(UserTurn(self._id, Channel.VOICE, CALLBACK_TRIGGER))
        replies = await self._core.handle(UserTurn(self._id, Channel.VOICE, number))
        confirmation = f"Wir rufen Sie unter der Nummer {spell_digits(number)} zurück."
        return [confirmation, *(r.text for r in replies if r.text)]

    # --- speaking --------------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """True while the bot's audio is being played."""
        return self._speaking()

    def _speaking(self) -> bool:
        return self._speech is not None and not self._speech.task.done()

    def _start_speaking(self, texts: list[str], *, protect_first: bool = False) -> _Speech:
        task = asyncio.create_task(self._play(texts, protect_first), name=f"voice-tts-{self._id}")
        self._speech = _Speech(task)
        if not protect_first:
            self._speech.interruptible.set()
        return self._speech

    async def _say_and_wait(self, *texts: str, protect_first: bool = False) -> None:
        await self._stop_speaking()
        speech = self._start_speaking([t for t in texts if t], protect_first=protect_first)
        try:
            await asyncio.shield(speech.task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the session ends; a barge-in only cancels the speech task

    async def _stop_speaking(self) -> None:
        speech, self._speech = self._speech, None
        if speech is None or speech.task.done():
            return
        await cancel_and_wait(speech.task)
        await self._call.stop_playback()

    async def _play(self, texts: list[str], protect_first: bool) -> None:
        rate = self._call.sample_rate
        # the first sentence may come in two units (speech_units); protect both
        first = split_sentences(texts[0]) if texts else []
        protected = len(speech_units(first[0])) if first else 0
        played = 0
        for text in texts:
            sentences: Iterator[AudioFrame] = self._tts.synthesize(text)
            while (audio := await asyncio.to_thread(next, sentences, None)) is not None:
                for frame in resample(audio, rate).split(FRAME_MS):
                    if self._recorder is not None:
                        self._recorder.bot(frame)
                    due, self._answer_due = self._answer_due, None
                    await self._call.play(frame)
                    if due is not None:  # the answer's first audio: the caller's wait
                        await self._core.answer_latency(self._id, self._clock() - due)
                played += 1
                if protect_first and played >= protected and self._speech is not None:
                    self._speech.interruptible.set()
        if self._speech is not None:
            self._speech.interruptible.set()
