"""Runs a child process (Redis, Rasa, the action server) and restarts it when it crashes."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[bool]]
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Children get SIGTERM when the gateway dies, so none outlives it unnoticed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    log_path: Path
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)


class SupervisedProcess:
    """Keeps one child running: start, wait until its probe answers, restart with backoff.

    `run()` is owned by the caller's task group; `stop()` ends it and the child.
    """

    def __init__(
        self,
        spec: ProcessSpec,
        probe: Probe,
        *,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 60.0,
    ) -> None:
        self.spec = spec
        self._probe = probe
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._stable_after_s = stable_after_s
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._started = asyncio.Event()
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.returncode is None else None

    async def start(self) -> None:
        """Starts the child once (used by `run`, and by tests that need no restarts)."""
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                cwd=self.spec.cwd,
                env={**os.environ, **self.spec.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._started.set()
        log.info(
            "%s started (pid %d, log %s)", self.spec.name, self._process.pid, self.spec.log_path
        )

    async def run(self) -> None:
        """Runs the child until `stop()`, restarting it after a crash with growing delays."""
        delay = self._backoff_initial_s
        while not self._stopping:
            if self._process is None or self._process.returncode is not None:
                await self.start()
            assert self._process is not None
            started = time.monotonic()
            code = await self._process.wait()
            if self._stopping:
                return
            if time.monotonic() - started > self._stable_after_s:
                delay = self._backoff_initial_s
            self.restarts += 1
            log.error(
                "%s exited with code %s; restarting in %.0f s (see %s)",
                self.spec.name,
                code,
                delay,
                self.spec.log_path,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max_s)

    async def wait_ready(self, timeout_s: float) -> bool:
        """Waits until the probe answers; False on timeout. Startup only, never a hot path."""
        deadline = time.monotonic() + timeout_s
        await asyncio.wait_for(self._started.wait(), timeout_s)
        while time.monotonic() < deadline:
            if await self._probe():
                return True
            await asyncio.sleep(0.25)
        return False

    async def ready(self) -> bool:
        return await self._probe()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stops the child: SIGTERM to its process group, SIGKILL after `grace_s`."""
        self._stopping = True
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            log.warning("%s did not stop in %.0f s; killing it", self.spec.name, grace_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        log.info("%s stopped", self.spec.name)

    def kill(self) -> None:
        """Kills the child abruptly (tests use it to simulate a crash)."""
        if self._process is not None and self._process.returncode is None:
            os.killpg(self._process.pid, signal.SIGKILL)
