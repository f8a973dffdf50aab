"""Two real Rasa servers on one Redis tracker and lock store, one action server. Through
`PinnedRasa` a conversation runs on the server its id is pinned to; that server is killed
(SIGKILL) and the conversation goes on on the other, with its history (the tracker in
Redis) intact. Heavy on 2 cores (two TensorFlow processes): marked slow."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dialogue.messages import Channel
from dialogue.pinning import PinnedRasa, rank
from dialogue.rasa import RasaClient
from rathausbot import services
from rathausbot.health import probe_actions, probe_rasa
from rathausbot.secrets import redis_target, resolve_secrets
from rathausbot.settings import Settings
from rathausbot.supervisor import ProcessSpec
from rathausbot.training import model_path, train
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 900  # two Rasa servers loading TensorFlow at once on a busy 2-core machine


@contextlib.contextmanager
def started(spec: ProcessSpec) -> Iterator[subprocess.Popen[bytes]]:
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    with spec.log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.argv, cwd=spec.cwd, env={**os.environ, **spec.env}, stdout=log, stderr=log
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def until_ready(http: httpx.AsyncClient, probe: object, what: str, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while loop.time() < deadline:  # bounded
        assert callable(probe)
        if await probe():
            return
        await asyncio.sleep(2)
    tail = await asyncio.to_thread(log.read_text)
    pytest.fail(f"{what} not ready in {READY_TIMEOUT_S} s:\n{tail[-3000:]}")


async def test_a_conversation_survives_the_loss_of_its_rasa_server(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    ports = (free_port(), free_port())
    base = {
        "var_dir": tmp_path / "var",
        "intents_dir": REPO / "intents",
        "rasa_venv": REPO / ".venv-rasa",
        "redis_url": f"redis://:{redis.password}@127.0.0.1:{redis.port}/0",
        "actions_port": free_port(),
    }
    settings = [Settings(**base, rasa_port=port) for port in ports]  # type: ignore[arg-type]
    train(settings[0])  # a no-op when the model is current
    secrets = resolve_secrets(settings[0])
    target = redis_target(settings[0], secrets)
    endpoints = services.write_endpoints(settings[0], target, token=secrets.rasa_token)
    model = model_path(settings[0].intents_dir)
    log = settings[0].var_dir / "log"
    rasa = [
        replace(
            services.rasa_server_spec(s, secrets, model, endpoints),
            log_path=log / f"rasa-{n}.log",
        )
        for n, s in enumerate(settings)
    ]
    urls = tuple(s.rasa_url for s in settings)
    session = next(f"pin-{n}" for n in range(100) if rank(f"pin-{n}", urls)[0] == 0)
    clients = [RasaClient(url, token=secrets.rasa_token, timeout_s=60) for url in urls]
    engine = PinnedRasa(clients, urls)
    stack = contextlib.AsyncExitStack()
    try:
        with (
            started(services.action_server_spec(settings[0], secrets, target)) as actions,
            started(rasa[0]) as home,
            started(rasa[1]),
        ):
            http = httpx.AsyncClient()
            stack.push_async_callback(http.aclose)
            await until_ready(
                http,
                lambda: probe_actions(http, settings[0].actions_url),
                "action server",
                log / "actions.log",
            )
            for n, url in enumerate(urls):
                await until_ready(
                    http,
                    lambda url=url: probe_rasa(http, url, secrets.rasa_token),
                    url,
                    rasa[n].log_path,
                )
            assert actions.poll() is None
            first = await engine.send(session, Channel.WEBCHAT, "Hallo")
            assert first.replies
            assert engine.order(session)[0] == 0 and engine.down() == []

            home.kill()  # SIGKILL: the conversation's server is gone
            home.wait()
            second = await engine.send(session, Channel.WEBCHAT, "Wann hat das Bürgeramt geöffnet?")
            assert second.replies and second.understanding.intent is not None
            assert engine.down() == [urls[0]]

            response = await http.get(
                f"{urls[1]}/conversations/{session}/tracker",
                params={"token": secrets.rasa_token},
                timeout=30,
            )
            assert response.status_code == 200
            said = [e["text"] for e in response.json()["events"] if e.get("event") == "user"]
            assert said == ["Hallo", "Wann hat das Bürgeramt geöffnet?"]
    finally:
        await stack.aclose()
        await engine.aclose()
        redis.stop()
