"""Call recordings: stereo WAV (caller left, bot right), bounded, and purged on time."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from voice.audio import AudioFrame
from voice.recording import (
    WavRecorder,
    purge_periodically,
    purge_recordings,
    recording_path,
)


def tone(value: int, ms: int = 20, rate: int = 8000) -> AudioFrame:
    return AudioFrame.from_samples(np.full(rate * ms // 1000, value, dtype=np.int16), rate)


def channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return stereo[0::2], stereo[1::2]


def test_caller_left_bot_right_from_the_moment_it_plays(tmp_path: Path) -> None:
    recorder = WavRecorder(tmp_path / "r.wav", sample_rate=8000)
    for _ in range(5):
        recorder.caller(tone(100))  # 100 ms of caller audio, bot silent
    recorder.bot(tone(-200))
    recorder.bot(tone(-200))
    for _ in range(5):
        recorder.caller(tone(100))
    recorder.close()
    recorder.close()  # twice is harmless
    caller, bot = channels(tmp_path / "r.wav")
    assert len(caller) == 1600 and (caller == 100).all()
    assert (bot[:800] == 0).all() and (bot[800:1120] == -200).all() and (bot[1120:] == 0).all()
    recorder.caller(tone(100))  # after close: ignored, no error


def test_length_and_waiting_bot_audio_are_bounded(tmp_path: Path) -> None:
    recorder = WavRecorder(tmp_path / "r.wav", sample_rate=8000, max_s=1.0, max_bot_s=1.0)
    for _ in range(200):
        recorder.bot(tone(-1))  # 4 s offered while the caller's clock stands still
    for _ in range(100):  # 2 s of caller audio
        recorder.caller(tone(1))
    recorder.close()
    caller, bot = channels(tmp_path / "r.wav")
    assert len(caller) == 8000 and recorder.duration_s == 1.0
    assert (bot == -1).sum() == 8000  # only the first second was kept
    with pytest.raises(ValueError):
        WavRecorder(tmp_path / "x.wav", sample_rate=8000, max_s=0)


def test_other_rates_than_the_calls_are_ignored(tmp_path: Path) -> None:
    recorder = WavRecorder(tmp_path / "r.wav", sample_rate=8000)
    recorder.caller(tone(5, rate=16000))
    recorder.close()
    assert len(channels(tmp_path / "r.wav")[0]) == 0


def test_file_names_carry_time_and_a_random_token_only(tmp_path: Path) -> None:
    moment = datetime.datetime(2026, 11, 22, 1, 2, 3, tzinfo=datetime.UTC)
    first, second = recording_path(tmp_path, now=moment), recording_path(tmp_path, now=moment)
    assert re.fullmatch(r"20261122T010203Z-[0-9a-f]{12}\.wav", first.name)
    assert first != second


def test_purge_removes_recordings_past_their_retention_only(tmp_path: Path) -> None:
    now = time.time()
    old, fresh, other = tmp_path / "old.wav", tmp_path / "fresh.wav", tmp_path / "notes.txt"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    os.utime(old, (now - 31 * 86_400, now - 31 * 86_400))
    os.utime(other, (now - 99 * 86_400, now - 99 * 86_400))
    assert purge_recordings(tmp_path, retention_days=30, now=now) == [old]
    assert not old.exists() and fresh.exists() and other.exists()
    assert purge_recordings(tmp_path / "missing", retention_days=30) == []
    with pytest.raises(ValueError):
        purge_recordings(tmp_path, retention_days=0)


async def test_the_periodic_purge_runs_at_once_and_stops_when_cancelled(tmp_path: Path) -> None:
    old = tmp_path / "old.wav"
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    task = asyncio.create_task(purge_periodically(tmp_path, retention_days=1, interval_s=3600))
    for _ in range(200):
        if not old.exists():
            break
        await asyncio.sleep(0.01)
    assert not old.exists()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
