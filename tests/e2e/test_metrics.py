"""`/metrics` of the real gateway after real chat traffic: the values move, the names pass
`promtool check metrics`, no label carries a session id, and the public port has no metrics."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from channels.protocol import SendText
from channels.sessions import token_key
from rathausbot.app import Runtime
from tests.channels.chat_client import chat
from tests.e2e.conftest import Gateway

LABELS = {"channel", "stage", "service", "reason", "kind", "le"}


def scrape(gateway: Gateway) -> str:
    port = gateway.settings.metrics_port
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def wait_for(gateway: Gateway, name: str, wanted: float, **labels: str) -> str:
    """Scrapes until `name` shows `wanted` (the sampler writes every 5 s); bounded."""
    text = ""
    for _ in range(40):
        text = await asyncio.to_thread(scrape, gateway)
        if get(text, name, **labels) == wanted:
            break
        await asyncio.sleep(0.5)
    return text


async def test_metrics_move_with_chat_traffic(gateway: Gateway, rt: Runtime) -> None:
    before = await asyncio.to_thread(scrape, gateway)
    url = gateway.url.replace("http://", "ws://") + "/ws/chat"
    async with chat(url) as client:
        await client.hello()
        await client.turn(SendText("m1", "Wann hat das Bürgeramt geöffnet?"))
        await client.turn(SendText("m2", "Ich möchte mit einem Menschen sprechen"))
        session_id = await rt.redis.get(token_key(client.token or ""))
        assert isinstance(session_id, str) and session_id
        during = await wait_for(gateway, "rathausbot_chats_active", 1.0)
        assert get(during, "rathausbot_chats_active") == 1.0
    after = await wait_for(gateway, "rathausbot_chats_active", 0.0)
    assert get(after, "rathausbot_chats_active") == 0.0

    turns = "rathausbot_turns_total"
    assert get(after, turns, channel="chat") - get(before, turns, channel="chat") == 2
    rasa = "rathausbot_stage_seconds_count"
    assert get(after, rasa, stage="rasa") - get(before, rasa, stage="rasa") >= 3  # greeting too
    handoffs = sum(v for (n, _), v in samples(after).items() if n == "rathausbot_handoffs_total")
    handoffs_before = sum(
        v for (n, _), v in samples(before).items() if n == "rathausbot_handoffs_total"
    )
    assert handoffs - handoffs_before == 1
    assert get(after, "rathausbot_cases_waiting") >= 1  # the case the handoff opened
    assert get(after, "rathausbot_service_up", service="redis") == 1
    assert get(after, "rathausbot_service_up", service="rasa") == 1
    assert get(after, "rathausbot_draining") == 0
    assert "rathausbot_event_loop_lag_seconds" in after
    assert "rathausbot_webhook_queue_length" in after

    for (name, labels), _ in samples(after).items():
        if name.startswith("rathausbot_"):
            assert {k for k, _ in labels} <= LABELS, name
        assert all(session_id not in v for _, v in labels)

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: run `make setup-test` (Debian package prometheus)")
    done = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=after.encode(),
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_public_port_serves_no_metrics(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/metrics", timeout=10)
    assert response.status_code == 404
    assert "rathausbot_" not in response.text
