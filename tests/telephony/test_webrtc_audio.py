"""The paced outbound track and the inbound converter, on a fake clock."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from telephony.webrtc_audio import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    InboundAudio,
    PacedAudioTrack,
)
from voice.audio import AudioFrame


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def track(time: FakeTime, queue_frames: int = 10) -> PacedAudioTrack:
    return PacedAudioTrack(queue_frames=queue_frames, clock=time.clock, sleep=time.sleep)


def speech(frames: int, value: int = 1000) -> AudioFrame:
    return AudioFrame(np.full(frames * FRAME_SAMPLES, value, "<i2").tobytes(), SAMPLE_RATE)


def pcm(frame: av.AudioFrame) -> bytes:
    return bytes(frame.planes[0])[:FRAME_BYTES]


async def test_frames_leave_every_20_ms_on_the_clock_and_silence_when_idle() -> None:
    time = FakeTime()
    out = track(time)
    sent = [await out.recv() for _ in range(50)]
    assert time.now == pytest.approx(100.98)  # 50 frames: the first at once, then 20 ms apart
    assert [f.pts for f in sent[:3]] == [0, 320, 640]
    assert {f.samples for f in sent} == {FRAME_SAMPLES} and sent[0].sample_rate == 16000
    assert sent[0].time_base == fractions.Fraction(1, 16000)
    assert all(pcm(f) == bytes(FRAME_BYTES) for f in sent)
    assert (out.frames_sent, out.speech_frames_sent) == (50, 0)


async def test_a_late_wake_up_does_not_shift_the_next_deadlines_a_stall_restarts_them() -> None:
    time = FakeTime()
    out = track(time)
    await out.recv()
    time.now += 0.03  # woke 30 ms late: the next frame goes at once, then back on the grid
    await out.recv()
    await out.recv()
    assert time.now == pytest.approx(100.04)  # the third frame on its own deadline
    time.now += 0.5  # the loop stalled: no burst of 25 frames, the clock starts again
    start = time.now
    await out.recv()
    await out.recv()
    assert time.now == pytest.approx(start + 0.02)


async def test_play_is_paced_by_the_queue_and_flush_drops_it_at_once() -> None:
    time = FakeTime()
    out = track(time, queue_frames=4)
    playing = asyncio.create_task(out.play(speech(10)))
    await asyncio.sleep(0)
    assert out.queued == 4 and not playing.done()  # waits for room
    first = await out.recv()
    assert pcm(first) == speech(1).pcm
    await asyncio.sleep(0)
    assert out.queued == 4  # refilled
    playing.cancel()
    await asyncio.gather(playing, return_exceptions=True)
    out.flush()  # barge-in
    assert out.queued == 0
    assert pcm(await out.recv()) == bytes(FRAME_BYTES)
    assert out.speech_frames_sent == 1


async def test_play_cuts_pads_and_resamples_and_returns_after_stop() -> None:
    time = FakeTime()
    out = track(time, queue_frames=20)
    await out.play(AudioFrame(b"\x01\x00" * (FRAME_SAMPLES + 10), SAMPLE_RATE))
    assert out.queued == 2
    await out.recv()
    last = pcm(await out.recv())
    assert last[:20] == b"\x01\x00" * 10 and last[20:] == bytes(FRAME_BYTES - 20)
    await out.play(AudioFrame(bytes(2 * 160), 8000))  # 20 ms at 8 kHz
    assert out.queued == 1
    out.stop()
    await asyncio.wait_for(out.play(speech(100)), 1)  # returns at once, queues nothing
    assert out.queued == 0
    with pytest.raises(MediaStreamError):
        await out.recv()


def test_queue_length_is_bounded() -> None:
    for bad in (1, 501):
        with pytest.raises(ValueError, match="queue_frames"):
            PacedAudioTrack(queue_frames=bad, clock=lambda: 0.0)


def test_inbound_48k_stereo_becomes_20_ms_mono_frames_at_16k() -> None:
    inbound = InboundAudio()
    frames: list[AudioFrame] = []
    t = np.arange(960 * 10) / 48000
    wave = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    for i in range(10):  # 10 packets of 20 ms, stereo interleaved (what aiortc's Opus gives)
        chunk = wave[i * 960 : (i + 1) * 960]
        stereo = np.stack([chunk, chunk], axis=1).reshape(1, -1)
        packet = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        packet.sample_rate = 48000
        packet.pts = i * 960
        frames += inbound.feed(packet)
    assert len(frames) in (9, 10)  # the resampler holds back a few samples
    assert {(f.sample_rate, f.num_samples) for f in frames} == {(16000, 320)}
    assert 7000 < max(f.peak() for f in frames) < 8500
