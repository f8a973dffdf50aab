"""Kamailio (Debian package) with docker/kamailio/kamailio.cfg in front of two real gateways
(`rathausbot serve` on loopback ports, joined to the session gateway's Redis and Rasa, with
the proxy as their trusted SIP source as docs/deployment.md says). sipp places 12 calls
through the proxy: both gateways take some (each counts them in `rathausbot_calls_total`).
A rolling restart follows: gateway A drains (SIGTERM) with a call running: it answers
OPTIONS with 503, takes none of the next calls, and exits once its call ended; it is
started again and the proxy takes it back in. Then gateway B is killed (SIGKILL): the proxy
fails over and every call is answered by A."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telephony.sip.ua import SipConfig, UserAgent
from tests.e2e.conftest import Gateway
from tests.e2e.gateways import joined_env, launch, ready, tail
from tests.telephony.sip_helpers import SDP
from tests.telephony.test_sipp import free_media_port, free_port
from tests.telephony.test_ua import options_request, udp_exchange

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "docker" / "kamailio" / "kamailio.cfg"
SCENARIO = Path(__file__).parent / "kamailio" / "uac_via_proxy.xml"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} missing: run `make setup-test` (Debian {package})")
    return found


@contextlib.asynccontextmanager
async def process(*argv: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child in its own process group; the whole group is ended on the way out (Kamailio
    forks workers that would outlive a killed main process)."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=out, start_new_session=True
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers that ignored SIGTERM


async def probe(port: int, call_id: str, timeout_s: float = 3.0) -> int:
    reply = await asyncio.to_thread(
        udp_exchange, ("127.0.0.1", port), options_request(call_id), timeout_s
    )
    return reply.status


async def place_calls(proxy: int, calls: int, tmp: Path, name: str) -> None:
    errors = tmp / f"sipp-{name}-errors.log"
    command = [
        tool("sipp", "sip-tester"), f"127.0.0.1:{proxy}", "-sf", str(SCENARIO),
        "-s", "hotline", "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_media_port()),
        "-m", str(calls), "-l", str(calls), "-r", "4",
        "-timeout", "90s", "-timeout_error", "-nostdin", "-max_recv_loops", "1000",
        "-trace_err", "-error_file", str(errors),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
    assert proc.returncode == 0, f"sipp {name}: rc {proc.returncode}\n{stderr!r}\n{log}"


@dataclass
class SipGateway:
    """One `rathausbot serve` with its SIP side on a loopback port."""

    env: dict[str, str]
    sip_port: int
    http_port: int
    metrics_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def joined(cls, gateway: Gateway, tmp: Path, name: str, rtp_min: int) -> SipGateway:
        sip_port, http_port, metrics_port = free_port(), free_port(), free_port()
        env = joined_env(
            gateway,
            tmp / f"var-{name}",
            port=http_port,
            metrics_port=metrics_port,
            sip_enabled="true",
            sip_port=sip_port,
            sip_transports='["udp"]',
            sip_trusted_sources='["127.0.0.1"]',  # the proxy
            voice_max_calls=16,
            rtp_port_min=rtp_min,
            rtp_port_max=rtp_min + 199,
            webrtc_enabled="false",
            drain_timeout_s=60,
            log_level="INFO",
        )
        return cls(env, sip_port, http_port, metrics_port, tmp / f"gateway-{name}.log")

    def start(self) -> None:
        self.process = launch(self.env, self.log)

    async def ready(self) -> None:
        assert self.process is not None
        await ready(f"http://127.0.0.1:{self.http_port}", self.process, self.log)
        for attempt in range(60):  # bounded: its SIP side answers OPTIONS once it is up
            with contextlib.suppress(TimeoutError, OSError):
                if await probe(self.sip_port, f"ready-{attempt}", 0.5) == 200:
                    return
            await asyncio.sleep(0.5)
        pytest.fail(f"gateway SIP side never answered OPTIONS:\n{tail(self.log)}")

    def calls(self) -> float:
        """Calls this gateway process has taken (its `rathausbot_calls_total{kind="sip"}`)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "rathausbot_calls_total" and sample.labels == {"kind": "sip"}:
                    return sample.value
        return 0.0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def counts(*gateways: SipGateway) -> list[float]:
    return [await asyncio.to_thread(g.calls) for g in gateways]


