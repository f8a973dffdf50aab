"""Two real Rasa servers on one Redis tracker and lock store, one action server. Through
`PinnedRasa` a conversation runs on the server its id is pinned to; that server is killed
(SIGKILL) and the conversation goes on on the other, with its history (the tracker in
Redis) intact. Heavy on 2 cores (two TensorFlow processes): marked slow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bench.rasa_servers import rasa_servers
from dialogue.messages import Channel
from dialogue.pinning import PinnedRasa, rank
from dialogue.rasa import RasaClient
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_a_conversation_survives_the_loss_of_its_rasa_server(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        async with rasa_servers(tmp_path / "var", redis.url, 2) as servers:
            urls = servers.urls
            session = next(f"pin-{n}" for n in range(100) if rank(f"pin-{n}", urls)[0] == 0)
            clients = [RasaClient(url, token=servers.token, timeout_s=60) for url in urls]
            engine = PinnedRasa(clients, urls)
            try:
                first = await engine.send(session, Channel.WEBCHAT, "Hallo")
                assert first.replies
                assert engine.order(session)[0] == 0 and engine.down() == []

                # SIGKILL between two turns: the conversation's server is gone (a request in
                # flight at that moment is not sent again; docs/deployment.md)
                await servers.crash(0)
                second = await engine.send(
                    session, Channel.WEBCHAT, "Wann hat das Bürgeramt geöffnet?"
                )
                assert second.replies and second.understanding.intent is not None
                assert engine.down() == [urls[0]]
            finally:
                await engine.aclose()
            async with httpx.AsyncClient() as http:
                response = await http.get(
                    f"{urls[1]}/conversations/{session}/tracker",
                    params={"token": servers.token},
                    timeout=30,
                )
            assert response.status_code == 200
            said = [e["text"] for e in response.json()["events"] if e.get("event") == "user"]
            assert said == ["Hallo", "Wann hat das Bürgeramt geöffnet?"]
    finally:
        redis.stop()
