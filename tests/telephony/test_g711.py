from __future__ import annotations

import warnings

import numpy as np
import pytest

from telephony import g711

ALL_CODES = bytes(range(256))


def _pcm(*samples: int) -> bytes:
    return np.array(samples, dtype="<i2").tobytes()


def _ints(pcm: bytes) -> list[int]:
    return [int(v) for v in np.frombuffer(pcm, dtype="<i2")]


def test_ulaw_known_vectors() -> None:
    # ITU-T G.711 table 2a: 0x00/0x80 are the extremes, 0xFF and 0x7F are +0 and -0.
    assert _ints(g711.ulaw_decode(bytes([0x00, 0x80, 0xFF, 0x7F, 0x7E, 0x01]))) == [
        -32124,
        32124,
        0,
        0,
        -8,
        -31100,
    ]
    assert g711.ulaw_encode(_pcm(0, -1, 32767, -32768, 1000)) == bytes.fromhex("ff7e8000ce")


def test_alaw_known_vectors() -> None:
    # ITU-T G.711 table 1a (even bits inverted: 0xD5/0x55 are the smallest magnitudes).
    assert _ints(g711.alaw_decode(bytes([0xD5, 0x55, 0x2A, 0xAA, 0xD4]))) == [
        8,
        -8,
        -32256,
        32256,
        24,
    ]
    assert g711.alaw_encode(_pcm(0, -1, 32767, -32768, 1000)) == bytes.fromhex("d555aa2afa")


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_every_codeword_survives_a_round_trip(codec: str) -> None:
    decoded = g711.decode(codec, ALL_CODES)
    again = g711.encode(codec, decoded)
    for code, back in zip(ALL_CODES, again, strict=True):
        if codec == "PCMU" and code == 0x7F:
            assert back == 0xFF  # -0 encodes as +0
        else:
            assert back == code


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_quantisation_error_is_logarithmic(codec: str) -> None:
    x = np.arange(-32000, 32001, dtype="<i2")
    y = np.frombuffer(g711.decode(codec, g711.encode(codec, x.tobytes())), dtype="<i2")
    error = np.abs(y.astype(int) - x.astype(int))
    assert (error <= np.abs(x.astype(int)) // 16 + 16).all()


def test_silence_encodes_zero() -> None:
    assert g711.silence("PCMU", 160) == g711.ulaw_encode(bytes(320))
    assert g711.silence("PCMA", 160) == g711.alaw_encode(bytes(320))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        g711.ulaw_encode(b"\x00")
    with pytest.raises(ValueError, match="unsupported codec"):
        g711.encode("G722", b"")


def test_matches_stdlib_audioop_where_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop", reason="audioop was removed in Python 3.13")
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert g711.ulaw_encode(pcm) == audioop.lin2ulaw(pcm, 2)
    assert g711.alaw_encode(pcm) == audioop.lin2alaw(pcm, 2)
    assert g711.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)
