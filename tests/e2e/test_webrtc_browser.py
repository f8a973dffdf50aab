"""A browser call end to end: Debian's chromium presses "Anrufen" in the widget on the demo
page of a real `rathausbot serve`, its fake microphone asks a German question from a 16-bit
WAV, the bot hears it (the chat log shows it, the gateway logs the intent), the browser
receives the answer's audio, and hanging up frees the call."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from bench.speech_samples import pico
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_sip_call import transcribe, wait_for_hotline
from voice.audio import AudioFrame, concat, write_wav

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "e2e" / "browser" / "call.mjs"
QUESTION = "Wann hat das Bürgerbüro geöffnet?"
LEAD_S = 21  # the voice greeting plays first (as on the SIP line)
REPEAT_AFTER_S = 14  # the question again after the answer (or a re-ask) has played
LISTEN_S = 62  # greeting, question, answer, the question again, answer


def webm_to_wav(webm: bytes, workdir: Path) -> Path:
    """The browser's recording (WebM/Opus from MediaRecorder) as a 16 kHz mono WAV."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    pcm = bytearray()
    with av.open(io.BytesIO(webm)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                pcm += out.to_ndarray().astype("<i2").tobytes()
    path = workdir / "received.wav"
    write_wav(path, AudioFrame(bytes(pcm), 16000))
    assert np.abs(np.frombuffer(bytes(pcm), "<i2")).max() > 1000, "the browser heard silence"
    return path


def test_a_browser_call_asks_a_question_and_hears_the_answer(
    gateway: Gateway, tmp_path: Path
) -> None:
    wait_for_hotline(gateway)  # the voice models are loaded (browser calls use them too)
    rate = 16000
    # asked twice, as a caller does who was not understood: the browser's audio reaches the
    # bot through Opus in real time, so one hearing of the question can come out garbled
    question = pico(QUESTION, rate)
    caller = concat(
        [AudioFrame.silence(LEAD_S, rate), question, AudioFrame.silence(REPEAT_AFTER_S, rate)]
        + [question, AudioFrame.silence(10, rate)],
        rate,
    )
    wav = tmp_path / "caller.wav"
    write_wav(wav, caller)  # 16-bit: Chromium's fake device plays 24-bit WAVs as silence
    node = shutil.which("node")
    assert node and (REPO / "node_modules" / "playwright-core").is_dir(), "run `make test`"
    log_before = len(gateway.log_path.read_text(errors="replace"))
    result = subprocess.run(
        [node, str(SCRIPT), gateway.url, str(wav), str(LISTEN_S)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen.get("error")
    assert seen["pageErrors"] == []
    assert "verbunden" in seen["connected"] and seen["hangUpName"] == 1
    # the browser receives the bot's audio: 50 packets a second while the call runs
    assert seen["later"] > seen["first"] + 100, seen
    # what the browser played: the bot's voice, with the AI disclosure of its greeting
    heard = transcribe(gateway.settings, webm_to_wav(base64.b64decode(seen["recording"]), tmp_path))
    assert "computer" in heard or "assistent" in heard, heard
    # the live transcript: the question, as the bot heard it, is in the chat log ...
    users = [m["text"].lower() for m in seen["log"] if m["kind"] == "user"]
    heard_words = ("büro", "bürger", "öffn", "offen")
    assert any(w in t for t in users for w in heard_words), json.dumps(
        seen["log"], ensure_ascii=False
    )
    # ... and understood (the gateway logs intents, never texts)
    this_call = gateway.log_path.read_text(errors="replace")[log_before:]
    assert "turn on voice: intent=opening_hours" in this_call, this_call[-3000:]
    # hanging up frees the call
    assert "beendet" in seen["ended"] and seen["callAgain"] == 1
    ended = re.compile(r"browser call \S+ ended \(caller hung up\)")
    for _ in range(60):  # at most 30 s
        this_call = gateway.log_path.read_text(errors="replace")[log_before:]
        if ended.search(this_call):
            break
        time.sleep(0.5)
    assert ended.search(this_call), this_call[-3000:]
