"""A browser call that may only use a TURN relay: Debian's coturn with time-limited
credentials (use-auth-secret, as the gateway hands them out) between an aiortc "browser"
and the gateway's browser calls."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aioice.ice import get_host_addresses
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from channels.signalling import turn_credentials
from tests.redis_server import free_port
from tests.telephony.test_webrtc import Browser, Calls, tone, until

TURNSERVER = shutil.which("turnserver")
SECRET = "turn-test-secret"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TURNSERVER is None, reason="coturn is not installed (make setup-test)"),
]


@dataclass
class Turn:
    port: int
    log: Path


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Turn]:
    """coturn on loopback for the client, relaying from this host's first address."""
    relay_ip = get_host_addresses(use_ipv4=True, use_ipv6=False)[0]
    port = free_port()
    low = 49160 + port % 10000
    log = tmp_path / "turn.log"
    conf = tmp_path / "turnserver.conf"
    conf.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                f"listening-port={port}",
                f"relay-ip={relay_ip}",
                f"min-port={low}",
                f"max-port={low + 20}",
                "use-auth-secret",
                f"static-auth-secret={SECRET}",
                "realm=rathausbot.test",
                "allow-loopback-peers",  # a test on one machine (coturn denies them by default)
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                f"userdb={tmp_path / 'turndb'}",
                f"pidfile={tmp_path / 'turn.pid'}",
                f"log-file={log}",
                "simple-log",
                "verbose",  # logs each allocation
                "",
            ]
        )
    )
    assert TURNSERVER is not None
    process = subprocess.Popen(
        [TURNSERVER, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(100):  # at most 10 s for its listener
            if log.exists() and "listener opened on" in log.read_text(errors="replace"):
                break
            assert process.poll() is None, log.read_text(errors="replace")
            time.sleep(0.1)
        yield Turn(port, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_relay_only_call_connects_through_coturn(coturn: Turn) -> None:
    creds = turn_credentials(SECRET.encode(), now=time.time(), ttl_s=600, tag="rbtest")
    server = RTCIceServer(
        urls=f"turn:127.0.0.1:{coturn.port}?transport=udp",
        username=creds.username,
        credential=creds.password,
    )
    config = RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    calls, browser = Calls(), Browser(config)
    try:
        offer = await browser.offer()
        candidates = [line for line in offer.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(" typ relay" in line for line in candidates), candidates
        answer = await calls.calls.answer(offer, session_id="chat-1", address="a")
        await browser.accept(answer.sdp, answer.type)
        call = calls.calls.call(answer.call_id)
        assert call is not None
        assert await until(call.connected.is_set)
        await browser.mic.play(tone(1.0))
        assert await until(lambda: bool(calls.sessions) and calls.sessions[0].loud() >= 10)
        assert calls.calls.hangup(answer.call_id)
        assert await until(lambda: calls.calls.running == 0)
    finally:
        await browser.close()
        await calls.calls.aclose()
    assert "ALLOCATE processed, success" in coturn.log.read_text(errors="replace")


async def test_wrong_credentials_get_no_relay(coturn: Turn) -> None:
    creds = turn_credentials(b"not-the-secret", now=time.time(), ttl_s=600, tag="rbtest")
    server = RTCIceServer(
        urls=f"turn:127.0.0.1:{coturn.port}?transport=udp",
        username=creds.username,
        credential=creds.password,
    )
    config = RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    browser = Browser(config)
    try:
        offer = await browser.offer()
    except Exception:  # aioice raises when the allocation is refused
        offer = ""
    finally:
        await browser.close()
    assert " typ relay" not in offer
