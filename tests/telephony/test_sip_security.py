"""The user agent as an attacker meets it, over real loopback sockets: authentication that
does not fail open, answers that reveal nothing, floods that leave room for real callers,
Contacts that cannot redirect signalling. Every probe loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from telephony.call import CallHandler, SipVoiceCall, TransferPolicy
from telephony.media import Latching
from telephony.rtp import RtpPacket
from telephony.sdp import make_offer, parse_answer
from telephony.sip.message import Request, Response, parse
from telephony.sip.transaction import Timers
from telephony.sip.ua import SipConfig, UserAgent
from telephony.staff_hours import StaffHours
from tests.telephony.sip_helpers import SDP
from tests.telephony.test_ua import Bot, uri
from voice.session import EndReason, SessionResult

FAST = Timers(t1=0.02, t2=0.08, t4=0.1, d=0.2)
GUARD_S = 10.0


@pytest.fixture
async def make_ua() -> AsyncIterator[Callable[..., Awaitable[UserAgent]]]:
    started: list[UserAgent] = []

    async def make(on_call: Callable[..., Awaitable[None]] | None = None, **options: object):
        config = SipConfig(port=0, timers=FAST, **options)  # type: ignore[arg-type]
        ua = UserAgent(config, on_call or Bot().on_call)
        await ua.start()
        started.append(ua)
        return ua

    yield make
    for ua in started:
        await ua.stop()


def message(
    method: str,
    *,
    local: tuple[str, int],
    user: str = "100",
    branch: str = "z9hG4bK1",
    call_id: str = "attack-1",
    to_tag: str = "",
    cseq: int = 1,
    contact: str | None = None,
    body: bytes = b"",
    extra: str = "",
) -> bytes:
    host, port = local
    to = f"<sip:{user}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    head = (
        f"{method} sip:{user}@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport\r\n"
        f"From: <sip:+4930123456@{host}>;tag=a1\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:caller@{contact or f'{host}:{port}'}>\r\n{extra}"
    )
    if body:
        head += "Content-Type: application/sdp\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


class Udp:
    """A raw UDP SIP peer bound to `host` (any 127.0.0.0/8 address works on Linux)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(GUARD_S)
        self.local: tuple[str, int] = self.sock.getsockname()

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.sock.sendto(data, to)

    def final(self) -> Response:
        """The next final response (provisional ones skipped)."""
        while True:
            reply = parse(self.sock.recv(65535))
            if isinstance(reply, Response) and reply.status >= 200:
                return reply

    def request(self) -> Request:
        while True:
            received = parse(self.sock.recv(65535))
            if isinstance(received, Request):
                return received

    def drain(self, seconds: float = 0.3) -> list[bytes]:
        """Everything that arrives within `seconds` (bounded in time and count)."""
        deadline = time.monotonic() + seconds
        got: list[bytes] = []
        try:
            while len(got) < 10_000 and (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                got.append(self.sock.recv(65535))
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(GUARD_S)
        return got

    def close(self) -> None:
        self.sock.close()


async def exchange(peer: Udp, data: bytes, to: tuple[str, int]) -> Response:
    peer.send(data, to)
    return await asyncio.to_thread(peer.final)


async def test_credentials_without_trusted_sources_do_not_fail_open(make_ua) -> None:
    """The bug: with credentials and no trusted list, an INVITE without auth got 200."""
    bot = Bot()
    server = await make_ua(bot.on_call, auth_users={"amt": "geheim"})
    caller = Udp()
    try:
        invite = message("INVITE", local=caller.local, body=SDP)
        reply = await exchange(caller, invite, server.addresses["udp"])
        assert reply.status == 401
        assert (reply.headers.get("www-authenticate") or "").startswith("Digest realm=")
        assert bot.calls == [] and server.stats()["calls"] == 0
        assert server.stats()["transactions"] == 0  # the challenge is stateless
        again = await exchange(caller, invite, server.addresses["udp"])  # a retransmission
        assert again.status == 401 and again.to.tag == reply.to.tag
    finally:
        caller.close()


async def test_neither_trust_nor_credentials_answers_loopback(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call)
    phone = await make_ua()
    call = await phone.invite(uri(server), SDP, timeout_s=5)
    await call.bye()
    assert len(bot.calls) == 1 and bot.calls[0].peer.host == "127.0.0.1"


async def test_trusted_list_refuses_loopback_outside_it(make_ua) -> None:
    bot = Bot()
    server = await make_ua(bot.on_call, trusted_sources=("127.0.0.2",))
    stranger, friend = Udp("127.0.0.1"), Udp("127.0.0.2")
    try:
        refused = await exchange(
            stranger, message("INVITE", local=stranger.local, body=SDP), server.addresses["udp"]
        )
        assert refused.status == 403
        answered = await exchange(
            friend, message("INVITE", local=friend.local, body=SDP), server.addresses["udp"]
        )
        assert answered.status == 200 and len(bot.calls) == 1
    finally:
        stranger.close()
        friend.close()


async def test_answers_do_not_tell_which_users_exist(make_ua) -> None:
    server = await make_ua(allowed_users=frozenset({"hotline"}))
    caller = Udp()
    try:
        statuses = []
        for n, user in enumerate(("hotline", "other")):
            probe = message("INVITE", local=caller.local, user=user, branch=f"z9hG4bKu{n}")
            statuses.append((await exchange(caller, probe, server.addresses["udp"])).status)
        assert statuses == [488, 488]
    finally:
        caller.close()


async def test_an_options_and_bye_flood_from_many_addresses_leaves_room_for_a_call(
    make_ua,
) -> None:
    """2,100 OPTIONS from 21 addresses filled the transaction table and the next INVITE got
    503. Now OPTIONS and requests for unknown dialogs are answered statelessly."""
    bot = Bot()
    server = await make_ua(
        bot.on_call,
        max_transactions=100,
        reserved_transactions=10,
        rate_per_source=1e6,
        rate_burst=10**6,
    )
    address = server.addresses["udp"]
    peers = [Udp(f"127.0.0.{n}") for n in range(2, 23)]
    try:
        for peer in peers:
            for n in range(10):
                method = "OPTIONS" if n % 2 else "BYE"
                tag = "" if method == "OPTIONS" else "gone"
                peer.send(
                    message(method, local=peer.local, branch=f"z9hG4bKf{n}", to_tag=tag), address
                )
            await asyncio.sleep(0.02)  # the UA shares this loop: let it read its socket
        replies = []
        for peer in peers:
            replies += [parse(d) for d in await asyncio.to_thread(peer.drain)]
        statuses = sorted(r.status for r in replies if isinstance(r, Response))
        assert statuses == [200] * 105 + [481] * 105
        assert server.stats()["transactions"] == 0
        phone = await make_ua()
        call = await phone.invite(uri(server), SDP, timeout_s=5)
        assert call.remote_sdp and len(bot.calls) == 1
        await call.bye()
    finally:
        for peer in peers:
            peer.close()


async def test_a_flood_from_one_port_does_not_silence_another_port(make_ua) -> None:
    server = await make_ua(rate_per_source=5.0, rate_burst=10)
    address = server.addresses["udp"]
    flood, neighbour = Udp(), Udp()
    try:
        for n in range(200):
            flood.send(message("OPTIONS", local=flood.local, branch=f"z9hG4bKx{n}"), address)
            if n % 20 == 19:
                await asyncio.sleep(0.01)  # the UA shares this loop: let it read its socket
        answered = len(await asyncio.to_thread(flood.drain))
        assert 10 <= answered < 200  # its burst and a little refill, not all 200
        reply = await exchange(
            neighbour, message("OPTIONS", local=neighbour.local), server.addresses["udp"]
        )
        assert reply.status == 200
    finally:
        flood.close()
        neighbour.close()


async def test_a_contact_elsewhere_does_not_redirect_in_dialog_requests(make_ua) -> None:
    """The bot's BYE goes to where the call came from, not to a host the Contact names."""
    bot = Bot()
    server = await make_ua(bot.on_call)
    caller, victim = Udp("127.0.0.1"), Udp("127.0.0.9")
    try:
        victim_at = f"{victim.local[0]}:{victim.local[1]}"
        invite = message("INVITE", local=caller.local, body=SDP, contact=victim_at)
        ok = await exchange(caller, invite, server.addresses["udp"])
        assert ok.status == 200
        ack = message("ACK", local=caller.local, branch="z9hG4bKack", to_tag=ok.to.tag or "")
        caller.send(ack, server.addresses["udp"])
        for _ in range(100):  # bounded: until the bot has the call
            if bot.calls and bot.calls[0].answered:
                break
            await asyncio.sleep(0.02)
        bot.hangup.set()
        bye = await asyncio.to_thread(caller.request)
        assert bye.method == "BYE"
        assert await asyncio.to_thread(victim.drain) == []
    finally:
        caller.close()
        victim.close()


async def test_tcp_connections_per_address_are_capped_and_silent_ones_dropped(make_ua) -> None:
    server = await make_ua(max_connections_per_host=3, tcp_first_message_s=0.5)
    host, port = server.addresses["tcp"]
    conns = [await asyncio.open_connection(host, port) for _ in range(5)]
    try:
        # The 4th and 5th are over the cap for 127.0.0.1: closed at once.
        async with asyncio.timeout(GUARD_S):
            assert await conns[3][0].read() == b"" and await conns[4][0].read() == b""
        # Another address is not affected.
        reader, writer = await asyncio.open_connection(host, port, local_addr=("127.0.0.2", 0))
        conns.append((reader, writer))
        writer.write(message("OPTIONS", local=("127.0.0.2", 5060)))
        async with asyncio.timeout(GUARD_S):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"SIP/2.0 200 ")
        # The three that never sent a message are closed after tcp_first_message_s ...
        async with asyncio.timeout(GUARD_S):
            for r, _ in conns[:3]:
                assert await r.read() == b""
        # ... and then 127.0.0.1 may connect again; one that sent a message stays open.
        reader2, writer2 = await asyncio.open_connection(host, port)
        conns.append((reader2, writer2))
        writer2.write(message("OPTIONS", local=("127.0.0.1", 5060)))
        async with asyncio.timeout(GUARD_S):
            assert (await reader2.readuntil(b"\r\n\r\n")).startswith(b"SIP/2.0 200 ")
        await asyncio.sleep(0.8)  # longer than tcp_first_message_s: a proven one stays
        writer2.write(message("OPTIONS", local=("127.0.0.1", 5060), branch="z9hG4bK2"))
        async with asyncio.timeout(GUARD_S):
            assert (await reader2.readuntil(b"\r\n\r\n")).startswith(b"SIP/2.0 200 ")
    finally:
        for _, w in conns:
            w.close()


