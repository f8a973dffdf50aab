"""The voice session: the async driver of one call's `CallMachine` (voice/machine.py).

It owns every task of the call in one TaskGroup: the reader (call events through the
endpointer), the recogniser (one utterance after the other), the player (TTS and
pacing) and the dialogue and transfer workers. Each task reports what happened as an event
to one inbox; the machine answers with commands, which the driver carries out. An
engine that raises becomes an `EngineFailed` event (an apology), never a hang-up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from contract.language import Register
from contract.phone import CallbackPolicy
from dialogue.core import DialogueCore
from dialogue.messages import Channel, Handoff, UserTurn
from dialogue.store import ConsentEntry
from dialogue.tasks import cancel_and_wait
from dialogue.telemetry import CURRENT_SESSION, Stage
from voice.asr import Transcriber
from voice.audio import AudioFrame, resample
from voice.language import Recognise
from voice.machine import (
    CALLBACK_TRIGGER,
    HANDOFF_TRIGGER,
    MISS_TRIGGER,
    NUMBER_QUESTION,
    WITHDRAW_TRIGGER,
    CallMachine,
    MachineOptions,
    Phase,
)
from voice.prompts import PROMPTS, PROMPTS_EN, Prompts
from voice.recording import Recorder
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
from voice.speculative import SpeculativeTranscriber
from voice.speech import Consent, readback
from voice.tts import Synthesizer, speech_units, split_sentences
from voice.vad import Endpointer, SpeechEnded, SpeechPaused, SpeechStarted, VadEvent
from voice.workers import EngineBusy, VoiceWorkers

log = logging.getLogger(__name__)

__all__ = [
    "CALLBACK_TRIGGER",
    "HANDOFF_TRIGGER",
    "MISS_TRIGGER",
    "NUMBER_QUESTION",
    "WITHDRAW_TRIGGER",
    "EndReason",
]

FRAME_MS = 20
INBOX_SIZE = 256  # events waiting for the machine (audio frames mostly)
MAX_PENDING_UTTERANCES = 4  # ended turns waiting for the recogniser
REPROMPT_TEXT = PROMPTS.reprompt
SILENCE_GOODBYE_TEXT = PROMPTS.silence_goodbye
CONSENT_TEXT = PROMPTS.consent
CONSENT_VERSION = PROMPTS.consent_version
"""Version of CONSENT_TEXT in the consent log; raise it whenever the question changes."""
WITHDRAWN_TEXT = PROMPTS.withdrawn
TRANSFER_FAILED_TEXT = PROMPTS.transfer_failed
STAFF_AWAY_TEXT = PROMPTS.staff_away
CALLBACK_OWN_NUMBER_TEXT = PROMPTS.callback_own_number
CALLBACK_TYPE_NUMBER_TEXT = PROMPTS.callback_type_number
CALLBACK_DECLINED_TEXT = PROMPTS.callback_declined
APOLOGY_TEXT = PROMPTS.apology
FIXED_PROMPTS = PROMPTS.fixed()  # cached at start-up


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
Observed = Event | Command | SpeechEnded


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

    def for_machine(self) -> MachineOptions:
        return MachineOptions(
            reprompt_after_s=self.reprompt_after_s,
            max_reprompts=self.max_reprompts,
            recording_enabled=self.recording_enabled,
            max_dtmf_digits=self.max_dtmf_digits,
            dtmf_timeout_s=self.dtmf_timeout_s,
            callback_policy=self.callback_policy,
            min_confidence=self.min_confidence,
        )


async def _cancel_bounded(task: asyncio.Task[None], *, tries: int = 50) -> None:
    """Cancels a worker, again if a cancellation was swallowed on the way (a call's
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
        prompts: Prompts = PROMPTS,
        observer: Callable[[Observed], None] | None = None,
        workers: VoiceWorkers | None = None,
        recognise: Recognise | None = None,
        english_prompts: Prompts = PROMPTS_EN,
        register: Callable[[], Register] | None = None,
    ) -> None:
        """`observer` sees every event, command and ended utterance as it happens
        (voice-test times turns with it). `workers`: the process's engine threads (VAD,
        ASR with batching, TTS); without them each job gets a thread of its own.
        `recognise`: the call's own way through the shared recogniser (its language,
        voice/language.py) instead of `workers.asr`; `register()`: the call's register now,
        which picks `english_prompts` for an English call."""
        self._call = call
        self._clock = clock
        self._core = core
        self._id = session_id
        self._ep = endpointer
        self._engines = workers
        self._asr = SpeculativeTranscriber(
            transcriber,
            recognise=recognise
            or ((lambda a, final: workers.asr.recognise(a, final=final)) if workers else None),
        )
        self._tts = synthesizer
        self._on_consent = on_consent
        self._make_recorder = recorder  # used only after the caller consented
        self._recorder: Recorder | None = None
        self._recording_cases: list[str] = []  # cases the recording is named on
        self._machine = CallMachine(
            options=options.for_machine(),
            prompts=prompts,
            english=english_prompts,
            register=register,
            caller_id=lambda: call.caller_id,
            read_back=read_back,  # voice.readback.ReadBack: dates, streets, numbers
            clock=clock,
        )
        self._recording_path: Path | None = None
        self._observe = observer or (lambda _: None)
        self._inbox: asyncio.Queue[Event] = asyncio.Queue(maxsize=INBOX_SIZE)
        self._ended: asyncio.Queue[SpeechEnded] = asyncio.Queue(maxsize=MAX_PENDING_UTTERANCES)
        self._group: asyncio.TaskGroup | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._player: asyncio.Task[None] | None = None
        self._transfer: asyncio.Task[None] | None = None
        self._line_s = 0.0  # the caller's audio so far
        self._line_lead: float | None = None  # clock minus line time, when least behind

    @property
    def speaking(self) -> bool:
        """True while the bot's audio is being played."""
        return self._machine.speaking

    @property
    def idle(self) -> bool:
        """The caller's turn: nothing is said, owed or queued."""
        return self._machine.idle and not self._asr.running

    @property
    def waiting(self) -> bool:
        """An engine works for this call (recognition, dialogue, transfer)."""
        return self._machine.waiting or self._asr.running

    async def run(self) -> SessionResult:
        CURRENT_SESSION.set(self._id)  # the call's tasks log with its session id
        async with asyncio.TaskGroup() as group:
            self._group = group
            reader = group.create_task(self._read(), name=f"voice-reader-{self._id}")
            recogniser = group.create_task(self._recognise(), name=f"voice-asr-{self._id}")
            try:
                await self._drive(CallStarted())
                while not self._machine.finished:
                    await self._drive(await self._inbox.get())
            finally:
                await self._shutdown(reader, recogniser)
        if self._call.caller_id:  # found by the privacy officer's search by number
            await self._core.note_caller(self._id, self._call.caller_id)
        outcome = self._machine.outcome
        return SessionResult(
            outcome.end, outcome.consent, outcome.barge_ins, outcome.turns, self._recording_path
        )

    async def _shutdown(self, *tasks: asyncio.Task[None]) -> None:
        if self._transfer is not None:  # staff have the call: let the case be noted
            await asyncio.wait({self._transfer}, timeout=5)
        for task in tasks:
            task.cancel()
        await self._asr.aclose()
        if self._recorder is not None:
            self._recorder.close()
        await self._stop_playback()
        for worker in [*self._workers, *([self._transfer] if self._transfer else [])]:
            await _cancel_bounded(worker)

    async def _post(self, event: Event) -> None:
        await self._inbox.put(event)

    async def _drive(self, event: Event) -> None:
        """Hands one event to the machine and carries out its commands (and theirs)."""
        pending: collections.deque[Event] = collections.deque([event])
        while pending:
            event = pending.popleft()
            self._observe(event)
            for command in self._machine.handle(event):
                self._observe(command)
                try:
                    follow = await self._execute(command)
                except Exception as exc:  # a store or call that failed: the call goes on
                    log.warning("%s failed: %s", type(command).__name__, type(exc).__name__)
                    continue
                if follow is not None:
                    pending.append(follow)

    def _spawn(self, work: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        assert self._group is not None
        task = self._group.create_task(work, name=f"{name}-{self._id}")
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)
        return task

    # --- carrying out commands -------------------------------------------------------------

    async def _execute(self, command: Command) -> Event | None:
        match command:
            case Greet():
                self._spawn(self._greet(), "voice-greet")
            case SendTurn(text, confidence):
                turn = UserTurn(self._id, Channel.VOICE, text, confidence)
                self._spawn(self._send(turn), "voice-dialogue")
            case KeepUnsure(text, confidence):
                await self._core.unsure(UserTurn(self._id, Channel.VOICE, text, confidence))
            case AnswerLatency(seconds):
                await self._core.answer_latency(self._id, seconds)
            case Say():
                await self._stop_playback()
                assert self._group is not None
                self._player = self._group.create_task(
                    self._play(command), name=f"voice-tts-{self._id}"
                )
                await self._note(command.note)
            case StopPlayback():
                await self._stop_playback()
            case Transfer(handoff):
                assert self._group is not None
                self._transfer = self._group.create_task(
                    self._hand_over(handoff), name=f"voice-transfer-{self._id}"
                )
            case HangUp():
                await self._call.hangup()
            case RecordOn():
                return RecordingState(self._start_recording())
            case RecordOff(via):
                await self._withdraw(via)
            case AttachRecording(case_id):
                if self._recorder is not None:
                    await self._core.attach_recording(case_id, self._recorder.path.name)
                    self._recording_cases.append(case_id)
            case LogConsent(answer, via, asked_at):
                if self._on_consent is not None:
                    self._on_consent(answer)
                recording = self._recorder.path.name if self._recorder is not None else ""
                version = self._machine.prompts.consent_version
                entry = ConsentEntry(
                    "answer", answer.value, via, self._clock(), version, asked_at, recording
                )
                await self._core.log_consent(self._id, entry)
        return None

    async def _greet(self) -> None:
        try:
            replies = await self._core.greet(self._id, Channel.VOICE)
        except Exception:
            log.exception("greeting failed")
            await self._post(EngineFailed(Engine.DIALOGUE))
            return
        await self._post(Reply(tuple(replies)))

    async def _send(self, turn: UserTurn) -> None:
        try:
            replies = await self._core.handle(turn)
        except Exception as exc:
            log.warning("dialogue turn failed: %s", type(exc).__name__)
            await self._post(EngineFailed(Engine.DIALOGUE))
            return
        await self._post(Reply(tuple(replies)))

    async def _note(self, texts: tuple[str, ...]) -> None:
        if not texts:
            return
        try:
            await self._core.note_said(self._id, Channel.VOICE, *texts)
        except Exception as exc:  # the call goes on without the line
            log.warning("prompt not kept in the transcript: %s", type(exc).__name__)

    async def _hand_over(self, handoff: Handoff) -> None:
        if not self._call.can_transfer():
            await self._post(TransferResult(TransferOutcome.STAFF_AWAY))
            return
        try:
            done = await self._call.transfer(handoff)
        except Exception as exc:
            log.warning("transfer raised %s", type(exc).__name__)
            done = False
        await self._post(TransferResult(TransferOutcome.DONE if done else TransferOutcome.FAILED))
        target = self._call.transfer_target
        if done and handoff.case_id and target:
            await self._core.note_transfer(handoff.case_id, target)

    # --- recording -----------------------------------------------------------------------

    def _start_recording(self) -> bool:
        if self._make_recorder is None:
            return False
        try:
            self._recorder = self._make_recorder(self._call.sample_rate)
        except (OSError, ValueError) as exc:
            log.warning("recording could not start (%s); the call goes on", type(exc).__name__)
            return False
        self._recording_path = self._recorder.path
        return True

    async def _withdraw(self, via: str) -> None:
        """The caller withdrew consent: the recording stops and its file is deleted."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        recorder.close()
        with contextlib.suppress(OSError):
            recorder.path.unlink(missing_ok=True)
        self._recording_path = None
        for case_id in self._recording_cases:
            await self._core.detach_recording(case_id)
        self._recording_cases.clear()
        version = self._machine.prompts.consent_version
        entry = ConsentEntry(
            "withdrawn", "withdrawn", via, self._clock(), version, None, recorder.path.name
        )
        await self._core.log_consent(self._id, entry)

    # --- input ---------------------------------------------------------------------------

    async def _read(self) -> None:
        """Call events through the endpointer into the inbox; ended turns to the recogniser."""
        try:
            async for event in self._call.events():
                match event:
                    case AudioIn(frame):
                        await self._audio(frame)
                    case DtmfIn(digit):
                        await self._post(Dtmf(digit))
                    case CallerHungUp():
                        break
        except Exception as exc:  # the call's media is gone: so is the caller
            log.warning("call events failed: %s", type(exc).__name__)
        await self._post(HungUp())

    async def _audio(self, frame: AudioFrame) -> None:
        # The line delivers a frame every 20 ms (silence for lost packets): its audio time,
        # at the offset of the frame read with the least delay, is when the caller said it.
        self._line_s += frame.duration_s
        lead = self._clock() - self._line_s
        if self._line_lead is not None:
            lead = min(lead, self._line_lead)
        self._line_lead = lead
        if self._recorder is not None:
            self._recorder.caller(frame)
        if self._machine.phase is Phase.ENDING:
            return  # the goodbye plays: what the caller says now changes nothing, so it is
            # recorded (with consent) but costs no VAD or recognition on a busy machine
        for event in await self._vad(frame):
            match event:
                case SpeechStarted():
                    await self._post(SpeechStart())
                case SpeechPaused():
                    self._asr.paused(event)
                case SpeechEnded():
                    self._observe(event)
                    self._core.observe(Stage.VAD_END_OF_TURN, event.endpoint_silence_s)
                    spoke_until = lead + self._line_s - event.endpoint_silence_s
                    await self._post(EndOfSpeech(spoke_until))
                    await self._ended.put(event)
        await self._post(Timer(frame.duration_s, self._ep.in_speech))

    async def _vad(self, frame: AudioFrame) -> list[VadEvent]:
        if self._engines is not None:
            with contextlib.suppress(EngineBusy):  # more calls than the queue is for
                return await self._engines.vad.run(lambda: self._ep.feed(frame))
        return self._ep.feed(frame)

    async def _next_sentence(
        self, sentences: Iterator[AudioFrame], *, urgent: bool = False
    ) -> AudioFrame | None:
        if self._engines is not None:
            return await self._engines.tts.run(lambda: next(sentences, None), urgent=urgent)
        return await asyncio.to_thread(next, sentences, None)

    def _sentences(self, texts: tuple[str, ...]) -> Iterator[AudioFrame]:
        """The speech of `texts`, one unit after the other (synthesised as it is taken)."""
        for text in texts:
            yield from self._tts.synthesize(text)

    async def _recognise(self) -> None:
        """One utterance after the other, so the turns keep their order."""
        while True:
            ended = await self._ended.get()
            event: Event
            try:
                started = time.monotonic()
                recognised = await self._asr.ended(ended)
                self._core.transcribed(time.monotonic() - started, audio_s=ended.audio.duration_s)
                text, confidence = recognised.transcript.text, recognised.transcript.confidence
                event = Transcript(text, confidence, recognised.speculative)
            except Exception as exc:
                log.warning("recognition failed: %s", type(exc).__name__)
                event = EngineFailed(Engine.ASR)
            await self._post(event)

    # --- output --------------------------------------------------------------------------

    async def _stop_playback(self) -> None:
        player, self._player = self._player, None
        if player is None or player.done():
            return
        await cancel_and_wait(player)
        await self._call.stop_playback()

    async def _play(self, say: Say) -> None:
        rate = self._call.sample_rate
        # the first sentence may come in two units (speech_units); protect both
        first = split_sentences(say.texts[0]) if say.texts else []
        protected = len(speech_units(first[0])) if first and say.protect_first else 0
        played = 0
        unheard = True  # no frame of this speech went out yet
        sentences = self._sentences(say.texts)
        try:
            started = time.monotonic()
            # the caller waits for the first unit: it goes before other calls' later ones
            audio = await self._next_sentence(sentences, urgent=True)
            self._core.observe(Stage.TTS_FIRST_AUDIO, time.monotonic() - started)
        except Exception as exc:
            log.warning("speech synthesis failed: %s", type(exc).__name__)
            await self._post(EngineFailed(Engine.TTS, say.say_id))
            return
        while audio is not None:
            # the next unit is synthesised while this one plays: no gap between sentences
            following = asyncio.ensure_future(self._next_sentence(sentences))
            try:
                for frame in resample(audio, rate).split(FRAME_MS):
                    if self._recorder is not None:
                        self._recorder.bot(frame)
                    await self._call.play(frame)
                    if unheard:  # the caller hears the bot from now on
                        unheard = False
                        await self._post(FirstAudio(say.say_id, self._clock()))
            except BaseException:
                await cancel_and_wait(following)  # barge-in, hang-up: stop synthesising
                raise
            played += 1
            if played == protected:
                await self._post(Unprotected(say.say_id))
            try:
                audio = await following
            except Exception as exc:
                log.warning("speech synthesis failed: %s", type(exc).__name__)
                await self._post(EngineFailed(Engine.TTS, say.say_id))
                return
        await self._post(SpeechDone(say.say_id))
