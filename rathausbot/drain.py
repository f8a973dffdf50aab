"""Graceful stop on SIGTERM: take no new calls or chats, let running calls end up to a limit,
then stop the HTTP server (which gives chat turns in progress `rasa_timeout_s` + 5 s to
finish and closes the rest)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import Enum

from dialogue.tasks import cancel_and_wait
from dialogue.telemetry import Telemetry
from rathausbot.health import HealthMonitor
from telephony.capacity import CallCapacity
from telephony.sip.ua import UserAgent

log = logging.getLogger(__name__)

CHECK_S = 0.2  # how often the drain looks whether the last call ended


class Phase(Enum):
    SERVING = "serving"
    DRAINING = "draining"
    STOPPING = "stopping"


class Drain:
    """Owned by `serve`: `begin()` (the signal handler) starts the drain; a second signal
    stops at once. `agent` is set once the hotline is open; `on_drain` callbacks refuse other
    new calls (browser calls). `capacity`, when given, counts the running SIP and browser
    calls the drain waits for. `aclose()` cancels the drain."""

    def __init__(
        self,
        *,
        health: HealthMonitor,
        telemetry: Telemetry,
        request_exit: Callable[[], None],
        timeout_s: float,
        capacity: CallCapacity | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= timeout_s <= 3600:
            raise ValueError("timeout_s must be 0 to 3600 seconds")
        self._health = health
        self._telemetry = telemetry
        self._request_exit = request_exit
        self._timeout_s = timeout_s
        self._clock = clock
        self._capacity = capacity
        self.agent: UserAgent | None = None
        self.on_drain: list[Callable[[], None]] = []
        self.phase = Phase.SERVING
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """SIGTERM or SIGINT: the first drains, the second stops now."""
        if self.phase is not Phase.SERVING:
            self._stop()
            return
        self.phase = Phase.DRAINING
        self._health.drain()
        self._telemetry.draining.set(1)
        if self.agent is not None:
            self.agent.drain()
        for refuse_new_calls in self.on_drain:
            refuse_new_calls()
        self._task = asyncio.create_task(self._run(), name="drain")

    def calls(self) -> int:
        if self._capacity is not None:
            return self._capacity.total
        return self.agent.stats()["calls"] if self.agent is not None else 0

    async def _run(self) -> None:
        deadline = self._clock() + self._timeout_s
        calls = self.calls()
        log.info("draining: %d call(s) may finish within %.0f s", calls, self._timeout_s)
        while calls and self._clock() < deadline:
            await asyncio.sleep(CHECK_S)
            calls = self.calls()
        if calls:
            log.warning("drain limit reached: %d call(s) are ended", calls)
        self._stop()

    def _stop(self) -> None:
        self.phase = Phase.STOPPING
        self._request_exit()

    async def aclose(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
