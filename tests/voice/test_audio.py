from __future__ import annotations

import numpy as np
import pytest

from voice.audio import AudioFrame, InvalidWav, decode_wav, encode_wav, resample


def tone(freq: float, rate: int, seconds: float = 1.0) -> AudioFrame:
    t = np.arange(int(rate * seconds)) / rate
    return AudioFrame.from_samples(0.5 * np.sin(2 * np.pi * freq * t), rate)


def dominant_hz(frame: AudioFrame) -> float:
    spectrum = np.abs(np.fft.rfft(frame.samples.astype(np.float64)))
    return float(np.argmax(spectrum) * frame.sample_rate / frame.num_samples)


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (22050, 8000), (48000, 16000), (8000, 48000)]
)
def test_resampling_keeps_duration_and_pitch(src: int, dst: int) -> None:
    out = resample(tone(440, src), dst)
    assert out.sample_rate == dst
    assert out.duration_s == pytest.approx(1.0, abs=0.002)
    assert dominant_hz(out) == pytest.approx(440, abs=2)


def test_resampling_drops_what_the_telephone_band_cannot_carry() -> None:
    out = resample(tone(6000, 16000), 8000)  # above the 4 kHz Nyquist limit of 8 kHz
    middle = out.samples[800:-800]  # the filter rings briefly at the edges
    assert int(abs(middle.astype(int)).max()) < 100


def test_frames_validate_and_split() -> None:
    with pytest.raises(ValueError):
        AudioFrame(b"\x00", 8000)
    with pytest.raises(ValueError):
        AudioFrame(b"", 11025)
    frames = AudioFrame.silence(0.05, 8000).split(20)
    assert [f.num_samples for f in frames] == [160, 160, 80]
    assert (frames[0] + frames[1]).duration_s == pytest.approx(0.04)


def test_wav_round_trip_and_clear_errors() -> None:
    frame = tone(300, 8000, 0.1)
    assert decode_wav(encode_wav(frame)) == frame
    with pytest.raises(InvalidWav, match="not a PCM WAV"):
        decode_wav(b"RIFF nonsense")


def test_wav_at_an_unusual_rate_is_converted_to_16k() -> None:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(np.zeros(2 * 4410, dtype="<i2").tobytes())
    frame = decode_wav(buffer.getvalue())
    assert frame.sample_rate == 16000 and frame.duration_s == pytest.approx(0.1, abs=0.002)
