"""Recording of calls whose callers consented: a stereo WAV (left: caller, right: bot) at
the call's sample rate under `var/recordings/`, and the purge that enforces its retention.

File names carry a UTC time and a random token, never a number, name or session id.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import secrets
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voice.audio import AudioFrame

log = logging.getLogger(__name__)

SUFFIX = ".wav"
_NAME_TIME = "%Y%m%dT%H%M%SZ"


class Recorder(Protocol):
    """Receives one call's audio as it is heard and played (after consent only)."""

    @property
    def path(self) -> Path: ...

    def caller(self, frame: AudioFrame) -> None: ...

    def bot(self, frame: AudioFrame) -> None: ...

    def close(self) -> None: ...


class WavRecorder:
    """Writes a stereo WAV as the caller's audio arrives; the bot's audio is laid beside
    it from the moment it is played. The caller's frames are the clock, so the file is as
    long as the call. Memory stays bounded: at most `max_bot_s` of bot audio waits for the
    caller's clock, and writing stops after `max_s` (the file stays valid)."""

    def __init__(
        self, path: Path, *, sample_rate: int, max_s: float = 7200.0, max_bot_s: float = 60.0
    ) -> None:
        if not 1 <= max_s <= 86_400 or not 1 <= max_bot_s <= 600:
            raise ValueError("max_s must be in [1, 86400], max_bot_s in [1, 600]")
        self.path = path
        self._rate = sample_rate
        self._max_samples = int(max_s * sample_rate)
        self._max_bot = int(max_bot_s * sample_rate)
        self._bot: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._bot_samples = 0
        self._written = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._wav: wave.Wave_write | None = wave.open(str(path), "wb")  # noqa: SIM115 (closed by close())
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    @property
    def duration_s(self) -> float:
        return self._written / self._rate

    def caller(self, frame: AudioFrame) -> None:
        if self._wav is None or frame.sample_rate != self._rate:
            return
        room = self._max_samples - self._written
        left = frame.samples[:room]
        if not len(left):
            return
        right = self._take_bot(len(left))
        stereo = np.empty(2 * len(left), dtype="<i2")
        stereo[0::2], stereo[1::2] = left, right
        self._wav.writeframes(stereo.tobytes())
        self._written += len(left)

    def bot(self, frame: AudioFrame) -> None:
        if self._wav is None or frame.sample_rate != self._rate:
            return
        if self._bot_samples + frame.num_samples > self._max_bot:
            return  # the caller's clock has stopped; do not hoard audio
        self._bot.append(frame.samples)
        self._bot_samples += frame.num_samples

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    def _take_bot(self, count: int) -> npt.NDArray[np.int16]:
        out = np.zeros(count, dtype=np.int16)
        filled = 0
        while filled < count and self._bot:
            head = self._bot[0]
            take = min(count - filled, len(head))
            out[filled : filled + take] = head[:take]
            filled += take
            if take == len(head):
                self._bot.popleft()
            else:
                self._bot[0] = head[take:]
        self._bot_samples -= filled
        return out


def recording_path(directory: Path, *, now: datetime.datetime | None = None) -> Path:
    """A new file name without personal data: UTC time and a random token."""
    moment = now or datetime.datetime.now(datetime.UTC)
    return directory / f"{moment.strftime(_NAME_TIME)}-{secrets.token_hex(6)}{SUFFIX}"


def recorder_factory(directory: Path, *, max_s: float = 7200.0) -> Callable[[int], Recorder]:
    """What `VoiceSession(recorder=...)` takes: a new recording at a call's sample rate."""

    def make(sample_rate: int) -> Recorder:
        recorder = WavRecorder(recording_path(directory), sample_rate=sample_rate, max_s=max_s)
        log.info("recording to %s", recorder.path.name)
        return recorder

    return make


def purge_recordings(
    directory: Path, *, retention_days: int, now: float | None = None
) -> list[Path]:
    """Deletes recordings older than `retention_days` (by modification time); returns them.
    Only files this module names are touched."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    if not directory.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - retention_days * 86_400
    removed: list[Path] = []
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError as exc:
            log.warning("recording purge: cannot remove %s (%s)", path.name, type(exc).__name__)
    if removed:
        log.info(
            "recording purge: %d recording(s) past %d days removed", len(removed), retention_days
        )
    return removed


async def purge_periodically(
    directory: Path, *, retention_days: int, interval_s: float = 3600.0
) -> None:
    """Purges at once and then every `interval_s` until cancelled (its owner cancels it)."""
    if not 60 <= interval_s <= 86_400:
        raise ValueError("interval_s must be in [60, 86400]")
    while True:
        await asyncio.to_thread(purge_recordings, directory, retention_days=retention_days)
        await asyncio.sleep(interval_s)