async def test_kamailio_spreads_calls_drains_and_fails_over(
    gateway: Gateway, tmp_path: Path
) -> None:
    kamailio = tool("kamailio", "kamailio")
    a = SipGateway.joined(gateway, tmp_path, "a", 32000)
    b = SipGateway.joined(gateway, tmp_path, "b", 32400)
    dispatcher = tmp_path / "dispatcher.list"
    dispatcher.write_text(
        "".join(f"1 sip:127.0.0.1:{g.sip_port};transport=udp 0 0\n" for g in (a, b))
    )
    proxy = free_port()
    async with contextlib.AsyncExitStack() as stack:
        for g in (a, b):
            stack.callback(g.stop)
            g.start()
        await asyncio.gather(a.ready(), b.ready())
        await stack.enter_async_context(
            process(
                kamailio, "-DD", "-E", "-f", str(CONFIG), "-Y", str(tmp_path),
                "-A", f"LISTEN=udp:127.0.0.1:{proxy}", "-A", f'DISPATCHER_LIST="{dispatcher}"',
                log=tmp_path / "kamailio.log",
            )
        )  # fmt: skip
        for attempt in range(40):  # bounded: the proxy answers OPTIONS once it is up
            with contextlib.suppress(TimeoutError, OSError):
                if await probe(proxy, f"up-{attempt}", 0.5) == 405:
                    break
            await asyncio.sleep(0.2)
        # an OPTIONS to a user is no INVITE: the proxy refuses it itself (405)
        assert await probe(proxy, "up") == 405, tail(tmp_path / "kamailio.log")

        await place_calls(proxy, 12, tmp_path, "spread")
        first = await counts(a, b)
        assert sum(first) == 12, first
        assert all(n >= 1 for n in first), f"a gateway took no call: {first}"

        # a call straight to gateway A keeps it busy while it drains
        phone = UserAgent(SipConfig(port=0), lambda call: call.ended())
        await phone.start()
        stack.push_async_callback(phone.stop)
        running = await phone.invite(f"sip:100@127.0.0.1:{a.sip_port}", SDP, timeout_s=20)
        assert a.process is not None
        a.process.send_signal(signal.SIGTERM)  # drain gateway A
        for attempt in range(100):  # bounded: 100 x 0.1 s
            if await probe(a.sip_port, f"drain-{attempt}") == 503:
                break
            await asyncio.sleep(0.1)
        assert await probe(a.sip_port, "drain") == 503
        assert await probe(b.sip_port, "live") == 200
        await place_calls(proxy, 6, tmp_path, "drained")
        second = await counts(a, b)
        assert second == [first[0] + 1, first[1] + 6], "a draining gateway took a new call"
        assert a.process.poll() is None, "gateway A stopped with a call running"
        await running.bye()
        code = await asyncio.to_thread(a.process.wait, 90)
        assert code == 0, tail(a.log)  # idle, so it stopped

        a.start()  # the rolling restart: A is back, with its counts from zero
        await a.ready()
        for attempt in range(20):  # bounded: one call at a time until the proxy uses A
            await place_calls(proxy, 1, tmp_path, f"back-{attempt}")
            if (await counts(a))[0] >= 1:
                break
        back = await counts(a, b)
        assert back[0] >= 1, f"the proxy never took gateway A back: {back}"

        assert b.process is not None
        b.process.kill()  # a crash: no answer at all
        b.process.wait()
        await place_calls(proxy, 6, tmp_path, "failover")
        assert (await counts(a))[0] == back[0] + 6, "calls lost after the crash"
