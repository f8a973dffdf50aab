from __future__ import annotations

import contextlib
import random

import pytest

from telephony.rtp import (
    DtmfDigit,
    DtmfReceiver,
    JitterBuffer,
    Push,
    RtcpPacket,
    RtpError,
    RtpExtension,
    RtpPacket,
    TelephoneEvent,
    dtmf_events,
    is_rtcp,
    parse_rtcp,
    seq_delta,
)

# A PCMU packet as a phone sends it: V=2, M=1, PT=0, seq 4660, ts 0x01020304, SSRC 0xdeadbeef.
WIRE = bytes.fromhex("8080123401020304deadbeef") + b"\xff" * 160


def test_parse_known_packet() -> None:
    packet = RtpPacket.parse(WIRE)
    assert packet == RtpPacket(0, 0x1234, 0x01020304, 0xDEADBEEF, b"\xff" * 160, marker=True)
    assert bytes(packet) == WIRE


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(8, 65535, 4294967295, 1, b"\xd5" * 160),
        RtpPacket(101, 7, 1000, 2, b"\x05\x8a\x00\xa0", marker=True),
        RtpPacket(0, 1, 2, 3, b"abc", csrc=(10, 20, 30)),
        RtpPacket(0, 1, 2, 3, b"abc", extension=RtpExtension(0xBEDE, b"\x10\xaa\x00\x00")),
        RtpPacket(0, 1, 2, 3, b"abcd", padding=4),
        RtpPacket(0, 1, 2, 3, b"", csrc=(1,), extension=RtpExtension(1, b""), padding=1),
    ],
)
def test_round_trip(packet: RtpPacket) -> None:
    wire = packet.serialize()
    assert RtpPacket.parse(wire) == packet
    assert RtpPacket.parse(wire).serialize() == wire


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (WIRE[:11], "shorter"),
        (bytes([0x40]) + WIRE[1:], "version 1"),
        (bytes([0x80 | 0x20]) + WIRE[1:-1] + b"\x00", "padding count 0"),
        (bytes([0x80 | 0x20]) + WIRE[1:12] + b"\xff", "truncated"),
        (bytes([0x8F]) + WIRE[1:12] + b"\x00" * 8, "CSRC"),
        (bytes([0x90]) + WIRE[1:12] + b"\x00\x01\x00\x05", "extension"),
    ],
)
def test_malformed_packets_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError, match=reason):
        RtpPacket.parse(data)


def test_random_bytes_only_ever_raise_rtp_error() -> None:
    rng = random.Random(4711)
    for _ in range(5000):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))
        if rng.random() < 0.5 and data:
            data = bytes([0x80 | (data[0] & 0x3F)]) + data[1:]
        for parse in (RtpPacket.parse, parse_rtcp, TelephoneEvent.parse):
            with contextlib.suppress(RtpError):
                parse(data)


def test_sequence_delta_wraps() -> None:
    assert seq_delta(0, 65535) == 1
    assert seq_delta(65535, 0) == -1
    assert seq_delta(10, 5) == 5
    assert seq_delta(32767, 0) == 32767
    assert seq_delta(32768, 0) == -32768


def test_rtcp_is_recognised_and_parsed() -> None:
    rr = RtcpPacket(201, 0, b"\x00\x00\x00\x01")
    sdes = RtcpPacket(202, 1, b"\x00\x00\x00\x01\x01\x03abc\x00\x00\x00")
    compound = rr.serialize() + sdes.serialize()
    assert is_rtcp(compound)
    assert not is_rtcp(WIRE)
    assert parse_rtcp(compound) == [rr, sdes]
    with pytest.raises(RtpError, match="truncated"):
        parse_rtcp(compound[:-1])


# --- jitter buffer ---


def _drain(jb: JitterBuffer, ticks: int) -> list[bytes | None]:
    return [jb.pop() for _ in range(ticks)]


def test_jitter_buffer_fills_to_its_depth_then_plays_in_order() -> None:
    jb = JitterBuffer(min_depth=3)
    jb.push(100, b"a")
    jb.push(101, b"b")
    assert jb.pop() is None  # still filling
    jb.push(102, b"c")
    assert _drain(jb, 3) == [b"a", b"b", b"c"]


