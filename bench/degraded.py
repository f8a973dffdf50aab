"""Degraded-audio evaluation: intent accuracy per bad-line condition, our recogniser next to
raw faster-whisper on the same files. Figures are printed, never asserted.

Recipe (all offline, all made at bench time, nothing binary kept in the repository):
1. Texts: bench/degraded_utterances.yml (64 caller sentences over the intents).
2. Voices, one per text in turn: Pico (de-DE) and espeak-ng's German voice with five
   variants (m1, m3, f2, f4, klatt) at 135-185 words per minute and pitches 35-65.
3. Telephone band: resampled to 8 kHz; speech cached in var/bench/degraded/ by voice and
   text hash.
4. Conditions (bench/conditions.py, seeded): clean; pink noise and four-caller babble at
   12 dB SNR; WSOLA tempo 1.25x; level -18 dB; 9 s of a quiet line first; G.711 µ-law round
   trip; 2 % of 20 ms packets lost, concealed by repeating the last packet at half level.
5. Each degraded file (0.5 s before, 1 s after the speech) goes
   - through our path: Silero VAD endpointing, WhisperTranscriber with its guards, without
     and with the vocabulary prompt; a turn below the confidence limit is re-asked (counted
     as not understood, never as a guess);
   - through raw faster-whisper: the whole file, 30 s window, greedy, no prompt;
   and the transcript to Rasa's NLU (`/model/parse`). Accuracy = right intent / all files.
   A transcript with a repeated n-gram run over the guard's limit counts as a loop.

Usage: `make bench` or `python -m bench.degraded [--limit N] [--condition NAME ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.conditions import CONDITIONS
from bench.speech_samples import pico
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
from voice.audio import AudioFrame, concat, decode_wav, read_wav, resample, write_wav
from voice.guards import GuardLimits, longest_run
from voice.session import SessionOptions
from voice.vad import Endpointer, SpeechEnded

UTTERANCES = Path(__file__).with_name("degraded_utterances.yml")
RATE = 8000
ESPEAK_VOICES = (
    ("de+m1", 135, 35),
    ("de+f2", 170, 65),
    ("de+m3", 150, 50),
    ("de+f4", 185, 55),
    ("de+klatt", 160, 45),
)
MIN_CONFIDENCE = SessionOptions().min_confidence
LOOP_LIMIT = GuardLimits()


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    intent: str
    voice: str
    audio: AudioFrame  # 8 kHz, padded as a caller's turn


def espeak(text: str, variant: str, rate: int, pitch: int) -> AudioFrame:
    wav = subprocess.run(
        ["espeak-ng", "-v", variant, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return resample(decode_wav(wav), RATE)


def voices() -> list[tuple[str, Callable[[str], AudioFrame]]]:
    made: list[tuple[str, Callable[[str], AudioFrame]]] = [("pico", lambda t: pico(t, RATE))]
    if shutil.which("espeak-ng") is None:
        print("  espeak-ng is missing (scripts/setup.sh --test installs it): Pico only")
        return made
    for variant, rate, pitch in ESPEAK_VOICES:
        made.append((f"espeak {variant} {rate} wpm p{pitch}", _espeak_voice(variant, rate, pitch)))
    return made


def _espeak_voice(variant: str, rate: int, pitch: int) -> Callable[[str], AudioFrame]:
    return lambda text: espeak(text, variant, rate, pitch)


def corpus(cache: Path) -> list[Item]:
    document = yaml.safe_load(UTTERANCES.read_text(encoding="utf-8"))
    speakers = voices()
    cache.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    for index, entry in enumerate(document["utterances"]):
        name, speak = speakers[index % len(speakers)]
        text = str(entry["text"])
        key = hashlib.sha256(f"{name}\n{text}".encode()).hexdigest()[:20]
        path = cache / f"{key}.wav"
        if path.is_file():
            audio = read_wav(path)
        else:
            audio = speak(text)
            write_wav(path, audio)
        padded = concat([AudioFrame.silence(0.5, RATE), audio, AudioFrame.silence(1.0, RATE)], RATE)
        items.append(Item(text, str(entry["intent"]), name, padded))
    return items


Recognise = Callable[[AudioFrame], Transcript]


def through_vad(transcriber: WhisperTranscriber, endpointer: Callable[[], Endpointer]) -> Recognise:
    """Our path: the endpointer cuts the turns, the guarded engine transcribes each."""

    def recognise(audio: AudioFrame) -> Transcript:
        ep = endpointer()
        ended: list[SpeechEnded] = []
        for frame in audio.split(20):
            ended += [e for e in ep.feed(frame) if isinstance(e, SpeechEnded)]
        ended += [e for e in ep.flush() if isinstance(e, SpeechEnded)]
        turns = [transcriber.transcribe(e.audio) for e in ended]
        turns = [t for t in turns if t.text.strip()]
        if not turns:
            return Transcript("", 0.0)
        text = " ".join(t.text for t in turns)
        return Transcript(text, min(t.confidence for t in turns))

    return recognise


def raw_whisper(model_dir: Path, settings: Settings) -> Recognise:
    from faster_whisper import WhisperModel

    engine = choose_device(Device(settings.asr_device))
    model = WhisperModel(
        str(model_dir),
        device=engine.device.value,
        compute_type=engine.compute_type,
        cpu_threads=engine.cpu_threads,
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


@dataclass
class Tally:
    right: int = 0
    reasked: int = 0
    loops: int = 0
    seconds: float = 0.0


async def evaluate(
    items: Sequence[Item], conditions: Sequence[str], settings: Settings, *, show: bool
) -> None:
    engines = voice_engines(settings, progress=print)
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models")
    device = engines.transcriber.device
    prompt = vocabulary_prompt(
        settings.intents_dir / "knowledge", extra=MUNICIPAL_TERMS, focused=True
    )
    beam = settings.asr_beam_size
    recognisers: dict[str, Recognise] = {
        "ours, no prompt": through_vad(
            WhisperTranscriber(model_dir, device=device, beam_size=beam), engines.endpointer
        ),
        "ours, focused prompt": through_vad(
            WhisperTranscriber(model_dir, device=device, beam_size=beam, initial_prompt=prompt),
            engines.endpointer,
        ),
        "raw faster-whisper": raw_whisper(model_dir, settings),
    }
    print(
        f"\nDegraded audio: {len(items)} utterances, {len({i.voice for i in items})} voices, "
        f"8 kHz; intent accuracy (re-asked: below confidence {MIN_CONFIDENCE}; loops: a "
        f"word n-gram more than {LOOP_LIMIT.max_repeats} times in a row)"
    )
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()

        async def intent_of(text: str) -> str | None:
            if not text.strip():
                return None
            response = await rt.http.post(
                f"{settings.rasa_url}/model/parse",
                json={"text": text},
                params={"token": rt.secrets.rasa_token},
            )
            response.raise_for_status()
            intent = response.json().get("intent") or {}
            name = intent.get("name")
            return name if isinstance(name, str) else None

        header = f"  {'condition':<22}" + "".join(f"{name:>34}" for name in recognisers)
        print(header, flush=True)
        for condition in conditions:
            degrade = CONDITIONS[condition]
            others = [i.audio for i in items]
            tallies = {name: Tally() for name in recognisers}
            for index, item in enumerate(items):
                audio = degrade(item.audio, others[:index] + others[index + 1 :], index)
                for name, recognise in recognisers.items():
                    started = time.perf_counter()
                    heard = recognise(audio)
                    tally = tallies[name]
                    tally.seconds += time.perf_counter() - started
                    looped = longest_run(heard.text, max_ngram=4) > LOOP_LIMIT.max_repeats
                    tally.loops += looped
                    unsure = name.startswith("ours") and heard.confidence < MIN_CONFIDENCE
                    tally.reasked += unsure
                    intent = None if unsure else await intent_of(heard.text)
                    tally.right += intent == item.intent
                    if show and (intent != item.intent or looped):
                        print(f"    [{name}] {item.intent} <- {heard.text!r} ({intent})")
            row = f"  {condition:<22}"
            for tally in tallies.values():
                row += (
                    f"  {100 * tally.right / len(items):5.1f} %"
                    f" (re-ask {tally.reasked:2d}, loops {tally.loops})"
                    f" {1000 * tally.seconds / len(items):4.0f} ms"
                )
            print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument("--condition", action="append", choices=list(CONDITIONS))
    parser.add_argument("--show", action="store_true", help="print each miss and loop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    print("Making the degraded-audio set (Pico, espeak-ng variants) ...", flush=True)
    items = corpus(settings.var_dir / "bench" / "degraded")[: args.limit or None]
    asyncio.run(evaluate(items, args.condition or list(CONDITIONS), settings, show=args.show))


if __name__ == "__main__":
    main()
