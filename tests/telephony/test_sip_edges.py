"""Small sans-I/O pieces of the SIP edge: rate limiter, Via marking and response routing."""

from __future__ import annotations

import pytest

from telephony.sip.message import Via
from telephony.sip.ratelimit import RateLimiter
from telephony.sip.transaction import Peer
from telephony.sip.transport import mark_received, response_destination
from tests.telephony.sip_helpers import request


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5)
    assert [limiter.allow("a", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("b", 0.0)  # other sources are unaffected
    assert limiter.allow("a", 0.1) and not limiter.allow("a", 0.1)


def test_token_bucket_table_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_sources=3)
    for n in range(10):
        limiter.allow(f"10.0.0.{n}", 0.0)
    assert len(limiter) == 3


def test_rate_limiter_rejects_nonsense_options() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0.0, burst=1)


def test_received_and_rport_are_added_to_the_top_via_only() -> None:
    message = request("OPTIONS")
    message.headers.add("Via", "SIP/2.0/UDP proxy.example.org;branch=z9hG4bKp")
    mark_received(message.headers, Peer("udp", "192.0.2.7", 40123))
    top, second = message.vias
    assert top.received == "192.0.2.7" and top.rport == "40123"
    assert second.received is None


def test_via_without_rport_gets_received_only_when_the_host_differs() -> None:
    message = request("OPTIONS")
    message.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKq")
    mark_received(message.headers, Peer("udp", "127.0.0.1", 5999))
    assert message.top_via.params == (("branch", "z9hG4bKq"),)


@pytest.mark.parametrize(
    ("via", "source", "expected"),
    [
        ("SIP/2.0/UDP h:5999;rport=40123;received=192.0.2.7", ("udp", "192.0.2.7", 40123),
         ("udp", "192.0.2.7", 40123)),
        ("SIP/2.0/UDP 198.51.100.1:5070;received=192.0.2.7", ("udp", "192.0.2.7", 1111),
         ("udp", "192.0.2.7", 5070)),
        ("SIP/2.0/UDP 198.51.100.1", ("udp", "198.51.100.1", 1111), ("udp", "198.51.100.1", 5060)),
        ("SIP/2.0/TCP h:5999", ("tcp", "192.0.2.7", 50000), ("tcp", "192.0.2.7", 50000)),
    ],
)  # fmt: skip
def test_response_routing_follows_rfc3261_18_2_2_and_rport(
    via: str, source: tuple[str, str, int], expected: tuple[str, str, int]
) -> None:
    assert response_destination(Via.parse(via), Peer(*source)) == Peer(*expected)