def test_jitter_buffer_reorders_within_its_depth() -> None:
    jb = JitterBuffer(min_depth=3)
    for seq in (11, 10, 13, 12, 14):
        assert jb.push(seq, bytes([seq])) is Push.STORED
    assert _drain(jb, 5) == [bytes([s]) for s in (10, 11, 12, 13, 14)]
    assert jb.stats.lost == 0


def test_lost_packet_is_a_gap_and_a_late_one_is_dropped() -> None:
    jb = JitterBuffer(min_depth=3)
    for seq in (1, 3, 4):
        jb.push(seq, bytes([seq]))
    assert _drain(jb, 2) == [b"\x01", None]
    assert jb.stats.lost == 1
    assert jb.push(2, b"\x02") is Push.LATE
    assert _drain(jb, 2) == [b"\x03", b"\x04"]


def test_pop_ready_takes_packets_as_they_come_in_sequence() -> None:
    jb = JitterBuffer(min_depth=3)
    assert jb.pop_ready() is None  # nothing came yet
    jb.push(100, b"a")
    assert jb.pop_ready() == b"a"  # no depth to fill first
    assert jb.pop_ready() is None
    jb.push(102, b"c")
    assert jb.pop_ready() is None  # 101 is missing: not skipped, waited for
    jb.push(101, b"b")
    assert [jb.pop_ready(), jb.pop_ready(), jb.pop_ready()] == [b"b", b"c", None]
    jb.push(103, b"")  # a telephone event's place: here, though empty
    assert jb.pop_ready() == b""
    assert (jb.stats.played, jb.stats.lost, len(jb)) == (4, 0, 0)


def test_pop_late_gives_a_missing_packet_up() -> None:
    jb = JitterBuffer(min_depth=3)
    assert jb.pop_late() is None  # before any packet: nothing is lost
    assert jb.stats.lost == 0
    jb.push(7, b"x")
    jb.push(9, b"z")
    assert jb.pop_late() == b"x"  # here: taken
    assert (jb.stats.played, jb.stats.lost) == (1, 0)
    assert jb.pop_late() is None  # 8 is not: counted lost
    assert (jb.stats.played, jb.stats.lost) == (1, 1)
    assert jb.push(8, b"y") is Push.LATE
    assert jb.pop_ready() == b"z"


def test_pop_late_with_nothing_here_is_a_pause_not_a_loss() -> None:
    jb = JitterBuffer(min_depth=3)
    jb.push(40, b"a")
    assert jb.pop_ready() == b"a"
    assert [jb.pop_late() for _ in range(100)] == [None] * 100  # the sender paused
    assert jb.stats.lost == 0
    assert jb.push(41, b"b") is Push.STORED  # its numbers go on: not late
    assert jb.pop_ready() == b"b"


def test_drop_oldest_skips_one_packet() -> None:
    jb = JitterBuffer(min_depth=3)
    jb.drop_oldest()  # nothing came yet: nothing to skip
    assert jb.stats.dropped == 0
    for seq in (20, 21, 22):
        jb.push(seq, bytes([seq]))
    jb.drop_oldest()
    assert (jb.stats.dropped, len(jb)) == (1, 2)
    assert jb.pop_ready() == bytes([21])
    jb.push(24, b"\x18")
    jb.pop_ready()  # 22
    jb.drop_oldest()  # 23 is missing: skipped, not counted as dropped
    assert jb.stats.dropped == 1
    assert jb.pop_ready() == b"\x18"


def test_duplicates_are_dropped() -> None:
    jb = JitterBuffer(min_depth=2)
    assert jb.push(5, b"x") is Push.STORED
    assert jb.push(5, b"y") is Push.DUPLICATE
    jb.push(6, b"z")
    assert _drain(jb, 2) == [b"x", b"z"]
    assert jb.push(5, b"x") is Push.LATE
    assert jb.stats.duplicates == 1


def test_sequence_numbers_wrap_around() -> None:
    jb = JitterBuffer(min_depth=3)
    seqs = [65533, 65535, 65534, 0, 1, 2]
    for seq in seqs:
        jb.push(seq, seq.to_bytes(2, "big"))
    assert _drain(jb, 6) == [
        s.to_bytes(2, "big") for s in sorted(seqs, key=lambda s: (s + 3) % 65536)
    ]


