"""RtpSession over real loopback UDP: two sessions talk to each other, or a bare socket
plays the peer. No timing is asserted; `asyncio.timeout` only guards against hangs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import numpy as np
import pytest

from telephony import g711
from telephony.media import DtmfDigit, Latching, MediaSources, Pacer, RtpSession
from telephony.rtp import RtpPacket
from telephony.sdp import MediaParams, answer_offer, make_offer, parse_answer
from voice.audio import AudioFrame

HOST = "127.0.0.1"
PORTS = (42000, 43999)
GUARD_S = 20


def tone(amplitude: float = 0.5, ms: int = 20, hz: float = 440.0) -> AudioFrame:
    t = np.arange(8 * ms) / 8000
    return AudioFrame.from_samples(amplitude * np.sin(2 * np.pi * hz * t), 8000)


Item = AudioFrame | DtmfDigit


async def frames_until(
    session: RtpSession, predicate: Callable[[Item], bool], limit: int = 500
) -> list[Item]:
    """Items from `receive()` up to the first that satisfies `predicate` (or `limit`)."""
    items: list[Item] = []
    async with asyncio.timeout(GUARD_S):
        async for item in session.receive():
            items.append(item)
            if predicate(item) or len(items) >= limit:
                break
    return items


def loud(item: Item) -> bool:
    return isinstance(item, AudioFrame) and item.peak() > 4000


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RtpSession, RtpSession]]:
    """Caller `a` and callee `b`, negotiated through SDP offer/answer."""
    a = await RtpSession.open(HOST, port_range=PORTS)
    b = await RtpSession.open(HOST, port_range=PORTS)
    offer = make_offer(HOST, a.local_port)
    answer, params_b = answer_offer(offer, HOST, b.local_port)
    a.start(parse_answer(answer, offer))
    b.start(params_b)
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture
def peer() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(GUARD_S)
    yield sock
    sock.close()


async def recv_packet(sock: socket.socket) -> RtpPacket:
    data = await asyncio.to_thread(sock.recv, 4096)
    return RtpPacket.parse(data)


def test_pacer_keeps_absolute_deadlines() -> None:
    pacer = Pacer(100.0, 0.02)
    assert pacer.due(100.0) == 1
    assert pacer.due(100.019) == 0
    assert pacer.due(100.0205) == 1
    assert pacer.due(100.065) == 2  # woke late: the 40 and 60 ms deadlines are both due
    assert pacer.deadline == pytest.approx(100.08)
    now = 100.08
    for _ in range(1000):  # every wake-up 3 ms late: no drift accumulates
        now = pacer.deadline + 0.003
        assert pacer.due(now) == 1
    assert pacer.deadline == pytest.approx(100.0 + 1004 * 0.02)


async def test_ports_are_even_and_from_the_range() -> None:
    session = await RtpSession.open(HOST, port_range=(44001, 44003))
    try:
        assert session.local_port == 44002
        with pytest.raises(OSError, match="no free even RTP port"):
            await RtpSession.open(HOST, port_range=(44001, 44003))
    finally:
        await session.close()
    with pytest.raises(ValueError):
        await RtpSession.open(HOST, port_range=(44003, 44003))


async def test_audio_goes_through_both_ways(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    frame = tone()
    expected = g711.ulaw_decode(g711.ulaw_encode(frame.pcm))
    await a.play(frame)
    await b.play(frame)
    for receiver in (b, a):
        items = await frames_until(receiver, loud)
        last = items[-1]
        assert isinstance(last, AudioFrame)
        assert last.sample_rate == 8000 and last.num_samples == 160
        assert last.pcm == expected  # bit-exact through G.711 and RTP
        assert all(isinstance(i, AudioFrame) and i.num_samples == 160 for i in items)


async def test_other_sample_rates_are_resampled(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    t = np.arange(320 * 5) / 16000
    await a.play(AudioFrame.from_samples(0.5 * np.sin(2 * np.pi * 440 * t), 16000))
    items = await frames_until(b, loud)
    assert loud(items[-1])


async def test_dtmf_arrives(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    await a.send_dtmf("7", 120)
    items = await frames_until(b, lambda item: isinstance(item, DtmfDigit))
    assert items[-1] == DtmfDigit("7", 120)
    assert b.stats.dtmf_received == 1


async def test_clear_playback_drops_queued_audio(pair: tuple[RtpSession, RtpSession]) -> None:
    a, b = pair
    for _ in range(5):  # room for five: none of these calls waits, so no tick runs between
        await a.play(tone())
    a.clear_playback()
    await a.play(tone(amplitude=0.05))  # a quiet marker after the cleared speech
    items = await frames_until(b, lambda i: isinstance(i, AudioFrame) and i.peak() > 500)
    assert not any(loud(i) for i in items)


async def test_play_waits_for_the_pacer() -> None:
    a = await RtpSession.open(HOST, port_range=PORTS, playback_frames=2)
    try:
        a.start(MediaParams((HOST, 9), 0, "PCMU", None))
        speech = asyncio.create_task(a.play(tone(ms=200)))  # ten frames, two fit
        await asyncio.sleep(0)
        assert not speech.done()  # at most three ticks can have run in one loop pass
        a.clear_playback()
        async with asyncio.timeout(GUARD_S):
            await speech
    finally:
        await a.close()


async def test_packets_have_one_ssrc_and_continuous_numbers(peer: socket.socket) -> None:
    session = await RtpSession.open(HOST, port_range=PORTS)
    try:
        session.start(MediaParams(peer.getsockname(), 8, "PCMA", 101))
        await session.play(tone())
        packets = [await recv_packet(peer) for _ in range(8)]
        assert len({p.ssrc for p in packets}) == 1
        assert all(p.payload_type == 8 and len(p.payload) == 160 for p in packets)
        assert packets[0].marker and not any(p.marker for p in packets[1:])
        for before, after in zip(packets, packets[1:], strict=False):
            assert after.sequence_number == (before.sequence_number + 1) % 65536
            assert after.timestamp == (before.timestamp + 160) % 2**32
        # idle: encoded silence keeps flowing
        assert packets[-1].payload == g711.silence("PCMA", 160)
        assert any(p.payload != g711.silence("PCMA", 160) for p in packets)
    finally:
        await session.close()


async def test_hold_pauses_sending_and_resuming_sets_the_marker(peer: socket.socket) -> None:
    session = await RtpSession.open(HOST, port_range=PORTS)
    try:
        params = MediaParams(peer.getsockname(), 0, "PCMU", None)
        session.start(params)
        before = await recv_packet(peer)
        session.update(MediaParams(peer.getsockname(), 0, "PCMU", None, direction="inactive"))
        sent = session.stats.packets_sent
        await frames_until(session, lambda _: False, limit=5)  # five ticks on hold
        assert session.stats.packets_sent == sent
        session.update(params)
        while (packet := await recv_packet(peer)).sequence_number != (
            before.sequence_number + sent
        ) % 65536:
            pass
        assert packet.marker
        gap = (packet.timestamp - before.timestamp) % 2**32
        assert gap % 160 == 0 and gap > 160 * sent  # the clock ran on while nothing was sent
    finally:
        await session.close()


async def test_symmetric_rtp_latches_onto_the_source() -> None:
    a = await RtpSession.open(HOST, port_range=PORTS)
    b = await RtpSession.open(HOST, port_range=PORTS, latching=Latching.PRIVATE)
    try:
        wrong = (HOST, 9)  # b's SDP says the caller listens here (a NAT'd private address)
        a.start(MediaParams((HOST, b.local_port), 0, "PCMU", None))
        b.start(MediaParams(wrong, 0, "PCMU", None))
        await frames_until(b, lambda _: b.stats.packets_received > 0)
        assert b.remote_addr == (HOST, a.local_port)
        await b.play(tone())
        items = await frames_until(a, loud)
        assert loud(items[-1])
    finally:
        await a.close()
        await b.close()


async def test_without_latching_the_sdp_address_is_kept(peer: socket.socket) -> None:
    session = await RtpSession.open(HOST, port_range=PORTS, latching="off")
    try:
        session.start(MediaParams((HOST, 9), 0, "PCMU", None))
        peer.sendto(RtpPacket(0, 1, 0, 5, b"\xff" * 160).serialize(), (HOST, session.local_port))
        await frames_until(session, lambda _: session.stats.packets_received > 0, limit=100)
        assert session.remote_addr == (HOST, 9)
        assert session.stats.packets_received == 1  # same IP as in the SDP: accepted
    finally:
        await session.close()


async def test_garbage_and_strangers_do_not_kill_it(
    pair: tuple[RtpSession, RtpSession], peer: socket.socket
) -> None:
    a, b = pair
    await a.play(tone())
    await frames_until(b, loud)  # b has latched onto a
    target = (HOST, b.local_port)
    for junk in (
        b"",
        b"\x00",
        b"hello world, this is not RTP at all",
        bytes([0x80, 0xC9, 0x00, 0x01]) + b"\x00" * 4,  # RTCP receiver report
        bytes([0x80, 0xC8, 0xFF, 0xFF]),  # truncated RTCP
        bytes([0xBF]) + b"\x00" * 20,  # padding and CSRCs beyond the end
        RtpPacket(0, 1, 2, 3, b"\xff" * 4000).serialize(),  # oversized
        RtpPacket(0, 1, 2, 3, b"\x00" * 160).serialize(),  # a stranger's audio
        bytes(range(256)) * 5,
    ):
        peer.sendto(junk, target)
    packet = RtpPacket(0, 1, 2, 3, b"").serialize()
    for pt in (9, 18, 127):  # payload types nobody negotiated
        peer.sendto(packet[:1] + bytes([pt]) + packet[2:], target)
    await frames_until(b, lambda _: b.stats.wrong_payload_type >= 3, limit=200)
    await a.play(tone())
    items = await frames_until(b, loud)
    assert loud(items[-1])
    assert b.stats.garbage >= 5
    assert b.stats.rtcp == 1
    assert b.stats.wrong_source >= 1


async def test_rtp_timeout_ends_receive() -> None:
    session = await RtpSession.open(HOST, port_range=PORTS, rtp_timeout_s=0.5)
    try:
        session.start(MediaParams((HOST, 9), 0, "PCMU", None))
        async with asyncio.timeout(GUARD_S):
            frames = [item async for item in session.receive()]
        assert session.timed_out
        assert frames and all(isinstance(f, AudioFrame) and f.peak() == 0 for f in frames)
    finally:
        await session.close()


async def test_no_timeout_while_on_hold() -> None:
    session = await RtpSession.open(HOST, port_range=PORTS, rtp_timeout_s=0.5)
    try:
        session.start(MediaParams((HOST, 9), 0, "PCMU", None, direction="sendonly"))
        frames = await frames_until(session, lambda _: False, limit=50)  # a second
        assert len(frames) == 50 and not session.timed_out
    finally:
        await session.close()


async def test_close_ends_everything() -> None:
    session = await RtpSession.open(HOST, port_range=PORTS)
    session.start(MediaParams((HOST, 9), 0, "PCMU", 101))
    receiving = asyncio.create_task(frames_until(session, lambda _: False, limit=10**6))
    await asyncio.sleep(0.05)
    await session.close()
    await session.close()  # idempotent
    async with asyncio.timeout(GUARD_S):
        await receiving
    await session.play(tone())  # returns at once
    await session.send_dtmf("1")
    assert not session.timed_out
    with pytest.raises(RuntimeError):
        session.start(MediaParams((HOST, 9), 0, "PCMU", None))


async def test_send_dtmf_needs_telephone_event() -> None:
    session = await RtpSession.open(HOST, port_range=PORTS)
    try:
        with pytest.raises(RuntimeError, match="not started"):
            await session.send_dtmf("1")
        session.start(MediaParams((HOST, 9), 0, "PCMU", None))
        with pytest.raises(ValueError, match="telephone-event"):
            await session.send_dtmf("1")
    finally:
        await session.close()


async def test_a_lagging_consumer_loses_old_frames_not_memory(peer: socket.socket) -> None:
    session = await RtpSession.open(HOST, port_range=PORTS, receive_frames=5)
    try:
        session.start(MediaParams(peer.getsockname(), 0, "PCMU", None))
        async with asyncio.timeout(GUARD_S):
            while session.stats.frames_dropped < 10:  # nobody reads receive()
                await asyncio.sleep(0.02)
        held = session.stats.packets_sent - session.stats.frames_dropped  # one frame per tick
        assert held == 5
    finally:
        await session.close()


async def test_an_internal_failure_ends_the_call_instead_of_hanging_it(
    monkeypatch: pytest.MonkeyPatch, peer: socket.socket
) -> None:
    def broken(codec: str, arg: object) -> bytes:
        raise RuntimeError("codec bug")

    monkeypatch.setattr(g711, "encode", broken)
    monkeypatch.setattr(g711, "silence", broken)
    session = await RtpSession.open(HOST, port_range=PORTS, playback_frames=1)
    try:
        session.start(MediaParams(peer.getsockname(), 0, "PCMU", None))
        async with asyncio.timeout(GUARD_S):
            _ = [item async for item in session.receive()]
            await session.play(tone(ms=200))  # does not wait for a dead pacer
        assert not session.timed_out
    finally:
        await session.close()


async def test_update_moves_the_stream(peer: socket.socket) -> None:
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((HOST, 0))
    other.settimeout(GUARD_S)
    session = await RtpSession.open(HOST, port_range=PORTS)
    try:
        session.start(MediaParams(peer.getsockname(), 0, "PCMU", None))
        assert (await recv_packet(peer)).payload_type == 0
        session.update(MediaParams(other.getsockname(), 8, "PCMA", None))  # re-INVITE
        packet = await recv_packet(other)
        assert (packet.payload_type, packet.payload) == (8, g711.silence("PCMA", 160))
        assert session.remote_addr == other.getsockname()
    finally:
        await session.close()
        other.close()


def rtp_packet(seq: int, ssrc: int = 77) -> bytes:
    return RtpPacket(0, seq, seq * 160, ssrc, b"\x00" * 160).serialize()


def udp_at(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.5)
    return sock


def received_any(sock: socket.socket, seconds: float = 0.4) -> bool:
    sock.settimeout(seconds)
    try:
        sock.recv(4096)
    except TimeoutError:
        return False
    return True


async def test_rtp_bleed_a_stranger_cannot_take_over_the_call() -> None:
    """One packet from 127.0.0.5 used to redirect all of the bot's audio there."""
    caller, stranger = udp_at("127.0.0.1"), udp_at("127.0.0.5")
    session = await RtpSession.open(
        HOST, port_range=PORTS, latching=Latching.PRIVATE, sources=MediaSources("127.0.0.1")
    )
    try:
        sdp_addr = (HOST, 9)  # a private SDP address: latching is wanted
        session.start(MediaParams(sdp_addr, 0, "PCMU", None))
        target = (HOST, session.local_port)
        for seq in range(5):
            stranger.sendto(rtp_packet(seq, ssrc=666), target)
        for _ in range(100):  # bounded: until the session has seen them
            if session.stats.wrong_source >= 5:
                break
            await asyncio.sleep(0.02)
        assert session.stats.wrong_source == 5 and session.stats.packets_received == 0
        assert session.remote_addr == sdp_addr  # not latched onto the stranger
        for _ in range(5):
            await session.play(tone())
        assert not await asyncio.to_thread(received_any, stranger)
        caller.sendto(rtp_packet(1), target)
        await frames_until(session, lambda _: session.stats.packets_received > 0, limit=200)
        assert session.remote_addr == caller.getsockname()  # the caller's own source
        await session.play(tone())
        assert await asyncio.to_thread(received_any, caller, 5.0)
        stranger.sendto(rtp_packet(9, ssrc=666), target)
        assert not await asyncio.to_thread(received_any, stranger)
    finally:
        await session.close()
        caller.close()
        stranger.close()


