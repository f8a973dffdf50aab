"""German test utterances for the voice benchmarks and tests: the texts, expected keywords
and intents live in bench/voice_utterances.yml; the audio is made here, by Pico and by
espeak-ng, at 8 kHz (nothing binary is kept in the repository)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.speech_samples import espeak, pico
from voice.audio import AudioFrame, concat

UTTERANCES = Path(__file__).with_name("voice_utterances.yml")


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    keywords: tuple[str, ...]
    intent: str | None


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    keywords: tuple[str, ...]
    intent: str | None
    voice: str
    audio: AudioFrame

    def heard(self, transcript: str) -> bool:
        """All keywords are in the transcript."""
        return all(contains(transcript, keyword) for keyword in self.keywords)


def texts(path: Path = UTTERANCES) -> list[Text]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Text(str(item["text"]), tuple(str(k) for k in item["keywords"]), item.get("intent"))
        for item in document["utterances"]
    ]


def corpus(rate: int = 8000) -> list[Utterance]:
    items: list[Utterance] = []
    for entry in texts():
        args = (entry.text, entry.keywords, entry.intent)
        items.append(Utterance(*args, "pico", pico(entry.text, rate)))
        if shutil.which("espeak-ng"):
            items.append(Utterance(*args, "espeak", espeak(entry.text, rate)))
    return items


def padded(item: Utterance) -> AudioFrame:
    """The utterance as a caller's turn: half a second before, a second after."""
    rate = item.audio.sample_rate
    return concat([AudioFrame.silence(0.5, rate), item.audio, AudioFrame.silence(1.0, rate)], rate)


def contains(transcript: str, keyword: str) -> bool:
    def norm(value: str) -> str:
        return " ".join(value.lower().replace("-", " ").split())

    return norm(keyword) in norm(transcript)
