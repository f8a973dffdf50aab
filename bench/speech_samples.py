"""German speech made at run time for the benchmarks and the tests: Pico (py-nanotts) and
espeak-ng, at 8 kHz (nothing binary is kept in the repository)."""

from __future__ import annotations

import shutil
import subprocess

from voice.audio import AudioFrame, concat, decode_wav, resample
from voice.tts import PicoSynthesizer


def pico(text: str, rate: int = 8000) -> AudioFrame:
    return resample(concat(list(PicoSynthesizer().synthesize(text)), 16000), rate)


def espeak(text: str, rate: int = 8000) -> AudioFrame:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: run `make test` (scripts/setup.sh --test)")
    wav = subprocess.run(
        ["espeak-ng", "-v", "de", "-s", "150", "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    return resample(decode_wav(wav), rate)


def conversation(*utterances: AudioFrame, gap_s: float = 1.0) -> AudioFrame:
    """Utterances separated by silence, as a caller would speak them."""
    rate = utterances[0].sample_rate
    parts = [AudioFrame.silence(0.5, rate)]
    for utterance in utterances:
        parts += [resample(utterance, rate), AudioFrame.silence(gap_s, rate)]
    return concat(parts, rate)
