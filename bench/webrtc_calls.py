"""Browser calls with the real engines: first-audio latency of a browser call against the SIP
line on the same audio, and how many concurrent browser calls stay within the voice target.

The gateway's side runs in this process exactly as `rathausbot serve` composes it (real Rasa
and Redis, started or joined, the real voice engines, the voice session the SIP line uses,
telephony.webrtc.WebRtcCalls); the browsers are aiortc peers in the same process over
loopback (Opus both ways, DTLS-SRTP), the SIP callers `rathausbot call`'s client, as in
bench/sip_calls.py. Each question is the same Pico utterance through both paths, spoken
`LEAD_S` after the call connects (after the greeting's protected first sentence: barge-in).
Latency: from the moment the caller's last loud frame left, minus the endpoint silence, to
the first loud frame of the reply at the caller (the SIP line's definition).

Concurrent browser calls: 1, 2, 4, ... calls, their questions spread over `STAGGER_S` (one
question each); the figure is the largest count whose turns were all answered with p95 within
the 1.0 s target documented for SIP calls (docs/voice.md). Figures are printed, never asserted.

Usage: `make bench` (or `python -m bench.webrtc_calls [--turns 5] [--max-calls 8]`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import time

import av
import numpy as np
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from bench.sip_calls import LEAD_S, STAGGER_S, sip_latency
from bench.sip_load import Ear
from bench.voice import percentile
from bench.voice_corpus import Utterance, corpus
from bench.webrtc import Caller
from rathausbot.app import VoiceEngines, runtime, voice_engines
from rathausbot.settings import Settings
from rathausbot.telephone import session_factory, sip_agent
from telephony.capacity import CallCapacity
from telephony.testcall import SPEECH_PEAK
from telephony.webrtc import CallsFull, WebRtcCalls, WebRtcLimits
from telephony.webrtc_audio import InboundAudio, PacedAudioTrack
from voice.audio import AudioFrame

TARGET_P95_MS = 1000.0  # docs/voice.md: concurrent calls at p95 1.0 s
LISTEN_S = 6.0  # a turn not answered within this is counted as unanswered
CONNECT_S = 15.0


class TimedMic(PacedAudioTrack):
    """The browser's microphone; notes when its last loud frame was sent."""

    def __init__(self) -> None:
        super().__init__(queue_frames=10)
        self.speech_until = 0.0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        if int(np.abs(frame.to_ndarray()).max()) > SPEECH_PEAK:
            self.speech_until = time.monotonic()
        return frame


class BrowserCaller(Caller):
    """A browser that speaks one question and hears the bot through an Ear."""

    def __init__(self) -> None:
        self.timed = TimedMic()
        super().__init__(self.timed)
        self.ear = Ear()

    async def _read(self, track: MediaStreamTrack) -> None:
        inbound = InboundAudio()
        try:
            while True:
                for frame in inbound.feed(await track.recv()):  # type: ignore[arg-type]
                    self.ear.heard(frame)
        except Exception:
            return


async def browser_latency(
    calls: WebRtcCalls, item: Utterance, end_silence_ms: int, *, start_s: float = 0.0
) -> float | None:
    """One browser call asking `item` after `start_s`; its latency in ms, None if unanswered."""
    await asyncio.sleep(start_s)
    caller = BrowserCaller()
    call_id = None
    try:
        await caller.pc.setLocalDescription(await caller.pc.createOffer())
        answer = await calls.answer(
            caller.pc.localDescription.sdp,
            session_id=f"bench-webrtc-{secrets.token_hex(6)}",
            address=secrets.token_hex(4),  # one browser per address
        )
        call_id = answer.call_id
        await caller.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
        rate = item.audio.sample_rate
        # play() is paced by the sender, which starts once the call is connected
        await asyncio.wait_for(
            caller.mic.play(AudioFrame.silence(LEAD_S, rate)), CONNECT_S + LEAD_S
        )
        await caller.mic.play(item.audio)
        await caller.mic.play(AudioFrame.silence(0.3, rate))  # the queue drains to the sender
        heard_from = caller.timed.speech_until + end_silence_ms / 1000
        silence = asyncio.create_task(caller.mic.play(AudioFrame.silence(LISTEN_S + 1, rate)))
        try:
            for _ in range(round(LISTEN_S / 0.05)):  # at most LISTEN_S
                if caller.ear.first_after(heard_from) is not None:
                    break
                await asyncio.sleep(0.05)
        finally:
            silence.cancel()
        first = caller.ear.first_after(heard_from)
        if first is None or not caller.timed.speech_until:
            return None
        return (first - caller.timed.speech_until) * 1000 - end_silence_ms
    except (TimeoutError, CallsFull):  # not connected in time, or refused: unanswered
        return None
    finally:
        if call_id is not None:
            calls.hangup(call_id)
        await caller.close()


