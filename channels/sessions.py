"""Chat session tokens in Redis: the browser keeps a token, Redis maps it to the session.

The token (192 random bits) is only ever stored hashed; the session id it maps to is
another random value, so neither logs nor the console ever see a live token.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import cast

from redis.asyncio import Redis

from dialogue.records import KEY_PREFIX


def token_key(token: str) -> str:
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()[:40]
    return f"{KEY_PREFIX}:chat:token:{digest}"


class TokenStore:
    """Tokens that expire after `idle_s` without use; use refreshes them."""

    def __init__(self, redis: Redis, *, idle_s: int) -> None:
        if idle_s < 1:
            raise ValueError("idle_s must be positive")
        self._redis = redis
        self._idle_s = idle_s

    async def create(self) -> tuple[str, str]:
        """A new (token, session_id)."""
        token = secrets.token_urlsafe(24)
        session_id = secrets.token_urlsafe(16)
        await self._redis.set(token_key(token), session_id, ex=self._idle_s)
        return token, session_id

    async def resolve(self, token: str) -> str | None:
        """The token's session id (and a fresh idle expiry), or None when expired/unknown."""
        value = await self._redis.getex(token_key(token), ex=self._idle_s)
        return cast(str | None, value)

    async def touch(self, token: str) -> None:
        await self._redis.expire(token_key(token), self._idle_s)

    async def forget(self, token: str) -> None:
        await self._redis.delete(token_key(token))
