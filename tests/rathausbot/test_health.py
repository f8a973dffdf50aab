from __future__ import annotations

import httpx
from redis.asyncio import Redis

from rathausbot.health import HealthMonitor
from rathausbot.http import create_app


class Services:
    """Answers Rasa's /status and the action server's /health as a test flips them."""

    def __init__(self) -> None:
        self.rasa = False
        self.actions = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "rasa" and request.url.path == "/status":
            if not self.rasa:
                raise httpx.ConnectError("down", request=request)
            if request.url.params.get("token") != "t0ken":
                return httpx.Response(401)
            return httpx.Response(200, json={"model_file": "m.tar.gz"})
        if request.url.host == "actions" and request.url.path == "/health" and self.actions:
            return httpx.Response(200, json={"status": "ok"})
        raise httpx.ConnectError("down", request=request)


def make_monitor(redis: Redis, http: httpx.AsyncClient, now: list[float]) -> HealthMonitor:
    """A monitor of the fake services above, with a start timeout of 100 s on `now[0]`."""
    return HealthMonitor(
        redis=redis,
        http=http,
        rasa_url="http://rasa",
        rasa_token="t0ken",
        actions_url="http://actions",
        start_timeout_s=100,
        clock=lambda: now[0],
    )


async def test_healthz_starting_then_ready_then_degraded(redis: Redis) -> None:
    services = Services()
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handler))
    monitor = make_monitor(redis, http, [0.0])
    app = httpx.AsyncClient(
        transport=httpx.ASGITransport(create_app(health=monitor)), base_url="http://gw"
    )

    response = await app.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "starting", "redis": True, "rasa": False, "actions": False}

    services.rasa = services.actions = True
    response = await app.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "redis": True, "rasa": True, "actions": True}

    services.rasa = False
    response = await app.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "redis": True, "rasa": False, "actions": True}
    await app.aclose()
    await http.aclose()


async def test_a_start_that_takes_too_long_is_degraded(redis: Redis) -> None:
    now = [0.0]
    http = httpx.AsyncClient(transport=httpx.MockTransport(Services().handler))
    monitor = make_monitor(redis, http, now)
    assert (await monitor.check()).status.value == "starting"
    now[0] = 101.0
    assert (await monitor.check()).status.value == "degraded"
    await http.aclose()


async def test_others_see_the_status_and_only_loopback_or_the_token_the_details(
    redis: Redis,
) -> None:
    services = Services()
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handler))
    monitor = make_monitor(redis, http, [0.0])
    app = create_app(health=monitor, health_token="h3alth")
    details = {"status": "starting", "redis": True, "rasa": False, "actions": False}

    async def get(client: tuple[str, int], headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            return await c.get("/healthz", headers=headers)

    outside = ("192.0.2.7", 40000)
    loopback = ("127.0.0.1", 40000)
    cases = [
        (outside, {}, {"status": "starting"}),
        (outside, {"Authorization": "Bearer wrong"}, {"status": "starting"}),
        (outside, {"Authorization": "Bearer h3alth"}, details),
        (loopback, {}, details),
        (("::1", 40000), {}, details),
        (loopback, {"X-Forwarded-For": "192.0.2.7"}, {"status": "starting"}),  # via a proxy
        (loopback, {"Forwarded": "for=192.0.2.7"}, {"status": "starting"}),
        (("not-an-address", 1), {}, {"status": "starting"}),
    ]
    for client, headers, body in cases:
        response = await get(client, headers)
        assert response.status_code == 503
        assert response.json() == body, (client, headers)
    services.rasa = services.actions = True
    response = await get(outside, {})
    assert (response.status_code, response.json()) == (200, {"status": "ready"})
    monitor.drain()
    response = await get(outside, {})
    assert (response.status_code, response.json()) == (503, {"status": "draining"})
    response = await get(loopback, {})
    assert response.json() == {"status": "draining", "redis": True, "rasa": True, "actions": True}
    await http.aclose()


async def test_several_rasa_servers_are_up_while_one_answers(redis: Redis) -> None:
    services = Services()  # host "rasa" answers once switched on; "rasa-2" never does
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handler))
    monitor = HealthMonitor(
        redis=redis,
        http=http,
        rasa_url="http://local-rasa",
        rasa_token="t0ken",
        actions_url="http://actions",
        start_timeout_s=100,
        rasa_urls=("http://rasa-2", "http://rasa"),
    )
    report = await monitor.check()
    assert (report.rasa, report.actions) == (False, True)  # remote actions are not probed
    services.rasa = True
    report = await monitor.check()
    assert (report.rasa, report.actions, report.status.value) == (True, True, "ready")
    await http.aclose()
