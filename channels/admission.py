"""Admission of new chat sessions: a rate per client address, and a soft limit on Redis
memory so that running conversations keep room to write. Sessions whose citizen never
wrote expire after minutes instead of the retention period.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from channels.limits import TokenBucket
from channels.protocol import ErrorCode
from channels.sessions import token_key
from dialogue.records import session_key, tracker_key, transcript_key

log = logging.getLogger(__name__)

MIB = 1 << 20
MEMORY_CHECK_S = 1.0  # INFO memory is read at most once a second

# KEYS: transcript stream, session hash, Rasa tracker, token. ARGV: ttl, greeting lines.
# Shortens the expiry of a session that holds only its greeting (no citizen line, no case).
_EXPIRE_UNANSWERED_LUA = """
if redis.call('XLEN', KEYS[1]) > tonumber(ARGV[2]) then return 0 end
if redis.call('HEXISTS', KEYS[2], 'case_id') == 1 then return 0 end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return 1
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionLimits:
    """Bounds on new sessions; every value validated."""

    sessions_per_minute: float = 6.0  # per client address, on average
    session_burst: int = 10  # per client address, at once
    max_addresses: int = 10_000  # addresses tracked; the least recently seen is dropped
    memory_limit_bytes: int = 512 * MIB  # used when Redis reports no maxmemory
    soft_limit_percent: int = 80  # of Redis memory; above it new sessions are refused
    unanswered_s: int = 600  # life of a session whose citizen never wrote

    def __post_init__(self) -> None:
        checks = {
            "sessions_per_minute": 0 < self.sessions_per_minute <= 100_000,
            "session_burst": 1 <= self.session_burst <= 100_000,
            "max_addresses": 1 <= self.max_addresses <= 10_000_000,
            "memory_limit_bytes": MIB <= self.memory_limit_bytes <= 1 << 50,
            "soft_limit_percent": 1 <= self.soft_limit_percent <= 99,
            "unanswered_s": 60 <= self.unanswered_s <= 86_400,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"admission limits out of range: {', '.join(wrong)}")


def memory_full(info: Mapping[str, object], *, limits: AdmissionLimits) -> bool:
    """Whether Redis (its `INFO memory`) is at or above the soft limit."""
    used = info.get("used_memory")
    maxmemory = info.get("maxmemory")
    if not isinstance(used, int):
        return True  # fail closed on an answer we cannot read
    limit = maxmemory if isinstance(maxmemory, int) and maxmemory > 0 else limits.memory_limit_bytes
    return used * 100 >= limit * limits.soft_limit_percent


class SessionAdmission:
    """Decides whether a new chat session may start; built once per gateway."""

    def __init__(
        self,
        redis: Redis,
        *,
        limits: AdmissionLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self.limits = limits
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._full = False
        self._checked = -math.inf
        self._expire_script = redis.register_script(_EXPIRE_UNANSWERED_LUA)

    @property
    def addresses(self) -> int:
        return len(self._buckets)

    async def admit(self, address: str) -> ErrorCode | None:
        """None when a new session may start, else the error that refuses it."""
        if not self._take(address):
            return ErrorCode.TOO_MANY_SESSIONS
        if await self._memory_full():
            return ErrorCode.BUSY
        return None

    def _take(self, address: str) -> bool:
        bucket = self._buckets.pop(address, None)
        if bucket is None:
            if len(self._buckets) >= self.limits.max_addresses:
                del self._buckets[next(iter(self._buckets))]  # least recently seen
            bucket = TokenBucket(
                rate_per_minute=self.limits.sessions_per_minute,
                burst=self.limits.session_burst,
                clock=self._clock,
            )
        self._buckets[address] = bucket  # most recently seen last
        return bucket.take()

    async def _memory_full(self) -> bool:
        now = self._clock()
        if now - self._checked >= MEMORY_CHECK_S:
            info = await self._redis.info("memory")
            full = memory_full(info, limits=self.limits)
            if full and not self._full:
                log.warning("Redis memory at its soft limit: new chat sessions are refused")
            self._full, self._checked = full, now
        return self._full

    async def expire_unanswered(self, session_id: str, token: str, *, greeting_lines: int) -> None:
        """Gives a session that holds only its greeting a short life; the citizen's first
        line restores the retention (transcript, session, tracker) and the token's idle time."""
        keys = [
            transcript_key(session_id),
            session_key(session_id),
            tracker_key(session_id),
            token_key(token),
        ]
        await self._expire_script(keys=keys, args=[self.limits.unanswered_s, greeting_lines])
