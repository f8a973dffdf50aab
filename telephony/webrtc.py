"""Browser calls over WebRTC (aiortc): one RTCPeerConnection per call, joined to the same
voice session as the SIP line through the same call interface (voice.session.VoiceCall).

The remote audio is read continuously (aiortc's own receive queue is unbounded) into a
bounded queue of 20 ms frames; the bot's audio leaves on a paced track (webrtc_audio).
A call ends on hang-up (either side), when ICE fails or stays disconnected for
`disconnect_timeout_s`, when it does not connect within `connect_timeout_s`, and at
`max_call_s`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from dialogue.messages import Handoff
from dialogue.tasks import cancel_and_wait
from telephony.capacity import CallCapacity, CallKind
from telephony.webrtc_audio import SAMPLE_RATE, InboundAudio, PacedAudioTrack
from voice.audio import AudioFrame
from voice.session import AudioIn, CallerHungUp, CallEvent, DtmfIn, SessionResult

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#")
CLOSE_WAIT_S = 5.0  # shutdown: how long ended calls get to close their connections


class EndCause(StrEnum):
    BOT_HUNG_UP = "bot hung up"
    CALLER_HUNG_UP = "caller hung up"
    ICE_FAILED = "ICE failed"
    DISCONNECTED = "disconnected"
    NOT_CONNECTED = "never connected"
    MAX_LENGTH = "maximum call length"
    SHUTDOWN = "gateway shutting down"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebRtcLimits:
    """Bounds of browser calls; every value validated."""

    max_call_s: float = 1800.0
    connect_timeout_s: float = 15.0  # offer answered to ICE + DTLS connected
    disconnect_timeout_s: float = 5.0  # aiortc itself gives up only after ~30 s
    inbound_frames: int = 50  # caller audio waiting for the session (1 s), oldest dropped
    playback_frames: int = 10  # bot audio queued ahead of the pacer (200 ms)
    max_keys: int = 32  # key presses waiting for the session
    max_calls_per_address: int = 2

    def __post_init__(self) -> None:
        checks = {
            "max_call_s": 10 <= self.max_call_s <= 36_000,
            "connect_timeout_s": 1 <= self.connect_timeout_s <= 120,
            "disconnect_timeout_s": 0.5 <= self.disconnect_timeout_s <= 60,
            "inbound_frames": 5 <= self.inbound_frames <= 3000,
            "playback_frames": 2 <= self.playback_frames <= 500,
            "max_keys": 1 <= self.max_keys <= 256,
            "max_calls_per_address": 1 <= self.max_calls_per_address <= 1000,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"WebRTC limits out of range: {', '.join(wrong)}")


class CallsFull(Exception):
    """The machine's voice calls are all taken (SIP and browser together)."""


class TooManyFromAddress(Exception):
    """This client address has its share of calls running."""


class BadOffer(ValueError):
    """aiortc could not answer the SDP offer."""


class SessionRun(Protocol):
    async def run(self) -> SessionResult: ...