async def test_the_policy_is_logged_at_start(make_ua, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="telephony.sip.ua")
    await make_ua(trusted_sources=("10.1.2.0/24",), auth_users={"amt": "geheim"})
    assert (
        "SIP: calls accepted from 10.1.2.0/24 without auth, all others need digest auth"
        in caplog.messages
    )


class WaitingSession:
    """Stands in for the voice session: holds the call open until the test is done."""

    def __init__(self, done: asyncio.Event) -> None:
        self.done = done

    async def run(self) -> SessionResult:
        await self.done.wait()
        return SessionResult(EndReason.CALLER_HANGUP)


async def test_rtp_from_a_stranger_does_not_take_over_a_call(make_ua) -> None:
    """RTP bleed through the real call handler: one packet from 127.0.0.5 used to redirect
    all of the bot's audio there."""
    done = asyncio.Event()
    policy = TransferPolicy(None, StaffHours.parse("Mo-Fr 08:00-16:00"))
    calls: list[SipVoiceCall] = []

    def session(call: SipVoiceCall, session_id: str) -> WaitingSession:
        calls.append(call)
        return WaitingSession(done)

    handler = CallHandler(
        media_host="127.0.0.1",
        public_host="127.0.0.1",
        port_range=(44000, 44999),
        rtp_timeout_s=30.0,
        latching=Latching.PRIVATE,
        policy=policy,
        session_factory=session,  # type: ignore[arg-type]
    )
    server = await make_ua(handler)
    caller, caller_rtp, stranger = Udp("127.0.0.1"), Udp("127.0.0.1"), Udp("127.0.0.5")
    try:
        offer = make_offer("127.0.0.1", caller_rtp.local[1])
        ok = await exchange(
            caller, message("INVITE", local=caller.local, body=offer), server.addresses["udp"]
        )
        assert ok.status == 200
        caller.send(
            message("ACK", local=caller.local, branch="z9hG4bKack", to_tag=ok.to.tag or ""),
            server.addresses["udp"],
        )
        bot_rtp = ("127.0.0.1", parse_answer(ok.body, offer).remote_addr[1])
        for seq in range(5):
            stranger.send(RtpPacket(0, seq, seq * 160, 666, b"\xff" * 160).serialize(), bot_rtp)
        await asyncio.sleep(0.3)
        stranger_got = await asyncio.to_thread(stranger.drain)
        caller_got = await asyncio.to_thread(caller_rtp.drain)
        assert stranger_got == []
        assert len(caller_got) >= 5  # the bot's 20 ms packets still reach the caller
        assert RtpPacket.parse(caller_got[-1]).payload_type == 0
        assert calls[0]._media.prompt  # the VAD hears each packet as it comes
    finally:
        done.set()
        for sock in (caller, caller_rtp, stranger):
            sock.close()
