"""Staff sessions and login throttling in Redis.

A session is `rb:console:session:{sha256(token)}`; the browser holds only the token, in a
cookie. The key expires after the idle timeout (refreshed on use) and is refused after the
absolute timeout. `rb:console:user-sessions:{name}` lists a user's sessions so that
disabling the user or changing the password ends them all.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(token: str) -> str:
    return f"rb:console:session:{_digest(token)}"


def user_sessions_key(name: str) -> str:
    return f"rb:console:user-sessions:{name}"


@dataclass(frozen=True, slots=True)
class StaffSession:
    token: str
    user: str
    csrf: str
    created_at: float


class SessionStore:
    """Creates, finds and revokes staff sessions."""

    def __init__(
        self,
        redis: Redis,
        *,
        idle_s: int = 30 * 60,
        absolute_s: int = 10 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 60 <= idle_s <= absolute_s <= 24 * 3600:
            raise ValueError("need 60 <= idle_s <= absolute_s <= 24 h")
        self._redis = redis
        self._idle_s = idle_s
        self._absolute_s = absolute_s
        self._clock = clock

    async def create(self, user: str) -> StaffSession:
        session = StaffSession(
            secrets.token_urlsafe(32), user, secrets.token_urlsafe(24), self._clock()
        )
        key = session_key(session.token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "user": user,
                    "csrf": session.csrf,
                    "created_at": repr(session.created_at),
                },
            )
            pipe.expire(key, self._idle_s)
            pipe.sadd(user_sessions_key(user), key)
            pipe.expire(user_sessions_key(user), self._absolute_s)
            await pipe.execute()
        return session

    async def get(self, token: str | None, *, touch: bool = True) -> StaffSession | None:
        """The live session of `token`, its idle timer refreshed unless `touch` is False (a
        request the page made by itself); None when gone or too old."""
        if not token or len(token) > 100:
            return None
        key = session_key(token)
        fields = cast(dict[str, str], await self._redis.hgetall(key))
        if not fields:
            return None
        created = float(fields["created_at"])
        if self._clock() - created >= self._absolute_s:
            await self._redis.delete(key)
            return None
        if touch:
            await self._redis.expire(key, self._idle_s)
        return StaffSession(token, fields["user"], fields["csrf"], created)

    async def revoke(self, token: str) -> None:
        key = session_key(token)
        user = await self._redis.hget(key, "user")
        await self._redis.delete(key)
        if user:
            await self._redis.srem(user_sessions_key(str(user)), key)

    async def revoke_user(self, name: str) -> int:
        """Ends every session of `name`; returns how many there were."""
        keys = cast(set[str], await self._redis.smembers(user_sessions_key(name)))
        if keys:
            await self._redis.delete(*keys)
        await self._redis.delete(user_sessions_key(name))
        return len(keys)


@dataclass(frozen=True, slots=True)
class ThrottleVerdict:
    locked: bool  # this (account, address) pair may not try now
    retry_after_s: int  # until the lockout ends (0 when not locked)
    delay_s: float  # slow-down before answering: failures for this account elsewhere


def _pair_key(name: str, address: str) -> str:
    return f"rb:console:fail:{name}:{_digest(address)[:32]}"


def _account_key(name: str) -> str:
    return f"rb:console:fail:{name}"


class LoginThrottle:
    """Locks an (account, address) pair out after `max_failures` failures in a row, for
    `lockout_s`; failures of the account from any address slow every login of it down
    (doubling, at most `max_delay_s`), so nobody can lock a colleague out from elsewhere."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_failures: int = 5,
        lockout_s: int = 15 * 60,
        max_delay_s: float = 4.0,
    ) -> None:
        if not 1 <= max_failures <= 100 or not 1 <= lockout_s <= 86_400:
            raise ValueError("max_failures 1..100, lockout_s 1..86400")
        if not 0 <= max_delay_s <= 30:
            raise ValueError("max_delay_s 0..30")
        self._redis = redis
        self._max_failures = max_failures
        self._lockout_s = lockout_s
        self._max_delay_s = max_delay_s

    async def verdict(self, name: str, address: str) -> ThrottleVerdict:
        pair = _pair_key(name, address)
        failures = int(await self._redis.get(pair) or 0)
        total = int(await self._redis.get(_account_key(name)) or 0)
        delay = self.delay_for(total)
        if failures >= self._max_failures:
            ttl = int(await self._redis.ttl(pair))
            return ThrottleVerdict(True, max(ttl, 1), delay)
        return ThrottleVerdict(False, 0, delay)

    def delay_for(self, failures: int) -> float:
        """0 for up to two failures, then 0.25 s doubling per failure, capped."""
        if failures <= 2:
            return 0.0
        return float(min(self._max_delay_s, 0.25 * 2 ** min(failures - 3, 10)))

    async def failed(self, name: str, address: str) -> int:
        """Counts a failure; returns the pair's failures in a row."""
        pair = _pair_key(name, address)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(pair)
            pipe.expire(pair, self._lockout_s)
            pipe.incr(_account_key(name))
            pipe.expire(_account_key(name), self._lockout_s)
            count, *_ = await pipe.execute()
        return int(count)

    async def succeeded(self, name: str, address: str) -> None:
        await self._redis.delete(_pair_key(name, address), _account_key(name))