async def test_an_sdp_address_elsewhere_is_not_sent_to() -> None:
    """A caller's SDP cannot make the gateway stream RTP at another host."""
    caller, victim = udp_at("127.0.0.1"), udp_at("127.0.0.9")
    session = await RtpSession.open(
        HOST, port_range=PORTS, latching=Latching.OFF, sources=MediaSources("127.0.0.1")
    )
    try:
        session.start(MediaParams(victim.getsockname(), 0, "PCMU", None))
        assert session.remote_addr is None
        for _ in range(5):
            await session.play(tone())
        assert not await asyncio.to_thread(received_any, victim)
        caller.sendto(rtp_packet(1), (HOST, session.local_port))
        await frames_until(session, lambda _: session.stats.packets_received > 0, limit=200)
        assert session.remote_addr == caller.getsockname()
        await session.play(tone())
        assert await asyncio.to_thread(received_any, caller, 5.0)
    finally:
        await session.close()
        caller.close()
        victim.close()


async def test_media_networks_are_trusted_besides_the_signalling_host() -> None:
    gateway = udp_at("127.0.0.7")
    sources = MediaSources("127.0.0.1", (ipaddress.ip_network("127.0.0.0/29"),))
    assert sources.allows("127.0.0.1") and sources.allows("127.0.0.7")
    assert not sources.allows("127.0.0.8") and not sources.allows("nonsense")
    session = await RtpSession.open(HOST, port_range=PORTS, latching="off", sources=sources)
    try:
        session.start(MediaParams(gateway.getsockname(), 0, "PCMU", None))
        assert session.remote_addr == gateway.getsockname()  # an SDP address in the network
        await session.play(tone())
        assert await asyncio.to_thread(received_any, gateway, 5.0)
    finally:
        await session.close()
        gateway.close()


