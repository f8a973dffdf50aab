"""Whole voice turns from a recording, through the real voice session: VAD, ASR, the real
dialogue core and TTS, timed. Used by `rathausbot voice-test` (admins checking a
deployment), the benchmarks and the tests.

The recording is a call (`RecordingCall`): its frames are the caller's audio and the
session's playback waits for them, as on a line. The caller starts after the greeting.
While an engine works for the call (recognition, dialogue, the first audio of an answer),
the line runs in real time, so the timings are a call's; otherwise it runs as fast as the
machine can (silence and playback cost nothing). Keys pressed at given audio times make
DTMF; speech over the bot's answer barges in, as on a call.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from contract.language import Register
from dialogue.core import DialogueCore
from dialogue.messages import Handoff, Role
from dialogue.store import ConversationStore
from voice.asr import Transcriber
from voice.audio import AudioFrame, concat
from voice.keymenu import REASK, REASK_EN
from voice.session import (
    AudioIn,
    CallerHungUp,
    CallEvent,
    DtmfIn,
    Observed,
    SessionOptions,
    VoiceSession,
)
from voice.signals import Dtmf, Reply, Say, SendTurn, Transcript
from voice.speech import readback
from voice.tts import Synthesizer
from voice.vad import CHUNK_MS, Endpointer, SpeechEnded

FEED_MS = 20
# The greeting's silence is fed in blocks of whole VAD chunks (8 frames, 160 ms), and the
# VAD starts afresh with the recording: how long the greeting took to synthesise then
# changes nothing in what the endpointer hears of the caller.
ALIGN_FRAMES = math.lcm(FEED_MS, CHUNK_MS) // FEED_MS
TAIL_LIMIT_S = 60.0  # audio after the recording while the bot still answers
QUIET_END_S = 0.5  # ... ended after this much idle audio


@dataclass(frozen=True, slots=True)
class TurnReport:
    """One caller turn; `timings_ms` are wall-clock milliseconds (`endpoint_silence` is
    audio time: the silence the endpointer waited for before declaring the turn over)."""

    transcript: str
    asr_confidence: float
    intent: str | None
    confidence: float | None
    reply: str
    hangup: bool
    speculative: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    reasked: bool = False  # too unsure to guess: asked again, the dialogue never saw it

    def as_json(self) -> dict[str, object]:
        return {
            "transcript": self.transcript,
            "asr_confidence": self.asr_confidence,
            "intent": self.intent,
            "confidence": self.confidence,
            "reply": self.reply,
            "hangup": self.hangup,
            "speculative": self.speculative,
            "reasked": self.reasked,
            "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True, slots=True)
class KeyReport:
    """A caller turn made of keys: `keys` as pressed ("7#"), `sent` what the session sent
    to the dialogue for them ("7", or a menu pick's payload such as "/deny")."""

    keys: str
    sent: str
    intent: str | None
    confidence: float | None
    reply: str
    hangup: bool


@dataclass(frozen=True, slots=True)
class FileRun:
    """`steps`: every caller turn in order, spoken and typed (keys)."""

    greeting: str
    steps: tuple[TurnReport | KeyReport, ...]
    bot_audio: AudioFrame
    barge_ins: int = 0

    @property
    def turns(self) -> tuple[TurnReport, ...]:
        """The spoken caller turns."""
        return tuple(step for step in self.steps if isinstance(step, TurnReport))


MAX_KEYS = 64


def parse_keys(spec: str) -> tuple[tuple[float, str], ...]:
    """ "3.5:1,4:#" -> ((3.5, "1"), (4.0, "#")): keys pressed at audio times (seconds).
    A ValueError says what is wrong."""
    keys: list[tuple[float, str]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        at, sep, key = part.partition(":")
        try:
            at_s = float(at)
        except ValueError:
            at_s = -1.0
        if not sep or len(key) != 1 or key not in "0123456789*#" or not 0 <= at_s <= 3600:
            raise ValueError(f"not a key press (seconds:key, e.g. 3.5:1): {part[:20]!r}")
        keys.append((at_s, key))
    if len(keys) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} key presses")
    return tuple(keys)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class RecordingCall:
    """voice.session.VoiceCall over a recording, on the line clock described above."""

    def __init__(self, audio: AudioFrame, *, keys: Sequence[tuple[float, str]] = ()) -> None:
        self._frames = audio.split(FEED_MS)
        self._rate = audio.sample_rate
        self._keys = sorted(keys)
        self._tick: asyncio.Future[None] | None = None
        self._hung_up = False
        self.session: VoiceSession | None = None
        self.played: list[AudioFrame] = []
        self.on_play: Callable[[], None] = lambda: None
        self.on_start: Callable[[], None] = lambda: None  # before the recording's first frame
        self.transferred: list[Handoff] = []

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def caller_id(self) -> str | None:
        return None

    def can_transfer(self) -> bool:
        return False  # voice-test never calls staff: a callback is offered instead

    @property
    def transfer_target(self) -> str | None:
        return None

    async def transfer(self, handoff: Handoff) -> bool:
        self.transferred.append(handoff)
        return False

    async def hangup(self) -> None:
        self._hung_up = True

    async def stop_playback(self) -> None:
        pass

    async def play(self, frame: AudioFrame) -> None:
        self.on_play()
        if self._tick is None:
            self._tick = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._tick)
        self.played.append(frame)

    async def events(self) -> AsyncIterator[CallEvent]:
        silence = AudioFrame.silence(FEED_MS / 1000, self._rate)
        fed = 0
        while (not self._idle() or fed % ALIGN_FRAMES) and not self._hung_up:  # the greeting
            yield AudioIn(silence)
            fed += 1
            await self._advance()
        self.on_start()
        at_s = 0.0
        keys = list(self._keys)
        for frame in self._frames:
            while keys and keys[0][0] <= at_s:
                yield DtmfIn(keys.pop(0)[1])
            if self._hung_up:
                return
            yield AudioIn(frame)
            at_s += frame.duration_s
            await self._advance()
        quiet_s = tail_s = 0.0
        while not self._hung_up and quiet_s < QUIET_END_S and tail_s < TAIL_LIMIT_S:
            yield AudioIn(silence)
            await self._advance()
            tail_s += FEED_MS / 1000
            quiet_s = quiet_s + FEED_MS / 1000 if self._idle() else 0.0
        if not self._hung_up:
            yield CallerHungUp()

    def _idle(self) -> bool:
        return self.session is not None and self.session.idle

    async def _advance(self) -> None:
        """One frame of line time: real time while an engine works, else a moment."""
        started = time.perf_counter()
        tick, self._tick = self._tick, None
        if tick is not None and not tick.done():
            tick.set_result(None)
        await asyncio.sleep(0.001)
        if self.session is not None and self.session.waiting:
            await asyncio.sleep(max(0.0, FEED_MS / 1000 - (time.perf_counter() - started)))


