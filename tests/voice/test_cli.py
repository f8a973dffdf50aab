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
