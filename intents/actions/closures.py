"""Ad-hoc closures set in the staff console, read from Redis on every opening-hours answer
(shape and key: contract.closures), so a team lead's change applies without a restart."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from contract import env
from contract.closures import CLOSURES_KEY, Closure, parse_all
from intents.actions.redis_client import connect

logger = logging.getLogger(__name__)


class ClosureReader:
    """Reads the closures; without Redis (no URL, or Redis down) there are none, and the
    answer gives the regular hours (logged), rather than no answer at all."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis

    @classmethod
    def from_environment(cls) -> ClosureReader:
        url = os.environ.get(env.ACTIONS_REDIS_URL)
        if not url:
            logger.warning("%s is not set: closures are not read", env.ACTIONS_REDIS_URL)
            return cls(None)
        return cls(connect(url))

    async def for_office(self, office: str) -> list[Closure]:
        """The stored closures of ``office`` (past, current and future), by start."""
        if self._redis is None:
            return []
        try:
            pending = self._redis.hgetall(CLOSURES_KEY)
            raw = await cast("Awaitable[dict[str, str]]", pending)
        except (RedisError, OSError) as error:
            logger.warning(
                "closures cannot be read (%s): regular hours given", type(error).__name__
            )
            return []
        return [c for c in parse_all(raw) if c.office == office]


class ClosuresMixin:
    """Lazily connects to Redis (in the action server's event loop)."""

    _closures: ClosureReader | None = None

    @property
    def closures(self) -> ClosureReader:
        if self._closures is None:
            self._closures = ClosureReader.from_environment()
        return self._closures
