"""G.711 (ITU-T) mu-law (PCMU) and A-law (PCMA) <-> int16 PCM with numpy lookup tables.

The tables are built once at import from the reference bit manipulations (the Sun/CCITT
`g711.c` algorithm, the same one Python's old `audioop` used), so every conversion is a
single array index: 160 samples per 20 ms packet cost a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

_SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
_BIAS = 0x84
_CLIP = 8159


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for seg, end in enumerate(ends):
        if value <= end:
            return seg
    return len(ends)


def _linear_to_ulaw(sample: int) -> int:
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, _CLIP) + (_BIAS >> 2)
    seg = _segment(value, _SEG_UEND)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0xF)) ^ mask


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    value = (((code & 0x0F) << 3) + _BIAS) << ((code & 0x70) >> 4)
    return _BIAS - value if code & 0x80 else value - _BIAS


def _linear_to_alaw(sample: int) -> int:
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    seg = _segment(value, _SEG_AEND)
    if seg >= 8:
        return 0x7F ^ mask
    code = seg << 4
    code |= (value >> 1) & 0x0F if seg < 2 else (value >> seg) & 0x0F
    return code ^ mask


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    value = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        value += 8
    elif seg == 1:
        value += 0x108
    else:
        value = (value + 0x108) << (seg - 1)
    return value if code & 0x80 else -value


def _encode_table(encode: Callable[[int], int]) -> npt.NDArray[np.uint8]:
    # Indexed by the int16 sample viewed as uint16 (two's complement).
    samples = np.arange(65536, dtype=np.uint16).view(np.int16)
    return np.array([encode(int(s)) for s in samples], dtype=np.uint8)


def _decode_table(decode: Callable[[int], int]) -> npt.NDArray[np.int16]:
    return np.array([decode(c) for c in range(256)], dtype="<i2")


_ULAW_ENCODE = _encode_table(_linear_to_ulaw)
_ULAW_DECODE = _decode_table(_ulaw_to_linear)
_ALAW_ENCODE = _encode_table(_linear_to_alaw)
_ALAW_DECODE = _decode_table(_alaw_to_linear)

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5


def _samples(pcm: bytes) -> npt.NDArray[np.uint16]:
    if len(pcm) % 2:
        raise ValueError("PCM must be a whole number of int16 samples")
    return np.frombuffer(pcm, dtype="<u2")


def ulaw_encode(pcm: bytes) -> bytes:
    """Little-endian int16 PCM -> mu-law bytes (one byte per sample)."""
    return _ULAW_ENCODE[_samples(pcm)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """mu-law bytes -> little-endian int16 PCM."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """Little-endian int16 PCM -> A-law bytes (one byte per sample)."""
    return _ALAW_ENCODE[_samples(pcm)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes -> little-endian int16 PCM."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].tobytes()


def encode(codec: str, pcm: bytes) -> bytes:
    """`codec` is "PCMU" or "PCMA" (as in `MediaParams.codec`)."""
    match codec:
        case "PCMU":
            return ulaw_encode(pcm)
        case "PCMA":
            return alaw_encode(pcm)
    raise ValueError(f"unsupported codec {codec!r}")


def decode(codec: str, data: bytes) -> bytes:
    match codec:
        case "PCMU":
            return ulaw_decode(data)
        case "PCMA":
            return alaw_decode(data)
    raise ValueError(f"unsupported codec {codec!r}")


def silence(codec: str, samples: int) -> bytes:
    """`samples` encoded zero samples."""
    return bytes([ULAW_SILENCE if codec == "PCMU" else ALAW_SILENCE]) * samples
