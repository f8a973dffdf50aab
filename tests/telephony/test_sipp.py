"""The user agent against sipp (Debian `sip-tester`), a real SIP peer, over UDP and TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telephony.sip.transaction import Timers
from telephony.sip.ua import (
    RegistrationConfig,
    RegistrationState,
    SipCall,
    SipCallError,
    SipConfig,
    UserAgent,
)
from tests.telephony.sip_helpers import SDP

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp missing: make setup-test"),
]

SCENARIOS = Path(__file__).parent / "sipp"
FAST = Timers(t1=0.05, t2=0.2, t4=0.2, d=0.5)
ANSWER = SDP.replace(b"40000", b"41000")
RFC4475 = Path(__file__).resolve().parents[2].parent / "shared" / "sip" / "rfc4475"


class HotlineApp:
    """Answers with a fixed SDP; the dialled user says what to do next."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.refer_results: list[bool] = []
        self.offers: list[bytes] = []
        self.digits: list[str] = []
        self.accept_errors: list[int] = []
        self.live = 0
        self.peak = 0

    async def on_call(self, call: SipCall) -> None:
        self.live += 1
        self.peak = max(self.peak, self.live)
        try:
            await self._serve(call)
        finally:
            self.live -= 1
            self.reasons.append(await call.ended())

    async def _serve(self, call: SipCall) -> None:
        await call.ringing()
        if call.dialed == "ring":
            await call.ended()
            return
        if call.dialed == "reoffer":
            call.on_reoffer = self._reoffer
            call.on_dtmf = self.digits.append
        try:
            await call.accept(ANSWER)
        except SipCallError as error:
            self.accept_errors.append(error.status)
            return
        if call.dialed == "hangup":
            await call.bye()
        elif call.dialed == "refer":
            self.refer_results.append(await call.refer("sip:staff@127.0.0.1"))
            await call.bye()
        else:
            await call.ended()

    def _reoffer(self, offer: bytes) -> bytes | None:
        self.offers.append(offer)
        return None if b"m=audio 0 " in offer else ANSWER.replace(b"41000", b"42000")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_media_port() -> int:
    """A port for sipp's `-mp`: sipp binds audio RTP there and video RTP two above it, so
    the port and the three above it must be free (a random free port alone once met a
    taken video port: errno 98)."""
    for _ in range(200):
        port = free_port()
        if port % 2 == 0 and port <= 65532 and all(map(_udp_free, range(port + 1, port + 4))):
            return port
    raise RuntimeError("no four free UDP ports in a row on 127.0.0.1")


@contextlib.asynccontextmanager
async def sipp_process(
    *command: str, stderr: int = asyncio.subprocess.DEVNULL
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A sipp process that is killed on the way out if it is still running."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def sipp(
    ua: UserAgent,
    scenario: str,
    *,
    service: str = "100",
    calls: int = 1,
    transport: str = "udp",
    tmp: Path,
) -> None:
    """Runs sipp against the UA; fails the test with sipp's error log when a call failed."""
    host, port = ua.addresses[transport]
    errors = tmp / f"{scenario}-{service}-errors.log"
    command = [
        "sipp", f"{host}:{port}", "-sf", str(SCENARIOS / f"{scenario}.xml"),
        "-s", service, "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_media_port()),
        "-t", "u1" if transport == "udp" else "t1",
        "-m", str(calls), "-l", str(calls), "-r", "50",
        "-timeout", "30s", "-timeout_error", "-nostdin", "-max_recv_loops", "1000",
        "-trace_err", "-error_file", str(errors),
    ]  # fmt: skip
    async with sipp_process(*command, stderr=asyncio.subprocess.PIPE) as process:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    log = errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
    assert process.returncode == 0, f"sipp {scenario}: rc {process.returncode}\n{stderr!r}\n{log}"


async def wait_bound(port: int, transport: str) -> None:
    """Waits (bounded) until a process has bound `port` (sipp starting as a server)."""
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        await asyncio.sleep(0.05)


async def settled(ua: UserAgent) -> dict[str, int]:
    """The UA's stats once calls, dialogs and transactions are gone (bounded wait)."""
    for _ in range(100):
        stats = ua.stats()
        if stats["calls"] == stats["dialogs"] == stats["transactions"] == 0:
            break
        await asyncio.sleep(0.1)
    return ua.stats()


