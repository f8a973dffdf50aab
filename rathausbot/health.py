"""Probes of Redis, Rasa and the action server, and the gateway's overall health."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
from redis import exceptions as redis_errors
from redis.asyncio import Redis

PROBE_TIMEOUT_S = 2.0


class HealthStatus(StrEnum):
    READY = "ready"
    STARTING = "starting"
    DEGRADED = "degraded"
    DRAINING = "draining"


@dataclass(frozen=True, slots=True)
class HealthReport:
    status: HealthStatus
    redis: bool
    rasa: bool
    actions: bool

    def public(self) -> dict[str, object]:
        """What anybody may see: the status alone."""
        return {"status": self.status.value}

    def to_json(self) -> dict[str, object]:
        """The status and which part fails (loopback or authenticated callers only)."""
        return {
            "status": self.status.value,
            "redis": self.redis,
            "rasa": self.rasa,
            "actions": self.actions,
        }


async def probe_redis(redis: Redis) -> bool:
    try:
        return bool(await asyncio.wait_for(redis.ping(), PROBE_TIMEOUT_S))
    except (redis_errors.RedisError, OSError, TimeoutError):
        return False


async def probe_rasa(http: httpx.AsyncClient, base_url: str, token: str) -> bool:
    """Rasa is up when its authenticated status shows a loaded model."""
    try:
        response = await http.get(
            f"{base_url}/status", params={"token": token}, timeout=PROBE_TIMEOUT_S
        )
        return response.status_code == 200 and bool(response.json().get("model_file"))
    except (httpx.HTTPError, ValueError):
        return False


async def probe_actions(http: httpx.AsyncClient, base_url: str) -> bool:
    try:
        response = await http.get(f"{base_url}/health", timeout=PROBE_TIMEOUT_S)
        return response.status_code == 200
    except httpx.HTTPError:
        return False


class HealthMonitor:
    """Answers /healthz: 'starting' until everything was up once, then 'degraded' on loss."""

    def __init__(
        self,
        *,
        redis: Redis,
        http: httpx.AsyncClient,
        rasa_url: str,
        rasa_token: str,
        actions_url: str,
        start_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        rasa_urls: tuple[str, ...] = (),
    ) -> None:
        """With `rasa_urls` (Rasa servers elsewhere, each with its own action server), Rasa
        counts as up when one of them answers, and the local action server is not probed."""
        self._rasa_urls = rasa_urls
        self._redis = redis
        self._http = http
        self._rasa_url = rasa_url
        self._rasa_token = rasa_token
        self._actions_url = actions_url
        self._clock = clock
        self._deadline = clock() + start_timeout_s
        self._was_ready = False
        self._draining = False

    def drain(self) -> None:
        """The gateway is stopping: report 'draining' so load balancers move on."""
        self._draining = True

    @property
    def draining(self) -> bool:
        return self._draining

    async def rasa_up(self) -> bool:
        urls = self._rasa_urls or (self._rasa_url,)
        answers = await asyncio.gather(
            *(probe_rasa(self._http, url, self._rasa_token) for url in urls)
        )
        return any(answers)

    async def _actions_up(self) -> bool:
        return True if self._rasa_urls else await probe_actions(self._http, self._actions_url)

    async def check(self) -> HealthReport:
        redis_ok, rasa_ok, actions_ok = await asyncio.gather(
            probe_redis(self._redis), self.rasa_up(), self._actions_up()
        )
        if self._draining:
            status = HealthStatus.DRAINING
        elif redis_ok and rasa_ok and actions_ok:
            self._was_ready = True
            status = HealthStatus.READY
        elif self._was_ready or self._clock() > self._deadline:
            status = HealthStatus.DEGRADED
        else:
            status = HealthStatus.STARTING
        return HealthReport(status, redis_ok, rasa_ok, actions_ok)
