"""The user agent against another instance of itself and raw sockets, over real UDP/TCP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from telephony.sip.message import Response, SipParseError, parse
from telephony.sip.transaction import Timers
from telephony.sip.ua import SipCall, SipCallError, SipConfig, UserAgent, mask_number
from tests.telephony.sip_helpers import SDP

FAST = Timers(t1=0.02, t2=0.08, t4=0.1, d=0.2)
ANSWER = SDP.replace(b"40000", b"41000")
OnCall = Callable[[SipCall], Awaitable[None]]


class Bot:
    """A test application: answers with a fixed SDP and waits for the caller to hang up."""

    def __init__(self) -> None:
        self.calls: list[SipCall] = []
        self.reasons: list[str] = []
        self.answer = True
        self.hangup = asyncio.Event()

    async def on_call(self, call: SipCall) -> None:
        self.calls.append(call)
        await call.ringing()
        if self.answer:
            await call.accept(ANSWER)
        ended = asyncio.ensure_future(call.ended())
        hangup = asyncio.ensure_future(self.hangup.wait())
        await asyncio.wait([ended, hangup], return_when=asyncio.FIRST_COMPLETED)
        hangup.cancel()
        if not ended.done():
            await call.bye()
        self.reasons.append(await ended)


async def nothing(call: SipCall) -> None:
    await call.ended()


@pytest.fixture
async def make_ua() -> AsyncIterator[Callable[..., Awaitable[UserAgent]]]:
    started: list[UserAgent] = []

    async def make(on_call: OnCall = nothing, **options: object) -> UserAgent:
        config = SipConfig(port=0, timers=FAST, **options)  # type: ignore[arg-type]
        ua = UserAgent(config, on_call)
        await ua.start()
        started.append(ua)
        return ua

    yield make
    for ua in started:
        await ua.stop()


async def settle(*uas: UserAgent, seconds: float = 10.0) -> None:
    """Waits (bounded) until the UAs hold no call, dialog or transaction."""
    for _ in range(int(seconds / 0.05)):
        if all(
            ua.stats()["calls"] + ua.stats()["dialogs"] + ua.stats()["transactions"] == 0
            for ua in uas
        ):
            return
        await asyncio.sleep(0.05)


def uri(ua: UserAgent, transport: str = "udp", user: str = "100") -> str:
    host, port = ua.addresses[transport]
    suffix = ";transport=tcp" if transport == "tcp" else ""
    return f"sip:{user}@{host}:{port}{suffix}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_call_answered_and_ended_by_the_caller(make_ua, transport: str) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    call = await phone.invite(uri(server, transport), SDP, transport=transport, timeout_s=5)
    assert call.remote_sdp == ANSWER
    assert bot.calls[0].remote_sdp == SDP
    assert bot.calls[0].caller_id == "rathausbot"
    await call.bye()
    assert await asyncio.wait_for(bot.calls[0].ended(), 5) == "bye"
    await settle(server, phone)
    assert server.stats()["calls"] == server.stats()["dialogs"] == 0
    assert server.stats()["transactions"] == phone.stats()["transactions"] == 0


async def test_bot_hangs_up(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    call = await phone.invite(uri(server), SDP, timeout_s=5)
    bot.hangup.set()
    assert await asyncio.wait_for(call.ended(), 5) == "bye"
    assert bot.reasons == ["local"]


async def test_cancel_before_answer(make_ua) -> None:
    bot = Bot()
    bot.answer = False
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    with pytest.raises(SipCallError) as failure:
        await phone.invite(uri(server), SDP, timeout_s=1.0)
    assert failure.value.status == 408
    assert await asyncio.wait_for(bot.calls[0].ended(), 5) == "cancel"
    await settle(server, phone)
    assert server.stats()["calls"] == 0 and server.stats()["transactions"] == 0


async def test_limits_and_allow_list(make_ua) -> None:
    full = await make_ua(Bot().on_call, max_calls=0)
    picky = await make_ua(Bot().on_call, allowed_users=frozenset({"hotline"}))
    phone = await make_ua()
    with pytest.raises(SipCallError) as busy:
        await phone.invite(uri(full), SDP, timeout_s=5)
    assert busy.value.status == 503
    with pytest.raises(SipCallError) as unknown:
        await phone.invite(uri(picky, user="other"), SDP, timeout_s=5)
    assert unknown.value.status == 404
    with pytest.raises(SipCallError) as no_sdp:
        await phone.invite(uri(picky, user="hotline"), b"", timeout_s=5)
    assert no_sdp.value.status == 488


async def test_untrusted_source_needs_digest(make_ua) -> None:
    from telephony.sip.registration import RegistrationConfig

    bot = Bot()
    server = await make_ua(
        bot.on_call, trusted_sources=("10.0.0.0/8",), auth_users={"amt": "geheim"}
    )
    host, port = server.addresses["udp"]
    stranger = await make_ua()
    with pytest.raises(SipCallError) as denied:
        await stranger.invite(uri(server), SDP, timeout_s=5)
    assert denied.value.status == 401
    registration = RegistrationConfig(f"sip:{host}:{port}", "amt", "geheim", retry_min_s=60)
    member = await make_ua(registration=registration)
    call = await member.invite(uri(server), SDP, timeout_s=5)
    assert call.remote_sdp == ANSWER
    await call.bye()
    closed = await make_ua(bot.on_call, trusted_sources=("10.0.0.0/8",))
    with pytest.raises(SipCallError) as forbidden:
        await member.invite(uri(closed), SDP, timeout_s=5)
    assert forbidden.value.status == 403


async def test_refer_refused_by_a_peer_without_refer_support(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    call = await phone.invite(uri(server), SDP, timeout_s=5)
    assert await bot.calls[0].refer("sip:staff@127.0.0.1") is False
    await call.bye()


def udp_exchange(address: tuple[str, int], data: bytes, timeout: float = 3.0) -> Response:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, address)
        while True:
            try:
                reply = parse(sock.recv(65535))
            except SipParseError as error:  # e.g. a 400 to a request without Call-ID
                assert error.partial is not None
                reply = error.partial
            if isinstance(reply, Response) and reply.status >= 200:
                return reply


async def test_options_is_answered_even_at_the_call_limit(make_ua) -> None:
    server = await make_ua(max_calls=0)
    options = (
        b"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKo1;rport\r\n"
        b"From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: o1\r\n"
        b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    reply = await asyncio.to_thread(udp_exchange, server.addresses["udp"], options)
    assert reply.status == 200
    assert "INVITE" in (reply.headers.get("allow") or "")
    assert reply.headers.get("accept") == "application/sdp"


async def test_malformed_datagrams_do_not_stop_the_ua(make_ua) -> None:
    server = await make_ua()
    address = server.addresses["udp"]
    no_call_id = (
        b"INVITE sip:100@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKv;rport\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    reply = await asyncio.to_thread(udp_exchange, address, no_call_id)
    assert reply.status == 400
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for junk in (b"\x00\xff" * 100, b"SIP/2.0 200 OK\r\n\r\n", b"INVITE x\r\n\r\n"):
            sock.sendto(junk, address)
    reply = await asyncio.to_thread(
        udp_exchange,
        address,
        no_call_id.replace(b"SIP/2.0\r\n", b"SIP/2.0\r\nCall-ID: ok\r\n", 1).replace(
            b"INVITE", b"OPTIONS"
        ),
    )
    assert reply.status == 200
    assert server.stats()["calls"] == 0


def test_mask_number_keeps_only_prefix_and_last_digits() -> None:
    assert mask_number("+4930123456") == "+49…456"
    assert mask_number(None) == "-"
    assert "1234" not in mask_number("1234")


async def test_max_call_duration_ends_the_call_with_bye(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call, max_call_s=0.3)
    phone = await make_ua()
    call = await phone.invite(uri(server), SDP, timeout_s=5)
    assert await asyncio.wait_for(call.ended(), 5) == "bye"
    assert await asyncio.wait_for(bot.calls[0].ended(), 5) == "max_duration"


async def test_app_that_never_answers_gets_480_when_it_returns(make_ua) -> None:
    async def shrug(call: SipCall) -> None:
        await call.ringing()

    server = await make_ua(shrug)
    phone = await make_ua()
    with pytest.raises(SipCallError) as failure:
        await phone.invite(uri(server), SDP, timeout_s=5)
    assert failure.value.status == 480


async def test_app_that_crashes_gets_500_and_the_ua_keeps_serving(make_ua) -> None:
    async def broken(call: SipCall) -> None:
        raise RuntimeError("bug in the app")

    server = await make_ua(broken)
    phone = await make_ua()
    for _ in range(2):
        with pytest.raises(SipCallError) as failure:
            await phone.invite(uri(server), SDP, timeout_s=5)
        assert failure.value.status == 500


async def test_idle_tcp_connections_are_closed(make_ua) -> None:
    server = await make_ua(tcp_idle_s=0.2)
    reader, writer = await asyncio.open_connection(*server.addresses["tcp"])
    writer.write(b"\r\n\r\n")  # a keep-alive is activity, not a message
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    assert server.stats()["connections"] == 0


async def test_lost_tcp_framing_closes_the_connection(make_ua) -> None:
    server = await make_ua()
    reader, writer = await asyncio.open_connection(*server.addresses["tcp"])
    writer.write(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: many\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SipConfig(transports=("sctp",))
    with pytest.raises(ValueError):
        SipConfig(trusted_sources=("not-a-network",))
    with pytest.raises(ValueError):
        SipConfig(host="0.0.0.0")
    with pytest.raises(ValueError, match="trusted_sources or auth_users"):
        SipConfig(host="192.0.2.10")  # nobody but loopback could call: refuse to start
    with pytest.raises(ValueError):
        SipConfig(host="0.0.0.0", public_host="192.0.2.10")
    trusted = SipConfig(host="0.0.0.0", public_host="192.0.2.10", trusted_sources=("192.0.2.1",))
    assert trusted.public_host == "192.0.2.10"
    assert SipConfig(host="192.0.2.10", auth_users={"pbx": "geheim"}).host == "192.0.2.10"
    assert SipConfig(host="::1").host == "::1" and SipConfig(host="localhost").host == "localhost"


async def test_call_left_ringing_gets_480_after_max_ring(make_ua) -> None:
    bot = Bot()
    bot.answer = False
    server = await make_ua(bot.on_call, max_ring_s=0.2)
    phone = await make_ua()
    with pytest.raises(SipCallError) as failure:
        await phone.invite(uri(server), SDP, timeout_s=5)
    assert failure.value.status == 480
    assert await asyncio.wait_for(bot.calls[0].ended(), 5) == "timeout"


async def test_refer_target_must_be_a_uri(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    call = await phone.invite(uri(server), SDP, timeout_s=5)
    with pytest.raises(ValueError):
        await bot.calls[0].refer("sip:staff@127.0.0.1>\r\nX-Injected: 1")
    await call.bye()


async def test_invite_to_a_closed_tcp_port_fails_with_503(make_ua) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    phone = await make_ua()
    with pytest.raises(SipCallError) as failure:
        await phone.invite(f"sip:x@127.0.0.1:{port}", SDP, transport="tcp", timeout_s=30)
    assert failure.value.status == 503
    assert phone.stats()["transactions"] == 0


async def test_refused_registration_is_visible_and_retried(make_ua) -> None:
    from telephony.sip.registration import RegistrationConfig, RegistrationState

    not_a_registrar = await make_ua()  # answers REGISTER with 405
    host, port = not_a_registrar.addresses["udp"]
    client = await make_ua(registration=RegistrationConfig(f"sip:{host}:{port}", "amt", "pw"))
    for _ in range(100):
        if client.registration_state is RegistrationState.FAILED:
            break
        await asyncio.sleep(0.05)
    assert client.registration_state is RegistrationState.FAILED
    await client.stop()
    assert client.registration_state is RegistrationState.DISABLED


def options_request(call_id: str) -> bytes:
    return (
        f"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id};rport\r\n"
        f"From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_a_draining_ua_refuses_new_calls_and_probes_but_keeps_its_calls(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    running = await phone.invite(uri(server), SDP, timeout_s=5)
    assert not server.draining
    server.drain()
    assert server.draining
    probe = await asyncio.to_thread(udp_exchange, server.addresses["udp"], options_request("d1"))
    assert probe.status == 503
    assert probe.headers.get("retry-after") == "30"
    with pytest.raises(SipCallError) as refused:
        await phone.invite(uri(server), SDP, timeout_s=5)
    assert refused.value.status == 503
    assert len(bot.calls) == 1  # the refused INVITE never reached the application
    assert server.stats()["calls"] == 1  # the running call goes on ...
    await running.bye()  # ... until the caller hangs up
    assert await asyncio.wait_for(bot.calls[0].ended(), 5) == "bye"
    await settle(server, phone)
    assert server.stats()["calls"] == 0
