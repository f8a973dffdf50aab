"""Human German words as a word-level smoke test: the four German voices of the Debian
package kajongg (fetched by `scripts/setup.sh --test` into var/speech/kajongg), at 8 kHz,
through VAD, Whisper, the real Rasa (the gateway's) and TTS.

kajongg's words are game calls ("Ruf zu Beginn", "Keine Wahl", "roter Drache"); none of
them is something the assistant has an intent for, so each must simply be heard and
answered (with the assistant's "not understood" reply, never with silence)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from rathausbot.app import Runtime, voice_engines
from tests.e2e.conftest import REPO, Gateway
from voice.audio import AudioFrame, concat, decode_wav, resample
from voice.offline import run_recording

pytestmark = pytest.mark.slow

PLACES = (
    REPO / "var/speech/kajongg/usr/share/kajongg/voices/de",
    Path("/usr/share/kajongg/voices/de"),
)
# file stem -> a word the transcript must contain
WORDS = {
    "originalcall": "Beginn",
    "nochoice": "Wahl",
    "dangerousgame": "Spiel",
    "dr": "Drache",
    "s4": "Kreis",
}
HUMAN_INTENTS: dict[str, str] = {}  # none of kajongg's words maps to an intent of ours


def voices_dir() -> Path:
    found = next((p for p in PLACES if p.is_dir()), None)
    if found is None:
        pytest.skip("kajongg's German voices are missing: run `make setup-test`")
    if shutil.which("sox") is None:
        pytest.skip("sox (to decode kajongg's OGG files) is missing: run `make setup-test`")
    return found


def decode_ogg(path: Path) -> AudioFrame:
    wav = subprocess.run(
        ["sox", str(path), "-t", "wav", "-c", "1", "-b", "16", "-r", "16000", "-"],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return resample(decode_wav(wav), 8000)


async def test_human_german_words_are_heard_and_answered(gateway: Gateway, rt: Runtime) -> None:
    base = voices_dir()
    engines = voice_engines(gateway.settings, progress=print)
    heard: list[tuple[str, str, str]] = []
    for speaker in sorted(p.name for p in base.iterdir() if p.is_dir()):
        for stem, keyword in WORDS.items():
            path = base / speaker / f"{stem}.ogg"
            if not path.is_file():
                continue  # male2 has no "dangerousgame"
            word = decode_ogg(path)
            audio = concat(
                [AudioFrame.silence(0.5, 8000), word, AudioFrame.silence(1.0, 8000)], 8000
            )
            run = await run_recording(
                audio,
                core=rt.core,
                store=rt.store,
                session_id=f"words-{secrets.token_hex(6)}",
                endpointer=engines.endpointer(),
                transcriber=engines.transcriber,
                synthesizer=engines.synthesizer,
                read_back=engines.read_back,
            )
            assert len(run.turns) == 1, (speaker, stem, run.turns)
            (turn,) = run.turns
            assert turn.reply.strip(), (speaker, stem)  # every word gets an answer ...
            assert run.bot_audio.duration_s > 2 and run.bot_audio.peak() > 3000  # ... spoken
            if stem in HUMAN_INTENTS:
                assert turn.intent == HUMAN_INTENTS[stem], (speaker, stem, turn)
            heard.append((f"{speaker}/{stem}", keyword, turn.transcript))
    assert len(heard) >= 16, "kajongg's German voices are incomplete"
    right = [h for h in heard if h[1].lower() in h[2].lower()]
    # The base model on 8 kHz single words: most, not all (see `make bench` for sentences)
    assert len(right) >= 0.6 * len(heard), heard
    for keyword in ("Beginn", "Wahl"):  # the clearest words: every speaker but at most one
        said = [h for h in heard if h[1] == keyword]
        assert sum(keyword.lower() in h[2].lower() for h in said) >= len(said) - 1, said