def test_a_jump_restarts_the_buffer() -> None:
    jb = JitterBuffer(min_depth=1, capacity=64)
    jb.push(10, b"a")
    assert jb.pop() == b"a"
    assert jb.push(30000, b"b") is Push.RESET
    assert jb.pop() == b"b"
    assert jb.stats.resets == 1


def test_memory_is_bounded_whatever_arrives() -> None:
    jb = JitterBuffer(min_depth=3, max_depth=10, capacity=64)
    rng = random.Random(1)
    for _ in range(20000):
        jb.push(rng.randrange(65536), b"x" * 10)
        assert len(jb) <= 64
        if rng.random() < 0.3:
            jb.pop()


def test_underrun_deepens_the_buffer_and_a_quiet_window_shrinks_it() -> None:
    jb = JitterBuffer(min_depth=3, max_depth=10, window=50)
    seq = 0
    for seq in range(3):
        jb.push(seq, b"x")
    _drain(jb, 3)
    assert jb.pop() is None  # underrun
    assert jb.target_depth == 4
    for _ in range(200):  # a steady stream: one packet per pop
        seq += 1
        jb.push(seq, b"x")
        jb.pop()
    assert jb.target_depth == 3


def test_overfull_buffer_drops_back_to_its_target() -> None:
    jb = JitterBuffer(min_depth=3, max_depth=10)
    for seq in range(20):  # a burst after a network stall
        jb.push(seq, bytes([seq]))
    first = jb.pop()
    assert len(jb) == 2  # trimmed to the target of 3, one of which was just played
    assert first == bytes([17])
    assert jb.stats.dropped == 17


# --- RFC 4733 ---


def test_dtmf_encoding_follows_rfc_4733() -> None:
    packets = dtmf_events("5", 160)
    events = [event for event, _ in packets]
    markers = [marker for _, marker in packets]
    assert markers == [True] + [False] * (len(packets) - 1)
    assert [e.event for e in events] == [5] * len(packets)
    assert [e.duration for e in events[:-3]] == list(range(160, 1280, 160))
    assert all(e.end and e.duration == 1280 for e in events[-3:])
    assert not any(e.end for e in events[:-3])


def test_dtmf_round_trip_counts_the_end_packets_once() -> None:
    receiver = DtmfReceiver()
    digits: list[DtmfDigit] = []
    for timestamp, key in ((1000, "#"), (9000, "0"), (17000, "D")):
        for event, _ in dtmf_events(key, 100):
            digits += receiver.feed(timestamp, event.serialize())
    assert digits == [DtmfDigit("#", 100), DtmfDigit("0", 100), DtmfDigit("D", 100)]


def test_dtmf_event_without_end_packets_is_reported_at_the_next_event() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(160, TelephoneEvent(1, False, 10, 400).serialize()) == []
    digits = receiver.feed(4000, TelephoneEvent(2, False, 10, 160).serialize())
    assert digits == [DtmfDigit("1", 50)]
    assert receiver.flush() == [DtmfDigit("2", 20)]
    assert receiver.flush() == []


def test_non_digit_events_and_bad_payloads() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(1, TelephoneEvent(16, True, 10, 800).serialize()) == []  # flash
    with pytest.raises(RtpError):
        receiver.feed(2, b"\x01")
    with pytest.raises(ValueError, match="DTMF digit"):
        dtmf_events("x")
    with pytest.raises(ValueError, match="duration"):
        dtmf_events("1", 10)


def test_telephone_event_round_trip() -> None:
    event = TelephoneEvent(11, True, 63, 65535)
    assert TelephoneEvent.parse(event.serialize()) == event
    assert event.serialize() == bytes.fromhex("0bbfffff")


def test_memory_is_bounded_while_filling() -> None:
    jb = JitterBuffer(min_depth=10, max_depth=10, capacity=64)
    for step in range(5000):  # ever earlier packets before anything was played
        jb.push((60000 - 50 * step) % 65536, b"x")
        assert len(jb) <= 64
