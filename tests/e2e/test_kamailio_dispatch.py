"""Kamailio (Debian package) with docker/kamailio/kamailio.cfg in front of three gateways'
SIP sides (the real user agent, `tests/e2e/kamailio/sip_gateway.py`, one process each on a
loopback port). sipp places 12 calls through the proxy: every gateway serves some. One
gateway drains (SIGTERM): it answers OPTIONS with 503, gets none of the next calls and
exits once idle. One is killed (SIGKILL): the proxy fails over, every call is answered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony.sip.ua import SipConfig, UserAgent
from tests.telephony.sip_helpers import SDP
from tests.telephony.test_sipp import free_port
from tests.telephony.test_ua import options_request, udp_exchange

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "docker" / "kamailio" / "kamailio.cfg"
SCENARIO = Path(__file__).parent / "kamailio" / "uac_via_proxy.xml"
GATEWAY_MODULE = "tests.e2e.kamailio.sip_gateway"


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


async def said(proc: asyncio.subprocess.Process, word: str) -> None:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.decode().strip() == word


def served(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def probe(port: int, call_id: str, timeout_s: float = 3.0) -> int:
    reply = await asyncio.to_thread(
        udp_exchange, ("127.0.0.1", port), options_request(call_id), timeout_s
    )
    return reply.status


async def place_calls(proxy: int, calls: int, tmp: Path, name: str) -> None:
    errors = tmp / f"sipp-{name}-errors.log"
    command = [
        tool("sipp", "sip-tester"), f"127.0.0.1:{proxy}", "-sf", str(SCENARIO),
        "-s", "hotline", "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port()),
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


async def test_kamailio_spreads_calls_drains_and_fails_over(tmp_path: Path) -> None:
    kamailio = tool("kamailio", "kamailio")
    ports = [free_port() for _ in range(3)]
    logs = [tmp_path / f"gateway-{n}.calls" for n in range(3)]
    dispatcher = tmp_path / "dispatcher.list"
    dispatcher.write_text("".join(f"1 sip:127.0.0.1:{p};transport=udp 0 0\n" for p in ports))
    proxy = free_port()
    async with contextlib.AsyncExitStack() as stack:
        gateways = [
            await stack.enter_async_context(
                process(
                    sys.executable, "-m", GATEWAY_MODULE, str(port), str(log),
                    log=tmp_path / f"gateway-{n}.log",
                )
            )
            for n, (port, log) in enumerate(zip(ports, logs, strict=True))
        ]  # fmt: skip
        for gateway in gateways:
            await said(gateway, "ready")
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
        assert await probe(proxy, "up") == 405, (tmp_path / "kamailio.log").read_text()[-3000:]

        await place_calls(proxy, 12, tmp_path, "spread")
        first = [served(log) for log in logs]
        assert sum(first) == 12
        assert all(n >= 1 for n in first), f"a gateway got no call: {first}"

        # a call straight to gateway 0 keeps it busy while it drains
        phone = UserAgent(SipConfig(port=0), lambda call: call.ended())
        await phone.start()
        stack.push_async_callback(phone.stop)
        running = await phone.invite(f"sip:100@127.0.0.1:{ports[0]}", SDP, timeout_s=10)
        gateways[0].send_signal(signal.SIGTERM)  # drain gateway 0
        await said(gateways[0], "draining")
        assert await probe(ports[0], "drain") == 503
        assert await probe(ports[1], "live") == 200
        await place_calls(proxy, 6, tmp_path, "drained")
        second = [served(log) for log in logs]
        assert second[0] == first[0] + 1, "a draining gateway got a new call"
        assert second[1] + second[2] == first[1] + first[2] + 6
        assert gateways[0].returncode is None, "gateway 0 stopped with a call running"
        await running.bye()
        assert await asyncio.wait_for(gateways[0].wait(), 60) == 0  # idle, so it stopped

        gateways[1].kill()  # a crash: no answer at all
        await gateways[1].wait()
        await place_calls(proxy, 6, tmp_path, "failover")
        third = [served(log) for log in logs]
        assert third[1] == second[1]
        assert third[2] == second[2] + 6, f"calls lost after the crash: {third}"
