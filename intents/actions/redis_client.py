"""The action server's Redis client: one that survives a Redis restart.

A pooled connection that Redis closed (a restart, an idle timeout) fails on its next use;
the client retries such a command on a fresh connection a few times with a short backoff,
so the first citizen after a restart is answered instead of the form ending with an error.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

ATTEMPTS = 3


def connect(url: str) -> Redis:
    """A client for `url` that retries commands after a lost connection."""
    backoff = ExponentialBackoff(cap=1.0, base=0.05)  # type: ignore[no-untyped-call]
    client: Redis = Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(backoff, ATTEMPTS),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
    )
    return client
