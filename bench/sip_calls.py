"""Telephone benchmarks: voice turn latency over SIP against the offline `voice-test` figure on
the same audio, CPU per call with media flowing, and concurrent calls on this machine.

The hotline runs in this process (real Rasa and Redis, started or joined, the real voice
engines) and test callers (`rathausbot call`'s client) dial it over loopback UDP from a process
of their own (`bench.sip_load.CallerProcess`), as real callers are not in the bot's process.
Each caller speaks one German question after the greeting's protected first sentence (barge-in)
and listens. Latency over SIP: from the moment the caller's last speech frame left, minus the
endpoint silence, to the reply's first sound as its packet reaches the caller's socket (what the
offline figure counts: the answer's first audio); unlike the offline figure (measured from the
endpointer's decision) it includes the VAD's own lag, the bot's receive path and
packetisation. For comparison with a handset, the same question is asked again on a call that
hears through the test phone's 3-packet playout buffer and counts the first loud frame (as the
loads below do). Figures are printed, never asserted.

Then two loads, each ending with one line (`calls=12 mode=staggered p50_ms=… p95_ms=…
answered=12/12`): staggered callers (starting spread over `STAGGER_S`, each asking
`QUESTIONS` questions, 8-12 s after the bot's previous answer ended) and a burst (all
callers at once, one question each). For each load it also prints the recogniser's batch
sizes and where a turn's time went: the means of recognition (from the end of the turn,
waiting for a free lane included), the dialogue's round trip and a reply's first audio.
`sip_max_calls` is raised so that every call is admitted and its latency measured (calls
beyond the limit would get 503).

Usage: `make bench` (or `python -m bench.sip_calls [--max-calls N] [--staggered N]
[--burst N]`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import logging
import secrets
import statistics
import time

from prometheus_client import CollectorRegistry

from bench.sip_load import (
    LOUD_PEAK,
    CallerPlan,
    CallerProcess,
    CallerResult,
    run_callers,
    summary,
)
from bench.voice import percentile
from bench.voice_corpus import Utterance, corpus, padded
from dialogue.telemetry import PREFIX, Stage
from rathausbot.app import VoiceEngines, runtime, voice_engines
from rathausbot.settings import Settings
from rathausbot.telephone import sip_agent
from telephony.testcall import SPEECH_PEAK, TestCallOptions, test_call
from voice.audio import AudioFrame, concat
from voice.offline import run_recording
from voice.vad import SpeechEnded

FRAME_MS = 20
LEAD_S = 7.5  # after the greeting's first sentence, which cannot be interrupted
TARGET_P50_MS = 1000.0
FIRST_SOUND_PEAK = 64  # the answer's first sound (the bot sends digital silence before it)
STAGGER_S = 10.0
QUESTIONS = 3


async def load(
    callers: CallerProcess,
    uri: str,
    items: list[Utterance],
    calls: int,
    *,
    staggered: bool,
    end_silence_ms: int,
) -> str:
    """Runs `calls` callers against `uri`; returns the summary line."""
    plans = [
        CallerPlan(
            questions=tuple(
                items[(i + k) % len(items)].audio for k in range(QUESTIONS if staggered else 1)
            ),
            start_s=i * STAGGER_S / calls if staggered else 0.0,
            think_s=(8.0, 12.0) if staggered else (0.5, 0.5),
            end_silence_ms=end_silence_ms,
        )
        for i in range(calls)
    ]
    results: list[CallerResult] = await callers.run(run_callers, uri, plans)
    refused = sum(not r.answered for r in results)
    if refused:
        print(f"  ({refused} calls refused, e.g. with {max(r.status for r in results)})")
    return summary(calls, "staggered" if staggered else "burst", results)


def batch_sizes(batches: list[int]) -> str:
    """The recogniser's batches during a load (speculative ones included; the worker keeps
    the last 100), e.g. `42 recognitions in 36 batches (size 1: 31, 2: 4, 3: 1)`."""
    sizes = collections.Counter(batches)
    parts = ", ".join(f"{size}: {count}" for size, count in sorted(sizes.items()))
    noun = "batch" if len(batches) == 1 else "batches"
    return f"{sum(batches)} recognitions in {len(batches)} {noun} (size {parts or '-'})"


# the stages of a turn whose means a load prints, with what each counts
STAGE_NAMES = (
    (Stage.ASR, "recognition"),  # end of the turn to its transcript, queue wait included
    (Stage.RASA, "dialogue"),  # one round trip to Rasa
    (Stage.TTS_FIRST_AUDIO, "first audio"),  # synthesis of a reply's first unit (greetings too)
)


def stage_totals(registry: CollectorRegistry) -> dict[Stage, tuple[float, float]]:
    """Seconds and number of observations of each stage in STAGE_NAMES so far."""
    name = f"{PREFIX}_stage_seconds"
    return {
        stage: (
            registry.get_sample_value(f"{name}_sum", {"stage": stage.value}) or 0.0,
            registry.get_sample_value(f"{name}_count", {"stage": stage.value}) or 0.0,
        )
        for stage, _ in STAGE_NAMES
    }


def stage_means(
    before: dict[Stage, tuple[float, float]], after: dict[Stage, tuple[float, float]]
) -> str:
    """Where a load's time went, from two `stage_totals`: the mean of each stage between
    them, e.g. `means per turn: recognition 812 ms, dialogue 143 ms, first audio 55 ms`."""
    parts = []
    for stage, label in STAGE_NAMES:
        seconds = after[stage][0] - before[stage][0]
        count = after[stage][1] - before[stage][1]
        parts.append(f"{label} {1000 * seconds / count:.0f} ms" if count else f"{label} -")
    return "means per turn: " + ", ".join(parts)


async def sip_latency(uri: str, item: Utterance, end_silence_ms: int) -> float | None:
    return await sip_latency_of(uri, item.audio, end_silence_ms)


async def sip_latency_of(
    uri: str, audio: AudioFrame, end_silence_ms: int, *, at_socket: bool = False
) -> float | None:
    """One test call that speaks `audio` after LEAD_S: its turn latency in ms (None when the
    call or the answer failed), to the answer's first loud frame after the test phone's
    playout buffer (a handset's ear); `at_socket`: to its first sound as the packet arrives,
    which is what the offline figure counts (the first audio of the answer)."""
    result = await test_call(
        uri,
        audio,
        local_host="127.0.0.1",
        options=TestCallOptions(lead_s=LEAD_S, listen_s=5.0, max_s=60, prompt=at_socket),
    )
    if not result.answered or not result.speech_until:
        return None
    first = result.first_sound_after(
        result.speech_until + end_silence_ms / 1000,
        peak=FIRST_SOUND_PEAK if at_socket else LOUD_PEAK,  # the ear: as the loads count
    )
    if first is None:
        return None
    return (first - result.speech_until) * 1000 - end_silence_ms


async def sip_latencies(
    uri: str, audios: list[AudioFrame], end_silence_ms: int, at_socket: bool = False
) -> list[float | None]:
    """`sip_latency_of` for each of `audios`, all calls at once."""
    return list(
        await asyncio.gather(
            *(sip_latency_of(uri, a, end_silence_ms, at_socket=at_socket) for a in audios)
        )
    )


def vad_hangover_ms(engines: VoiceEngines, audio: AudioFrame) -> float:
    """How long after the last loud frame of `audio` (spoken after LEAD_S of silence, as on
    the test call) the endpointer declares the turn over, less its end silence."""
    rate = audio.sample_rate
    call = concat([AudioFrame.silence(LEAD_S, rate), audio, AudioFrame.silence(2.0, rate)], rate)
    frames = call.split(FRAME_MS)
    endpointer = engines.endpointer()
    last_loud = -1
    for index, frame in enumerate(frames):
        if frame.peak() > SPEECH_PEAK:
            last_loud = index
        if any(isinstance(event, SpeechEnded) for event in endpointer.feed(frame)):
            return (index - last_loud) * FRAME_MS - engines.end_silence_ms
    return float("nan")


async def main_async(max_calls: int, staggered: int, burst: int) -> None:
    # every load is admitted, so that its latency is measured (0 would size it to this machine)
    calls = max(max_calls, staggered, burst)
    settings = Settings().model_copy(update={"sip_port": 0, "sip_max_calls": calls})
    print("Making German test speech (Pico) at 8 kHz ...", flush=True)
    items = [u for u in corpus() if u.voice == "pico" and u.intent is not None][:10]
    engines: VoiceEngines = voice_engines(settings, progress=print)
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        agent = sip_agent(settings, rt.core, engines)
        await agent.start()
        host, port = agent.addresses["udp"]
        uri = f"sip:rathaus@{host}:{port}"
        callers = CallerProcess()
        try:
            offline: list[float] = []
            socket: list[float] = []
            ear: list[float] = []
            hangover: list[float] = []
            end_silence = engines.end_silence_ms
            print("\nVoice turn latency, one call at a time (end of speech to first reply audio):")
            for item in items:
                own = engines.for_call()  # as voice-test and the line: language detected
                run = await run_recording(
                    padded(item),
                    core=rt.core,
                    store=rt.store,
                    session_id=f"bench-offline-{secrets.token_hex(6)}",
                    endpointer=engines.endpointer(),
                    transcriber=own.transcriber,
                    synthesizer=own.synthesizer,
                    read_back=engines.read_back,
                    register=functools.partial(getattr, own.language, "register"),
                )
                [at_socket] = await callers.run(sip_latencies, uri, [item.audio], end_silence, True)
                [at_ear] = await callers.run(sip_latencies, uri, [item.audio], end_silence)
                if run.turns and at_socket is not None and at_ear is not None:
                    offline.append(run.turns[0].timings_ms["end_of_speech_to_first_audio"])
                    socket.append(at_socket)
                    ear.append(at_ear)
                    hangover.append(vad_hangover_ms(engines, item.audio))
            if socket:
                line = [s - o for s, o in zip(socket, offline, strict=True)]
                print(
                    f"  offline voice-test p50 {statistics.median(offline):5.0f} ms (from the"
                    " endpointer's decision to the answer's first audio)\n"
                    f"  over SIP p50 {statistics.median(socket):5.0f} ms,"
                    f" p95 {percentile(socket, 0.95):5.0f} ms (from the last loud frame sent, less"
                    " the end silence, to the answer's first sound at the caller's socket)\n"
                    f"  over SIP at a handset's ear p50 {statistics.median(ear):5.0f} ms,"
                    f" p95 {percentile(ear, 0.95):5.0f} ms (its first loud frame, after the test"
                    " phone's 3-packet playout buffer; a separate call)\n"
                    f"  the line (over SIP less offline, per turn) p50"
                    f" {statistics.median(line):5.0f} ms, p95 {percentile(line, 0.95):5.0f} ms"
                    f" ({len(socket)} turns); of it the VAD hangover p50"
                    f" {statistics.median(hangover):5.0f} ms (the last loud frame to the"
                    " decision, less the end silence: Silero's lag and the 32 ms chunks)"
                )
            print("\nConcurrent calls (each: greeting, one question, answer):")
            level = 1
            while level <= max_calls:
                cpu0, wall0 = time.process_time(), time.monotonic()
                batch = [items[i % len(items)].audio for i in range(level)]
                results = await callers.run(sip_latencies, uri, batch, engines.end_silence_ms)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                latencies = [r for r in results if r is not None]
                p50 = statistics.median(latencies) if latencies else float("nan")
                print(
                    f"  {level:3d} calls: {len(latencies)}/{level} answered turns, latency p50"
                    f" {p50:5.0f} ms, p95 {percentile(latencies, 0.95) if latencies else 0:5.0f}"
                    f" ms; CPU {cpu / level / wall * 100:5.1f} % of a core per call"
                    f" (the bot's process, {wall:.0f} s)"
                    f"{'' if p50 <= TARGET_P50_MS else '  <- over the 1.0 s target'}"
                )
                level *= 2
            lines = []
            print(
                f"\nLoads ({staggered} staggered callers, {QUESTIONS} questions each;"
                f" {burst} at once):"
            )
            for calls_of_load, is_staggered in ((staggered, True), (burst, False)):
                if not calls_of_load:
                    continue
                if engines.workers is not None:
                    engines.workers.asr.batches = []
                totals = stage_totals(rt.telemetry.registry)
                lines.append(
                    await load(
                        callers,
                        uri,
                        items,
                        calls_of_load,
                        staggered=is_staggered,
                        end_silence_ms=engines.end_silence_ms,
                    )
                )
                if engines.workers is not None:
                    print(f"  {batch_sizes(engines.workers.asr.batches)}", flush=True)
                print(f"  {stage_means(totals, stage_totals(rt.telemetry.registry))}", flush=True)
            for summary_line in lines:
                print(summary_line, flush=True)
        finally:
            callers.close()
            await agent.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-calls", type=int, default=16, help="largest concurrency tried")
    parser.add_argument("--staggered", type=int, default=12, help="callers of the staggered load")
    parser.add_argument("--burst", type=int, default=8, help="callers of the simultaneous load")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args.max_calls, args.staggered, args.burst))


if __name__ == "__main__":
    main()
