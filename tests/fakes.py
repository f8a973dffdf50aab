"""Fakes for unit tests, one per Protocol. Integration tests use the real services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from dialogue.messages import BotReply, Channel, EngineAnswer
from dialogue.rasa import EngineUnavailable
from rathausbot.retention import DAY_S

Script = Callable[[str, Channel, str], EngineAnswer]

# The purge tests' "now": noon UTC two days after the real today. Redis expires the keys the
# purge gives a TTL (EXPIREAT) by the real clock, and the audit stream's ids are real times,
# so a test clock must stay just ahead of the real one: a fixed date fails once it passes.
PURGE_NOW = float((int(datetime.now(UTC).timestamp()) // DAY_S + 2) * DAY_S + 12 * 3600)


class FakeClock:
    """Seconds that move only when a test sets `now`; for code that takes a `clock`."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeEngine:
    """A dialogue engine answering from a script; `down = True` makes it unavailable;
    `fail_next` sends raise `failure` (a bug or a broken answer, not an outage)."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self.down = False
        self.fail_next = 0
        self.failure: Exception = RuntimeError("fake engine broke")
        self.received: list[tuple[str, Channel, str]] = []

    async def send(self, session_id: str, channel: Channel, text: str) -> EngineAnswer:
        if self.down:
            raise EngineUnavailable("fake engine is down")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.failure
        self.received.append((session_id, channel, text))
        return self._script(session_id, channel, text)

    async def aclose(self) -> None:
        pass


class FakeTracker:
    """Rasa's tracker API for a takeover: keeps the events per conversation and the pause
    flag as Rasa does (`pause` sets it, `resume` and `session_started` clear it); `down`
    makes it unavailable, `said` is what `execute` answers."""

    def __init__(self, said: tuple[str, ...] = ("Willkommen zurück.",)) -> None:
        self.down = False
        self.said = said
        self.events: dict[str, list[dict[str, object]]] = {}
        self.paused: dict[str, bool] = {}
        self.executed: list[tuple[str, str]] = []

    async def append_events(self, session_id: str, events: list[dict[str, object]]) -> bool:
        if self.down:
            raise EngineUnavailable("fake tracker is down")
        for event in events:
            self.events.setdefault(session_id, []).append(event)
            if event["event"] == "pause":
                self.paused[session_id] = True
            elif event["event"] in ("resume", "session_started"):
                self.paused[session_id] = False
        return self.paused.get(session_id, False)

    async def execute(self, session_id: str, action: str) -> tuple[BotReply, ...]:
        if self.down:
            raise EngineUnavailable("fake tracker is down")
        self.executed.append((session_id, action))
        return tuple(BotReply(text) for text in self.said)

    def kinds(self, session_id: str) -> list[object]:
        return [event["event"] for event in self.events.get(session_id, [])]


# --- voice ------------------------------------------------------------------------------

import asyncio  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from dialogue.messages import Handoff  # noqa: E402
from voice.asr import Transcript  # noqa: E402
from voice.audio import AudioFrame  # noqa: E402
from voice.session import CallEvent  # noqa: E402


class FakeVad:
    """Calls a chunk speech when its peak amplitude exceeds 1000 (test audio is exact): its
    probability is `speech` then, `quiet` otherwise (set them to an endpointer's thresholds
    to pin them)."""

    def __init__(self, *, speech: float = 0.95, quiet: float = 0.02) -> None:
        self.resets = 0
        self._speech, self._quiet = speech, quiet

    def speech_probability(self, chunk: npt.NDArray[np.float32]) -> float:
        return self._speech if float(np.abs(chunk).max()) > 1000 / 32768 else self._quiet

    def reset(self) -> None:
        self.resets += 1


class FakeTranscriber:
    """Answers each utterance with the next scripted text, at confidence 0.9 unless a
    text comes with its own (`("Sperrmüll", 0.2)`: a bad line); the next `fail_next`
    utterances raise `failure` instead (the script waits)."""

    def __init__(self, *texts: str | tuple[str, float]) -> None:
        self._texts = [t if isinstance(t, tuple) else (t, 0.9) for t in texts]
        self.heard: list[float] = []
        self.fail_next = 0
        self.failure: Exception = RuntimeError("fake recogniser broke")

    def transcribe(self, audio: AudioFrame) -> Transcript:
        self.heard.append(audio.duration_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.failure
        return Transcript(*self._texts.pop(0)) if self._texts else Transcript("", 0.9)


class FakeSynthesizer:
    """A quiet tone of 50 ms per character (so a sentence's length is predictable); the
    next `fail_next` sentences raise `failure`, and every one does while `down`."""

    def __init__(self, *, ms_per_char: int = 50, tone_hz: float | None = None) -> None:
        """`tone_hz`: a sine instead of a constant (a codec such as Opus drops a constant)."""
        self._ms = ms_per_char
        self._hz = tone_hz
        self.calls: list[str] = []
        self.failed: list[str] = []
        self.fail_next = 0
        self.down = False
        self.failure: Exception = RuntimeError("fake synthesiser broke")

    @property
    def sample_rate(self) -> int:
        return 16000

    def synthesize(self, text: str) -> Iterator[AudioFrame]:
        from voice.tts import speech_units

        for sentence in speech_units(text):
            if self.down or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                self.failed.append(sentence)
                raise self.failure
            self.calls.append(sentence)
            n = 16 * self._ms * len(sentence)
            if self._hz is None:
                yield AudioFrame.from_samples(np.full(n, 500, dtype=np.int16), 16000)
            else:
                t = np.arange(n) / 16000
                samples = 500 * np.sin(2 * np.pi * self._hz * t)
                yield AudioFrame.from_samples(samples.astype(np.int16), 16000)


class FakeCall:
    """A call on a fake clock: each `tick()` lets one 20 ms frame play; the test feeds
    caller events with `send()`."""

    def __init__(self, sample_rate: int = 8000) -> None:
        self._rate = sample_rate
        self._events: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._tick: asyncio.Future[None] | None = None
        self.played: list[tuple[int, AudioFrame]] = []
        self.stops: list[int] = []
        self.transferred: list[Handoff] = []
        self.transfer_ok = True  # what `transfer()` reports
        self.staff_present = True  # what `can_transfer()` reports
        self.number: str | None = None  # the caller ID
        self.hung_up = False
        self.now = 0  # ticks so far

    @property
    def sample_rate(self) -> int:
        return self._rate

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    def send(self, event: CallEvent | None) -> None:
        self._events.put_nowait(event)

    async def tick(self, count: int = 1) -> None:
        for _ in range(count):
            self.now += 1
            tick, self._tick = self._tick, None
            if tick is not None and not tick.done():
                tick.set_result(None)
            # let the session (and its worker threads) react before the next tick
            await asyncio.sleep(0.002)

    async def play(self, frame: AudioFrame) -> None:
        if self._tick is None:
            self._tick = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._tick)
        self.played.append((self.now, frame))

    async def stop_playback(self) -> None:
        self.stops.append(self.now)

    @property
    def caller_id(self) -> str | None:
        return self.number

    def can_transfer(self) -> bool:
        return self.staff_present

    @property
    def transfer_target(self) -> str | None:
        return "sip:buergerbuero@pbx.example"

    async def transfer(self, handoff: Handoff) -> bool:
        self.transferred.append(handoff)
        return self.transfer_ok

    async def hangup(self) -> None:
        self.hung_up = True
        self.send(None)


# --- e-mail (console/notify.py) ---------------------------------------------------------

import smtplib  # noqa: E402
from email.message import EmailMessage  # noqa: E402


class FakeMailTransport:
    """Keeps sent messages. Switches for what SMTP does wrong: `fail_next` sends fail with
    `failure` (default a refused connection); `timeout` makes every send time out;
    `reject_recipients` refuses the recipients as a server would (SMTPRecipientsRefused)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.attempts = 0
        self.fail_next = 0
        self.failure: Exception = ConnectionRefusedError("fake SMTP refused")
        self.timeout = False
        self.reject_recipients = False

    def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.timeout:
            raise TimeoutError("fake SMTP timed out")
        if self.reject_recipients:
            raise smtplib.SMTPRecipientsRefused({str(message["To"]): (550, b"no such user")})
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.failure
        self.sent.append(message)


# --- browser calls (channels/signalling.py) ---------------------------------------------

from channels.signalling import CallAnswer, SignalError, SignalRefused  # noqa: E402


class FakeCallDesk:
    """Answers offers with a canned SDP; `refuse` makes the next offers fail that way."""

    def __init__(self) -> None:
        self.offers: list[tuple[str, str, str]] = []  # (sdp, session_id, address)
        self.calls: set[str] = set()
        self.refuse: SignalError | None = None

    async def offer(self, sdp: str, *, session_id: str, address: str) -> CallAnswer:
        if self.refuse is not None:
            raise SignalRefused(self.refuse)
        self.offers.append((sdp, session_id, address))
        call_id = f"call-{len(self.offers)}"
        self.calls.add(call_id)
        return CallAnswer("v=0\r\nanswer\r\n", "answer", call_id)

    def hangup(self, call_id: str) -> bool:
        if call_id not in self.calls:
            return False
        self.calls.discard(call_id)
        return True