# --- a prompt listener (prompt=True): packets as they come, no playout depth ---
# Driven without the clock: datagrams into `_on_datagram`, clock ticks by `_receive_tick`.


def _packet(seq: int, payload: bytes, payload_type: int = 0) -> bytes:
    return RtpPacket(payload_type, seq, seq * 160, 0x1234, payload, False).serialize()


def _speech(level: int) -> bytes:
    return g711.ulaw_encode(np.full(160, level, dtype="<i2").tobytes())


async def _listener(peer: socket.socket, *, prompt: bool = True) -> RtpSession:
    session = await RtpSession.open(HOST, port_range=PORTS, prompt=prompt)
    session._apply(MediaParams(peer.getsockname(), 0, "PCMU", 101))
    return session


def _arrive(session: RtpSession, peer: socket.socket, *datagrams: bytes) -> None:
    for data in datagrams:
        session._on_datagram(data, peer.getsockname())


def _tick(session: RtpSession, count: int = 1) -> None:
    params = session.params
    assert params is not None
    for _ in range(count):
        session._receive_tick(params)


def _taken(session: RtpSession) -> list[AudioFrame | DtmfDigit | None]:
    items = list(session._out)
    session._out.clear()
    return items


def _level(value: int) -> int:
    return int(np.frombuffer(g711.ulaw_decode(_speech(value)), "<i2")[0])


