"""Several real Rasa servers on one Redis (tracker and lock store) and one action server,
for the scale-out test and benchmarks; and an embedded Redis of their own. Started once each
(no restarts), stopped on exit."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe

import httpx
from redis.asyncio import Redis

from rathausbot import services
from rathausbot.health import probe_actions, probe_rasa, probe_redis
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings
from rathausbot.supervisor import SupervisedProcess
from rathausbot.training import model_path, train

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 900  # several Rasa servers loading TensorFlow at once on 2 busy cores


@dataclass
class RasaServers:
    urls: tuple[str, ...]
    token: str
    processes: list[SupervisedProcess]

    async def crash(self, index: int) -> None:
        """SIGKILL to Rasa server `index` (a crash); returns once it is gone."""
        self.processes[index].kill()
        await self.processes[index].stop(grace_s=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def embedded_redis(var_dir: Path) -> AsyncIterator[str]:
    """An embedded Redis on a free loopback port with a fresh password; yields its URL."""
    password = token_urlsafe(16)
    settings = Settings(var_dir=var_dir, redis_port=free_port())
    url = f"redis://:{password}@127.0.0.1:{settings.redis_port}/0"
    client = Redis.from_url(url)
    redis = SupervisedProcess(
        services.embedded_redis_spec(settings, password), lambda: probe_redis(client)
    )
    await redis.start()
    try:
        if not await redis.wait_ready(30):
            raise RuntimeError("the benchmark's Redis did not start")
        yield url
    finally:
        await client.aclose()
        await redis.stop()


@contextlib.asynccontextmanager
async def rasa_servers(var_dir: Path, redis_url: str, count: int) -> AsyncIterator[RasaServers]:
    """`count` Rasa servers on `redis_url` with one action server; logs in `var_dir/log`."""
    base = Settings(
        var_dir=var_dir,
        intents_dir=REPO / "intents",
        rasa_venv=REPO / ".venv-rasa",
        redis_url=redis_url,
        actions_port=free_port(),
        rasa_port=free_port(),
    )
    settings = [base] + [
        base.model_copy(update={"rasa_port": free_port()}) for _ in range(1, count)
    ]
    train(base)  # a no-op when the model is current
    secrets = resolve_secrets(base)
    target = redis_target(base, secrets)
    endpoints = services.write_endpoints(base, target, token=secrets.rasa_token)
    model = model_path(base.intents_dir)
    started: list[SupervisedProcess] = []
    async with httpx.AsyncClient() as http:
        try:
            actions = SupervisedProcess(
                services.action_server_spec(base, secrets, target),
                lambda: probe_actions(http, base.actions_url),
            )
            started.append(actions)
            rasa = []
            for n, s in enumerate(settings):
                spec = services.rasa_server_spec(s, secrets, model, endpoints)
                spec = dataclasses.replace(spec, log_path=var_dir / "log" / f"rasa-{n}.log")
                rasa.append(
                    SupervisedProcess(
                        spec, lambda url=s.rasa_url: probe_rasa(http, url, secrets.rasa_token)
                    )
                )
            started += rasa
            for process in started:
                await process.start()
            for process in started:
                if not await process.wait_ready(READY_TIMEOUT_S):
                    log = process.spec.log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{process.spec.name} not ready:\n{log}")
            yield RasaServers(tuple(s.rasa_url for s in settings), secrets.rasa_token, rasa)
        finally:
            for process in reversed(started):
                await process.stop()
