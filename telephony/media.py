"""The RTP session of one call: a UDP socket, symmetric RTP, a jitter buffer, 20 ms pacing,
G.711 and RFC 4733 DTMF. It is the audio of a `voice.session.VoiceCall` (see telephony.call).

Sending is continuous: every 20 ms one packet leaves, the next queued frame or, when the
bot is silent, a frame of encoded silence (most PBXs and trunks expect a steady stream and
some end calls without it). Receiving is continuous too: `receive()` yields one 20 ms frame
per tick, silence where packets were lost or nothing arrived, so the voice session's
silence timers keep running on the caller's audio time.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

from dialogue.tasks import cancel_and_wait
from telephony import g711
from telephony.networks import Network, in_networks
from telephony.rtp import (
    DtmfDigit,
    DtmfReceiver,
    JitterBuffer,
    RtpError,
    RtpPacket,
    RtpStats,
    TelephoneEvent,
    dtmf_events,
    is_rtcp,
    parse_rtcp,
)
from telephony.sdp import Direction, MediaParams
from voice.audio import AudioFrame, resample

__all__ = ["DtmfDigit", "Latching", "MediaSources", "Pacer", "RtpSession"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = 2 * FRAME_SAMPLES
MAX_DATAGRAM = 2048  # larger datagrams are not G.711 at sane packet times
MAX_PAYLOAD = 1280  # 160 ms of G.711
MAX_CATCH_UP = 3  # ticks processed at once after a stall; beyond, the gap is skipped
# A prompt listener (`prompt=True`) gets each packet as soon as it and those before it are
# here: at most PROMPT_LEAD_FRAMES frames ahead of the clock (a burst after a stall; a
# flood cannot make it faster than that), and a missing packet is waited for
# PROMPT_WAIT_FRAMES packet times behind the clock, then concealed with silence.
PROMPT_LEAD_FRAMES = 5
PROMPT_WAIT_FRAMES = 3
PROMPT_MAX_HELD = 10  # packets held beyond the lead (a sender faster than the clock)


class Latching(StrEnum):
    """Symmetric RTP: where to send, and whom to hear.

    PRIVATE: latch onto the source of the first valid packet when the SDP address is not a
    public one (a phone behind NAT writes its private address); otherwise as OFF.
    ALWAYS: latch onto the first valid packet's source whatever the SDP says.
    OFF: send to the SDP address; accept packets from its IP address only.
    After latching, packets from any other source are dropped.
    """

    PRIVATE = "private"
    ALWAYS = "always"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class MediaSources:
    """Whose RTP a call takes, and where it may send: the host its signalling came from, or
    a configured media network (a PBX's media gateways). Anything else is an RTP bleed
    attempt or a probe: its packets are dropped and an SDP address there is not sent to."""

    signalling_host: str
    networks: tuple[Network, ...] = ()

    def allows(self, host: str) -> bool:
        return host == self.signalling_host or in_networks(host, self.networks)


@dataclass
class Pacer:
    """Absolute deadlines every `period` seconds from `start`: a late wake-up does not
    shift the ones after it, so the packet rate does not drift."""

    start: float
    period: float = FRAME_MS / 1000
    ticks: int = 0

    @property
    def deadline(self) -> float:
        return self.start + self.ticks * self.period

    def due(self, now: float) -> int:
        """How many ticks are due at `now` (0 before the next deadline); counts them done."""
        if now < self.deadline:
            return 0
        count = int((now - self.deadline) / self.period) + 1
        self.ticks += count
        return count


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.session: RtpSession | None = None

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.session is not None:  # IPv6 addresses come as (host, port, flow, scope)
            self.session._on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP socket error: %s", exc)  # e.g. ICMP port unreachable; keep going


class RtpSession:
    """One call's RTP over one UDP socket. Use `await RtpSession.open(...)`, then `start()`
    with the negotiated MediaParams; `close()` (or `async with`) ends it."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        protocol: _Protocol,
        local_port: int,
        *,
        rtp_timeout_s: float,
        latching: Latching,
        sources: MediaSources | None,
        playback_frames: int,
        receive_frames: int,
        prompt: bool = False,
    ) -> None:
        self.local_port = local_port
        self.timed_out = False
        self.stats = RtpStats()
        self._transport = transport
        self._timeout_s = rtp_timeout_s
        self._latching = latching
        self._sources = sources
        self._sdp_allowed = True
        self._playback_max = playback_frames
        self._receive_max = receive_frames
        self._loop = asyncio.get_running_loop()
        self._params: MediaParams | None = None
        self._remote: tuple[str, int] | None = None
        self._latched = False
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._marker = True
        self._playback: deque[bytes] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._dtmf_out: deque[tuple[TelephoneEvent, bool]] = deque()
        self._dtmf_ts: int | None = None
        self._dtmf_done: asyncio.Future[None] | None = None
        self._dtmf_lock = asyncio.Lock()
        self._out: deque[AudioFrame | DtmfDigit | None] = deque()
        self._out_ready = asyncio.Event()
        self._jitter = JitterBuffer()
        self.stats.jitter = self._jitter.stats
        self._prompt = prompt
        self._credit = 0  # prompt mode: frames handed out less clock ticks passed
        self._dtmf_in = DtmfReceiver()
        self._rx_ssrc: int | None = None
        self._pcm_in = bytearray()
        self._last_samples = FRAME_SAMPLES
        self._last_rx = 0.0
        self._task: asyncio.Task[None] | None = None
        self._ended = False
        self._closed = False
        self._failed = False
        protocol.session = self

    @classmethod
    async def open(
        cls,
        host: str,
        *,
        port_range: tuple[int, int] = (20000, 20999),
        rtp_timeout_s: float = 30.0,
        latching: Latching | str = Latching.PRIVATE,
        sources: MediaSources | None = None,
        playback_frames: int = 5,
        receive_frames: int = 500,
        prompt: bool = False,
    ) -> RtpSession:
        """Binds a UDP socket on `host` at a free even port of `port_range` (both ends
        included). `sources` restricts whom it hears and sends to (None: anyone, for tests
        of the session alone). `playback_frames` bounds the frames `play()` queues (100 ms
        by default), `receive_frames` those `receive()` holds while its consumer is busy
        (10 s by default, e.g. during speech recognition; beyond, the oldest frames are
        dropped). `prompt`: `receive()` hands out each packet as soon as it and the ones
        before it are here, for a listener that plays nothing to an ear (the voice
        session's VAD), instead of on the 20 ms clock behind a jitter buffer of at least
        three packets (60 ms) that a person's ear needs; a missing packet is waited for
        PROMPT_WAIT_FRAMES packet times, then concealed."""
        low, high = port_range
        if not 1 <= low <= high <= 65535:
            raise ValueError("port_range must be (low, high) within [1, 65535]")
        if not 0.5 <= rtp_timeout_s <= 3600:
            raise ValueError("rtp_timeout_s must be in [0.5, 3600]")
        if not 1 <= playback_frames <= 100 or not 1 <= receive_frames <= 1000:
            raise ValueError("playback_frames must be in [1, 100], receive_frames in [1, 1000]")
        mode = Latching(latching)
        ports = list(range(low + low % 2, high + 1, 2))
        if not ports:
            raise ValueError("port_range holds no even port")
        first = secrets.randbelow(len(ports))
        loop = asyncio.get_running_loop()
        for port in ports[first:] + ports[:first]:
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    _Protocol, local_addr=(host, port)
                )
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            return cls(
                transport,
                protocol,
                port,
                rtp_timeout_s=rtp_timeout_s,
                latching=mode,
                sources=sources,
                playback_frames=playback_frames,
                receive_frames=receive_frames,
                prompt=prompt,
            )
        raise OSError(errno.EADDRINUSE, f"no free even RTP port in {low}-{high}")

    async def __aenter__(self) -> RtpSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _stopped(self) -> bool:
        return self._closed or self._failed

    @property
    def prompt(self) -> bool:
        """Packets reach `receive()` as they come (see `open`)."""
        return self._prompt

    @property
    def params(self) -> MediaParams | None:
        return self._params

    @property
    def remote_addr(self) -> tuple[str, int] | None:
        """Where packets go now (the SDP address, or the latched source)."""
        return self._remote

    # --- control ---------------------------------------------------------------------

    def start(self, params: MediaParams) -> None:
        """Begins the 20 ms clock: sending, the jitter buffer and `receive()` frames."""
        if self._task is not None or self._closed:
            raise RuntimeError("RTP session already started or closed")
        self._apply(params)
        self._task = asyncio.create_task(self._run(), name=f"rtp-{self.local_port}")

    def update(self, params: MediaParams) -> None:
        """Applies a re-INVITE: new address (latching starts over), codec, direction."""
        if self._task is None or self._closed:
            raise RuntimeError("RTP session not running")
        self._apply(params)

    def _apply(self, params: MediaParams) -> None:
        old = self._params
        self._params = params
        if old is None or old.remote_addr != params.remote_addr:
            self._sdp_allowed = self._sources is None or self._sources.allows(params.remote_addr[0])
            self._remote = params.remote_addr if self._sdp_allowed else None
            self._latched = False
            if not self._sdp_allowed:
                log.warning(
                    "RTP: the SDP's media address is not the caller's; sending only once "
                    "the caller's own RTP arrives"
                )
        if old is not None and (old.payload_type, old.codec) != (params.payload_type, params.codec):
            self._jitter.reset()
            self._pcm_in.clear()
        if old is None or not Direction(old.direction).sends:
            self._marker = True
        self._last_rx = self._loop.time()

    async def close(self) -> None:
        """Stops the clock, closes the socket and ends `receive()`; idempotent."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._transport.close()
        self._end()
        self._room.set()
        self._playback.clear()
        self._finish_dtmf()

    # --- sending ---------------------------------------------------------------------

    async def play(self, frame: AudioFrame) -> None:
        """Queues `frame` (cut into 20 ms packets, the last padded with silence; any rate,
        resampled to 8 kHz); returns once the queue has room again, so a caller that plays
        frame after frame is paced in real time. Returns at once after `close()`."""
        if frame.sample_rate != SAMPLE_RATE:
            frame = resample(frame, SAMPLE_RATE)
        pcm = frame.pcm
        for start in range(0, len(pcm), FRAME_BYTES):
            while len(self._playback) >= self._playback_max and not self._stopped:
                self._room.clear()
                await self._room.wait()
            if self._stopped:
                return
            self._playback.append(pcm[start : start + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))

    def clear_playback(self) -> None:
        """Drops every queued frame at once (barge-in); the next packet is silence."""
        self._playback.clear()
        self._room.set()

    async def send_dtmf(self, digit: str, duration_ms: int = 160) -> None:
        """Sends one key press as RFC 4733 events (audio pauses meanwhile); returns when the
        last end packet left (at once after `close()`). ValueError when the peer did not
        negotiate telephone-event."""
        params = self._params
        if self._closed:
            return
        if params is None or self._task is None:
            raise RuntimeError("RTP session not started")
        if params.dtmf_payload_type is None:
            raise ValueError("the peer did not negotiate telephone-event")
        packets = dtmf_events(digit, duration_ms)
        async with self._dtmf_lock:
            if self._closed:
                return
            done: asyncio.Future[None] = self._loop.create_future()
            self._dtmf_done = done
            self._dtmf_ts = None
            self._dtmf_out.extend(packets)
            await done

    def _finish_dtmf(self) -> None:
        self._dtmf_out.clear()
        if self._dtmf_done is not None and not self._dtmf_done.done():
            self._dtmf_done.set_result(None)
        self._dtmf_done = None

    def _send(self, payload_type: int, timestamp: int, payload: bytes, marker: bool) -> None:
        packet = RtpPacket(payload_type, self._seq, timestamp, self._ssrc, payload, marker)
        self._seq = (self._seq + 1) & 0xFFFF
        if self._remote is None:
            return
        try:
            self._transport.sendto(packet.serialize(), self._remote)
        except (OSError, ValueError) as exc:
            log.debug("RTP send failed: %s", exc)
            return
        self.stats.packets_sent += 1

    def _send_tick(self, params: MediaParams) -> None:
        sends = Direction(params.direction).sends
        if self._dtmf_out:
            event, marker = self._dtmf_out.popleft()
            if self._dtmf_ts is None:
                self._dtmf_ts = self._ts
            if sends and params.dtmf_payload_type is not None:
                self._send(params.dtmf_payload_type, self._dtmf_ts, event.serialize(), marker)
            if not self._dtmf_out:
                self._finish_dtmf()
        else:
            pcm = self._playback.popleft() if self._playback else None
            if sends:
                payload = (
                    g711.encode(params.codec, pcm)
                    if pcm is not None
                    else g711.silence(params.codec, FRAME_SAMPLES)
                )
                self._send(params.payload_type, self._ts, payload, self._marker)
                self._marker = False
            else:
                self._marker = True
            if len(self._playback) < self._playback_max:
                self._room.set()
        self._ts = (self._ts + FRAME_SAMPLES) & 0xFFFFFFFF

    # --- the clock -------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._clock()
        except Exception:  # a bug here must end this call cleanly, not hang it
            log.exception("RTP session failed")
            self._failed = True
            self._room.set()
            self._finish_dtmf()
            self._end()

    async def _clock(self) -> None:
        pacer = Pacer(self._loop.time())
        while True:
            delay = pacer.deadline - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            due = pacer.due(self._loop.time())
            params = self._params
            if params is None or due == 0:
                continue
            if due > MAX_CATCH_UP:  # the loop stalled: keep timestamps on the clock
                self._ts = (self._ts + (due - 1) * FRAME_SAMPLES) & 0xFFFFFFFF
                self._marker = True
                due = 1
            for _ in range(due):
                self._send_tick(params)
                self._receive_tick(params)

    # --- receiving -------------------------------------------------------------------

    async def receive(self) -> AsyncIterator[AudioFrame | DtmfDigit]:
        """20 ms AudioFrames at 8 kHz (silence for lost packets) and DtmfDigits, in order;
        ends on RTP timeout (`timed_out` is then True) or `close()`."""
        while True:
            while self._out:
                item = self._out.popleft()
                if item is None:
                    return
                yield item
            if self._ended:
                return
            self._out_ready.clear()
            await self._out_ready.wait()

    def _emit(self, item: AudioFrame | DtmfDigit | None) -> None:
        if item is not None and len(self._out) >= self._receive_max:
            oldest = next((x for x in self._out if isinstance(x, AudioFrame)), None)
            if oldest is None:
                return  # only DTMF queued: a consumer that stalled this long loses digits
            self._out.remove(oldest)
            self.stats.frames_dropped += 1
        self._out.append(item)
        self._out_ready.set()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._emit(None)

    def _receive_tick(self, params: MediaParams) -> None:
        if self._ended:
            return
        if (
            Direction(params.direction).receives
            and self._loop.time() - self._last_rx > self._timeout_s
        ):
            log.info("RTP timeout: no packets for %.0f s", self._timeout_s)
            self.timed_out = True
            self._end()
            return
        if self._prompt:
            self._prompt_tick(params)
            return
        while len(self._pcm_in) < FRAME_BYTES:
            self._add_pcm(params, self._jitter.pop())
        self._emit_frame()

    def _add_pcm(self, params: MediaParams, payload: bytes | None) -> None:
        if not payload:  # lost, late, not yet there, or a telephone event
            self._pcm_in += bytes(2 * self._last_samples)
        else:
            self._last_samples = max(len(payload), FRAME_SAMPLES // 4)
            self._pcm_in += g711.decode(params.codec, payload)

    def _emit_frame(self) -> None:
        frame = AudioFrame(bytes(self._pcm_in[:FRAME_BYTES]), SAMPLE_RATE)
        del self._pcm_in[:FRAME_BYTES]
        self._emit(frame)

    def _prompt_ready(self, params: MediaParams) -> None:
        """Hands out the packets that are here in sequence, up to the lead bound."""
        while self._credit < PROMPT_LEAD_FRAMES:
            payload = self._jitter.pop_ready()
            if payload is None:
                return
            self._prompt_add(params, payload)

    def _prompt_add(self, params: MediaParams, payload: bytes | None) -> None:
        """Adds `payload` (None: silence) and hands out every whole frame, counting each."""
        self._add_pcm(params, payload)
        while len(self._pcm_in) >= FRAME_BYTES:
            self._emit_frame()
            self._credit += 1

    def _prompt_tick(self, params: MediaParams) -> None:
        self._credit -= 1
        self._prompt_ready(params)
        while self._credit < -PROMPT_WAIT_FRAMES:  # waited long enough: conceal it
            self._prompt_add(params, self._jitter.pop_late())
            self._prompt_ready(params)  # the packets after the gap
        if len(self._jitter) > PROMPT_MAX_HELD:
            self._jitter.drop_oldest()

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Nothing a peer sends raises out of here: bad datagrams are counted and dropped."""
        try:
            self._handle(data, addr)
        except Exception:  # defensive: a parsing bug must not end the call
            log.exception("RTP datagram dropped")
            self.stats.garbage += 1

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        params = self._params
        if params is None or self._ended:
            return
        if len(data) > MAX_DATAGRAM:
            self.stats.garbage += 1
            return
        if is_rtcp(data):
            try:
                parse_rtcp(data)
                self.stats.rtcp += 1
            except RtpError:
                self.stats.garbage += 1
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.stats.garbage += 1
            return
        if packet.payload_type not in (params.payload_type, params.dtmf_payload_type):
            self.stats.wrong_payload_type += 1
            return
        if not self._source_ok(addr, params):
            self.stats.wrong_source += 1
            return
        self.stats.packets_received += 1
        self._last_rx = self._loop.time()
        if packet.ssrc != self._rx_ssrc:
            if self._rx_ssrc is not None:
                self._jitter.reset()
                self._dtmf_in = DtmfReceiver()
            self._rx_ssrc = packet.ssrc
        if not Direction(params.direction).receives:
            return
        if packet.payload_type == params.payload_type:
            if 0 < len(packet.payload) <= MAX_PAYLOAD:
                self._jitter.push(packet.sequence_number, packet.payload)
                if self._prompt:
                    self._prompt_ready(params)
            else:
                self.stats.garbage += 1
            return
        # Events take the audio's place in the sequence: keep the jitter buffer's count.
        self._jitter.push(packet.sequence_number, b"")
        if self._prompt:
            self._prompt_ready(params)
        try:
            digits = self._dtmf_in.feed(packet.timestamp, packet.payload)
        except RtpError:
            self.stats.garbage += 1
            return
        for digit in digits:
            self.stats.dtmf_received += 1
            self._emit(digit)

    def _source_ok(self, addr: tuple[str, int], params: MediaParams) -> bool:
        if self._sources is not None and not self._sources.allows(addr[0]):
            return False
        if self._latched:
            return addr == self._remote
        if self._sdp_allowed and (
            self._latching is Latching.OFF
            or (self._latching is Latching.PRIVATE and _is_public(params.remote_addr[0]))
        ):
            return addr[0] == params.remote_addr[0]
        self._latched = True
        if addr != self._remote:
            log.info("symmetric RTP: sending to the packets' source instead of the SDP address")
            self._remote = addr
        return True


def _is_public(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False
