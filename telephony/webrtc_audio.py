"""Audio between aiortc and the voice session: the paced outbound track, and the inbound
converter from the browser's 48 kHz stereo Opus to the session's 20 ms mono frames."""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Awaitable, Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voice.audio import AudioFrame, resample

SAMPLE_RATE = 16000  # the voice session's frames on a browser call (wideband, unlike G.711)
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = 2 * FRAME_SAMPLES
MAX_LAG_S = 0.1  # a sender this late (a stalled loop) restarts the clock instead of bursting
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class PacedAudioTrack(MediaStreamTrack):
    """The bot's voice: one 20 ms frame per `recv()` on a monotonic clock (the sender calls
    it in a loop), the next queued frame or silence; `flush()` drops the queue at once."""

    kind = "audio"

    def __init__(
        self,
        *,
        queue_frames: int = 10,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`queue_frames`: frames `play()` may queue ahead (10: 200 ms); `clock` (monotonic,
        the loop's by default) and `sleep` are for tests."""
        super().__init__()
        if not 2 <= queue_frames <= 500:
            raise ValueError("queue_frames must be in [2, 500]")
        self._max = queue_frames
        self._queue: deque[bytes] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._clock = clock or asyncio.get_running_loop().time
        self._sleep = sleep
        self._next: float | None = None
        self._pts = 0
        self.frames_sent = 0
        self.speech_frames_sent = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def play(self, frame: AudioFrame) -> None:
        """Queues `frame` in 20 ms pieces (any rate; the last piece padded with silence);
        returns once the queue has room again, so a caller is paced in real time. Returns at
        once after `stop()`."""
        if frame.sample_rate != SAMPLE_RATE:
            frame = resample(frame, SAMPLE_RATE)
        pcm = frame.pcm
        for start in range(0, len(pcm), FRAME_BYTES):
            while len(self._queue) >= self._max and self.readyState == "live":
                self._room.clear()
                await self._room.wait()
            if self.readyState != "live":
                return
            self._queue.append(pcm[start : start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))

    def flush(self) -> None:
        """Drops every queued frame (barge-in); the next frame sent is silence."""
        self._queue.clear()
        self._room.set()

    def stop(self) -> None:
        super().stop()
        self.flush()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = self._clock()
        self._next = now if self._next is None else self._next + FRAME_S
        delay = self._next - now
        if delay > 0:
            await self._sleep(delay)
        elif -delay > MAX_LAG_S:
            self._next = now
        if self.readyState != "live":
            raise MediaStreamError
        pcm = self._queue.popleft() if self._queue else None
        if len(self._queue) < self._max:
            self._room.set()
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm if pcm is not None else bytes(FRAME_BYTES))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        self.frames_sent += 1
        if pcm is not None:
            self.speech_frames_sent += 1
        return frame


class InboundAudio:
    """The browser's decoded audio (aiortc gives 48 kHz stereo s16 frames of any length) as
    20 ms mono frames at SAMPLE_RATE; keeps its resampler's state between packets."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._pending = bytearray()

    def feed(self, frame: av.AudioFrame) -> list[AudioFrame]:
        for out in self._resampler.resample(frame):
            self._pending += bytes(out.planes[0])[: 2 * out.samples]
        frames = []
        while len(self._pending) >= FRAME_BYTES:
            frames.append(AudioFrame(bytes(self._pending[:FRAME_BYTES]), SAMPLE_RATE))
            del self._pending[:FRAME_BYTES]
        return frames