class WebRtcCall:
    """voice.session.VoiceCall over one RTCPeerConnection."""

    def __init__(self, pc: RTCPeerConnection, call_id: str, *, limits: WebRtcLimits) -> None:
        self.pc = pc
        self.call_id = call_id
        self.out = PacedAudioTrack(queue_frames=limits.playback_frames)
        self._limits = limits
        self._audio: deque[AudioFrame] = deque()
        self._keys: deque[str] = deque(maxlen=limits.max_keys)
        self._ready = asyncio.Event()
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.cause: EndCause | None = None
        self.frames_received = 0
        self.frames_dropped = 0
        self._reader: asyncio.Task[None] | None = None
        self._disconnect: asyncio.TimerHandle | None = None
        pc.on("connectionstatechange", self._state_changed)
        pc.on("track", self._track)

    # --- the VoiceCall interface -------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def caller_id(self) -> str | None:
        return None  # a browser has no number to call back

    async def events(self) -> AsyncIterator[CallEvent]:
        while True:
            while self._keys:
                yield DtmfIn(self._keys.popleft())
            if self._audio:
                yield AudioIn(self._audio.popleft())
                continue
            if self.ended.is_set():
                break
            self._ready.clear()
            await self._ready.wait()
        yield CallerHungUp()

    async def play(self, frame: AudioFrame) -> None:
        await self.out.play(frame)

    async def stop_playback(self) -> None:
        self.out.flush()

    def can_transfer(self) -> bool:
        return False  # no SIP REFER from a browser; a handoff becomes a callback or chat case

    @property
    def transfer_target(self) -> str | None:
        return None

    async def transfer(self, handoff: Handoff) -> bool:
        return False

    async def hangup(self) -> None:
        self.end(EndCause.BOT_HUNG_UP)

    # --- from the browser ----------------------------------------------------------------

    def press(self, key: str) -> bool:
        """A key from the widget's keypad (a chat frame); False for anything but 0-9 * #."""
        if len(key) != 1 or key not in KEYS or self.ended.is_set():
            return False
        self._keys.append(key)
        self._ready.set()
        return True

    def end(self, cause: EndCause) -> None:
        """Ends the call (idempotent); the owner then closes the peer connection."""
        if self.ended.is_set():
            return
        self.cause = cause
        self.ended.set()
        self._ready.set()
        self.out.stop()
        if self._disconnect is not None:
            self._disconnect.cancel()

    async def aclose(self) -> None:
        self.end(EndCause.SHUTDOWN)
        if self._reader is not None:
            await cancel_and_wait(self._reader)
        await self.pc.close()

    # --- aiortc events -------------------------------------------------------------------

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
            if self._disconnect is not None:
                self._disconnect.cancel()
                self._disconnect = None
        elif state == "disconnected" and self._disconnect is None:
            loop = asyncio.get_running_loop()
            self._disconnect = loop.call_later(
                self._limits.disconnect_timeout_s, self.end, EndCause.DISCONNECTED
            )
        elif state in ("failed", "closed"):
            self.end(EndCause.ICE_FAILED if state == "failed" else EndCause.CALLER_HUNG_UP)

    def _track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio" or self._reader is not None:
            return
        self._reader = asyncio.get_running_loop().create_task(
            self._read(track), name=f"webrtc-in-{self.call_id[:8]}"
        )

    async def _read(self, track: MediaStreamTrack) -> None:
        """Drains aiortc's queue as fast as it fills; keeps the newest `inbound_frames`."""
        inbound = InboundAudio()
        try:
            while True:
                frame = await track.recv()
                for piece in inbound.feed(frame):  # type: ignore[arg-type]
                    if len(self._audio) >= self._limits.inbound_frames:
                        self._audio.popleft()
                        self.frames_dropped += 1
                    self._audio.append(piece)
                    self.frames_received += 1
                self._ready.set()
        except MediaStreamError:
            self.end(EndCause.CALLER_HUNG_UP)


@dataclass(frozen=True, slots=True)
class Answer:
    sdp: str
    type: str
    call_id: str


SessionFactory = Callable[[WebRtcCall, str], SessionRun]