@dataclass
class _Turn:
    ended_at: float
    utterance_s: float = 0.0  # audio times: a spoken turn's
    endpoint_silence_s: float = 0.0
    text: str = ""
    confidence: float = 0.0
    speculative: bool = False
    asr_done: float = 0.0
    sent: int | None = None  # the index of its dialogue turn
    dialogue_done: float = 0.0
    first_audio: float = 0.0
    reply: str = ""
    hangup: bool = False
    after_goodbye: bool = False  # ended while the bot said goodbye: no turn of the call
    keys: str = ""  # a turn of keys: those pressed for it


class _Timings:
    """Builds turn reports from what the session observes. Speech that ends after the
    dialogue's goodbye (a reply that hangs up) is no turn: the call is over for the
    session, which never answers it (reporting it depended on how fast it was heard).
    Keys make a turn of their own when the session sends a turn for them (a menu pick,
    digits ended with #, a lone 0), reported with every key pressed since the last turn
    sent; keys the session answers itself make none. `clock`: seconds, monotonic."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.greeting = ""
        self.steps: list[_Turn] = []  # spoken and typed turns, in order
        self._pressed = ""  # keys since the last turn sent
        self._current: _Turn | None = None
        self._ended: list[_Turn] = []
        self._sent = 0
        self._await_audio: _Turn | None = None
        self._goodbye = False

    def observe(self, item: Observed) -> None:
        now = self._clock()
        match item:
            case Dtmf(digit):
                self._pressed += digit
            case SpeechEnded():
                turn = _Turn(now, item.audio.duration_s, item.endpoint_silence_s)
                turn.after_goodbye = self._goodbye
                self._ended.append(turn)
            case Transcript(text, confidence, speculative) if self._ended:
                turn = self._ended.pop(0)
                turn.text, turn.speculative, turn.asr_done = text, speculative, now
                turn.confidence = confidence if confidence is not None else 0.0
                if text.strip() and not turn.after_goodbye:
                    self.steps.append(turn)
                    self._current = turn
            case SendTurn(text):
                if self._current is not None and self._current.sent is None:
                    self._current.sent = self._sent
                elif self._pressed:
                    turn = _Turn(now, text=text, sent=self._sent, keys=self._pressed)
                    self.steps.append(turn)
                    self._current = turn
                self._pressed = ""
                self._sent += 1
            case Reply(replies) if self._current is not None:
                self._current.dialogue_done = now
                self._current.hangup = any(r.hangup for r in replies)
                self._goodbye = self._goodbye or self._current.hangup
            case Say(_, texts) if not self.greeting and not self.steps:
                self.greeting = " ".join(texts)
            case Say(_, texts) if self._current is not None:
                turn, self._current = self._current, None
                turn.reply = " ".join(texts)
                turn.dialogue_done = turn.dialogue_done or now
                self._await_audio = turn

    def played(self) -> None:
        if self._await_audio is not None:
            self._await_audio.first_audio = self._clock()
            self._await_audio = None


async def run_recording(
    audio: AudioFrame,
    *,
    core: DialogueCore,
    store: ConversationStore,
    session_id: str,
    endpointer: Endpointer,
    transcriber: Transcriber,
    synthesizer: Synthesizer,
    read_back: Callable[[str], str | None] = readback,
    min_confidence: float = 0.2,
    keys: Sequence[tuple[float, str]] = (),
    register: Callable[[], Register] | None = None,
) -> FileRun:
    """Runs `audio` as a call through a `VoiceSession` and reports each caller turn.
    `keys`: (audio time in s, key) pairs pressed during the recording. A turn below
    `min_confidence` is re-asked as on a call outside a form: its intent is None.
    `register()`: the call's language, as on the line (voice/language.py)."""
    call = RecordingCall(audio, keys=keys)
    call.on_start = endpointer.reset  # the same recording always gives the same turns
    timings = _Timings()
    call.on_play = timings.played
    session = VoiceSession(
        call,
        core,
        session_id=session_id,
        endpointer=endpointer,
        transcriber=transcriber,
        synthesizer=synthesizer,
        options=SessionOptions(min_confidence=min_confidence, reprompt_after_s=60.0),
        read_back=read_back,
        observer=timings.observe,
        register=register,
    )
    call.session = session
    result = await session.run()
    users = await _user_lines(store, session_id)
    steps: list[TurnReport | KeyReport] = []
    for turn in timings.steps:
        line = users[turn.sent] if turn.sent is not None and turn.sent < len(users) else None
        intent, confidence = (line.intent, line.confidence) if line is not None else (None, None)
        if turn.keys:
            steps.append(
                KeyReport(turn.keys, turn.text, intent, confidence, turn.reply, turn.hangup)
            )
            continue
        reasked = turn.sent is None and turn.reply.startswith((REASK, REASK_EN))
        first_audio = turn.first_audio or turn.dialogue_done
        sent = turn.sent is not None
        steps.append(
            TurnReport(
                transcript=turn.text,
                asr_confidence=turn.confidence,
                intent=intent,
                confidence=confidence,
                reply=turn.reply,
                hangup=turn.hangup,
                speculative=turn.speculative,
                reasked=reasked,
                timings_ms={
                    "asr": _ms(turn.asr_done - turn.ended_at),
                    "dialogue": _ms(turn.dialogue_done - turn.asr_done) if sent else 0.0,
                    "tts_first_audio": _ms(first_audio - turn.dialogue_done),
                    "end_of_speech_to_first_audio": _ms(first_audio - turn.ended_at),
                    "endpoint_silence": _ms(turn.endpoint_silence_s),
                    "utterance": _ms(turn.utterance_s),
                },
            )
        )
    bot = concat(call.played, call.sample_rate)
    return FileRun(timings.greeting, tuple(steps), bot, result.barge_ins)


async def _user_lines(store: ConversationStore, session_id: str) -> list[_UserLine]:
    await store.wait_flushed()
    return [
        _UserLine(r.intent, r.confidence)
        for r in await store.transcript(session_id)
        if r.role is Role.USER
    ]


@dataclass(frozen=True, slots=True)
class _UserLine:
    intent: str | None
    confidence: float | None
