from __future__ import annotations

from pathlib import Path

import pytest

from rathausbot.cli import main


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("RATHAUSBOT_VAR_DIR", "RATHAUSBOT_TTS_VOICE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RATHAUSBOT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RATHAUSBOT_VAR_DIR", str(tmp_path / "var"))


def test_voices_install_refuses_a_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices", "install", "../evil"]) == 2
    assert "not a Piper voice name" in capsys.readouterr().err


def test_voices_install_reports_an_unreachable_network(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def offline(name: str, target: Path) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr("voice.tts._piper_download", offline)
    assert main(["voices", "install", "de_DE-thorsten-medium"]) == 1
    err = capsys.readouterr().err
    assert "download failed" in err and "RATHAUSBOT_TTS_VOICE" in err
    assert not list((tmp_path / "var" / "voices").iterdir())


def test_voice_test_refuses_a_file_that_is_not_wav(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"hello")
    assert main(["voice-test", str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_voice_test_refuses_bad_key_presses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("1", "x:1", "3:a", "3:12", "-1:1", ",".join(["1:1"] * 65)):
        assert main(["voice-test", str(tmp_path / "x.wav"), f"--keys={bad}"]) == 2
        assert "--keys" in capsys.readouterr().err


def test_key_presses_are_parsed() -> None:
    from voice.offline import MAX_KEYS, parse_keys

    assert parse_keys("3.5:1, 4:#,") == ((3.5, "1"), (4.0, "#"))
    assert parse_keys("") == ()
    assert len(parse_keys(",".join(["0:*"] * MAX_KEYS))) == MAX_KEYS == 64


def test_voice_test_prints_spoken_and_typed_turns() -> None:
    from rathausbot.voice_cli import _step_text
    from voice.offline import KeyReport, TurnReport

    spoken = TurnReport(
        "Termin buchen",
        0.81,
        "book_appointment",
        0.97,
        "An welchem Tag?",
        False,
        timings_ms={
            "asr": 412.4,
            "dialogue": 80.6,
            "tts_first_audio": 12.0,
            "end_of_speech_to_first_audio": 505.0,
            "endpoint_silence": 512.0,
        },
    )
    assert _step_text(spoken) == (
        "Anrufer: Termin buchen  (ASR-Konfidenz 0.81)\n"
        "  Intent: book_appointment (0.97)\n"
        "Bot: An welchem Tag?\n"
        "  asr 412 ms, dialogue 81 ms, tts_first_audio 12 ms, end of speech to first audio "
        "505 ms (+ 512 ms endpoint silence)"
    )
    typed = KeyReport("12#", "12", "inform", 0.9, "Am Tag 12.", False)
    assert _step_text(typed) == (
        "Anrufer (Tasten): 12#  (gesendet: 12)\n  Intent: inform (0.9)\nBot: Am Tag 12."
    )
