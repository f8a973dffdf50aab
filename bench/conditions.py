"""Bad-line conditions for the degraded-audio evaluation (bench/degraded.py): pure functions
on 8 kHz int16 telephone audio, seeded, so every run degrades the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from telephony.g711 import ulaw_decode, ulaw_encode
from voice.audio import AudioFrame

RATE = 8000
PACKET = RATE // 50  # 20 ms of G.711, one RTP packet
Samples = npt.NDArray[np.float64]
Condition = Callable[[AudioFrame, Sequence[AudioFrame], int], AudioFrame]


def _f(frame: AudioFrame) -> Samples:
    return frame.samples.astype(np.float64)


def _frame(samples: Samples) -> AudioFrame:
    return AudioFrame.from_samples(np.clip(np.round(samples), -32768, 32767).astype(np.int16), RATE)


def _rms(samples: Samples) -> float:
    voiced = samples[np.abs(samples) > 0.02 * (np.abs(samples).max() or 1)]
    return float(np.sqrt(np.mean(voiced**2))) if len(voiced) else 0.0


def _at_snr(speech: Samples, noise: Samples, snr_db: float) -> Samples:
    scale = _rms(speech) / (_rms(noise) or 1.0) / 10 ** (snr_db / 20)
    mixed = speech + noise * scale
    peak = float(np.abs(mixed).max()) if len(mixed) else 0.0
    return mixed * (32000 / peak) if peak > 32000 else mixed  # a line's AGC, not clipping


def pink_noise(count: int, seed: int) -> Samples:
    """1/f noise: white noise shaped in the frequency domain."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(count))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(freqs), count)


def clean(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    return frame


def pink_12db(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    speech = _f(frame)
    return _frame(_at_snr(speech, pink_noise(len(speech), seed), 12.0))


def babble_12db(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    """Four other callers talking at once behind the caller, 12 dB below."""
    speech = _f(frame)
    rng = np.random.default_rng(seed)
    babble = np.zeros(len(speech))
    for index in rng.choice(len(others), size=min(4, len(others)), replace=False):
        voice = _f(others[int(index)])
        if not len(voice):
            continue
        start = int(rng.integers(0, len(voice)))
        babble += np.resize(np.roll(voice, -start), len(speech))
    return _frame(_at_snr(speech, babble, 12.0))


def tempo(samples: Samples, factor: float, *, window: int = 240, search: int = 80) -> Samples:
    """WSOLA time stretch: `factor` times faster, the pitch kept."""
    hop = window // 2
    win = np.hanning(window)
    out_len = int(len(samples) / factor) + window
    out = np.zeros(out_len)
    norm = np.zeros(out_len)
    padded = np.pad(samples, (search, window + search))
    previous = padded[search : search + window]
    at_out = 0
    while at_out + window <= out_len:
        nominal = int(at_out * factor) + search
        if nominal + window + search > len(padded):
            break
        region = padded[nominal - search : nominal + search + window]
        target = previous[hop:] if len(previous) == window else previous
        scores = np.correlate(region[: 2 * search + hop], target[:hop], mode="valid")
        best = nominal - search + int(np.argmax(scores))
        chunk = padded[best : best + window]
        out[at_out : at_out + window] += chunk * win
        norm[at_out : at_out + window] += win
        previous = padded[best + hop : best + hop + window]
        at_out += hop
    norm[norm < 1e-6] = 1.0
    return (out / norm)[: int(len(samples) / factor)]


def tempo_125(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    return _frame(tempo(_f(frame), 1.25))


def quiet_18db(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    return _frame(_f(frame) * 10 ** (-18 / 20))


def silence_9s(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    """9 s of a quiet line (faint noise, as a real line is never digital zero) first."""
    lead = pink_noise(9 * RATE, seed)
    lead *= 30.0 / (np.sqrt(np.mean(lead**2)) or 1.0)  # about -60 dBFS
    return _frame(np.concatenate([lead, _f(frame)]))


def ulaw_round_trip(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    pcm = ulaw_decode(ulaw_encode(frame.samples.astype("<i2").tobytes()))
    return AudioFrame.from_samples(np.frombuffer(pcm, dtype="<i2").copy(), RATE)


def packet_loss_2pct(frame: AudioFrame, others: Sequence[AudioFrame], seed: int) -> AudioFrame:
    """2 % of the 20 ms packets lost at random and concealed as a phone's jitter buffer
    does: the last good packet repeated, fading by half per lost packet in a row."""
    samples = _f(frame).copy()
    rng = np.random.default_rng(seed)
    last = np.zeros(PACKET)
    gain = 1.0
    for start in range(0, len(samples) - PACKET + 1, PACKET):
        if rng.random() < 0.02:
            gain *= 0.5
            samples[start : start + PACKET] = last * gain
        else:
            gain = 1.0
            last = samples[start : start + PACKET].copy()
    return _frame(samples)


CONDITIONS: dict[str, Condition] = {
    "clean": clean,
    "pink noise 12 dB SNR": pink_12db,
    "babble 12 dB SNR": babble_12db,
    "tempo 1.25x": tempo_125,
    "level -18 dB": quiet_18db,
    "9 s silence first": silence_9s,
    "u-law round trip": ulaw_round_trip,
    "2 % packet loss": packet_loss_2pct,
}