class WebRtcCalls:
    """Owns every browser call of the gateway: answers offers, runs each call's voice
    session, ends calls; `aclose()` ends them all and waits."""

    def __init__(
        self,
        *,
        capacity: CallCapacity,
        session_factory: SessionFactory,
        limits: WebRtcLimits = WebRtcLimits(),
        ice_servers: tuple[RTCIceServer, ...] = (),
    ) -> None:
        """`ice_servers`: STUN/TURN for the gateway's own candidates (none by default: its
        host candidates; an unreachable server would delay every answer)."""
        self._capacity = capacity
        self._sessions = session_factory
        self.limits = limits
        self._ice = list(ice_servers)
        self._calls: dict[str, WebRtcCall] = {}
        self._by_session: dict[str, str] = {}
        self._by_address: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    @property
    def running(self) -> int:
        return len(self._tasks)

    def call(self, call_id: str) -> WebRtcCall | None:
        return self._calls.get(call_id)

    def call_of_session(self, session_id: str) -> WebRtcCall | None:
        call_id = self._by_session.get(session_id)
        return self._calls.get(call_id) if call_id else None

    async def answer(self, offer_sdp: str, *, session_id: str, address: str) -> Answer:
        """Answers a browser's offer and starts its call. Raises CallsFull,
        TooManyFromAddress, or BadOffer (nothing is then left running)."""
        if self._closed or self._capacity.full:
            raise CallsFull
        if self._by_address.get(address, 0) >= self.limits.max_calls_per_address:
            raise TooManyFromAddress
        if not self._capacity.take(CallKind.BROWSER):
            raise CallsFull
        call_id = secrets.token_urlsafe(16)
        self._by_address[address] = self._by_address.get(address, 0) + 1
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice))
        call = WebRtcCall(pc, call_id, limits=self.limits)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            pc.addTrack(call.out)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises ValueError and others on odd SDP
            await call.aclose()
            self._release(call_id, address)
            raise BadOffer(f"offer not usable ({type(exc).__name__})") from None
        local = pc.localDescription
        self._calls[call_id] = call
        previous = self._by_session.get(session_id)
        if previous is not None and previous in self._calls:
            self._calls[previous].end(EndCause.CALLER_HUNG_UP)  # one call per chat session
        self._by_session[session_id] = call_id
        self._tasks[call_id] = asyncio.get_running_loop().create_task(
            self._run(call, session_id, address), name=f"webrtc-call-{call_id[:8]}"
        )
        return Answer(local.sdp, local.type, call_id)

    def hangup(self, call_id: str) -> bool:
        """The browser hung up; False for an unknown (or already ended) call."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        call.end(EndCause.CALLER_HUNG_UP)
        return True

    async def aclose(self) -> None:
        self._closed = True
        for call in list(self._calls.values()):
            call.end(EndCause.SHUTDOWN)
        tasks = set(self._tasks.values())
        if tasks:  # ended calls close their peer connections; a stuck one is cancelled
            await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
        for task in tasks:
            await cancel_and_wait(task)

    async def _run(self, call: WebRtcCall, session_id: str, address: str) -> None:
        tag = call.call_id[:8]
        try:
            connected = asyncio.ensure_future(call.connected.wait())
            ended = asyncio.ensure_future(call.ended.wait())
            try:
                await asyncio.wait(
                    {connected, ended},
                    timeout=self.limits.connect_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                connected.cancel()
                ended.cancel()
            if not call.connected.is_set():
                call.end(EndCause.NOT_CONNECTED)
            else:
                loop = asyncio.get_running_loop()
                limit = loop.call_later(self.limits.max_call_s, call.end, EndCause.MAX_LENGTH)
                try:  # ending the call ends the session the way a hang-up does
                    result = await self._sessions(call, session_id).run()
                finally:
                    limit.cancel()
                log.info("browser call %s: %s, %d turns", tag, result.end.value, result.turns)
        except Exception:
            log.exception("browser call %s failed", tag)
        finally:
            call.end(EndCause.BOT_HUNG_UP)
            self._release(call.call_id, address)
            self._tasks.pop(call.call_id, None)
            if self._by_session.get(session_id) == call.call_id:
                del self._by_session[session_id]
            await call.aclose()
            log.info(
                "browser call %s ended (%s); in %d frames (dropped %d), out %d",
                tag,
                call.cause.value if call.cause else "?",
                call.frames_received,
                call.frames_dropped,
                call.out.frames_sent,
            )

    def _release(self, call_id: str, address: str) -> None:
        self._calls.pop(call_id, None)
        self._capacity.release(CallKind.BROWSER)
        left = self._by_address.get(address, 0) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)