def line(name: str, values: list[float], tried: int) -> str:
    if not values:
        return f"  {name}: 0/{tried} answered turns"
    return (
        f"  {name}: p50 {statistics.median(values):5.0f} ms, p95"
        f" {percentile(values, 0.95):5.0f} ms ({len(values)}/{tried} answered turns)"
    )


async def main_async(turns: int, max_calls: int) -> None:
    settings = Settings().model_copy(update={"sip_port": 0, "sip_max_calls": 2})
    print("Making German test speech (Pico) at 8 kHz ...", flush=True)
    items = [u for u in corpus() if u.voice == "pico" and u.intent is not None][:turns]
    engines: VoiceEngines = voice_engines(settings, progress=print)
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        agent = sip_agent(settings, rt.core, engines)
        await agent.start()
        host, port = agent.addresses["udp"]
        uri = f"sip:rathaus@{host}:{port}"
        sessions = session_factory(settings, rt.core, engines)
        limits = WebRtcLimits(max_calls_per_address=1)
        try:
            sip: list[float] = []
            web: list[float] = []
            print("\nFirst-audio latency, one call at a time, the same question on both paths:")
            for item in items:
                calls = WebRtcCalls(
                    capacity=CallCapacity(max_calls=1), session_factory=sessions, limits=limits
                )
                over_web = await browser_latency(calls, item, engines.end_silence_ms)
                await calls.aclose()
                over_sip = await sip_latency(uri, item, engines.end_silence_ms)
                if over_sip is not None and over_web is not None:
                    sip.append(over_sip)
                    web.append(over_web)
            print(line("SIP line    ", sip, len(items)))
            print(line("browser call", web, len(items)))
            if sip and web:
                ratio = statistics.median(web) / statistics.median(sip)
                diffs = [w - s for w, s in zip(web, sip, strict=True)]
                print(
                    f"  browser/SIP p50 ratio {ratio:.2f}; browser minus SIP per question:"
                    f" median {statistics.median(diffs):+.0f} ms"
                )
            print(
                f"\nConcurrent browser calls (questions spread over {STAGGER_S:.0f} s,"
                f" target p95 {TARGET_P95_MS / 1000:.1f} s):"
            )
            within = 0
            level = 1
            while level <= max_calls:
                calls = WebRtcCalls(
                    capacity=CallCapacity(max_calls=level), session_factory=sessions, limits=limits
                )
                cpu0, wall0 = time.process_time(), time.monotonic()
                results = await asyncio.gather(
                    *(
                        browser_latency(
                            calls,
                            items[i % len(items)],
                            engines.end_silence_ms,
                            start_s=i * STAGGER_S / level,
                        )
                        for i in range(level)
                    )
                )
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                await calls.aclose()
                latencies = [r for r in results if r is not None]
                ok = len(latencies) == level and percentile(latencies, 0.95) <= TARGET_P95_MS
                print(
                    line(f"{level:3d} calls", latencies, level)
                    + f"; CPU {cpu / level / wall * 100:5.1f} % of a core per call"
                    + ("" if ok else "  <- over the target")
                )
                if not ok:
                    break
                within = level
                level *= 2
            print(f"  browser calls within the voice target on this machine: {within}")
        finally:
            await agent.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=5, help="questions asked on both paths")
    parser.add_argument("--max-calls", type=int, default=8, help="largest concurrency tried")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args.turns, args.max_calls))


if __name__ == "__main__":
    main()
