"""Voice activity detection (Silero, ONNX) and a sans-I/O endpointer built on it."""

from __future__ import annotations

import collections
import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voice.audio import AudioFrame, StreamResampler

VAD_RATE = 16000
CHUNK_SAMPLES = 512  # 32 ms at 16 kHz: what Silero expects
CHUNK_MS = CHUNK_SAMPLES * 1000 // VAD_RATE
_CONTEXT_SAMPLES = 64


class VadModel(Protocol):
    """Speech probability of consecutive 512-sample chunks of 16 kHz float audio."""

    def speech_probability(self, chunk: npt.NDArray[np.float32]) -> float: ...

    def reset(self) -> None: ...


def silero_model_path() -> Path:
    """The Silero VAD model that the faster-whisper package ships."""
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


QUIET_RESET_S = 3.0  # recurrent state is renewed after this much audio without speech
QUIET_PROBABILITY = 0.15
ONSET_PROBABILITY = 0.15  # a turn starts where the probability last rose above this
ONSET_SEARCH_CHUNKS = 40  # ... searching back at most 1.28 s before the detected start
ONSET_GAP_CHUNKS = 3  # ... over dips below it of up to 96 ms
PRIME_S = 2.5  # silence a fresh state is run on: Silero reacts late right after a zero state
# Background voices (a television, colleagues, a street): Silero hears speech far below the
# caller (93 % of four talkers' chunks at probability >= 0.5 12 dB down; 30 dB down they
# still held 14 of 24 turns open), so without a level rule such a turn ends only at
# max_utterance_s. Within a turn, a chunk this many dB below the median level of the
# turn's recent speech chunks counts as quiet (docs/voice.md).
BACKGROUND_DB = 10.0
LEVEL_CHUNKS = 31  # ... the median over the last 31 chunks of the caller's speech (~1 s)
LEVEL_MIN_CHUNKS = 10  # ... once the turn has 10 of them (320 ms)
# ... and such quiet ends the turn 8 chunks (256 ms) later than silence would: Silero's own
# hangover after a word (up to about 190 ms on the degraded set's clean voices) stays the
# end of a clean turn, and a hesitation is not cut shorter than before
BACKGROUND_EXTRA_CHUNKS = 8


@dataclass(frozen=True, slots=True)
class VadState:
    """Silero's recurrent state after `PRIME_S` of silence: what a renewed state starts
    from. Computed once per model and copied at every renewal (no inference)."""

    h: npt.NDArray[np.float32]
    c: npt.NDArray[np.float32]


class SileroVad:
    """Streaming Silero VAD: keeps the model's recurrent state between chunks.

    One instance per audio stream (it is stateful); the ONNX session and the primed
    `initial` state may be shared (`SileroVad(session=vad.session, initial=vad.initial)`).
    The state is renewed after `QUIET_RESET_S` without speech: kept across a long silence
    it drifts, and speech after 10-20 s of silence was then detected up to 1.6 s late (the
    start of the caller's sentence was lost). A renewed state is the one primed on
    `PRIME_S` of silence, in which speech onsets are detected within a chunk or two; it
    is computed once (78 inferences) and then copied.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        session: object | None = None,
        initial: VadState | None = None,
    ) -> None:
        import onnxruntime

        if session is None:
            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 4
            session = onnxruntime.InferenceSession(
                os.fspath(path or silero_model_path()),
                providers=["CPUExecutionProvider"],
                sess_options=opts,
            )
        self.session = session
        self.initial = initial if initial is not None else self._prime()
        self.reset()

    def _prime(self) -> VadState:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)
        silence = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
        for _ in range(round(PRIME_S * VAD_RATE / CHUNK_SAMPLES)):
            self._run(silence)
        return VadState(self._h.copy(), self._c.copy())

    def reset(self) -> None:
        self._h = self.initial.h.copy()
        self._c = self.initial.c.copy()
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)
        self._quiet_chunks = 0

    def speech_probability(self, chunk: npt.NDArray[np.float32]) -> float:
        if chunk.shape != (CHUNK_SAMPLES,):
            raise ValueError(f"need {CHUNK_SAMPLES} samples, got {chunk.shape}")
        probability = self._run(chunk)
        self._quiet_chunks = self._quiet_chunks + 1 if probability < QUIET_PROBABILITY else 0
        if self._quiet_chunks * CHUNK_SAMPLES >= QUIET_RESET_S * VAD_RATE:
            context = self._context
            self.reset()
            self._context = context
        return probability

    def _run(self, chunk: npt.NDArray[np.float32]) -> float:
        batch = np.concatenate([self._context, chunk]).reshape(1, -1).astype(np.float32)
        out, self._h, self._c = self.session.run(  # type: ignore[union-attr]
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = chunk[-_CONTEXT_SAMPLES:].astype(np.float32)
        return float(out[0])


def chunk_level_db(chunk: npt.NDArray[np.int16]) -> float:
    """A chunk's power in dB (full scale: about 90 dB; digital silence: 0)."""
    power = float(np.mean(np.square(chunk, dtype=np.float64)))
    return 10.0 * float(np.log10(power + 1.0))


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech began `at_s` seconds into the stream (after `start_ms` of speech)."""

    at_s: float


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """The caller has been silent for `pause_ms` within a turn: `audio` (16 kHz) is the turn
    so far, ready for a speculative transcription. Emitted only when `pause_ms` is set."""

    audio: AudioFrame
    at_s: float


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The turn is over: `audio` (16 kHz) holds it; `at_s` is when the endpointer decided.
    `pause_holds`: the turn's last `SpeechPaused` was not followed by more speech, so a
    transcription of its audio stands for the whole turn."""

    audio: AudioFrame
    at_s: float
    endpoint_silence_s: float
    pause_holds: bool = False