@pytest.fixture
async def bot() -> AsyncIterator[tuple[UserAgent, HotlineApp]]:
    app = HotlineApp()
    ua = UserAgent(SipConfig(port=0, timers=FAST, max_calls=20), app.on_call)
    await ua.start()
    yield ua, app
    await ua.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_20_concurrent_calls_answered_and_ended(
    bot, tmp_path: Path, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    ua, app = bot
    caplog.set_level(logging.INFO, logger="telephony")
    await sipp(ua, "uac_caller_hangs_up", calls=20, transport=transport, tmp=tmp_path)
    assert await settled(ua) == {**ua.stats(), "calls": 0, "dialogs": 0, "transactions": 0}
    assert app.reasons == ["bye"] * 20
    assert "+49…" in caplog.text and "+4930123" not in caplog.text  # callers logged masked
    print(f"peak concurrent calls over {transport}: {app.peak}")


async def test_cancel_before_answer(bot, tmp_path: Path) -> None:
    ua, app = bot
    await sipp(ua, "uac_cancel", service="ring", tmp=tmp_path)
    await settled(ua)
    assert app.reasons == ["cancel"]
    assert ua.stats()["transactions"] == 0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_the_bot_hangs_up(bot, tmp_path: Path, transport: str) -> None:
    ua, app = bot
    await sipp(ua, "uac_bot_hangs_up", service="hangup", transport=transport, tmp=tmp_path)
    assert app.reasons == ["local"]


async def test_200_never_acked_ends_with_bye_after_timer_h(bot, tmp_path: Path) -> None:
    ua, app = bot
    await sipp(ua, "uac_no_ack", service="noack", tmp=tmp_path)
    assert app.accept_errors == [408]
    assert app.reasons == ["timeout"]


async def test_session_timers_refreshed_by_us_and_expired_by_the_peer(tmp_path: Path) -> None:
    app = HotlineApp()
    config = SipConfig(port=0, timers=FAST, min_se=2)
    async with UserAgent(config, app.on_call) as ua:
        await sipp(ua, "uac_session_bot_refreshes", tmp=tmp_path)
        await sipp(ua, "uac_session_expires", tmp=tmp_path)
    assert app.reasons == ["bye", "timeout"]


async def test_refer_accepted_with_notify_progress(bot, tmp_path: Path) -> None:
    ua, app = bot
    await sipp(ua, "uac_refer_accepted", service="refer", tmp=tmp_path)
    assert app.refer_results == [True]


@pytest.mark.parametrize(
    "scenario", ["uac_refer_declined", "uac_refer_forbidden", "uac_refer_failed"]
)
async def test_refer_refused_or_failed(bot, tmp_path: Path, scenario: str) -> None:
    ua, app = bot
    await sipp(ua, scenario, service="refer", tmp=tmp_path)
    assert app.refer_results == [False]


async def test_refer_without_notify_times_out(tmp_path: Path) -> None:
    app = HotlineApp()
    config = SipConfig(port=0, timers=FAST, refer_timeout_s=0.5)
    async with UserAgent(config, app.on_call) as ua:
        await sipp(ua, "uac_refer_silent", service="refer", tmp=tmp_path)
    assert app.refer_results == [False]


async def test_reinvite_session_refresh_and_update(bot, tmp_path: Path) -> None:
    ua, app = bot
    await sipp(ua, "uac_reinvite", service="reoffer", tmp=tmp_path)
    assert [b"m=audio 30000 " in app.offers[0], b"m=audio 0 " in app.offers[1]] == [True, True]
    assert len(app.offers) == 2  # the session refresh and the UPDATE did not bother the app
    assert app.digits == ["5"]
    assert app.reasons == ["bye"]


async def test_registration_with_digest_and_refresh(tmp_path: Path) -> None:
    port = free_port()
    errors = tmp_path / "registrar-errors.log"
    registration = RegistrationConfig(f"sip:127.0.0.1:{port}", "amt", "geheim", retry_min_s=0.5)
    config = SipConfig(port=0, timers=FAST, registration=registration)
    async with (
        sipp_process(
            "sipp", "-sf", str(SCENARIOS / "uas_registrar.xml"), "-i", "127.0.0.1",
            "-p", str(port), "-mp", str(free_media_port()), "-m", "1", "-timeout", "30s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(errors),
        ) as registrar,
        UserAgent(config, HotlineApp().on_call) as ua,
    ):  # fmt: skip
        assert await asyncio.wait_for(registrar.wait(), 60) == 0, errors.read_text()[-2000:]
        assert ua.registration_state is RegistrationState.REGISTERED
    assert ua.registration_state is RegistrationState.DISABLED


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_outbound_call_to_sipp(tmp_path: Path, transport: str) -> None:
    """`UserAgent.invite()` (the `rathausbot call` path) against sipp's built-in UAS."""
    port = free_port(socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM)
    errors = tmp_path / "uas-errors.log"
    async with (
        sipp_process(
            "sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-mp", str(free_media_port()),
            "-t", "u1" if transport == "udp" else "t1", "-m", "1", "-timeout", "30s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(errors),
        ) as callee,
        UserAgent(SipConfig(port=0, timers=FAST), HotlineApp().on_call) as ua,
    ):  # fmt: skip
        await wait_bound(port, transport)
        call = await ua.invite(f"sip:service@127.0.0.1:{port}", SDP, transport=transport)
        assert call.remote_sdp.startswith(b"v=0")
        await call.bye()
        assert await asyncio.wait_for(callee.wait(), 30) == 0, errors.read_text()[-2000:]
        assert await settled(ua) == {**ua.stats(), "calls": 0, "dialogs": 0, "transactions": 0}


async def test_options_ping(bot, tmp_path: Path) -> None:
    ua, _ = bot
    await sipp(ua, "uac_options", tmp=tmp_path)
    await sipp(ua, "uac_options", transport="tcp", tmp=tmp_path)


def garbage(rng: random.Random) -> list[bytes]:
    """Malformed, truncated and random messages, plus the RFC 4475 torture tests if present."""
    valid = (
        b"INVITE sip:100@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK%d\r\n"
        b"From: <sip:+4930999@127.0.0.1>;tag=x\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: g%d\r\n"
        b"CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
    )
    out: list[bytes] = []
    for n in range(150):
        message = valid % (n, n, len(SDP)) + SDP
        match n % 6:
            case 0:
                out.append(rng.randbytes(rng.randrange(1, 2000)))
            case 1:
                out.append(message[: rng.randrange(1, len(message))])
            case 2:
                cut = rng.randrange(len(message))
                out.append(message[:cut] + rng.randbytes(8) + message[cut + 8 :])
            case 3:
                out.append(message.replace(b"Content-Length: ", b"Content-Length: 9"))
            case 4:
                out.append(message.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
            case _:
                out.append(message.replace(b"\r\n", b"\n").replace(b"CSeq: 1", b"CSeq: -1"))
    if RFC4475.is_dir():
        out += [path.read_bytes() for path in sorted(RFC4475.glob("*.dat"))]
    return out


async def test_burst_of_malformed_input_leaves_nothing_behind(tmp_path: Path) -> None:
    app = HotlineApp()
    # No rate limit here, so that every message reaches the parser.
    config = SipConfig(port=0, timers=FAST, rate_per_source=1e9, rate_burst=10**9)
    async with UserAgent(config, app.on_call) as ua:
        await _burst(ua, tmp_path)


def replies(sock: socket.socket) -> set[int]:
    """Status codes of the responses that come back to `sock` (until 1 s of silence)."""
    sock.settimeout(1.0)
    statuses: set[int] = set()
    with contextlib.suppress(TimeoutError):
        while True:
            line = sock.recv(65535).split(b"\r\n", 1)[0].split()
            if len(line) > 1 and line[0] == b"SIP/2.0" and line[1].isdigit():
                statuses.add(int(line[1]))
    return statuses


async def _burst(ua: UserAgent, tmp_path: Path) -> None:
    rng = random.Random(4475)
    messages = garbage(rng)
    udp = ua.addresses["udp"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for message in messages:
            sock.sendto(message[:65000], udp)
        statuses = await asyncio.to_thread(replies, sock)
    assert {400, 505} <= statuses, statuses  # the UA answered what it could read
    for chunk_start in range(0, len(messages), 25):
        reader, writer = await asyncio.open_connection(*ua.addresses["tcp"])
        for message in messages[chunk_start : chunk_start + 25]:
            writer.write(message)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        del reader
    await sipp(ua, "uac_options", tmp=tmp_path)
    await sipp(ua, "uac_options", transport="tcp", tmp=tmp_path)
    for _ in range(50):  # let calls that the torture messages opened end in the app
        if not ua.stats()["tasks"]:
            break
        await asyncio.sleep(0.1)
    stats = await settled(ua)
    assert (stats["calls"], stats["dialogs"], stats["transactions"]) == (0, 0, 0), stats
