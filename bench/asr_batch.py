"""Batched recognition against one by one, per batch size, on this machine's ASR device: the
figures behind `asr_batch` (docs/voice.md). Figures are printed, never asserted.

The same Pico utterances of the bench corpus (each padded to one length, so that they share
one encoder window and may form a batch, as turns that end close together do) are recognised
one by one and in batches of 2, 4, 8 and 16 by the configured model, device and beam. Each row
gives the time for all of them, the time per utterance, the throughput against one by one and
how many transcripts differ from one by one. On a GPU it shows how far batches scale there
(set `asr_batch` from it); on the CPU a phone line's turns rarely share a window, and batches
stay off by default (docs/voice.md). Ends with one line: `asr_batch device=… best=N ratio=…`.

Usage: `make bench` (or `python -m bench.asr_batch [--rounds N]`).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from bench.speech_samples import pico
from bench.voice_corpus import texts
from rathausbot.settings import Settings
from voice.asr import (
    Device,
    WhisperTranscriber,
    batch_for,
    choose_device,
    resolve_model,
)
from voice.audio import AudioFrame, concat

SIZES = (1, 2, 4, 8, 16)
TURN_S = 4.0  # every utterance padded to this length: one encoder window for all


def utterances(count: int) -> list[AudioFrame]:
    """`count` Pico questions of the bench corpus at 8 kHz, each padded with silence to
    TURN_S (longer ones left out), repeated when the corpus has fewer."""
    found: list[AudioFrame] = []
    for entry in texts():
        speech = pico(entry.text)
        if speech.duration_s <= TURN_S - 0.2:
            pad = AudioFrame.silence(TURN_S - speech.duration_s, speech.sample_rate)
            found.append(concat([speech, pad], speech.sample_rate))
        if len(found) == count:
            break
    return [found[i % len(found)] for i in range(count)]


def timed(
    asr: WhisperTranscriber, audios: Sequence[AudioFrame], size: int
) -> tuple[float, list[str]]:
    """Seconds to recognise `audios` in batches of `size` (1: one by one), and the texts."""
    heard: list[str] = []
    started = time.perf_counter()
    for start in range(0, len(audios), size):
        group = audios[start : start + size]
        found = asr.transcribe_batch(group) if size > 1 else [asr.transcribe(a) for a in group]
        heard.extend(t.text for t in found)
    return time.perf_counter() - started, heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="runs per size (the best counts)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    device = choose_device(Device(settings.asr_device))
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models", progress=print)
    asr = WhisperTranscriber(model_dir, device=device, beam_size=settings.asr_beam_size)
    audios = utterances(max(SIZES))
    keys = {asr.batch_key(a) for a in audios}
    if len(keys) != 1:  # every size must really batch
        raise SystemExit(f"the utterances fall into encoder windows {sorted(map(str, keys))}")
    print(
        f"\nBatched recognition: {len(audios)} Pico utterances of {TURN_S:.0f} s, "
        f"{device.device.value} {device.compute_type}, beam {settings.asr_beam_size}, "
        f"model {settings.asr_model}; asr_batch {settings.asr_batch} "
        f"(in effect: {batch_for(settings.asr_batch, device)})",
        flush=True,
    )
    asr.transcribe(audios[0])  # warm-up
    alone_s, alone = 0.0, []
    best_size, best_ratio = 1, 1.0
    for size in SIZES:
        runs = [timed(asr, audios, size) for _ in range(max(1, args.rounds))]
        seconds = min(s for s, _ in runs)
        texts_heard = runs[0][1]
        if size == 1:
            alone_s, alone = seconds, texts_heard
        ratio = alone_s / seconds
        differ = sum(a != b for a, b in zip(alone, texts_heard, strict=True))
        print(
            f"  batch {size:2d}: {1000 * seconds:7.0f} ms for {len(audios)}, "
            f"{1000 * seconds / len(audios):5.0f} ms an utterance, throughput x{ratio:4.2f} "
            f"of one by one, {differ} transcripts differ",
            flush=True,
        )
        if ratio > best_ratio:
            best_size, best_ratio = size, ratio
    print(f"asr_batch device={device.device.value} best={best_size} ratio={best_ratio:.2f}")


if __name__ == "__main__":
    main()
