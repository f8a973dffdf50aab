"""The metrics listener on its own port, the sampler of probed gauges and the JSON log lines."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contract.records import OPEN_CASES_KEY, WEBHOOK_QUEUE_KEY
from dialogue.telemetry import CURRENT_SESSION, Service, Telemetry
from rathausbot.app import port_free
from rathausbot.observe import JsonLines, MetricsListener, Sampler
from tests.redis_server import free_port


def value(t: Telemetry, name: str, **labels: str) -> float | None:
    return t.registry.get_sample_value(name, labels)


async def test_the_listener_serves_the_registry_and_frees_its_port() -> None:
    t = Telemetry()
    t.turn("chat", fallback=False, handoff_reasons=())
    port = free_port()
    async with MetricsListener(t, host="127.0.0.1", port=port) as listener:
        assert listener.port == port
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert 'rathausbot_turns_total{channel="chat"} 1.0' in response.text
    assert port_free(port)


@pytest.mark.parametrize("port", [0, 65536])
def test_the_listener_needs_a_real_port(port: int) -> None:
    with pytest.raises(ValueError, match="port"):
        MetricsListener(Telemetry(), host="127.0.0.1", port=port)


async def test_a_sample_reads_probes_counts_cases_and_the_webhook_queue(redis: Redis) -> None:
    t = Telemetry()
    await redis.zadd(OPEN_CASES_KEY, {"case-a": 1.0, "case-b": 2.0})
    await redis.rpush(WEBHOOK_QUEUE_KEY, "x", "y", "z")
    chats = [3]

    async def up() -> bool:
        return True

    async def down() -> bool:
        return False

    sampler = Sampler(
        t,
        redis,
        {Service.REDIS: up, Service.RASA: down},
        counts={t.chats_active: lambda: chats[0]},
    )
    await sampler.sample()
    assert value(t, "rathausbot_cases_waiting") == 2
    assert value(t, "rathausbot_webhook_queue_length") == 3
    assert value(t, "rathausbot_service_up", service="redis") == 1
    assert value(t, "rathausbot_service_up", service="rasa") == 0
    assert value(t, "rathausbot_chats_active") == 3
    chats[0] = 0
    await redis.zrem(OPEN_CASES_KEY, "case-a")
    await sampler.sample()
    assert value(t, "rathausbot_chats_active") == 0
    assert value(t, "rathausbot_cases_waiting") == 1


async def test_a_sample_without_redis_keeps_the_last_values() -> None:
    t = Telemetry()
    t.cases_waiting.set(7)
    broken = Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))

    async def down() -> bool:
        return False

    await Sampler(t, broken, {Service.REDIS: down}).sample()
    await broken.aclose()
    assert value(t, "rathausbot_cases_waiting") == 7
    assert value(t, "rathausbot_service_up", service="redis") == 0


async def test_the_loop_lag_is_how_late_the_sleep_ended(redis: Redis) -> None:
    t = Telemetry()
    # every round asks at a whole second and wakes 0.75 s later: 0.5 s later than the 0.25
    ticks = itertools.chain.from_iterable((n, n + 0.75) for n in itertools.count(10))
    sampler = Sampler(t, redis, {}, interval_s=0.25, clock=lambda: next(ticks))
    task = asyncio.create_task(sampler.run())
    for _ in range(200):  # bounded: the first round ends after one 0.25 s sleep
        if value(t, "rathausbot_event_loop_lag_seconds") == 0.5:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert value(t, "rathausbot_event_loop_lag_seconds") == 0.5


@pytest.mark.parametrize("interval", [0.04, 301.0])
def test_the_sampler_interval_is_bounded(interval: float, redis: Redis) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        Sampler(Telemetry(), redis, {}, interval_s=interval)


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("rathausbot.test", logging.WARNING, __file__, 1, message, args, None)


def test_json_lines_carry_the_session_of_the_context() -> None:
    formatter = JsonLines()
    outside = json.loads(formatter.format(record("turn on %s", "webchat")))
    assert outside["message"] == "turn on webchat"
    assert outside["level"] == "WARNING"
    assert "session" not in outside
    token = CURRENT_SESSION.set("sip-abc123")
    try:
        inside = json.loads(formatter.format(record("recognition failed")))
    finally:
        CURRENT_SESSION.reset(token)
    assert inside["session"] == "sip-abc123"


def test_json_lines_name_an_exception_by_type_only() -> None:
    try:
        raise ValueError("Herr Müller, Hauptstraße 5")
    except ValueError:
        entry = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonLines().format(entry)
    assert json.loads(line)["exception"] == "ValueError"
    assert "Müller" not in line
