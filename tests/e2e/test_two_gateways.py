"""Two gateways on one Redis and one Rasa: a second `rathausbot serve` joins the first's
Redis and Rasa (`REDIS_URL`, `rasa_urls`; it starts neither). A citizen chats through the
second, which is then killed (SIGKILL); the widget reconnects through the first with its
token and the next message is answered there, with the transcript and Rasa's history
intact."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from channels.protocol import BotLine, SendText
from channels.sessions import token_key
from dialogue.messages import Role
from rathausbot.app import Runtime
from rathausbot.secrets import resolve_secrets
from tests.channels.chat_client import chat
from tests.e2e.conftest import REPO, Gateway
from tests.redis_server import free_port

pytestmark = pytest.mark.slow

FIRST = "Wann hat das Bürgeramt geöffnet?"
SECOND = "Was kostet ein Personalausweis?"


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def launch(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "rathausbot"), "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(240):  # bounded: 240 x 0.5 s
            assert process.poll() is None, tail(log)
            try:
                if (await http.get(f"{url}/healthz", timeout=5)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    pytest.fail(f"the second gateway never became ready:\n{tail(log)}")


async def test_a_chat_goes_on_through_another_gateway(
    gateway: Gateway, rt: Runtime, tmp_path: Path
) -> None:
    secrets = resolve_secrets(gateway.settings)
    port = free_port()
    env = {
        **gateway.env,
        "RATHAUSBOT_VAR_DIR": str(tmp_path / "var"),
        "RATHAUSBOT_PORT": str(port),
        "RATHAUSBOT_METRICS_PORT": str(free_port()),
        "REDIS_URL": (
            f"redis://:{secrets.redis_password}@127.0.0.1:{gateway.settings.redis_port}/0"
        ),
        "RATHAUSBOT_RASA_URLS": json.dumps([gateway.settings.rasa_url]),
        "RATHAUSBOT_RASA_TOKEN": secrets.rasa_token,
        "RATHAUSBOT_SIP_ENABLED": "false",
    }
    log = tmp_path / "second.log"
    second = launch(env, log)
    try:
        await ready(f"http://127.0.0.1:{port}", second, log)
        async with chat(f"ws://127.0.0.1:{port}/ws/chat") as client:
            await client.hello()
            frames = await client.turn(SendText("a1", FIRST))
            assert any(isinstance(f, BotLine) and f.text for f in frames)
            token = client.token
            assert token
            second.send_signal(signal.SIGKILL)  # the gateway dies under the citizen
            second.wait(timeout=30)
        url = gateway.url.replace("http://", "ws://") + "/ws/chat"
        async with chat(url) as client:
            welcome = await client.hello(token)
            assert client.welcome is not None and client.welcome.resumed, welcome
            frames = await client.turn(SendText("a2", SECOND))
            assert any(isinstance(f, BotLine) and f.text for f in frames)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    session = await rt.redis.get(token_key(token))
    assert isinstance(session, str)
    users = [r.text for r in await rt.store.transcript(session) if r.role is Role.USER]
    assert users == [FIRST, SECOND]
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{gateway.settings.rasa_url}/conversations/{session}/tracker",
            params={"token": secrets.rasa_token},
            timeout=30,
        )
    said = [e["text"] for e in response.json()["events"] if e.get("event") == "user"]
    assert said[-2:] == [FIRST, SECOND]
