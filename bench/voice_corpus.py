"""German test utterances for the voice benchmarks: keyword, text, intent (None where the
assistant has no intent for it yet), spoken by Pico and by espeak-ng, at 8 kHz."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from voice.audio import AudioFrame, concat, decode_wav, resample
from voice.tts import PicoSynthesizer

TEXTS: tuple[tuple[str, str, str | None], ...] = (
    ("Personalausweis", "Ich brauche einen neuen Personalausweis.", None),
    ("Hundesteuer", "Wie hoch ist die Hundesteuer?", None),
    ("Führungszeugnis", "Ich möchte ein Führungszeugnis beantragen.", None),
    ("Reisepass", "Mein Reisepass ist abgelaufen.", None),
    ("Meldebescheinigung", "Wo bekomme ich eine Meldebescheinigung?", None),
    ("Sperrmüll", "Wann wird der Sperrmüll abgeholt?", None),
    ("Standesamt", "Wann hat das Standesamt geöffnet?", None),
    ("Geburtsurkunde", "Ich brauche eine Geburtsurkunde für mein Kind.", None),
    ("Bürgerbüro", "Ist das Bürgerbüro heute offen?", None),
    ("Gewerbeanmeldung", "Ich möchte eine Gewerbeanmeldung machen.", None),
    ("Baugenehmigung", "Wie lange dauert eine Baugenehmigung?", None),
    ("Ummeldung", "Ich bin umgezogen und brauche eine Ummeldung.", None),
    ("Öffnungszeiten", "Wie sind die Öffnungszeiten?", None),
    ("Termin", "Ich möchte einen Termin vereinbaren.", None),
    ("Müllabfuhr", "Wann kommt die Müllabfuhr?", None),
    ("brennt", "Es brennt in unserer Wohnung!", "emergency"),
    ("Feuer", "Feuer! Bitte helfen Sie!", "emergency"),
    ("Rauch", "Ich sehe Rauch aus dem Nachbarhaus.", "emergency"),
    ("Menschen", "Ich möchte mit einem Menschen sprechen.", "human_handoff"),
    ("Person", "Ich möchte lieber mit einer echten Person sprechen.", "human_handoff"),
    ("Wiedersehen", "Auf Wiedersehen.", "goodbye"),
    ("Guten Tag", "Guten Tag!", "greet"),
    ("Computer", "Spreche ich mit einem Computer?", "bot_challenge"),
)


@dataclass(frozen=True, slots=True)
class Utterance:
    keyword: str
    text: str
    intent: str | None
    voice: str
    audio: AudioFrame


def _espeak(text: str) -> AudioFrame:
    wav = subprocess.run(
        ["espeak-ng", "-v", "de", "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return decode_wav(wav)


def corpus(rate: int = 8000) -> list[Utterance]:
    pico = PicoSynthesizer()
    items: list[Utterance] = []
    for keyword, text, intent in TEXTS:
        spoken = concat(list(pico.synthesize(text)), 16000)
        items.append(Utterance(keyword, text, intent, "pico", resample(spoken, rate)))
        if shutil.which("espeak-ng"):
            items.append(Utterance(keyword, text, intent, "espeak", resample(_espeak(text), rate)))
    return items


def contains(transcript: str, keyword: str) -> bool:
    def norm(value: str) -> str:
        return " ".join(value.lower().replace("-", " ").split())

    return norm(keyword) in norm(transcript)
