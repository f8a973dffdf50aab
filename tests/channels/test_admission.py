"""Admission of new chat sessions, sans-I/O parts and the Redis soft limit."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from channels.admission import MIB, AdmissionLimits, SessionAdmission, memory_full
from channels.protocol import ErrorCode
from tests.fakes import FakeClock

LIMITS = AdmissionLimits(memory_limit_bytes=100 * MIB, soft_limit_percent=80)


def test_the_soft_limit_is_reached_at_its_percentage_of_maxmemory() -> None:
    limit = 1000 * MIB
    assert not memory_full({"used_memory": 800 * MIB - 1, "maxmemory": limit}, limits=LIMITS)
    assert memory_full({"used_memory": 800 * MIB, "maxmemory": limit}, limits=LIMITS)


def test_without_maxmemory_the_configured_size_counts() -> None:
    assert not memory_full({"used_memory": 80 * MIB - 1, "maxmemory": 0}, limits=LIMITS)
    assert memory_full({"used_memory": 80 * MIB, "maxmemory": 0}, limits=LIMITS)


def test_an_unreadable_memory_report_refuses() -> None:
    assert memory_full({}, limits=LIMITS)
    assert memory_full({"used_memory": "viel"}, limits=LIMITS)


@pytest.mark.parametrize(
    "options",
    [
        {"sessions_per_minute": 0},
        {"session_burst": 0},
        {"max_addresses": 0},
        {"memory_limit_bytes": MIB - 1},
        {"soft_limit_percent": 100},
        {"soft_limit_percent": 0},
        {"unanswered_s": 59},
    ],
)
def test_limits_out_of_range_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="admission limits out of range"):
        AdmissionLimits(**options)  # type: ignore[arg-type]


async def test_new_sessions_per_address_at_the_burst_and_one_more(redis: Redis) -> None:
    clock = FakeClock(1000.0)
    limits = AdmissionLimits(session_burst=3, sessions_per_minute=6)
    admission = SessionAdmission(redis, limits=limits, clock=clock)
    assert [await admission.admit("192.0.2.1") for _ in range(3)] == [None] * 3
    assert await admission.admit("192.0.2.1") is ErrorCode.TOO_MANY_SESSIONS
    assert await admission.admit("192.0.2.2") is None  # another address has its own
    clock.now += 10  # 6 per minute: one more after ten seconds
    assert await admission.admit("192.0.2.1") is None
    assert await admission.admit("192.0.2.1") is ErrorCode.TOO_MANY_SESSIONS


async def test_the_address_table_is_bounded(redis: Redis) -> None:
    limits = AdmissionLimits(session_burst=1, max_addresses=2)
    admission = SessionAdmission(redis, limits=limits, clock=FakeClock(1000.0))
    assert await admission.admit("a") is None
    assert await admission.admit("b") is None
    assert await admission.admit("a") is ErrorCode.TOO_MANY_SESSIONS  # "a" seen last now
    assert await admission.admit("c") is None  # drops "b", the least recently seen
    assert admission.addresses == 2
    assert await admission.admit("a") is ErrorCode.TOO_MANY_SESSIONS  # "a" was kept


async def test_redis_above_the_soft_limit_refuses_new_sessions(redis: Redis) -> None:
    info = await redis.info("memory")
    used = int(info["used_memory"])
    clock = FakeClock(1000.0)
    roomy = AdmissionLimits(memory_limit_bytes=max(MIB, used * 4), soft_limit_percent=50)
    assert info["maxmemory"] == 0  # the test Redis has none: the configured size counts
    assert await SessionAdmission(redis, limits=roomy, clock=clock).admit("x") is None
    tight = AdmissionLimits(memory_limit_bytes=MIB, soft_limit_percent=1)
    assert used > MIB // 100
    assert await SessionAdmission(redis, limits=tight, clock=clock).admit("x") is ErrorCode.BUSY
