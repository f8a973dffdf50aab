"""Browser-call (WebRTC, aiortc) figures: the time to answer an offer, with no STUN server and
with an unreachable one (why the gateway gathers host candidates only), and the CPU that
browser calls' media costs (Opus both ways, DTLS-SRTP, pacing), as process CPU time per
call-second with several concurrent calls, both ends in this process over loopback (the
frame rate at the caller shows whether the media kept up: 50 frames/s). Figures are
printed, never asserted. First-audio latency against the SIP line and concurrent calls with
the real engines: bench/webrtc_calls.py.

Usage: `make bench` (or `python -m bench.webrtc [--seconds 5] [--calls 1 4 8]`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from telephony.capacity import CallCapacity
from telephony.webrtc import WebRtcCall, WebRtcCalls
from telephony.webrtc_audio import PacedAudioTrack
from voice.audio import AudioFrame
from voice.session import AudioIn, CallerHungUp, SessionResult
from voice.signals import EndReason

UNREACHABLE_STUN = "stun:203.0.113.1:3478"  # TEST-NET-3: nothing answers


def tone(seconds: float) -> AudioFrame:
    t = np.arange(int(seconds * 16000)) / 16000
    return AudioFrame.from_samples(0.3 * np.sin(2 * np.pi * 300 * t), 16000)


class TalkingSession:
    """The bot's side: hears every frame and speaks without pause (the heaviest case)."""

    def __init__(self, call: WebRtcCall) -> None:
        self.call = call
        self.heard = 0

    async def run(self) -> SessionResult:
        async def speak() -> None:
            while not self.call.ended.is_set():  # play() returns at once after the end
                await self.call.play(tone(1.0))

        speaker = asyncio.create_task(speak())
        try:
            async for event in self.call.events():
                if isinstance(event, AudioIn):
                    self.heard += 1
                elif isinstance(event, CallerHungUp):
                    break
        finally:
            speaker.cancel()
            await asyncio.gather(speaker, return_exceptions=True)
        return SessionResult(EndReason.CALLER_HANGUP)


class Caller:
    """A browser's end in this process: `mic` (paced, 20 ms frames) out, the bot's audio in."""

    def __init__(self, mic: PacedAudioTrack | None = None) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = mic or PacedAudioTrack(queue_frames=10)
        self.pc.addTrack(self.mic)
        self.received = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                await track.recv()
                self.received += 1
        except Exception:
            return

    async def talk(self) -> None:
        while self.mic.readyState == "live":  # play() returns at once after stop()
            await self.mic.play(tone(1.0))

    async def close(self) -> None:
        self.mic.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


async def answer_ms(ice: tuple[RTCIceServer, ...], repeats: int) -> list[float]:
    calls = WebRtcCalls(
        capacity=CallCapacity(max_calls=repeats),
        session_factory=lambda call, _session_id: TalkingSession(call),
        ice_servers=ice,
    )
    times = []
    for i in range(repeats):
        caller = Caller()
        await caller.pc.setLocalDescription(await caller.pc.createOffer())
        start = time.perf_counter()
        answer = await calls.answer(caller.pc.localDescription.sdp, session_id=f"s{i}", address="a")
        times.append(1000 * (time.perf_counter() - start))
        calls.hangup(answer.call_id)
        await caller.close()
    await calls.aclose()
    return times


async def answer_figures() -> None:
    print("Answering a browser's offer (aiortc gathers its candidates before it answers):")
    plain = await answer_ms((), 5)
    print(f"  no STUN server (the default):  median {statistics.median(plain):7.1f} ms")
    slow = await answer_ms((RTCIceServer(urls=UNREACHABLE_STUN),), 2)
    print(f"  an unreachable STUN server:    median {statistics.median(slow):7.1f} ms")


async def calls_figure(calls: int, seconds: float) -> None:
    capacity = CallCapacity(max_calls=calls)
    sessions: list[TalkingSession] = []

    def session(call: WebRtcCall, session_id: str) -> TalkingSession:
        sessions.append(TalkingSession(call))
        return sessions[-1]

    server = WebRtcCalls(capacity=capacity, session_factory=session)
    callers = [Caller() for _ in range(calls)]
    for i, caller in enumerate(callers):
        await caller.pc.setLocalDescription(await caller.pc.createOffer())
        answer = await server.answer(
            caller.pc.localDescription.sdp, session_id=f"s{i}", address=str(i)
        )
        await caller.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
    for _ in range(500):  # at most 10 s to connect
        if len(sessions) == calls:
            break
        await asyncio.sleep(0.02)
    talkers = [asyncio.create_task(c.talk()) for c in callers]
    await asyncio.sleep(0.5)
    received0 = sum(c.received for c in callers)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    received = sum(c.received for c in callers) - received0
    for task in talkers:
        task.cancel()
    await asyncio.gather(*talkers, return_exceptions=True)
    for caller in callers:
        await caller.close()
    await server.aclose()
    per_call_ms = 1000 * cpu / (calls * wall)
    rate = received / (calls * wall)
    print(
        f"  {calls:3d} calls for {wall:.1f} s: {per_call_ms:.1f} ms CPU per call-second "
        f"(both ends; the gateway's end about {per_call_ms / 2:.1f} ms = "
        f"{per_call_ms / 20:.1f}% of a core); bot audio at the caller {rate:.1f} frames/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    asyncio.run(answer_figures())
    print("Browser calls over loopback, Opus both ways (process CPU time per call-second):")
    for calls in args.calls:
        asyncio.run(calls_figure(calls, args.seconds))


if __name__ == "__main__":
    main()
