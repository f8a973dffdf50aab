"""The first turn's language with the real Whisper model on telephone audio (8 kHz): every
German utterance of the voice corpus (Pico and espeak-ng) stays German, English speech
(the English Piper voice) switches. Prints each share (figures, not timed assertions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.voice_corpus import corpus, padded
from contract.language import Register
from rathausbot.settings import Settings
from tests.e2e.conftest import REPO
from voice.asr import Device, WhisperTranscriber, choose_device, resolve_model
from voice.audio import AudioFrame, concat, resample
from voice.language import MIN_ENGLISH_SHARE, english_share, english_voice_path, first_turn_register
from voice.tts import PiperSynthesizer

pytestmark = pytest.mark.slow

ENGLISH = (
    "Hello, I need an appointment for a new passport.",
    "When is the citizens office open on Friday?",
    "There is a broken street light in front of my house.",
    "Can I talk to a member of staff, please?",
)


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    settings = Settings(intents_dir=REPO / "intents")
    model_dir = resolve_model(settings.asr_model, settings.var_dir / "models", progress=print)
    return WhisperTranscriber(model_dir, device=choose_device(Device.CPU))


def phone(audio: AudioFrame) -> AudioFrame:
    narrow = resample(audio, 8000)
    return concat([AudioFrame.silence(0.5, 8000), narrow, AudioFrame.silence(1.0, 8000)], 8000)


def test_german_callers_stay_german(whisper: WhisperTranscriber) -> None:
    shares = []
    for item in corpus():
        probabilities = whisper.language_probabilities(padded(item))
        shares.append(english_share(probabilities) or 0.0)
        p_en = dict(probabilities).get("en", 0.0)
        print(f"de {item.voice:6} share {shares[-1]:.3f} P(en) {p_en:.3f} {item.text}")
        assert first_turn_register(probabilities) is Register.DE, item.text
    print(f"German: highest English share {max(shares):.3f} (switch at {MIN_ENGLISH_SHARE})")


def test_english_callers_switch_to_english(whisper: WhisperTranscriber, tmp_path: Path) -> None:
    voice = PiperSynthesizer(english_voice_path(), warm=False)
    for text in ENGLISH:
        audio = phone(concat(list(voice.synthesize(text)), voice.sample_rate))
        probabilities = whisper.language_probabilities(audio)
        p_en = dict(probabilities).get("en", 0.0)
        print(f"en share {english_share(probabilities) or 0.0:.3f} P(en) {p_en:.3f} {text}")
        assert first_turn_register(probabilities) is Register.EN, text


def test_english_calls_share_the_one_loaded_model(whisper: WhisperTranscriber) -> None:
    english = whisper.for_language("en")
    assert (whisper.language, english.language) == ("de", "en")
    voice = PiperSynthesizer(english_voice_path(), warm=False)
    audio = phone(concat(list(voice.synthesize(ENGLISH[0])), voice.sample_rate))
    heard = english.transcribe(audio).text
    print(f"en heard {heard!r}")
    assert "passport" in heard.casefold(), heard
    with pytest.raises(ValueError, match="xx"):
        whisper.for_language("xx")
    assert whisper.language == "de"  # the German transcriber is unchanged
