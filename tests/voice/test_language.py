"""A call's language: the first turn's detection (German or English, above the documented
share), the caller's words afterwards, and the voice for each register (voice/language.py)."""

from __future__ import annotations

import numpy as np
import pytest

from contract.language import Register
from tests.fakes import FakeSynthesizer, FakeTranscriber
from voice.asr import Transcript
from voice.audio import AudioFrame
from voice.language import (
    EINFACH_LENGTH_SCALE,
    MIN_DETECT_S,
    MIN_ENGLISH_PROBABILITY,
    MIN_ENGLISH_SHARE,
    CallLanguage,
    CallSynthesizer,
    CallTranscriber,
    english_share,
    english_voice_path,
    first_turn_register,
)
from voice.tts import PiperSynthesizer

ONE_SECOND = AudioFrame.from_samples(np.zeros(16000, dtype=np.int16), 16000)


class FakeDetector:
    def __init__(self, *probabilities: tuple[str, float]) -> None:
        self.probabilities = list(probabilities)
        self.calls = 0

    def language_probabilities(self, audio: AudioFrame) -> list[tuple[str, float]]:
        self.calls += 1
        return self.probabilities


def test_documented_limits() -> None:
    assert (MIN_ENGLISH_SHARE, MIN_ENGLISH_PROBABILITY) == (0.8, 0.9)
    assert (EINFACH_LENGTH_SCALE, MIN_DETECT_S) == (1.3, 0.5)


@pytest.mark.parametrize(
    ("probabilities", "share"),
    [([("en", 0.6), ("de", 0.2), ("fr", 0.2)], 0.75), ([("de", 0.5)], 0.0),
     ([("en", 0.1)], 1.0), ([("fr", 1.0)], None), ([], None)],
)  # fmt: skip
def test_the_share_counts_only_german_and_english(
    probabilities: list[tuple[str, float]], share: float | None
) -> None:
    assert english_share(probabilities) == (pytest.approx(share) if share is not None else None)


def test_english_only_at_or_above_the_threshold() -> None:
    assert first_turn_register([("en", 0.92), ("de", 0.22)]) is Register.EN  # share 0.807
    assert first_turn_register([("en", 0.92), ("de", 0.24)]) is Register.DE  # share 0.793
    assert first_turn_register([("fr", 0.9)]) is Register.DE
    assert first_turn_register([("en", 0.9), ("de", 0.6)], threshold=0.6) is Register.EN


def test_english_needs_whispers_own_probability_too() -> None:
    # espeak's German "Wie hoch ist die Hundesteuer?" on the phone: Whisper hears Thai
    heard = [("th", 0.58), ("en", 0.067), ("de", 0.008)]
    assert english_share(heard) == pytest.approx(0.893, abs=0.001)
    assert first_turn_register(heard) is Register.DE
    assert first_turn_register([("en", 0.9), ("de", 0.1)]) is Register.EN  # N
    assert first_turn_register([("en", 0.89), ("th", 0.11)]) is Register.DE  # N - 0.01
    # espeak's German "Ich möchte ein Gewerbe anmelden." on the phone
    assert first_turn_register([("en", 0.79), ("de", 0.04), ("nn", 0.03)]) is Register.DE


def test_an_english_first_turn_switches_the_call_to_english() -> None:
    german, english = FakeTranscriber("falsch"), FakeTranscriber("I need a passport", "yes")
    detector = FakeDetector(("en", 0.95), ("de", 0.05))
    language = CallLanguage()
    call = CallTranscriber(german, english, detector, language)
    assert call.transcribe(ONE_SECOND) == Transcript("I need a passport", 0.9)
    assert call.transcribe(ONE_SECOND).text == "yes"
    assert detector.calls == 1  # the first turn only
    assert german.heard == [] and language.register is Register.EN


def test_a_german_first_turn_stays_german_and_is_never_detected_again() -> None:
    german = FakeTranscriber("Ich brauche einen Pass", "ja")
    detector = FakeDetector(("de", 0.7), ("en", 0.3))
    language = CallLanguage()
    call = CallTranscriber(german, FakeTranscriber(), detector, language)
    call.transcribe(ONE_SECOND)
    call.transcribe(ONE_SECOND)
    assert detector.calls == 1 and language.register is Register.DE


def test_a_short_first_turn_decides_nothing() -> None:
    detector = FakeDetector(("en", 1.0))
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber("ja", "hm"), FakeTranscriber(), detector, language)
    short = AudioFrame.from_samples(np.zeros(int(16000 * MIN_DETECT_S) - 16, np.int16), 16000)
    call.transcribe(short)
    assert detector.calls == 0 and not language.detected
    call.transcribe(ONE_SECOND)  # N: a turn of MIN_DETECT_S or more is the first detected
    assert detector.calls == 1 and language.register is Register.EN


def test_without_an_english_engine_the_call_stays_german() -> None:
    language = CallLanguage()
    call = CallTranscriber(FakeTranscriber("hello"), None, FakeDetector(("en", 1.0)), language)
    assert call.transcribe(ONE_SECOND).text == "hello"
    assert not language.detected  # "hello" alone is English, by the words
    assert language.register is Register.EN


def test_the_callers_words_switch_later_turns() -> None:
    language = CallLanguage()
    german = FakeTranscriber("Hallo", "bitte in leichter Sprache", "English please")
    call = CallTranscriber(german, None, None, language)
    call.transcribe(ONE_SECOND)
    assert language.register is Register.DE
    call.transcribe(ONE_SECOND)
    assert language.register is Register.EINFACH
    call.transcribe(ONE_SECOND)
    assert language.register is Register.EN


def test_the_threshold_is_bounded() -> None:
    for bad in (0.49, 1.01):
        with pytest.raises(ValueError, match="threshold"):
            CallTranscriber(FakeTranscriber(), None, None, CallLanguage(), threshold=bad)


def test_each_register_speaks_with_its_voice_and_german_fills_in() -> None:
    german, english, slow = FakeSynthesizer(), FakeSynthesizer(), FakeSynthesizer()
    language = CallLanguage()
    voices = CallSynthesizer(german, language, english=english, einfach=slow)
    list(voices.synthesize("Guten Tag."))
    language.first_turn(Register.EN)
    list(voices.synthesize("Hello."))
    language.heard("leichte Sprache bitte")
    list(voices.synthesize("Hallo."))
    assert (german.calls, english.calls, slow.calls) == (["Guten Tag."], ["Hello."], ["Hallo."])
    alone = CallSynthesizer(german, language)
    list(alone.synthesize("Nur Deutsch."))
    assert german.calls[-1] == "Nur Deutsch." and alone.sample_rate == german.sample_rate


def test_the_english_voice_ships_offline_and_leichte_sprache_speaks_more_slowly() -> None:
    path = english_voice_path()
    assert path.name.startswith("en_US") and path.is_file()
    normal = PiperSynthesizer(path, warm=False)
    slow = PiperSynthesizer(path, warm=False, length_scale=EINFACH_LENGTH_SCALE)
    text = "Your appointment is booked."
    normal_s = sum(f.duration_s for f in normal.synthesize(text))
    slow_s = sum(f.duration_s for f in slow.synthesize(text))
    assert slow_s > normal_s * 1.15
    with pytest.raises(ValueError, match="length_scale"):
        PiperSynthesizer(path, warm=False, length_scale=2.01)