def _levels(items: list[AudioFrame | DtmfDigit | None]) -> list[int]:
    return [int(item.samples[0]) if isinstance(item, AudioFrame) else -1 for item in items]


async def test_a_prompt_listener_gets_a_packet_when_it_arrives(peer: socket.socket) -> None:
    prompt, clocked = await _listener(peer), await _listener(peer, prompt=False)
    try:
        level = _level(1000)
        for session in (prompt, clocked):
            _arrive(session, peer, _packet(100, _speech(1000)))
        assert _levels(_taken(prompt)) == [level]  # before any clock tick
        assert _taken(clocked) == []  # behind its jitter buffer ...
        _tick(clocked, 3)
        assert _levels(_taken(clocked)) == [0, 0, 0]  # ... filling to three packets
    finally:
        await prompt.close()
        await clocked.close()


async def test_a_prompt_listener_waits_three_packet_times_for_a_missing_one(
    peer: socket.socket,
) -> None:
    session = await _listener(peer)
    try:
        a, c = _level(500), _level(1500)
        _arrive(session, peer, _packet(200, _speech(500)), _packet(202, _speech(1500)))
        assert _levels(_taken(session)) == [a]  # 202 waits for 201
        _tick(session, 4)  # 201 is due at the 2nd tick and waited for 3 more
        assert _taken(session) == []
        _tick(session)
        assert _levels(_taken(session)) == [0, c]  # given up: silence, then 202 at once
        assert (session.stats.jitter.lost, session.stats.jitter.played) == (1, 2)
        _arrive(session, peer, _packet(201, _speech(1000)))
        assert _taken(session) == []  # too late
        assert session.stats.jitter.late == 1
        _tick(session)  # 203 is due at the tick after 202's: waited for ...
        assert _taken(session) == []
        _tick(session)  # ... three packet times
        assert _levels(_taken(session)) == [0]
    finally:
        await session.close()


