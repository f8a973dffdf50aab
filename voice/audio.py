"""PCM audio frames (int16 mono) and resampling between telephone and model rates."""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

SUPPORTED_RATES = (8000, 16000, 22050, 24000, 48000)
Samples = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """Little-endian int16 mono PCM at `sample_rate`; any length (a 20 ms packet or a turn)."""

    pcm: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"unsupported sample rate {self.sample_rate} Hz")
        if len(self.pcm) % 2:
            raise ValueError("PCM must be a whole number of int16 samples")

    @classmethod
    def from_samples(cls, samples: npt.ArrayLike, sample_rate: int) -> AudioFrame:
        array = np.asarray(samples)
        if array.dtype.kind == "f":
            array = np.clip(np.round(array * 32767.0), -32768, 32767)
        return cls(array.astype("<i2").tobytes(), sample_rate)

    @classmethod
    def silence(cls, duration_s: float, sample_rate: int) -> AudioFrame:
        return cls(bytes(2 * round(duration_s * sample_rate)), sample_rate)

    @property
    def samples(self) -> Samples:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    def float32(self) -> npt.NDArray[np.float32]:
        return self.samples.astype(np.float32) / 32768.0

    def peak(self) -> int:
        return int(np.abs(self.samples.astype(np.int32)).max()) if self.num_samples else 0

    def __add__(self, other: AudioFrame) -> AudioFrame:
        if other.sample_rate != self.sample_rate:
            other = resample(other, self.sample_rate)
        return AudioFrame(self.pcm + other.pcm, self.sample_rate)

    def split(self, frame_ms: int) -> list[AudioFrame]:
        """Cuts into frames of `frame_ms`; the last one may be shorter."""
        step = 2 * self.sample_rate * frame_ms // 1000
        if step <= 0:
            raise ValueError("frame_ms too small")
        return [
            AudioFrame(self.pcm[i : i + step], self.sample_rate)
            for i in range(0, len(self.pcm), step)
        ]


def resample(frame: AudioFrame, sample_rate: int) -> AudioFrame:
    """The same audio at another rate (soxr, high quality); a no-op at the same rate."""
    if sample_rate == frame.sample_rate:
        return frame
    if sample_rate not in SUPPORTED_RATES:
        raise ValueError(f"unsupported sample rate {sample_rate} Hz")
    if not frame.num_samples:
        return AudioFrame(b"", sample_rate)
    out = soxr.resample(frame.samples, frame.sample_rate, sample_rate, quality="HQ")
    return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), sample_rate)


STREAM_ATTENUATION_DB = 70.0  # stopband of StreamResampler's filter
CONVOLVED_PHASES = 4  # ... which convolves per phase up to this many (numpy's fast path)


class StreamResampler:
    """Resamples a stream chunk by chunk with a delay of a few milliseconds (polyphase,
    Kaiser-windowed sinc; output aligned to the input's time, like soxr's).

    soxr's stream works in blocks and holds back up to 115 ms of output at 8 to 16 kHz:
    an endpointer fed from it hears the end of speech that much later. Every filter phase
    has a gain of exactly 1, so a steady level stays that level. Float in, float out.
    """

    def __init__(self, rate_in: int, rate_out: int) -> None:
        if rate_in not in SUPPORTED_RATES or rate_out not in SUPPORTED_RATES:
            raise ValueError(f"unsupported sample rate {rate_in} or {rate_out} Hz")
        step = math.gcd(rate_in, rate_out)
        self._up, self._down = rate_out // step, rate_in // step
        # pass to 90 % of the lower rate's Nyquist frequency, stop from it
        nyquist = min(rate_in, rate_out) / 2
        width = 0.1 * nyquist / (rate_in * self._up)  # transition, cycles per filter sample
        cutoff = 0.95 * nyquist / (rate_in * self._up)
        length = math.ceil((STREAM_ATTENUATION_DB - 7.95) / (14.36 * width))
        self._taps = -(-length // self._up)  # per phase
        # centred on a whole output sample: the delay that is dropped from the front, so
        # that output t is input t
        self.delay = (self._taps * self._up - 1) // 2 // self._down
        centre = self.delay * self._down
        n = np.arange(self._taps * self._up) - centre
        beta = 0.1102 * (STREAM_ATTENUATION_DB - 8.7)
        window = np.i0(beta * np.sqrt(np.clip(1 - (n / centre) ** 2, 0, None))) / np.i0(beta)
        prototype = np.sinc(2 * cutoff * n) * np.where(np.abs(n) <= centre, window, 0)
        phases = prototype.reshape(self._taps, self._up).T  # [phase, tap]: h[phase + tap * up]
        self._phases = phases / phases.sum(axis=1, keepdims=True)
        self._history = np.zeros(self._taps - 1)  # the inputs before self._base
        self._base = 0  # input index of self._history's end
        self._made = 0  # outputs computed so far, the dropped ones included

    def process(self, samples: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The output that `samples` (the next input, any length) completes."""
        chunk = np.asarray(samples, dtype=np.float64)
        window = np.concatenate([self._history, chunk])  # starts at input base - taps + 1
        received = self._base + len(chunk)
        end = -(-received * self._up // self._down)  # outputs whose newest input is here
        index = np.arange(self._made, end)
        newest = index * self._down // self._up - (self._base - self._taps + 1)  # in window
        phase = index * self._down % self._up
        out: npt.NDArray[np.float64]
        if self._up <= CONVOLVED_PHASES:  # every rate but 22050 Hz: one convolution a phase
            out = np.empty(len(index))
            for first in range(min(self._up, len(index))):  # the phases repeat every `up`
                rows = slice(first, None, self._up)
                # convolve(...)[j] = sum over k of h[k] * window[j + taps - 1 - k]
                full = np.convolve(window, self._phases[phase[first]], "valid")
                out[rows] = full[newest[rows] - self._taps + 1]
        else:  # a phase per output or so: each output's taps gathered
            taps = newest[:, None] - np.arange(self._taps)
            out = np.einsum("ij,ij->i", window[taps], self._phases[phase])
        skip = max(0, self.delay - self._made)
        self._made = end
        self._history = window[len(window) - self._taps + 1 :]
        self._base = received
        return out[skip:]


def concat(frames: list[AudioFrame], sample_rate: int) -> AudioFrame:
    return AudioFrame(b"".join(resample(f, sample_rate).pcm for f in frames), sample_rate)


class InvalidWav(ValueError):
    """The file is not a PCM WAV file rathausbot can read; the text says why."""


def decode_wav(data: bytes) -> AudioFrame:
    """A 16-bit PCM WAV (mono or stereo, mixed down) as one frame at its own rate, or at
    16 kHz when its rate is not one of SUPPORTED_RATES."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise InvalidWav(f"not a PCM WAV file: {exc}") from exc
    if width != 2:
        raise InvalidWav(f"need 16-bit PCM, got {8 * width}-bit")
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (2 * channels)], dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype("<i2")
    if rate in SUPPORTED_RATES:
        return AudioFrame(samples.tobytes(), rate)
    if not 4000 <= rate <= 192_000:
        raise InvalidWav(f"sample rate {rate} Hz out of range")
    out = soxr.resample(samples, rate, 16000, quality="HQ")
    return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), 16000)


def encode_wav(frame: AudioFrame) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(frame.sample_rate)
        wav.writeframes(frame.pcm)
    return buffer.getvalue()


def read_wav(path: Path) -> AudioFrame:
    return decode_wav(path.read_bytes())


def write_wav(path: Path, frame: AudioFrame) -> None:
    path.write_bytes(encode_wav(frame))
