"""WebRTC signalling routes: every refusal branch, on real Redis tokens and a fake call desk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from channels.sessions import TokenStore
from channels.signalling import (
    MAX_BODY_BYTES,
    IceConfig,
    SignalError,
    Signalling,
    SignallingLimits,
    SignalRefused,
    parse_offer,
    turn_credentials,
)
from tests.fakes import FakeCallDesk, FakeClock

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
SITE = "https://www.musterstadt.de"


@pytest.fixture
async def gateway(redis: Redis) -> AsyncIterator[tuple[httpx.AsyncClient, Signalling, str]]:
    tokens = TokenStore(redis, idle_s=600)
    token, _ = await tokens.create()
    signalling = Signalling(
        tokens=tokens,
        ice=IceConfig(
            stun_urls=("stun:turn.musterstadt.de:3478",),
            turn_urls=(
                "turn:turn.musterstadt.de:3478?transport=udp",
                "turns:turn.musterstadt.de:443?transport=tcp",
            ),
            turn_secret=b"geheim",
        ),
        limits=SignallingLimits(allowed_origins=frozenset({SITE}), offer_burst=3),
        desk=FakeCallDesk(),
        clock=FakeClock(),
        wall_clock=lambda: 1_700_000_000.0,
    )
    app = Starlette(routes=signalling.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client, signalling, token


def desk(signalling: Signalling) -> FakeCallDesk:
    assert isinstance(signalling.desk, FakeCallDesk)
    return signalling.desk


async def offer(client: httpx.AsyncClient, body: object, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/webrtc/offer", content=content, headers=headers)


async def test_an_offer_on_a_live_chat_session_is_answered(gateway, redis: Redis) -> None:
    client, signalling, token = gateway
    response = await offer(client, {"sdp": SDP, "type": "offer", "session_token": token})
    assert response.status_code == 200
    assert response.json() == {"sdp": "v=0\r\nanswer\r\n", "type": "answer", "call_id": "call-1"}
    session_id = await TokenStore(redis, idle_s=600).resolve(token)
    assert desk(signalling).offers == [(SDP, session_id, "127.0.0.1")]  # the chat's session
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", SignalError.BAD_JSON),
        (b"\xff\xfe", SignalError.BAD_JSON),
        (b"[]", SignalError.BAD_REQUEST),
        ({"type": "offer", "session_token": "t"}, SignalError.BAD_REQUEST),
        ({"sdp": SDP, "session_token": "t"}, SignalError.BAD_REQUEST),
        ({"sdp": SDP, "type": "answer", "session_token": "t"}, SignalError.BAD_REQUEST),
        ({"sdp": SDP, "type": "offer"}, SignalError.BAD_REQUEST),
        ({"sdp": 5, "type": "offer", "session_token": "t"}, SignalError.BAD_REQUEST),
        ({"sdp": "hello", "type": "offer", "session_token": "t"}, SignalError.BAD_OFFER),
        (
            {"sdp": SDP.replace("audio", "video"), "type": "offer", "session_token": "t"},
            SignalError.BAD_OFFER,
        ),
        ({"sdp": SDP, "type": "offer", "session_token": ""}, SignalError.UNKNOWN_SESSION),
        ({"sdp": SDP, "type": "offer", "session_token": "x" * 129}, SignalError.UNKNOWN_SESSION),
        ({"sdp": SDP, "type": "offer", "session_token": "unknown"}, SignalError.UNKNOWN_SESSION),
    ],
)
async def test_bad_requests_get_a_clear_german_error(
    gateway, body: object, error: SignalError
) -> None:
    client, signalling, _ = gateway
    response = await offer(client, body)
    assert response.status_code == error.status
    assert response.json() == {"error": error.value, "message": error.text}
    assert desk(signalling).offers == []


async def test_status_codes_and_texts_by_value() -> None:
    assert [(e.value, e.status) for e in SignalError] == [
        ("bad_json", 400),
        ("bad_request", 400),
        ("too_large", 413),
        ("origin_forbidden", 403),
        ("unknown_session", 403),
        ("rate_limited", 429),
        ("too_many_calls", 429),
        ("busy", 503),
        ("unavailable", 503),
        ("bad_offer", 400),
        ("unknown_call", 404),
    ]
    assert SignalError.BUSY.text.startswith("Alle Leitungen sind gerade belegt.")


async def test_the_sdp_limit_at_n_and_n_plus_1() -> None:
    limit = 2048
    fits = SDP + "a=x:" + "y" * (limit - len(SDP) - 6) + "\r\n"
    assert len(fits) == limit
    assert (
        parse_offer(
            json.dumps({"sdp": fits, "type": "offer", "session_token": "t"}).encode(),
            max_sdp_bytes=limit,
        ).sdp
        == fits
    )
    with pytest.raises(SignalRefused) as refused:
        parse_offer(
            json.dumps({"sdp": fits + "z", "type": "offer", "session_token": "t"}).encode(),
            max_sdp_bytes=limit,
        )
    assert refused.value.error is SignalError.TOO_LARGE


async def test_oversize_bodies_are_refused_before_they_are_read_whole(gateway) -> None:
    client, signalling, token = gateway
    big = {"sdp": SDP + "a=x\r\n" * 4000, "type": "offer", "session_token": token}
    assert (await offer(client, big)).status_code == 413  # SDP over its limit
    huge = b"{" + b" " * MAX_BODY_BYTES + b"}"
    response = await offer(client, huge)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert desk(signalling).offers == []


async def test_foreign_origins_are_refused_allowed_ones_get_cors(gateway) -> None:
    client, signalling, token = gateway
    body = {"sdp": SDP, "type": "offer", "session_token": token}
    response = await offer(client, body, origin="https://evil.example")
    assert response.status_code == 403 and response.json()["error"] == "origin_forbidden"
    assert "access-control-allow-origin" not in response.headers
    assert (
        await client.get("/webrtc/ice-servers", headers={"origin": "https://evil.example"})
    ).status_code == 403
    assert (
        await client.delete("/webrtc/call-1", headers={"origin": "https://evil.example"})
    ).status_code == 403
    preflight = await client.options("/webrtc/offer", headers={"origin": "https://evil.example"})
    assert preflight.status_code == 403
    assert desk(signalling).offers == []
    preflight = await client.options("/webrtc/offer", headers={"origin": SITE})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    response = await offer(client, body, origin=SITE)
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == SITE
    own = await offer(client, body, origin="http://gw.test")  # the gateway's own page
    assert own.status_code == 200


async def test_offers_per_address_are_rate_limited_at_n_and_n_plus_1(gateway) -> None:
    client, signalling, token = gateway
    body = {"sdp": SDP, "type": "offer", "session_token": token}
    for _ in range(3):  # the burst
        assert (await offer(client, body)).status_code == 200
    response = await offer(client, body)
    assert response.status_code == 429 and response.json()["error"] == "rate_limited"
    assert len(desk(signalling).offers) == 3


@pytest.mark.parametrize(
    "error", [SignalError.BUSY, SignalError.TOO_MANY_CALLS, SignalError.BAD_OFFER]
)
async def test_the_desk_refusing_is_passed_on(gateway, error: SignalError) -> None:
    client, signalling, token = gateway
    desk(signalling).refuse = error
    response = await offer(client, {"sdp": SDP, "type": "offer", "session_token": token})
    assert response.status_code == error.status and response.json()["error"] == error.value
    assert (response.headers.get("retry-after") == "30") is (error is SignalError.BUSY)


async def test_no_voice_engines_yet_means_unavailable(gateway) -> None:
    client, signalling, token = gateway
    signalling.desk = None
    response = await offer(client, {"sdp": SDP, "type": "offer", "session_token": token})
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert (await client.delete("/webrtc/call-1")).status_code == 404


async def test_a_draining_gateway_refuses_new_calls_and_still_hangs_up_running_ones(
    gateway,
) -> None:
    client, signalling, token = gateway
    body = {"sdp": SDP, "type": "offer", "session_token": token}
    assert (await offer(client, body)).status_code == 200
    assert not signalling.draining
    signalling.drain()
    response = await offer(client, body)
    assert response.status_code == 503 and response.json()["error"] == "unavailable"
    assert len(desk(signalling).offers) == 1  # the refused offer never reached the desk
    assert (await client.delete("/webrtc/call-1")).status_code == 204


async def test_hang_up_known_and_unknown_calls(gateway) -> None:
    client, signalling, token = gateway
    await offer(client, {"sdp": SDP, "type": "offer", "session_token": token})
    assert (await client.delete("/webrtc/call-1")).status_code == 204
    response = await client.delete("/webrtc/call-1")
    assert response.status_code == 404 and response.json()["error"] == "unknown_call"
    assert (await client.delete("/webrtc/" + "x" * 129)).status_code == 404
    await offer(client, {"sdp": SDP, "type": "offer", "session_token": token})
    assert (await client.post("/webrtc/call-2/hangup")).status_code == 204  # sendBeacon
    assert desk(signalling).calls == set()


async def test_ice_servers_with_time_limited_turn_credentials(gateway) -> None:
    client, _, _ = gateway
    response = await client.get("/webrtc/ice-servers")
    assert response.status_code == 200
    stun, turn = response.json()["iceServers"]
    assert stun == {"urls": ["stun:turn.musterstadt.de:3478"]}
    expiry, tag = turn["username"].split(":")
    assert int(expiry) == 1_700_003_600 and tag.startswith("rb")
    assert (
        turn["credential"]
        == turn_credentials(b"geheim", now=1_700_000_000, ttl_s=3600, tag=tag).password
    )
    assert turn["urls"][1] == "turns:turn.musterstadt.de:443?transport=tcp"


def test_turn_credentials_by_value() -> None:
    creds = turn_credentials(b"geheim", now=1_700_000_000.7, ttl_s=3600, tag="rbtest")
    assert creds.username == "1700003600:rbtest"
    assert creds.password == "KzuzIT99Ihxw4vuLXMZi7eP3v4o="  # openssl dgst -sha1 -hmac geheim


def test_ice_config_without_secret_gives_no_turn_and_checks_its_urls() -> None:
    assert IceConfig(turn_urls=("turn:t:3478",)).servers(now=0, tag="t") == []
    assert IceConfig().servers(now=0, tag="t") == []
    for bad in ({"stun_urls": ("http://x",)}, {"turn_urls": ("stun:x",)}, {"turn_ttl_s": 59}):
        with pytest.raises(ValueError):
            IceConfig(**bad)  # type: ignore[arg-type]
    assert IceConfig(turn_ttl_s=60).turn_ttl_s == 60


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_sdp_bytes"):
        SignallingLimits(max_sdp_bytes=1023)
    with pytest.raises(ValueError, match="offer_burst"):
        SignallingLimits(offer_burst=0)
