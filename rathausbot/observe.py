"""Operations: the Prometheus listener (its own loopback port, never the public one), the
sampler of gauges that need a probe, and JSON-lines logging with the session of the context."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from wsgiref.simple_server import WSGIServer

from prometheus_client import Gauge, start_wsgi_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contract.records import OPEN_CASES_KEY, WEBHOOK_QUEUE_KEY
from dialogue.tasks import raise_if_cancelled
from dialogue.telemetry import CURRENT_SESSION, Service, Telemetry

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[bool]]


class MetricsListener:
    """Serves the registry of `telemetry` on `host:port` from a thread of its own, so a
    scrape is answered even while the event loop is busy. `async with` opens and closes it."""

    def __init__(self, telemetry: Telemetry, *, host: str, port: int) -> None:
        if not 1 <= port <= 65535:
            raise ValueError("port must be 1 to 65535")
        self._telemetry = telemetry
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the configured one)."""
        return self._server.server_port if self._server is not None else self._port

    async def __aenter__(self) -> MetricsListener:
        self._server, self._thread = start_wsgi_server(
            self._port, self._host, registry=self._telemetry.registry
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)


class Sampler:
    """Every `interval_s`: service health, open cases, the webhook queue, the `counts` (read on
    the event loop, e.g. calls and chats active) and the event loop's lag (how much later than
    asked the sampler's own sleep ended)."""

    def __init__(
        self,
        telemetry: Telemetry,
        redis: Redis,
        probes: dict[Service, Probe],
        *,
        counts: dict[Gauge, Callable[[], int]] | None = None,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.05 <= interval_s <= 300:
            raise ValueError("interval_s must be 0.05 to 300 seconds")
        self._telemetry = telemetry
        self._redis = redis
        self._probes = probes
        self.counts = dict(counts or {})
        self._interval_s = interval_s
        self._clock = clock

    async def sample(self) -> None:
        """One round of probes and Redis reads (a Redis error leaves those gauges as they were)."""
        for gauge, read in self.counts.items():
            gauge.set(read())
        services = list(self._probes)
        results = await asyncio.gather(*(self._probes[s]() for s in services))
        for service, up in zip(services, results, strict=True):
            self._telemetry.service_up(service, up)
        try:
            waiting = await self._redis.zcard(OPEN_CASES_KEY)
            queued = await self._redis.llen(WEBHOOK_QUEUE_KEY)
        except RedisError as exc:
            log.debug("metrics sample without Redis: %s", type(exc).__name__)
            return
        self._telemetry.cases_waiting.set(waiting)
        self._telemetry.webhook_queue.set(queued)

    async def run(self) -> None:
        """Samples until cancelled."""
        while True:
            await self.sample()
            raise_if_cancelled()
            asked = self._clock()
            await asyncio.sleep(self._interval_s)
            lag = self._clock() - asked - self._interval_s
            self._telemetry.loop_lag.set(max(lag, 0.0))


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message and, inside a call or chat
    turn, its session id (`session`). Exceptions go as their type only (no local values)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        session = CURRENT_SESSION.get()
        if session is not None:
            entry["session"] = session
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)
