"""Limits of the chat channel: token bucket with a fake clock, the Origin policy, options."""

from __future__ import annotations

import pytest

from channels.limits import ChatLimits, TokenBucket, origin_allowed
from tests.fakes import FakeClock


def test_bucket_allows_a_burst_then_the_average_rate() -> None:
    clock = FakeClock(1000.0)
    bucket = TokenBucket(rate_per_minute=60, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert not bucket.take()  # half a token
    clock.now += 0.5
    assert bucket.take()
    assert not bucket.take()
    clock.now += 3600  # refills only up to the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "gw:8080", frozenset(), True),  # no browser, no Origin
        ("http://localhost:3000", "gw:8080", frozenset(), True),
        ("http://127.0.0.1:9", "gw:8080", frozenset(), True),
        ("http://[::1]:8080", "gw:8080", frozenset(), True),
        ("https://gw:8080", "gw:8080", frozenset(), True),  # the gateway's own origin
        ("https://GW:8080", "gw:8080", frozenset(), True),
        ("https://gw:8081", "gw:8080", frozenset(), False),
        ("https://evil.example", "gw:8080", frozenset(), False),
        ("https://localhost.evil.example", "gw:8080", frozenset(), False),
        ("null", "gw:8080", frozenset(), False),
        ("file://", "gw:8080", frozenset(), False),
        ("https://www.musterstadt.de", "gw", frozenset({"https://www.musterstadt.de"}), True),
        ("https://www.musterstadt.de/", "gw", frozenset({"https://www.musterstadt.de"}), True),
        ("http://www.musterstadt.de", "gw", frozenset({"https://www.musterstadt.de"}), False),
        ("https://evil.example", None, frozenset(), False),
    ],
)
def test_origin_allow_list(
    origin: str | None, host: str | None, allowed: frozenset[str], expected: bool
) -> None:
    assert origin_allowed(origin, host=host, allowed=allowed) is expected


@pytest.mark.parametrize(
    "options",
    [
        {"max_frame_bytes": 10},
        {"rate_per_minute": 0},
        {"rate_burst": 0},
        {"max_connections_per_ip": 0},
        {"idle_timeout_s": 0},
        {"session_idle_s": 5},
        {"send_queue": 1},
    ],
)
def test_limits_are_validated(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        ChatLimits(**options)  # type: ignore[arg-type]


def test_default_limits_match_the_issue() -> None:
    limits = ChatLimits()
    assert limits.max_frame_bytes == 8192
    assert limits.session_idle_s == 30 * 60
