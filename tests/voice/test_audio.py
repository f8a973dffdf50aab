from __future__ import annotations

import numpy as np
import pytest

from voice.audio import (
    AudioFrame,
    InvalidWav,
    StreamResampler,
    decode_wav,
    encode_wav,
    resample,
)


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


RATE_PAIRS = [(8000, 16000), (48000, 16000), (16000, 8000), (22050, 16000), (24000, 16000)]


def stream(resampler: StreamResampler, samples: np.ndarray, chunk: int) -> np.ndarray:
    parts = [resampler.process(samples[i : i + chunk]) for i in range(0, len(samples), chunk)]
    return np.concatenate(parts)


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
@pytest.mark.parametrize("freq", [300, 1000, 3000])
def test_the_stream_resampler_keeps_a_tone_in_time_and_level(src: int, dst: int, freq: int) -> None:
    samples = np.sin(2 * np.pi * freq * np.arange(src) / src)
    out = stream(StreamResampler(src, dst), samples, src // 50)
    ideal = np.sin(2 * np.pi * freq * np.arange(len(out)) / dst)  # no delay: output t is input t
    assert np.abs(out - ideal)[200:-200].max() < 2e-4


@pytest.mark.parametrize(
    ("src", "dst", "held"), [(8000, 16000, 86), (48000, 16000, 43), (16000, 8000, 43)]
)
def test_the_stream_resampler_holds_back_only_its_filter_delay(
    src: int, dst: int, held: int
) -> None:
    # soxr's stream held back up to 1840 samples (115 ms) at 8 to 16 kHz
    resampler = StreamResampler(src, dst)
    assert resampler.delay == held
    frame = src // 50  # 20 ms
    assert len(resampler.process(np.zeros(frame))) == dst // 50 - held
    assert len(resampler.process(np.zeros(frame))) == dst // 50
    assert len(resampler.process(np.zeros(0))) == 0
    assert len(resampler.process(np.zeros(1))) == (1 if dst < src else dst // src)


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
def test_the_stream_resampler_gives_the_same_samples_however_the_input_is_cut(
    src: int, dst: int
) -> None:
    samples = np.random.default_rng(7).normal(0, 3000, src // 2)
    whole = StreamResampler(src, dst).process(samples)
    assert len(whole) == len(samples) * dst // src - StreamResampler(src, dst).delay
    for chunk in (1, 7, 160, 441):
        cut = stream(StreamResampler(src, dst), samples, chunk)
        np.testing.assert_allclose(cut, whole, atol=1e-9)


@pytest.mark.parametrize(("src", "dst"), RATE_PAIRS)
def test_the_stream_resampler_keeps_a_steady_level_exactly(src: int, dst: int) -> None:
    out = StreamResampler(src, dst).process(np.full(src // 10, 8000.0))
    assert set(np.rint(out[100:]).tolist()) == {8000.0}  # every filter phase has gain 1


def amplitude(samples: np.ndarray, freq: float, rate: int) -> float:
    """The amplitude of `freq` in `samples` (which hold whole periods of their tones)."""
    t = np.arange(len(samples)) / rate
    return float(2 * np.abs(np.mean(samples * np.exp(-2j * np.pi * freq * t))))


def test_the_stream_resampler_passes_the_band_and_stops_images_and_aliases() -> None:
    # the telephone band's top (3.4 kHz) raised to 16 kHz: at full level, and its image
    # (4.6 kHz) 69 dB down; at 90 % of the Nyquist frequency (3.6 kHz) still at full level
    for freq in (3400, 3600):
        tone_8k = np.sin(2 * np.pi * freq * np.arange(16000) / 8000)
        up = StreamResampler(8000, 16000).process(tone_8k)
        assert amplitude(up[4000:12000], freq, 16000) == pytest.approx(1.0, abs=0.001)
        assert amplitude(up[4000:12000], 8000 - freq, 16000) < 10 ** (-69 / 20)
    # a tone just above 8 kHz, lowered from 48 to 16 kHz, does not fold back (to 7.84 kHz)
    down = StreamResampler(48000, 16000).process(
        np.sin(2 * np.pi * 8160 * np.arange(48000) / 48000)
    )
    assert np.abs(down[200:-200]).max() < 10 ** (-69 / 20)
    # ... while one at 90 % of the Nyquist frequency passes
    passed = StreamResampler(48000, 16000).process(
        np.sin(2 * np.pi * 7200 * np.arange(48000) / 48000)
    )
    assert np.abs(passed[200:-200]).max() == pytest.approx(1.0, abs=0.001)


def test_the_stream_resampler_refuses_rates_it_does_not_know() -> None:
    for src, dst in ((44100, 16000), (8000, 11025), (0, 16000)):
        with pytest.raises(ValueError, match="unsupported sample rate"):
            StreamResampler(src, dst)
