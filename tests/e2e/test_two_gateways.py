"""Two gateways on one Redis and one Rasa: a second `rathausbot serve` joins the first's
Redis and Rasa (`REDIS_URL`, `rasa_urls`; it starts neither). A citizen chats through the
second, which is then killed (SIGKILL); the widget reconnects through the first with its
token and the next message is answered there, with the transcript and Rasa's history
intact."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from channels.protocol import BotLine, SendText
from channels.sessions import token_key
from dialogue.messages import Role
from rathausbot.app import Runtime
from rathausbot.secrets import resolve_secrets
from tests.channels.chat_client import chat
from tests.e2e.conftest import Gateway
from tests.e2e.gateways import joined_env, launch, ready
from tests.redis_server import free_port

pytestmark = pytest.mark.slow

FIRST = "Wann hat das Bürgeramt geöffnet?"
SECOND = "Was kostet ein Personalausweis?"


async def test_a_chat_goes_on_through_another_gateway(
    gateway: Gateway, rt: Runtime, tmp_path: Path
) -> None:
    secrets = resolve_secrets(gateway.settings)
    port = free_port()
    env = joined_env(gateway, tmp_path / "var", port=port)
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
