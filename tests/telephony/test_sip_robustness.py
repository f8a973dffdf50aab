"""Property-style robustness of the SIP message layer: whatever bytes arrive, parse() raises
SipParseError or returns a message that serialises, re-parses to the same content, and can be
screened and answered; no other exception ever escapes. Deterministic seeds (no flakiness)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.sip.message import (
    Message,
    Request,
    SipParseError,
    canonical_name,
    make_response,
    parse,
    serialize,
)
from telephony.sip.validate import error_response, screen
from tests.telephony.sip_samples import CANONICAL

TORTURE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "sip" / "rfc4475"
METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "NOTIFY"})
SUPPORTED = frozenset({"timer"})
TOKENS = [
    b"\r\n",
    b"\r\n ",
    b"\n",
    b"\r",
    b";",
    b";;",
    b",",
    b'"',
    b"\\",
    b"<",
    b">",
    b":",
    b" ",
    b"\t",
    b"%",
    b"%0",
    b"@",
    b"[",
    b"]",
    b"=",
    b"?",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"9" * 30,
    b"-1",
    b"\xef\xbc\x91",
    b"\xc2\xb2",
    b"SIP/2.0",
    b"sip:",
    b"tel:",
    b"Content-Length: 99999\r\n",
    b"l: 0\r\n",
    b"Via: SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx\r\n",
]


def seeds() -> list[bytes]:
    messages = list(CANONICAL.values())
    if TORTURE_DIR.is_dir():
        messages += [path.read_bytes() for path in sorted(TORTURE_DIR.glob("*.dat"))]
    return messages


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        match rng.randrange(6):
            case 0 if out:
                out[min(at, len(out) - 1)] = rng.randrange(256)
            case 1:
                out[at:at] = rng.choice(TOKENS)
            case 2:
                del out[at : at + rng.randint(1, 20)]
            case 3:
                end = min(len(out), at + rng.randint(1, 40))
                out[at:at] = out[at:end] * rng.randint(1, 3)
            case 4:
                out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            case _:
                lines = bytes(out).split(b"\r\n")
                rng.shuffle(lines)
                out = bytearray(b"\r\n".join(lines))
    return bytes(out)


def content(message: Message) -> tuple[object, ...]:
    fields = [(n, v) for n, v in message.headers if canonical_name(n) != "content-length"]
    start = (
        (message.method, message.uri, message.version)
        if isinstance(message, Request)
        else (message.status, message.reason, message.version)
    )
    return (*start, fields, message.body)


def handle(data: bytes) -> None:
    """What a transport does with a datagram; only SipParseError may come out of parse."""
    try:
        message = parse(data)
    except SipParseError as error:
        response = error_response(error)
        if response is not None:
            serialize(response)
        return
    # An accepted message exposes its mandatory fields and survives a round trip.
    assert message.call_id
    message.cseq, message.from_, message.to, message.vias  # noqa: B018
    again = parse(serialize(message))
    assert content(again) == content(message)
    if isinstance(message, Request):
        refusal = screen(message, supported=SUPPORTED, methods=METHODS)
        reply = refusal or make_response(message, 200, to_tag="t1")
        assert content(parse(serialize(reply))) == content(reply)


def mutations(count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    messages = seeds()
    for _ in range(count):
        yield mutate(rng.choice(messages), rng)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_messages_only_ever_raise_sip_parse_error(seed: int) -> None:
    for data in mutations(1500, seed):
        handle(data)


def test_random_bytes_only_ever_raise_sip_parse_error() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        size = rng.choice([0, 1, 2, 10, 100, 1000])
        handle(bytes(rng.randrange(256) for _ in range(size)))
    alphabet = 'INVITE SIP/2.0 sip:@;=,<>"\r\n: 0123456789'
    for _ in range(500):  # printable noise with line breaks: gets further into the parser
        text = "".join(rng.choice(alphabet) for _ in range(300))
        handle(text.encode())


def test_every_truncation_only_ever_raises_sip_parse_error() -> None:
    for data in seeds():
        for end in range(len(data)):
            handle(data[:end])


def test_pathological_sizes_are_handled() -> None:
    # Bounded by max_bytes; these exercise the linear paths (folding, params, lists, quotes).
    bye = CANONICAL["bye"]
    cases = [
        bye.replace(b"Max-Forwards: 70", b"Subject: a" + b"\r\n x" * 16000),
        bye.replace(b"Max-Forwards: 70", b"Contact: <sip:a@b>" + b";x" * 30000),
        bye.replace(b"Max-Forwards: 70", b'Contact: "' + b'\\"' * 30000 + b'" <sip:a@b>'),
        bye.replace(b"Max-Forwards: 70", b"Via: " + b"SIP/2.0/UDP h;branch=x," * 2400),
        bye.replace(b"Max-Forwards: 70", b"Contact: " + b"<" * 60000),
        bye.replace(b"Max-Forwards: 70", b"\r\n".join([b"X: y"] * 10000)),
        bye.replace(b"BYE sip:", b"BYE sip:" + b"%" * 60000),
        b"\r\n" * 30000,
        bye + b"\x00" * 60000,
    ]
    for data in cases:
        handle(data[:65535])
    with pytest.raises(SipParseError):
        parse(bye + b"x" * 70000)
