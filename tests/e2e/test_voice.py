"""`rathausbot voice-test` end to end: German speech at 8 kHz through VAD, Whisper, the real
Rasa (the gateway's) and TTS."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.speech_samples import conversation, pico
from tests.e2e.conftest import REPO, Gateway
from voice.audio import read_wav, write_wav

pytestmark = pytest.mark.slow


def voice_test(gateway: Gateway, wav: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "rathausbot"), "voice-test", str(wav), *args],
        cwd=REPO,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_emergency_then_goodbye_at_8_khz(gateway: Gateway, tmp_path: Path) -> None:
    wav, out = tmp_path / "caller.wav", tmp_path / "bot.wav"
    write_wav(
        wav,
        conversation(
            pico("Hilfe, es brennt in unserer Wohnung!"),
            pico("Auf Wiedersehen."),
            pico("Das hier hört niemand mehr."),  # after the hang-up
        ),
    )
    done = voice_test(gateway, wav, "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    turns = [json.loads(line) for line in done.stdout.splitlines()]  # stdout: JSON only
    assert [t["intent"] for t in turns] == ["emergency", "goodbye"], turns
    emergency, goodbye = turns
    assert "bren" in emergency["transcript"].lower()  # "brennt" (Whisper may write "brent")
    assert "eins eins zwei" in emergency["reply"]
    assert goodbye["hangup"] is True and "Auf Wiederhören" in goodbye["reply"]
    for turn in turns:
        assert set(turn["timings_ms"]) >= {
            "asr",
            "dialogue",
            "tts_first_audio",
            "end_of_speech_to_first_audio",
            "endpoint_silence",
        }
        assert 0 < turn["confidence"] <= 1 and 0 < turn["asr_confidence"] <= 1
    bot = read_wav(out)
    assert bot.duration_s > 10 and bot.peak() > 3000  # greeting and both replies, audible
    assert "Wiedersehen" not in done.stderr  # no message texts in logs


def test_plain_output_and_bad_input(gateway: Gateway, tmp_path: Path) -> None:
    wav = tmp_path / "caller.wav"
    write_wav(wav, conversation(pico("Ich möchte mit einem Menschen sprechen.")))
    done = voice_test(gateway, wav)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Sprachassistent" in done.stdout and "Computer" in done.stdout  # AI disclosure
    assert "Intent: human_handoff" in done.stdout
    assert "end of speech to first audio" in done.stdout
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav")
    failed = voice_test(gateway, broken)
    assert failed.returncode == 2 and "cannot read" in failed.stderr
