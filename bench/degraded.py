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
   A transcript with a repeated word n-gram or characters run over the guard's limits
   (voice.guards.loops) counts as a loop, one with letters of a script other than Latin
   (voice.guards.foreign_letters: "Part秀") as another script.
6. Last, right answers of our path per condition and voice, so that a loss shows as the
   line's (every voice) or as one voice's.

Usage: `make bench` (all 64 utterances, all conditions, raw faster-whisper too) or
`python -m bench.degraded [--limit N] [--condition NAME ...] [--no-raw] [--show]`.
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
from bench.voice import raw_whisper
from contract.language import Register
from contract.stats import MISS_INTENTS
from rathausbot.app import runtime, voice_engines
from rathausbot.settings import Settings
from voice.asr import (
    MUNICIPAL_TERMS,
    Transcript,
    WhisperTranscriber,
    resolve_model,
    vocabulary_prompt,
)
from voice.audio import AudioFrame, concat, decode_wav, read_wav, resample, write_wav
from voice.guards import GuardLimits, foreign_letters, loops
from voice.language import MIN_DETECT_S, first_turn_register
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
# Re-ask limits compared on the same decodes; 0.05 re-asks only what a guard zeroed.
CANDIDATE_LIMITS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
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


def turns_of(ep: Endpointer, audio: AudioFrame) -> list[SpeechEnded]:
    """The turns the endpointer cuts from `audio`, fed in 20 ms frames as on the line."""
    events = [event for frame in audio.split(20) for event in ep.feed(frame)]
    return [e for e in (*events, *ep.flush()) if isinstance(e, SpeechEnded)]


def through_vad(transcriber: WhisperTranscriber, endpointer: Callable[[], Endpointer]) -> Recognise:
    """Our path: the endpointer cuts the turns, the guarded engine transcribes each."""

    def recognise(audio: AudioFrame) -> Transcript:
        turns = [transcriber.transcribe(e.audio) for e in turns_of(endpointer(), audio)]
        turns = [t for t in turns if t.text.strip()]
        if not turns:
            return Transcript("", 0.0)
        text = " ".join(t.text for t in turns)
        return Transcript(text, min(t.confidence for t in turns))

    return recognise


def switches_to_english(
    transcriber: WhisperTranscriber, endpointer: Callable[[], Endpointer], audio: AudioFrame
) -> bool:
    """Whether a call starting with `audio` would switch to English: the language detection
    of docs/languages.md on the first turn the endpointer cuts (at least MIN_DETECT_S)."""
    for turn in turns_of(endpointer(), audio):
        if turn.audio.duration_s >= MIN_DETECT_S:
            register = first_turn_register(transcriber.language_probabilities(turn.audio))
            return register is Register.EN
    return False


@dataclass(frozen=True, slots=True)
class Heard:
    """One file through one recogniser: the decoder's confidence, whether NLU's intent for
    the transcript (parsed whatever the confidence) is right or Rasa's own fallback (a
    request to rephrase, no guess), whether the text loops or holds another script's
    letters."""

    confidence: float
    right: bool
    fallback: bool
    looped: bool
    seconds: float
    foreign: bool = False


def at_limit(heard: Sequence[Heard], limit: float) -> tuple[int, int, int]:
    """(right, re-asked, wrong guesses) when turns below `limit` are re-asked; a turn Rasa
    itself answers with its fallback is neither right nor a wrong guess."""
    reasked = [h for h in heard if h.confidence < limit]
    kept = [h for h in heard if h.confidence >= limit]
    right = sum(h.right for h in kept)
    wrong = sum(not h.right and not h.fallback for h in kept)
    return right, len(reasked), wrong


