"""RTP (RFC 3550) packets, minimal RTCP, a jitter buffer and RFC 4733 telephone events.

Sans-I/O: bytes in, values out; no sockets, no clock (the caller says when a frame is due).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

RTP_VERSION = 2
DTMF_EVENTS = "0123456789*#ABCD"  # RFC 4733 events 0-15


class RtpError(ValueError):
    """A datagram that is not a valid RTP/RTCP packet or telephone event; the text says why."""


def seq_delta(a: int, b: int) -> int:
    """a - b in 16-bit sequence-number space, in [-32768, 32767] (handles wrap-around)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


@dataclass(frozen=True, slots=True)
class RtpExtension:
    profile: int
    data: bytes  # a multiple of 4 bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding: int = 0  # padding bytes after the payload (the last one holds the count)

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise ValueError("payload_type must be in [0, 127]")
        if not 0 <= self.sequence_number <= 0xFFFF:
            raise ValueError("sequence_number must be 16 bits")
        if not 0 <= self.timestamp <= 0xFFFFFFFF or not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError("timestamp and ssrc must be 32 bits")
        if len(self.csrc) > 15 or not 0 <= self.padding <= 255:
            raise ValueError("at most 15 CSRCs and 255 padding bytes")
        if self.extension is not None and len(self.extension.data) % 4:
            raise ValueError("extension data must be a multiple of 4 bytes")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise RtpError("shorter than an RTP header")
        first, second, seq, timestamp, ssrc = struct.unpack_from("!BBHII", data)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        end = len(data)
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0:
                raise RtpError("padding count 0")
            end -= padding
        pos = 12 + 4 * (first & 0x0F)
        if pos > end:
            raise RtpError("truncated CSRC list")
        csrc = struct.unpack_from(f"!{first & 0x0F}I", data, 12)
        extension = None
        if first & 0x10:
            if pos + 4 > end:
                raise RtpError("truncated header extension")
            profile, words = struct.unpack_from("!HH", data, pos)
            ext_end = pos + 4 + 4 * words
            if ext_end > end:
                raise RtpError("truncated header extension")
            extension = RtpExtension(profile, bytes(data[pos + 4 : ext_end]))
            pos = ext_end
        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[pos:end]),
            marker=bool(second & 0x80),
            csrc=tuple(csrc),
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        first = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = self.payload_type | (0x80 if self.marker else 0)
        parts = [
            struct.pack("!BBHII", first, second, self.sequence_number, self.timestamp, self.ssrc)
        ]
        parts += [struct.pack("!I", c) for c in self.csrc]
        if self.extension is not None:
            ext = self.extension
            parts.append(struct.pack("!HH", ext.profile, len(ext.data) // 4) + ext.data)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)

    def __bytes__(self) -> bytes:
        return self.serialize()


def is_rtcp(data: bytes) -> bool:
    """True for RTCP multiplexed on the RTP port (RFC 5761: packet types 192-223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(frozen=True, slots=True)
class RtcpPacket:
    """One packet of a compound RTCP datagram; only the header is read, the body kept."""

    packet_type: int  # 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, ...
    count: int  # reception report / source count (5 bits)
    body: bytes  # everything after the 4-byte header

    def serialize(self) -> bytes:
        header = struct.pack(
            "!BBH", (RTP_VERSION << 6) | self.count, self.packet_type, len(self.body) // 4
        )
        return header + self.body


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """The packets of a compound RTCP datagram (RFC 3550 section 6); RtpError when malformed."""
    packets: list[RtcpPacket] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise RtpError("truncated RTCP header")
        first, packet_type, words = struct.unpack_from("!BBH", data, pos)
        if first >> 6 != RTP_VERSION:
            raise RtpError("RTCP version is not 2")
        end = pos + 4 + 4 * words
        if end > len(data):
            raise RtpError("truncated RTCP packet")
        packets.append(RtcpPacket(packet_type, first & 0x1F, bytes(data[pos + 4 : end])))
        pos = end
    if not packets:
        raise RtpError("empty RTCP datagram")
    return packets


# --- jitter buffer -----------------------------------------------------------------------


class Push(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    LATE = "late"  # its slot was already played (or declared lost)
    RESET = "reset"  # a jump in sequence numbers: the buffer restarted at this packet


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    lost: int = 0
    late: int = 0
    duplicates: int = 0
    dropped: int = 0  # discarded to bring the delay back down
    underruns: int = 0
    resets: int = 0


class JitterBuffer:
    """Orders packets by sequence number (with wrap-around) and hands one out per `pop()`.

    The caller pops once per packet time (20 ms). `pop()` returns None while (re)filling to
    the target depth, for a lost packet and on underrun; the caller plays silence then. The
    target depth starts at `min_depth` packets, grows by one on each underrun up to
    `max_depth` and shrinks again after `window` pops without underrun. At most `capacity`
    packets are held, so memory is bounded whatever arrives.
    """

    def __init__(
        self, *, min_depth: int = 3, max_depth: int = 10, window: int = 250, capacity: int = 64
    ) -> None:
        if not 1 <= min_depth <= max_depth <= capacity <= 1024:
            raise ValueError("need 1 <= min_depth <= max_depth <= capacity <= 1024")
        if window < 1:
            raise ValueError("window must be positive")
        self._min, self._max, self._window, self._capacity = min_depth, max_depth, window, capacity
        self._packets: dict[int, bytes] = {}
        self._next: int | None = None
        self._target = min_depth
        self._primed = False
        self._fresh = True  # nothing taken since the (re)start
        self._ticks = 0
        self._window_min = capacity
        self._window_underrun = False
        self.stats = JitterStats()

    @property
    def target_depth(self) -> int:
        return self._target

    def __len__(self) -> int:
        return len(self._packets)

    def reset(self) -> None:
        """Forgets every packet (a new SSRC, a re-INVITE)."""
        self._packets.clear()
        self._next = None
        self._primed = False
        self._fresh = True

    def push(self, sequence_number: int, payload: bytes) -> Push:
        self.stats.received += 1
        if self._next is None:
            self._next = sequence_number
        delta = seq_delta(sequence_number, self._next)
        result = Push.STORED
        if delta < 0 and self._fresh and -delta < self._capacity:
            self._next = sequence_number  # nothing played yet: an earlier packet starts it
        elif delta < 0:
            if -delta <= self._capacity:
                self.stats.late += 1
                return Push.LATE
            result = self._restart(sequence_number)
        elif delta >= self._capacity:
            result = self._restart(sequence_number)
        if len(self._packets) >= self._capacity and sequence_number not in self._packets:
            result = self._restart(sequence_number)
        if sequence_number in self._packets:
            self.stats.duplicates += 1
            return Push.DUPLICATE
        self._packets[sequence_number] = payload
        return result

    def pop(self) -> bytes | None:
        if not self._primed:
            if len(self._packets) < self._target:
                return None
            self._primed = True
        self._adapt()
        if not self._packets:
            self.stats.underruns += 1
            self._window_underrun = True
            self._target = min(self._target + 1, self._max)
            self._primed = False
            return None
        if len(self._packets) > self._max:
            while len(self._packets) > self._target:
                self._skip()
        return self._play_next()

    # A listener that takes packets as they come (`RtpSession(..., prompt=True)`: the voice
    # session's VAD, which plays nothing to an ear) uses these instead of pop(): no playout
    # depth, the clock only decides when a missing packet is given up.

    def pop_ready(self) -> bytes | None:
        """The next packet in sequence if it is here (taken); None if it is not (yet)."""
        if self._next is None or self._next not in self._packets:
            return None
        self.stats.played += 1
        return self._take()

    def pop_late(self) -> bytes | None:
        """Gives up waiting for the next packet: it if it is here, else None, counted lost
        (if it still comes, it is late). Only a gap before packets that are here is a
        loss: with nothing here (before the first packet, or a sender pausing, as with
        silence suppression, whose next packet continues the numbers) None, and the next
        packet is still the one waited for."""
        if self._next is None or not self._packets:
            return None
        return self._play_next()

    def drop_oldest(self) -> None:
        """Skips the next packet (a sender faster than the clock: bring the delay down)."""
        if self._next is not None:
            self._skip()

    def _restart(self, sequence_number: int) -> Push:
        self.stats.resets += 1
        self.reset()
        self._next = sequence_number
        return Push.RESET

    def _play_next(self) -> bytes | None:
        """The next packet, counted played, or None for its gap, counted lost."""
        payload = self._take()
        if payload is None:
            self.stats.lost += 1
        else:
            self.stats.played += 1
        return payload

    def _take(self) -> bytes | None:
        assert self._next is not None
        payload = self._packets.pop(self._next, None)
        self._next = (self._next + 1) & 0xFFFF
        self._fresh = False
        return payload

    def _skip(self) -> None:
        if self._take() is not None:
            self.stats.dropped += 1

    def _adapt(self) -> None:
        self._ticks += 1
        self._window_min = min(self._window_min, len(self._packets))
        if self._ticks < self._window:
            return
        if not self._window_underrun and self._target > self._min:
            self._target -= 1
        if self._window_min > self._target:
            self._skip()  # the buffer stayed fuller than needed: play one packet less
        self._ticks, self._window_min, self._window_underrun = 0, self._capacity, False


# --- RFC 4733 telephone events -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One key press received: "0"-"9", "*", "#" or "A"-"D", and how long it was held."""

    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte payload of an RFC 4733 telephone-event packet."""

    event: int
    end: bool
    volume: int  # 0-63, -dBm0
    duration: int  # in timestamp units (samples at 8 kHz)

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise RtpError("telephone-event payload shorter than 4 bytes")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return struct.pack("!BBH", self.event, flags, self.duration)


def dtmf_events(
    digit: str, duration_ms: int = 160, *, volume: int = 10, packet_ms: int = 20
) -> list[tuple[TelephoneEvent, bool]]:
    """The packets of one key press, each with its marker bit: a start (marker), updates
    every `packet_ms`, and the end packet sent three times. All share one RTP timestamp."""
    if len(digit) != 1 or digit.upper() not in DTMF_EVENTS:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    if not 40 <= duration_ms <= 5000:
        raise ValueError("duration_ms must be in [40, 5000]")
    event = DTMF_EVENTS.index(digit.upper())
    step, total = 8 * packet_ms, 8 * duration_ms
    packets = [
        (TelephoneEvent(event, False, volume, d), d == step) for d in range(step, total, step)
    ]
    packets += [
        (TelephoneEvent(event, True, volume, total), not packets and i == 0) for i in range(3)
    ]
    return packets


class DtmfReceiver:
    """Turns telephone-event packets into one DtmfDigit per key press (RFC 4733).

    An event is known by its RTP timestamp; the repeated end packets count once. When an
    event's end packets are all lost, it is reported when the next event starts or on
    `flush()`.
    """

    def __init__(self, *, clock_rate: int = 8000) -> None:
        self._per_ms = clock_rate // 1000
        self._timestamp: int | None = None
        self._event = 0
        self._duration = 0
        self._ended: deque[int] = deque(maxlen=8)

    def feed(self, timestamp: int, payload: bytes) -> list[DtmfDigit]:
        """Raises RtpError for a payload that is not a telephone event."""
        event = TelephoneEvent.parse(payload)
        if timestamp in self._ended:
            return []  # a repeated end packet, or a late update of a finished event
        digits: list[DtmfDigit] = []
        if self._timestamp is not None and timestamp != self._timestamp:
            digits += self.flush()
        if self._timestamp is None:
            self._timestamp, self._event, self._duration = timestamp, event.event, 0
        self._duration = max(self._duration, event.duration)
        if event.end:
            digits += self.flush()
        return digits

    def flush(self) -> list[DtmfDigit]:
        """Reports the event in progress, if any, as finished."""
        if self._timestamp is None:
            return []
        self._ended.append(self._timestamp)
        self._timestamp = None
        if self._event >= len(DTMF_EVENTS):
            return []  # flash and other non-digit events
        return [DtmfDigit(DTMF_EVENTS[self._event], self._duration // self._per_ms)]


@dataclass
class RtpStats:
    """Counters of one RTP session (for logs and tests)."""

    packets_sent: int = 0
    packets_received: int = 0
    garbage: int = 0  # not RTP, or malformed
    rtcp: int = 0
    wrong_source: int = 0
    wrong_payload_type: int = 0
    dtmf_received: int = 0
    frames_dropped: int = 0  # received frames dropped because the consumer lagged
    jitter: JitterStats = field(default_factory=JitterStats)
