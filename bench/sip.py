"""SIP message layer throughput: messages parsed and serialised per second (median of rounds,
one core) for a typical INVITE with SDP, a BYE, and the RFC 4475 torture set (valid and
invalid messages alike; invalid ones end in SipParseError, as over the network).

Usage: `make bench` (or `python -m bench.sip --rounds 7`).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from telephony.sip.message import Request, SipParseError, parse, serialize
from telephony.sip.validate import error_response, screen

TORTURE_DIR = Path(__file__).resolve().parent.parent / ".." / "shared" / "sip" / "rfc4475"
T = TypeVar("T")
METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "NOTIFY"})

SDP = (
    b"v=0\r\no=- 3890312334 3890312334 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\n"
    b"t=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\na=sendrecv\r\n"
)
INVITE = (
    "INVITE sip:hotline@rathaus.example.de SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-524287-1---6c7a1d2b;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:+4930123456@192.0.2.20:5060;transport=udp>\r\n"
    "To: <sip:hotline@rathaus.example.de>\r\n"
    'From: "Anna Mueller" <sip:+4930123456@pbx.example.de>;tag=0c3d1f2a\r\n'
    "Call-ID: 9f8e7d6c5b4a39281706f5e4d3c2b1a0@192.0.2.20\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, UPDATE, INFO\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Asterisk PBX 20.5.0\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n"
).encode() + SDP
BYE = (
    b"BYE sip:+4930123456@192.0.2.20:5060;transport=udp SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK5f3a9c1e;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:hotline@rathaus.example.de>;tag=as4f2c1b\r\n"
    b'To: "Anna Mueller" <sip:+4930123456@pbx.example.de>;tag=0c3d1f2a\r\n'
    b"Call-ID: 9f8e7d6c5b4a39281706f5e4d3c2b1a0@192.0.2.20\r\n"
    b"CSeq: 102 BYE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def parse_or_error(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse(data)


def parse_and_screen(data: bytes) -> None:
    """What the UA does with each datagram before dialog handling."""
    try:
        message = parse(data)
    except SipParseError as error:
        error_response(error)
        return
    if isinstance(message, Request):
        screen(message, supported=frozenset({"timer", "replaces"}), methods=METHODS)


def rate(work: Callable[[T], object], inputs: Sequence[T], rounds: int) -> float:
    """Median items per second over `rounds` rounds of about 0.2 s each."""
    per_round = max(1, int(2000 / len(inputs)))
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            for item in inputs:
                work(item)
        rates.append(per_round * len(inputs) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    workloads: dict[str, list[bytes]] = {"INVITE with SDP": [INVITE], "BYE": [BYE]}
    if TORTURE_DIR.is_dir():
        workloads["RFC 4475 torture set"] = [
            p.read_bytes() for p in sorted(TORTURE_DIR.glob("*.dat"))
        ]
    else:
        print(f"(RFC 4475 torture set not found at {TORTURE_DIR.resolve()}: skipped)")
    for name, inputs in workloads.items():
        parsed = rate(parse_or_error, inputs, rounds)
        screened = rate(parse_and_screen, inputs, rounds)
        print(f"{name:<22} parse {parsed:>9,.0f} msg/s   parse+screen {screened:>9,.0f} msg/s")
    for name, data in (("INVITE with SDP", INVITE), ("BYE", BYE)):
        serialised = rate(serialize, [parse(data)], rounds)
        print(f"{name:<22} serialise {serialised:>9,.0f} msg/s   ({len(data)} bytes)")
    print(f"medians of {rounds} rounds, one core")


if __name__ == "__main__":
    main()
