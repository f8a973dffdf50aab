"""Staff sessions and the login throttle on a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from console.sessions import LoginThrottle, SessionStore, session_key
from tests.fakes import FakeClock


async def test_session_lives_idle_timeout_and_dies_at_the_absolute_one(redis: Redis) -> None:
    clock = FakeClock(1_795_000_000.0)
    store = SessionStore(redis, idle_s=1800, absolute_s=36_000, clock=clock)
    session = await store.create("erika")
    assert 1790 < await redis.ttl(session_key(session.token)) <= 1800
    assert session.token not in str(await redis.keys("*"))  # only its hash is a key
    found = await store.get(session.token)
    assert found is not None and (found.user, found.csrf) == ("erika", session.csrf)
    clock.now += 36_000 - 1
    assert await store.get(session.token) is not None
    clock.now += 1
    assert await store.get(session.token) is None
    assert not await redis.exists(session_key(session.token))


async def test_revoke_one_and_all(redis: Redis) -> None:
    store = SessionStore(redis)
    one, two, other = (
        await store.create("erika"),
        await store.create("erika"),
        await store.create("max"),
    )
    await store.revoke(one.token)
    assert await store.get(one.token) is None and await store.get(two.token) is not None
    assert await store.revoke_user("erika") == 1
    assert await store.get(two.token) is None
    assert await store.get(other.token) is not None
    assert await store.get(None) is None and await store.get("x" * 101) is None


def test_session_options_are_bounded(redis: Redis) -> None:
    with pytest.raises(ValueError):
        SessionStore(redis, idle_s=59)
    with pytest.raises(ValueError):
        SessionStore(redis, idle_s=600, absolute_s=599)


async def test_lockout_after_max_failures_for_the_pair_only(redis: Redis) -> None:
    throttle = LoginThrottle(redis, max_failures=5, lockout_s=900)
    for count in range(1, 5):
        assert await throttle.failed("erika", "10.0.0.1") == count
        assert not (await throttle.verdict("erika", "10.0.0.1")).locked
    await throttle.failed("erika", "10.0.0.1")  # the 5th
    locked = await throttle.verdict("erika", "10.0.0.1")
    assert locked.locked and 890 <= locked.retry_after_s <= 900
    elsewhere = await throttle.verdict("erika", "10.0.0.2")
    assert not elsewhere.locked and elsewhere.delay_s > 0  # slowed down, not locked out
    assert not (await throttle.verdict("max", "10.0.0.1")).locked
    await throttle.succeeded("erika", "10.0.0.1")
    assert not (await throttle.verdict("erika", "10.0.0.1")).locked


def test_slow_down_doubles_and_is_capped(redis: Redis) -> None:
    throttle = LoginThrottle(redis, max_delay_s=4.0)
    assert [throttle.delay_for(n) for n in range(7)] == [0, 0, 0, 0.25, 0.5, 1.0, 2.0]
    assert throttle.delay_for(8) == 4.0 and throttle.delay_for(1000) == 4.0


async def test_requests_the_page_makes_by_itself_do_not_extend_the_session(
    redis: Redis,
) -> None:
    store = SessionStore(redis, idle_s=1800)
    session = await store.create("erika")
    await redis.expire(session_key(session.token), 100)
    assert await store.get(session.token, touch=False) is not None
    assert await redis.ttl(session_key(session.token)) <= 100
    assert await store.get(session.token) is not None
    assert await redis.ttl(session_key(session.token)) > 1700
