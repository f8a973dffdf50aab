"""`rathausbot voice-test` and `rathausbot voices install`."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import TextIO

from rathausbot.app import runtime, voice_engines
from rathausbot.settings import Settings
from voice.audio import InvalidWav, read_wav, write_wav
from voice.offline import KeyReport, TurnReport, parse_keys, run_recording
from voice.tts import install_voice


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def voice_test(
    settings: Settings,
    wav: Path,
    *,
    out: Path | None,
    as_json: bool,
    stdout: TextIO,
    keys: str = "",
) -> int:
    """Runs the caller turns in `wav` through the voice session (VAD, ASR, the dialogue
    core and TTS); `keys` ("3.5:1,7:#") are pressed at those audio times."""
    try:
        presses = parse_keys(keys)
    except ValueError as exc:
        print(f"rathausbot voice-test: --keys: {exc}", file=sys.stderr)
        return 2
    try:
        audio = read_wav(wav)
    except (OSError, InvalidWav) as exc:
        print(f"rathausbot voice-test: cannot read {wav}: {exc}", file=sys.stderr)
        return 2
    engines = voice_engines(settings, progress=progress)
    own = engines.for_call()  # the call's language, detected as on the line
    progress("Starting or joining Redis and Rasa ...")
    async with runtime(settings, reuse=True) as rt:
        await rt.services.start()
        result = await run_recording(
            audio,
            core=rt.core,
            store=rt.store,
            session_id=f"voice-test-{secrets.token_hex(8)}",
            endpointer=engines.endpointer(),
            transcriber=own.transcriber,
            synthesizer=own.synthesizer,
            read_back=engines.read_back,
            keys=presses,
            register=lambda: own.language.register,
        )
    if as_json:
        for turn in result.turns:
            print(json.dumps(turn.as_json(), ensure_ascii=False), file=stdout)
    else:
        print(f"Bot: {result.greeting}", file=stdout)
        for step in result.steps:
            print(_step_text(step), file=stdout)
    if not result.turns:
        progress("No speech found in the recording.")
    if out is not None:
        write_wav(out, result.bot_audio)
        progress(f"Bot audio written to {out} ({result.bot_audio.duration_s:.1f} s)")
    stdout.flush()
    return 0


def voices_install(settings: Settings, name: str) -> int:
    try:
        install_voice(name, settings.var_dir / "voices", progress=progress)
    except ValueError as exc:
        print(f"rathausbot voices install: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"rathausbot voices install: download failed ({exc}); without network access, "
            "place the voice's .onnx and .onnx.json files yourself and set "
            "RATHAUSBOT_TTS_VOICE to the .onnx path",
            file=sys.stderr,
        )
        return 1
    return 0


def _step_text(step: TurnReport | KeyReport) -> str:
    """A caller turn and the bot's answer, as `voice-test` prints them."""
    if isinstance(step, KeyReport):
        return (
            f"Anrufer (Tasten): {step.keys}  (gesendet: {step.sent})\n"
            f"  Intent: {step.intent} ({step.confidence})\n"
            f"Bot: {step.reply}"
        )
    t = step.timings_ms
    return (
        f"Anrufer: {step.transcript}  (ASR-Konfidenz {step.asr_confidence:.2f})\n"
        f"  Intent: {step.intent} ({step.confidence})\n"
        f"Bot: {step.reply}\n"
        f"  asr {t['asr']:.0f} ms, dialogue {t['dialogue']:.0f} ms, "
        f"tts_first_audio {t['tts_first_audio']:.0f} ms, end of speech to first audio "
        f"{t['end_of_speech_to_first_audio']:.0f} ms (+ {t['endpoint_silence']:.0f} ms "
        "endpoint silence)"
    )