VadEvent = SpeechStarted | SpeechPaused | SpeechEnded


class _State(enum.Enum):
    SILENCE = "silence"
    SPEECH = "speech"


class Endpointer:
    """Feeds audio frames (any supported rate) through a VAD and emits turn events.

    Deterministic: time is counted in samples, so recorded input gives the same events.
    """

    def __init__(
        self,
        vad: VadModel,
        *,
        threshold: float = 0.5,
        start_ms: int = 96,
        end_silence_ms: int = 500,
        pre_roll_ms: int = 320,
        max_utterance_s: float = 30.0,
        pause_ms: int | None = None,
        background_db: float | None = BACKGROUND_DB,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError("threshold must be in (0, 1)")
        if not 0 <= start_ms <= 1000 or not 100 <= end_silence_ms <= 5000:
            raise ValueError("start_ms must be in [0, 1000], end_silence_ms in [100, 5000]")
        if not 1 <= max_utterance_s <= 120 or not 0 <= pre_roll_ms <= 2000:
            raise ValueError("max_utterance_s must be in [1, 120], pre_roll_ms in [0, 2000]")
        if pause_ms is not None and not CHUNK_MS <= pause_ms < end_silence_ms - CHUNK_MS:
            raise ValueError("pause_ms must be at least 32 and one chunk below end_silence_ms")
        if background_db is not None and not 3 <= background_db <= 60:
            raise ValueError("background_db must be in [3, 60] or None (no level rule)")
        self._background_db = background_db
        # levels (dB) of the turn's recent speech chunks: the caller's level in this turn
        self._levels: collections.deque[float] = collections.deque(maxlen=LEVEL_CHUNKS)
        self._vad = vad
        self._pause_chunks = None if pause_ms is None else -(-pause_ms // CHUNK_MS)
        self._threshold = threshold
        self._neg_threshold = max(threshold - 0.15, 0.01)
        self._start_chunks = max(1, -(-start_ms // CHUNK_MS))
        self._end_chunks = -(-end_silence_ms // CHUNK_MS)
        self._max_chunks = int(max_utterance_s * 1000) // CHUNK_MS
        self._pre_roll_chunks = max(1, pre_roll_ms // CHUNK_MS)
        # chunks before a detected start, with their speech probability: the turn begins
        # where the probability rose (a soft first word can stay below the threshold for
        # a while), plus the pre-roll
        self._pre_roll: collections.deque[tuple[npt.NDArray[np.int16], float]] = collections.deque(
            maxlen=self._pre_roll_chunks + ONSET_SEARCH_CHUNKS
        )
        self._resampler: StreamResampler | None = None
        self._input_rate: int | None = None
        self._buffer = np.zeros(0, dtype=np.int16)
        self._chunks_seen = 0
        self._state = _State.SILENCE
        self._run = 0  # chunks of silence in a row (Silero)
        self._quiet = 0  # ... of silence or background voices
        self._utterance: list[npt.NDArray[np.int16]] = []

    @property
    def in_speech(self) -> bool:
        return self._state is _State.SPEECH

    def reset(self) -> None:
        """Starts afresh, as before the first frame: forgets a turn in progress, the VAD's
        state and the resampler's (the audio time runs on)."""
        self._resampler, self._input_rate = None, None
        self._buffer = np.zeros(0, dtype=np.int16)
        self._state = _State.SILENCE
        self._run = self._quiet = 0
        self._utterance = []
        self._levels.clear()
        self._pre_roll.clear()
        self._vad.reset()

    def feed(self, frame: AudioFrame) -> list[VadEvent]:
        samples = self._to_16k(frame)
        self._buffer = np.concatenate([self._buffer, samples])
        events: list[VadEvent] = []
        while len(self._buffer) >= CHUNK_SAMPLES:
            chunk, self._buffer = self._buffer[:CHUNK_SAMPLES], self._buffer[CHUNK_SAMPLES:]
            event = self._step(chunk)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[VadEvent]:
        """End of input: a turn in progress ends here."""
        if self._state is _State.SPEECH:
            return [self._end(self._run * CHUNK_MS / 1000)]
        return []

    def _to_16k(self, frame: AudioFrame) -> npt.NDArray[np.int16]:
        if frame.sample_rate == VAD_RATE:
            return frame.samples
        if self._input_rate != frame.sample_rate:
            self._input_rate = frame.sample_rate
            # not soxr's stream: it holds back up to 115 ms, and the end of speech was heard
            # that much later; rounded here, with no random dither (soxr's int16 stream
            # dithers, and the same recording gave different utterances and words)
            self._resampler = StreamResampler(frame.sample_rate, VAD_RATE)
        assert self._resampler is not None
        out = self._resampler.process(frame.samples)
        rounded: npt.NDArray[np.int16] = np.clip(np.rint(out), -32768, 32767).astype(np.int16)
        return rounded

    def _step(self, chunk: npt.NDArray[np.int16]) -> VadEvent | None:
        self._chunks_seen += 1
        probability = self._vad.speech_probability(chunk.astype(np.float32) / 32768.0)
        match self._state:
            case _State.SILENCE:
                self._pre_roll.append((chunk, probability))
                self._run = self._run + 1 if probability >= self._threshold else 0
                if self._run >= self._start_chunks:
                    self._state = _State.SPEECH
                    self._utterance = self._onset()
                    self._pre_roll.clear()
                    self._run = self._quiet = 0
                    return SpeechStarted(at_s=self._now())
            case _State.SPEECH:
                self._utterance.append(chunk)
                silent = probability < self._neg_threshold
                self._run = self._run + 1 if silent else 0
                quiet = silent or self._background(chunk, probability)
                self._quiet = self._quiet + 1 if quiet else 0
                if self._run >= self._end_chunks or len(self._utterance) >= self._max_chunks:
                    return self._end(self._run * CHUNK_MS / 1000)
                if self._quiet >= self._end_chunks + BACKGROUND_EXTRA_CHUNKS:
                    return self._end(self._quiet * CHUNK_MS / 1000)
                if self._run == self._pause_chunks:
                    return SpeechPaused(self._audio(), at_s=self._now())
        return None

    def _background(self, chunk: npt.NDArray[np.int16], probability: float) -> bool:
        """Whether a chunk of the turn is `background_db` below the caller's level (the
        median of the turn's last `LEVEL_CHUNKS` speech chunks, once it has
        `LEVEL_MIN_CHUNKS`); any other chunk Silero calls speech joins the caller's level."""
        if self._background_db is None:
            return False
        level = chunk_level_db(chunk)
        levels = self._levels
        if len(levels) >= LEVEL_MIN_CHUNKS and level < np.median(levels) - self._background_db:
            return True
        if probability >= self._threshold:
            levels.append(level)
        return False

    def _onset(self) -> list[npt.NDArray[np.int16]]:
        """The chunks from where the speech probability rose (searching back at most
        ONSET_SEARCH_CHUNKS), with the pre-roll counted from the detection's first chunk."""
        chunks = list(self._pre_roll)
        start = len(chunks) - self._start_chunks
        gap = 0  # back over chunks above ONSET_PROBABILITY, and dips of ONSET_GAP_CHUNKS
        for i in range(start - 1, -1, -1):
            if chunks[i][1] >= ONSET_PROBABILITY:
                start, gap = i, 0
            elif (gap := gap + 1) > ONSET_GAP_CHUNKS:
                break
        pad = max(0, self._pre_roll_chunks - self._start_chunks)
        return [chunk for chunk, _ in chunks[max(0, start - pad) :]]

    def _audio(self) -> AudioFrame:
        return AudioFrame(np.concatenate(self._utterance).astype("<i2").tobytes(), VAD_RATE)

    def _end(self, silence_s: float) -> SpeechEnded:
        audio = self._audio()
        holds = self._pause_chunks is not None and self._run >= self._pause_chunks
        self._state = _State.SILENCE
        self._utterance = []
        self._levels.clear()
        self._run = self._quiet = 0
        return SpeechEnded(
            audio=audio, at_s=self._now(), endpoint_silence_s=silence_s, pause_holds=holds
        )

    def _now(self) -> float:
        return self._chunks_seen * CHUNK_SAMPLES / VAD_RATE
