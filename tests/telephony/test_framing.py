"""TCP stream framing by Content-Length."""

from __future__ import annotations

import pytest

from telephony.sip.framing import FramingError, StreamFramer
from tests.telephony.sip_helpers import SDP, request


def test_splits_messages_across_and_within_chunks_and_skips_keepalives() -> None:
    one = bytes(request("INVITE", body=SDP))
    two = bytes(request("OPTIONS"))
    stream = b"\r\n\r\n" + one + b"\r\n" + two
    framer = StreamFramer()
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
    assert out == [one, two]
    assert framer.buffered == 0


def test_missing_content_length_frames_an_empty_body() -> None:
    framer = StreamFramer()
    head = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n"
    assert framer.feed(head) == [head]


@pytest.mark.parametrize(
    "data",
    [
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n",
        b"X" * 70000,
    ],
)
def test_lost_framing_raises(data: bytes) -> None:
    with pytest.raises(FramingError):
        StreamFramer(max_message_bytes=65535).feed(data)
