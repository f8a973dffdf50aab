"""RTP media figures: G.711 encode/decode and RTP packetisation throughput, and the CPU one
call's media costs (process CPU time per call-second, several concurrent calls of two
RtpSessions each exchanging audio over loopback). Figures are printed, never asserted.

Usage: `make bench` (or `python -m bench.rtp [--seconds 3] [--calls 1 10 50]`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import numpy as np

from telephony import g711
from telephony.media import RtpSession
from telephony.rtp import JitterBuffer, RtpPacket
from telephony.sdp import answer_offer, make_offer, parse_answer
from voice.audio import AudioFrame

FRAME_S = 0.02
PORTS = (46000, 47999)


def median_rate(work: Callable[[], int], repeats: int = 5) -> float:
    """Median of `repeats` runs of items per second; `work` returns how many it did."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = work()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def codec_figures() -> None:
    rng = np.random.default_rng(7)
    frame = rng.integers(-20000, 20000, 160, dtype=np.int16).astype("<i2").tobytes()
    second = rng.integers(-20000, 20000, 8000, dtype=np.int16).astype("<i2").tobytes()
    print("G.711 (numpy lookup tables), median of 5 runs:")
    for codec in ("PCMU", "PCMA"):
        encoded = g711.encode(codec, frame)

        def enc_frames(codec: str = codec) -> int:
            for _ in range(20_000):
                g711.encode(codec, frame)
            return 20_000

        def dec_frames(codec: str = codec, encoded: bytes = encoded) -> int:
            for _ in range(20_000):
                g711.decode(codec, encoded)
            return 20_000

        def enc_bulk(codec: str = codec) -> int:
            for _ in range(200):
                g711.encode(codec, second)
            return 200

        enc, dec, bulk = median_rate(enc_frames), median_rate(dec_frames), median_rate(enc_bulk)
        print(
            f"  {codec}: encode {1e6 / enc:.2f} us per 20 ms frame ({enc * FRAME_S:,.0f}x "
            f"real time), decode {1e6 / dec:.2f} us per frame ({dec * FRAME_S:,.0f}x), "
            f"encode of 1 s blocks {bulk:,.0f}x real time"
        )


def packet_figures() -> None:
    packet = RtpPacket(0, 1234, 567_890, 0xDEADBEEF, bytes(160), marker=False)
    wire = packet.serialize()

    def serialise() -> int:
        for _ in range(50_000):
            packet.serialize()
        return 50_000

    def parse() -> int:
        for _ in range(50_000):
            RtpPacket.parse(wire)
        return 50_000

    def jitter() -> int:
        jb = JitterBuffer()
        for seq in range(50_000):
            jb.push(seq & 0xFFFF, wire)
            jb.pop()
        return 50_000

    print("RTP packetisation (172-byte PCMU packets), median of 5 runs:")
    for name, work in (("serialise", serialise), ("parse", parse), ("jitter push+pop", jitter)):
        rate = median_rate(work)
        print(f"  {name}: {rate:,.0f} packets/s ({1e6 / rate:.2f} us per packet)")


async def open_call() -> tuple[RtpSession, RtpSession]:
    caller = await RtpSession.open("127.0.0.1", port_range=PORTS)
    bot = await RtpSession.open("127.0.0.1", port_range=PORTS)
    offer = make_offer("127.0.0.1", caller.local_port)
    answer, params = answer_offer(offer, "127.0.0.1", bot.local_port)
    caller.start(parse_answer(answer, offer))
    bot.start(params)
    return caller, bot


async def talk(session: RtpSession, until: float) -> None:
    t = np.arange(160) / 8000
    frame = AudioFrame.from_samples(0.3 * np.sin(2 * np.pi * 440 * t), 8000)
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        await session.play(frame)


async def listen(session: RtpSession, until: float) -> int:
    frames = 0
    loop = asyncio.get_running_loop()
    async for _ in session.receive():
        frames += 1
        if loop.time() >= until:
            break
    return frames


async def calls_figure(calls: int, seconds: float) -> None:
    pairs = [await open_call() for _ in range(calls)]
    await asyncio.sleep(0.2)  # let the jitter buffers fill
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for caller, bot in pairs:
            for session in (caller, bot):
                group.create_task(talk(session, until))
                group.create_task(listen(session, until))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sessions = [s for pair in pairs for s in pair]
    lost = sum(s.stats.jitter.lost + s.stats.jitter.underruns for s in sessions)
    received = sum(s.stats.packets_received for s in sessions)
    for session in sessions:
        await session.close()
    per_call_ms = 1000 * cpu / (calls * wall)
    print(
        f"  {calls:3d} calls for {wall:.1f} s: {per_call_ms:.2f} ms CPU per call-second "
        f"(both ends; one end {per_call_ms / 2:.2f} ms = {per_call_ms / 20:.2f}% of a core), "
        f"{received:,} packets received, {lost} lost or late"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()
    codec_figures()
    packet_figures()
    print("RTP sessions over loopback (process CPU time per second of call media):")
    for calls in args.calls:
        asyncio.run(calls_figure(calls, args.seconds))


if __name__ == "__main__":
    main()
