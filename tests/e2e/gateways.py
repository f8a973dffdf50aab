"""`rathausbot serve` processes for the end-to-end tests: the session's gateway
(tests/e2e/conftest.py) and more beside it, each joining its Redis and Rasa (`REDIS_URL`,
`rasa_urls`; it starts neither) on ports and a var/ of its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from rathausbot.secrets import resolve_secrets
from tests.redis_server import free_port

if TYPE_CHECKING:  # conftest imports this module
    from tests.e2e.conftest import Gateway

REPO = Path(__file__).resolve().parents[2]


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def joined_env(gateway: Gateway, var_dir: Path, **values: object) -> dict[str, str]:
    """The environment of a gateway on the session gateway's Redis and Rasa; `values` are
    more settings (`port=...` becomes `RATHAUSBOT_PORT`)."""
    secrets = resolve_secrets(gateway.settings)
    settings: dict[str, object] = {
        "var_dir": var_dir,
        "port": free_port(),
        "metrics_port": free_port(),
        "rasa_urls": json.dumps([gateway.settings.rasa_url]),
        "rasa_token": secrets.rasa_token,
        "sip_enabled": "false",
        **values,
    }
    return {
        **gateway.env,
        **{f"RATHAUSBOT_{k.upper()}": str(v) for k, v in settings.items()},
        "REDIS_URL": (
            f"redis://:{secrets.redis_password}@127.0.0.1:{gateway.settings.redis_port}/0"
        ),
    }


def launch(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`rathausbot serve` with `env`, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "rathausbot"), "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Waits (bounded) until the gateway at `url` answers /healthz with 200."""
    async with httpx.AsyncClient() as http:
        for _ in range(480):  # bounded: 480 x 0.5 s
            assert process.poll() is None, tail(log)
            try:
                if (await http.get(f"{url}/healthz", timeout=5)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    pytest.fail(f"the gateway at {url} never became ready:\n{tail(log)}")