async def evaluate(
    items: Sequence[Item],
    conditions: Sequence[str],
    settings: Settings,
    *,
    show: bool,
    raw: bool,
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
    }
    if raw:
        recognisers["raw faster-whisper"] = raw_whisper(model_dir, device)
    detector = WhisperTranscriber(model_dir, device=device, beam_size=beam)
    print(
        f"\nDegraded audio: {len(items)} utterances, {len({i.voice for i in items})} voices, "
        f"8 kHz; intent accuracy (re-asked: below confidence {MIN_CONFIDENCE}; loops: a "
        f"word n-gram more than {LOOP_LIMIT.max_repeats} times in a row, or a unit of up to "
        f"{LOOP_LIMIT.max_char_unit} characters more than {LOOP_LIMIT.max_char_repeats}; "
        "scripts: transcripts with letters of a script other than Latin); "
        f"English: calls the "
        f"first-turn language detection would switch to English (each a German caller lost)"
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

        header = f"  {'condition':<22}" + "".join(f"{name:>49}" for name in recognisers)
        print(header, flush=True)
        results: dict[str, dict[str, list[Heard]]] = {}
        for condition in conditions:
            degrade = CONDITIONS[condition]
            others = [i.audio for i in items]
            heard_by = results[condition] = {name: [] for name in recognisers}
            english = 0
            for index, item in enumerate(items):
                audio = degrade(item.audio, others[:index] + others[index + 1 :], index)
                english += switches_to_english(detector, engines.endpointer, audio)
                for name, recognise in recognisers.items():
                    started = time.perf_counter()
                    heard = recognise(audio)
                    seconds = time.perf_counter() - started
                    looped = loops(heard.text, LOOP_LIMIT)
                    foreign = foreign_letters(heard.text)
                    intent = await intent_of(heard.text)
                    ours = name.startswith("ours")
                    conf = heard.confidence if ours else 1.0
                    fallback = intent in MISS_INTENTS or intent is None
                    heard_by[name].append(
                        Heard(conf, intent == item.intent, fallback, looped, seconds, foreign)
                    )
                    unsure = conf < MIN_CONFIDENCE
                    if looped or foreign or (show and (unsure or intent != item.intent)):
                        mark = ("LOOP " if looped else "") + ("SCRIPT " if foreign else "")
                        print(
                            f"    [{name}] {mark}{item.intent} <- "
                            f"{heard.text!r} (conf {conf:.2f}, {intent})"
                        )
            row = f"  {condition:<22}"
            for heard_list in heard_by.values():
                right, reasked, _ = at_limit(heard_list, MIN_CONFIDENCE)
                row += (
                    f"  {100 * right / len(items):5.1f} %"
                    f" (re-ask {reasked:2d}, loops {sum(h.looped for h in heard_list)},"
                    f" scripts {sum(h.foreign for h in heard_list)})"
                    f" {1000 * sum(h.seconds for h in heard_list) / len(items):4.0f} ms"
                )
            print(row + f"  English: {english}", flush=True)
        print_limits(results, len(items))
        print_voices(results, [item.voice for item in items])


def by_voice(
    voices: Sequence[str], heard: Sequence[Heard], limit: float
) -> dict[str, tuple[int, int]]:
    """Per voice, in the order voices first speak: (right answers at the re-ask `limit`,
    files); `voices[i]` spoke the file of `heard[i]`."""
    if len(voices) != len(heard):
        raise ValueError(f"{len(voices)} voices for {len(heard)} files")
    counts: dict[str, tuple[int, int]] = {}
    for voice, one in zip(voices, heard, strict=True):
        right, files = counts.get(voice, (0, 0))
        counts[voice] = (right + (one.right and one.confidence >= limit), files + 1)
    return counts


def voice_label(voice: str) -> str:
    """A column head: "pico", or the espeak-ng variant ("de+m1")."""
    return voice.removeprefix("espeak ").split(" ", 1)[0]


def print_voices(results: dict[str, dict[str, list[Heard]]], voices: Sequence[str]) -> None:
    """Per condition and voice: right answers of our path (no prompt) at the re-ask limit,
    so that a loss is seen as the line's or as one voice's."""
    name = "ours, no prompt"
    print(f"\nRight per voice ({name}, re-ask below {MIN_CONFIDENCE}): right / files")
    labels = [voice_label(voice) for voice in dict.fromkeys(voices)]
    print(f"  {'condition':<22}" + "".join(f"{label:>10}" for label in labels))
    for condition, heard_by in results.items():
        counts = by_voice(voices, heard_by[name], MIN_CONFIDENCE)
        cells = "".join(f"{f'{right}/{files}':>10}" for right, files in counts.values())
        print(f"  {condition:<22}{cells}", flush=True)


def print_limits(results: dict[str, dict[str, list[Heard]]], total: int) -> None:
    """Per condition and our recogniser: right / re-asked / wrong guesses at each candidate
    re-ask limit, from the decodes above (no decoding again)."""
    print(
        f"\nRe-ask limit from the same decodes: right % / re-asked / wrong guesses (not "
        f"Rasa's own fallback) of {total}"
    )
    for name in ("ours, no prompt", "ours, focused prompt"):
        print(f"  {name}")
        print(f"  {'condition':<22}" + "".join(f"{f'< {lim:.2f}':>16}" for lim in CANDIDATE_LIMITS))
        sums = {lim: [0, 0, 0] for lim in CANDIDATE_LIMITS}
        for condition, heard_by in results.items():
            row = f"  {condition:<22}"
            for lim in CANDIDATE_LIMITS:
                right, reasked, wrong = at_limit(heard_by[name], lim)
                row += f"  {100 * right / total:5.1f}/{reasked:2d}/{wrong:2d}  "
                sums[lim] = [a + b for a, b in zip(sums[lim], (right, reasked, wrong), strict=True)]
            print(row)
        n = total * len(results)
        row = f"  {'all conditions':<22}"
        for lim in CANDIDATE_LIMITS:
            right, reasked, wrong = sums[lim]
            row += f"  {100 * right / n:5.1f}/{reasked:3d}/{wrong:3d} "
        print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument("--condition", action="append", choices=list(CONDITIONS))
    parser.add_argument("--show", action="store_true", help="print each miss (loops always)")
    parser.add_argument(
        "--no-raw",
        dest="raw",
        action="store_false",
        help="skip raw faster-whisper (its 30 s window is the slow part on a small CPU)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    print("Making the degraded-audio set (Pico, espeak-ng variants) ...", flush=True)
    items = corpus(settings.var_dir / "bench" / "degraded")[: args.limit or None]
    asyncio.run(
        evaluate(items, args.condition or list(CONDITIONS), settings, show=args.show, raw=args.raw)
    )


if __name__ == "__main__":
    main()