async def test_a_prompt_listener_hears_on_after_the_sender_paused(peer: socket.socket) -> None:
    session = await _listener(peer)
    try:
        _arrive(session, peer, *(_packet(seq, _speech(1000)) for seq in (1, 2)))
        _tick(session, 50)  # a second without packets (silence suppression): silence
        assert _levels(_taken(session)) == [_level(1000)] * 2 + [0] * 45  # 3 ticks behind
        _arrive(session, peer, _packet(3, _speech(2000)))  # the numbers go on
        assert _levels(_taken(session)) == [_level(2000)]
        assert (session.stats.jitter.lost, session.stats.jitter.late) == (0, 0)
    finally:
        await session.close()


async def test_a_prompt_listener_reorders_what_comes_in_time(peer: socket.socket) -> None:
    session = await _listener(peer)
    try:
        levels = [_level(v) for v in (1000, 2000, 3000, 4000)]
        _arrive(session, peer, _packet(10, _speech(1000)), _packet(12, _speech(3000)))
        assert _levels(_taken(session)) == levels[:1]
        _tick(session, 3)  # 11 is late by two packet times: still waited for
        _arrive(session, peer, _packet(11, _speech(2000)), _packet(13, _speech(4000)))
        assert _levels(_taken(session)) == levels[1:]
        assert session.stats.jitter.lost == 0
    finally:
        await session.close()


