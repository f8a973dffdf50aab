"""The drain on SIGTERM: health and metrics say so at once, the SIP agent refuses new calls,
the HTTP server is asked to stop when the last call ended or the limit passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from dialogue.telemetry import Telemetry
from rathausbot.drain import CHECK_S, Drain, Phase
from rathausbot.health import HealthMonitor, HealthStatus
from telephony.capacity import CallCapacity, CallKind
from telephony.sip.ua import SipConfig, UserAgent
from tests.telephony.sip_helpers import SDP
from tests.telephony.test_ua import FAST, Bot, uri


@pytest.fixture
async def health(redis: Redis) -> AsyncIterator[HealthMonitor]:
    async with httpx.AsyncClient() as http:
        yield HealthMonitor(
            redis=redis,
            http=http,
            rasa_url="http://127.0.0.1:1",
            rasa_token="t",
            actions_url="http://127.0.0.1:1",
            start_timeout_s=1,
        )


def drain(
    health: HealthMonitor, exits: list[int], timeout_s: float = 30
) -> tuple[Drain, Telemetry]:
    telemetry = Telemetry()
    d = Drain(
        health=health,
        telemetry=telemetry,
        request_exit=lambda: exits.append(1),
        timeout_s=timeout_s,
    )
    return d, telemetry


async def until(condition: object, tries: int = 200) -> None:
    for _ in range(tries):  # bounded: 200 x 25 ms
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.025)


async def test_without_calls_the_server_stops_at_once_and_a_second_signal_again(
    health: HealthMonitor,
) -> None:
    exits: list[int] = []
    d, telemetry = drain(health, exits)
    assert d.phase is Phase.SERVING
    d.begin()
    assert d.phase is Phase.DRAINING
    assert health.draining
    assert (await health.check()).status is HealthStatus.DRAINING
    assert telemetry.registry.get_sample_value("rathausbot_draining") == 1
    await until(lambda: exits)
    assert exits == [1]
    assert d.phase is Phase.STOPPING
    d.begin()  # a second signal: stop now (uvicorn then forces its exit)
    assert exits == [1, 1]
    await d.aclose()


async def test_a_running_call_holds_the_stop_until_it_ends(health: HealthMonitor) -> None:
    bot = Bot()
    server = UserAgent(SipConfig(port=0, timers=FAST), bot.on_call)
    phone = UserAgent(SipConfig(port=0, timers=FAST), bot.on_call)
    await server.start()
    await phone.start()
    try:
        call = await phone.invite(uri(server), SDP, timeout_s=5)
        exits: list[int] = []
        d, _ = drain(health, exits)
        d.agent = server
        d.begin()
        assert server.draining
        await asyncio.sleep(0.5)  # several checks pass while the call runs
        assert exits == []
        assert d.calls() == 1
        await call.bye()
        await until(lambda: exits)
        assert exits == [1]
        await d.aclose()
    finally:
        await phone.stop()
        await server.stop()


async def test_the_limit_stops_the_server_with_a_call_still_running(
    health: HealthMonitor,
) -> None:
    bot = Bot()
    server = UserAgent(SipConfig(port=0, timers=FAST), bot.on_call)
    phone = UserAgent(SipConfig(port=0, timers=FAST), bot.on_call)
    await server.start()
    await phone.start()
    try:
        await phone.invite(uri(server), SDP, timeout_s=5)
        exits: list[int] = []
        d, _ = drain(health, exits, timeout_s=0.3)
        d.agent = server
        d.begin()
        await until(lambda: exits)
        assert exits == [1]
        assert d.calls() == 1  # the agent's stop() ends it with BYE
        await d.aclose()
    finally:
        await phone.stop()
        await server.stop()


@pytest.mark.parametrize("timeout_s", [-0.1, 3600.1])
def test_the_limit_is_bounded(health: HealthMonitor, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        drain(health, [], timeout_s)


@pytest.mark.parametrize("timeout_s", [0.0, 3600.0])
def test_the_limit_takes_its_bounds(health: HealthMonitor, timeout_s: float) -> None:
    assert drain(health, [], timeout_s)[0].phase is Phase.SERVING


async def test_browser_calls_are_refused_and_waited_for_through_the_shared_count(
    health: HealthMonitor,
) -> None:
    capacity = CallCapacity(max_calls=4)
    assert capacity.take(CallKind.BROWSER)
    exits: list[int] = []
    refused: list[str] = []
    d = Drain(
        health=health,
        telemetry=Telemetry(),
        request_exit=lambda: exits.append(1),
        timeout_s=30,
        capacity=capacity,
    )
    d.on_drain.append(lambda: refused.append("browser"))
    d.begin()
    assert refused == ["browser"]
    assert d.calls() == 1
    for _ in range(20):  # the running browser call holds the stop
        await asyncio.sleep(CHECK_S / 4)
    assert exits == []
    capacity.release(CallKind.BROWSER)
    await until(lambda: exits)
    assert exits == [1]
    await d.aclose()
