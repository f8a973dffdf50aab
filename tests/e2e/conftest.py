"""The real thing: `rathausbot serve` (embedded Redis, Rasa, action server) as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from rathausbot.app import Runtime, port_free, runtime
from rathausbot.settings import Settings
from rathausbot.training import train
from tests.e2e.gateways import REPO, launch
from tests.e2e.webhook_receiver import WebhookReceiver
from tests.redis_server import free_port

START_TIMEOUT_S = 300


@dataclass
class Gateway:
    settings: Settings
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    health_seen: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    webhooks: WebhookReceiver | None = None  # receives tickets (its first request fails)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def isolated_settings(var_dir: Path) -> tuple[Settings, dict[str, str]]:
    """Settings on free ports with their own var/, and the environment that says the same."""
    values = {
        "var_dir": var_dir,
        "intents_dir": REPO / "intents",
        "rasa_venv": REPO / ".venv-rasa",
        "port": free_port(),
        "redis_port": free_port(),
        "rasa_port": free_port(),
        "actions_port": free_port(),
        "sip_port": free_port(),
        "metrics_port": free_port(),
        # the chat load test opens 200 sessions from one address at once, and Rasa on a
        # busy 2-core machine then answers in seconds, not milliseconds
        "webchat_max_connections_per_ip": 1000,
        "webchat_new_session_burst": 100_000,  # the same for new sessions
        "webchat_new_sessions_per_minute": 100_000,
        "rasa_timeout_s": 60.0,
        "rasa_start_timeout_s": 600.0,  # loading the model took over 180 s under load
    }
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("RATHAUSBOT_") and k != "REDIS_URL"
    }
    env.update({f"RATHAUSBOT_{k.upper()}": str(v) for k, v in values.items()})
    env["RATHAUSBOT_CONFIG"] = str(var_dir / "no-config.toml")
    env["RATHAUSBOT_LOG_LEVEL"] = "DEBUG"  # the strictest test of what logs may carry
    return Settings(**values), env  # type: ignore[arg-type]


def listening_process(port: int) -> psutil.Process:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise LookupError(f"nothing listens on port {port}")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    var_dir = tmp_path_factory.mktemp("gateway-var")
    settings, env = isolated_settings(var_dir)
    train(settings)  # a no-op when `make test` trained already
    webhooks = WebhookReceiver(fail_first=1)
    webhooks.start()
    env["RATHAUSBOT_WEBHOOK_TICKETS_URL"] = webhooks.url
    log_path = var_dir / "serve.log"
    process = launch(env, log_path)
    gw = Gateway(settings, env, process, log_path, webhooks=webhooks)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"rathausbot serve exited with {process.returncode}:\n{gw.log_tail()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"rathausbot serve was not ready in {START_TIMEOUT_S} s:\n{gw.log_tail()}")
        try:
            response = httpx.get(f"{gw.url}/healthz", timeout=5)
            gw.health_seen.append((response.status_code, response.json()))
            if response.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    yield gw
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"rathausbot serve did not stop on SIGTERM:\n{gw.log_tail()}")
    webhooks.stop()
    ports = [settings.port, settings.redis_port, settings.rasa_port, settings.actions_port]
    assert code == 0, gw.log_tail()
    busy = [p for p in ports if not port_free(p)]
    assert not busy, f"ports {busy} still in use: a child process outlived serve"


@pytest.fixture
async def rt(gateway: Gateway) -> AsyncIterator[Runtime]:
    """A dialogue core in the test process, joined to the gateway's Redis and Rasa."""
    async with runtime(gateway.settings, reuse=True) as rt:
        await rt.services.start()
        assert not rt.services.process("rasa"), "the test must use the gateway's Rasa"
        yield rt