async def test_a_prompt_listener_runs_at_most_five_frames_ahead(peer: socket.socket) -> None:
    session = await _listener(peer)
    try:
        _arrive(session, peer, *(_packet(seq, _speech(seq * 100)) for seq in range(1, 9)))
        assert len(_taken(session)) == 5  # a burst (or a flood) is not faster than that
        _tick(session)
        assert len(_taken(session)) == 1  # one more per tick
        _tick(session, 2)
        assert len(_taken(session)) == 2
        _tick(session)
        assert _taken(session) == []
        assert session.stats.jitter.dropped == 0
    finally:
        await session.close()


async def test_a_prompt_listener_drops_what_a_fast_sender_piles_up(peer: socket.socket) -> None:
    session = await _listener(peer)
    try:
        _arrive(session, peer, *(_packet(seq, _speech(100)) for seq in range(1, 17)))
        assert len(_taken(session)) == 5  # 11 held
        _tick(session)  # one more taken: 10 held, not more than ten
        assert session.stats.jitter.dropped == 0
        _arrive(session, peer, _packet(17, _speech(100)))
        _tick(session)  # one taken, 10 held, then 11 with the next
        assert session.stats.jitter.dropped == 0
        _arrive(session, peer, _packet(18, _speech(100)), _packet(19, _speech(100)))
        _tick(session)  # 12 arrived, one taken: 11 held, one dropped
        assert session.stats.jitter.dropped == 1
        assert len(session._jitter) == 10
    finally:
        await session.close()


async def test_a_prompt_listener_hears_silence_before_the_first_packet(
    peer: socket.socket,
) -> None:
    session = await _listener(peer)
    try:
        _tick(session, 3)
        assert _taken(session) == []
        _tick(session)
        items = _taken(session)
        assert _levels(items) == [0]
        assert isinstance(items[0], AudioFrame) and items[0].num_samples == 160
        assert session.stats.jitter.lost == 0
        _arrive(session, peer, _packet(1, _speech(1000)))
        assert _levels(_taken(session)) == [_level(1000)]  # at once, nothing left before it
    finally:
        await session.close()


async def test_a_prompt_listener_joins_short_packets_and_keeps_events_in_order(
    peer: socket.socket,
) -> None:
    session = await _listener(peer)
    try:
        half = g711.ulaw_encode(np.full(80, 800, dtype="<i2").tobytes())
        _arrive(session, peer, _packet(1, half))
        assert _taken(session) == []  # 10 ms: half a frame
        _arrive(session, peer, _packet(2, half))
        [frame] = _taken(session)
        assert isinstance(frame, AudioFrame) and frame.num_samples == 160
        end = bytes([7, 0x80, 0, 160])  # key 7 ended, 160 samples
        _arrive(session, peer, _packet(3, half), _packet(4, end, payload_type=101))
        items = _taken(session)
        assert isinstance(items[0], AudioFrame)  # the audio before the key ...
        assert isinstance(items[-1], DtmfDigit) and items[-1].digit == "7"  # ... then the key
        _arrive(session, peer, *(_packet(seq, half) for seq in (5, 7, 8)))  # 6 is lost
        _tick(session, 6)
        frames = [i for i in _taken(session) if isinstance(i, AudioFrame)]
        assert len(frames) == 2
        assert frames[0].samples[0] != 0 and frames[0].samples[80] == 0  # 6: 10 ms silence
        assert frames[1].samples[0] != 0 and frames[1].samples[80] != 0  # 7 and 8
    finally:
        await session.close()


async def test_a_clocked_listener_takes_one_packet_per_tick(peer: socket.socket) -> None:
    session = await _listener(peer, prompt=False)
    try:
        _arrive(session, peer, *(_packet(seq, _speech(seq * 1000)) for seq in range(1, 5)))
        _tick(session)
        assert _levels(_taken(session)) == [_level(1000)]
        assert (session.stats.jitter.played, len(session._jitter)) == (1, 3)
    finally:
        await session.close()
