"""Browser calls: two aiortc peers in one event loop (the test plays the browser)."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import Callable

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from telephony.capacity import CallCapacity, CallKind
from telephony.webrtc import (
    BadOffer,
    CallsFull,
    EndCause,
    TooManyFromAddress,
    WebRtcCall,
    WebRtcCalls,
    WebRtcLimits,
)
from telephony.webrtc_audio import PacedAudioTrack
from voice.audio import AudioFrame
from voice.session import AudioIn, CallerHungUp, DtmfIn, SessionResult
from voice.signals import EndReason

LOUD = 2000  # peak of a frame that carries the tone (silence through Opus stays far below)


def tone(seconds: float, rate: int = 16000, hz: float = 440.0) -> AudioFrame:
    t = np.arange(int(seconds * rate)) / rate
    return AudioFrame.from_samples(0.5 * np.sin(2 * np.pi * hz * t), rate)


async def until(condition: Callable[[], bool], *, tries: int = 500, step: float = 0.02) -> bool:
    """Bounded probe: at most `tries` checks, `step` seconds apart."""
    for _ in range(tries):
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


class ListeningSession:
    """Stands in for VoiceSession: hears the call's events until the caller hangs up."""

    def __init__(self, call: WebRtcCall) -> None:
        self.call = call
        self.heard: list[AudioFrame] = []
        self.keys: list[str] = []
        self.done = False

    async def run(self) -> SessionResult:
        async for event in self.call.events():
            match event:
                case AudioIn(frame):
                    self.heard.append(frame)
                case DtmfIn(digit):
                    self.keys.append(digit)
                case CallerHungUp():
                    break
        self.done = True
        return SessionResult(EndReason.CALLER_HANGUP)

    def loud(self) -> int:
        return sum(1 for frame in self.heard if frame.peak() > LOUD)


class Browser:
    """The browser's side: sends `mic`, keeps what it receives."""

    def __init__(self, config: RTCConfiguration | None = None) -> None:
        self.pc = RTCPeerConnection(config or RTCConfiguration(iceServers=[]))
        self.mic = PacedAudioTrack(queue_frames=50)
        self.pc.addTrack(self.mic)
        self.received: list[int] = []  # peak of each frame received
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.received.append(int(np.abs(frame.to_ndarray().astype(np.int32)).max()))  # type: ignore[union-attr]
        except Exception:
            return

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, sdp: str, kind: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))

    async def close(self) -> None:
        self.mic.stop()
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


class Calls:
    def __init__(self, max_calls: int = 4, **limits: float) -> None:
        self.capacity = CallCapacity(max_calls=max_calls)
        self.sessions: list[ListeningSession] = []
        self.calls = WebRtcCalls(
            capacity=self.capacity,
            session_factory=self._session,
            limits=WebRtcLimits(**limits),  # type: ignore[arg-type]
        )

    def _session(self, call: WebRtcCall, session_id: str) -> ListeningSession:
        session = ListeningSession(call)
        self.sessions.append(session)
        return session


async def connect(calls: Calls, browser: Browser, *, session_id: str = "chat-1") -> WebRtcCall:
    answer = await calls.calls.answer(await browser.offer(), session_id=session_id, address="a")
    assert answer.type == "answer" and "m=audio" in answer.sdp
    await browser.accept(answer.sdp, answer.type)
    call = calls.calls.call(answer.call_id)
    assert call is not None
    assert await until(call.connected.is_set)
    return call


async def test_tone_in_audio_out_barge_in_flush_and_hang_up() -> None:
    calls, browser = Calls(), Browser()
    try:
        call = await connect(calls, browser)
        assert calls.capacity.count(CallKind.BROWSER) == 1
        assert call.sample_rate == 16000 and call.caller_id is None and not call.can_transfer()
        # the caller's tone reaches the session as 20 ms frames at 16 kHz
        await browser.mic.play(tone(1.0))
        assert await until(lambda: bool(calls.sessions) and calls.sessions[0].loud() >= 10)
        session = calls.sessions[0]
        assert {f.num_samples for f in session.heard} == {320}
        # the bot's speech reaches the browser
        speaking = asyncio.create_task(call.play(tone(3.0)))
        assert await until(lambda: sum(p > LOUD for p in browser.received) >= 10)
        assert call.out.queued > 0 and not speaking.done()
        # barge-in: the queue is dropped at once and only silence follows
        speaking.cancel()
        await asyncio.gather(speaking, return_exceptions=True)
        await call.stop_playback()
        assert call.out.queued == 0
        spoken, sent = call.out.speech_frames_sent, call.out.frames_sent
        assert await until(lambda: call.out.frames_sent >= sent + 10)
        assert call.out.speech_frames_sent == spoken
        # keys from the widget's keypad (a chat frame) reach the session in order
        assert call.press("1") and call.press("#")
        assert not call.press("x") and not call.press("12")
        assert await until(lambda: session.keys == ["1", "#"])
        # the browser hangs up: the session ends, the slot is free
        assert calls.calls.hangup(call.call_id)
        assert await until(lambda: calls.calls.running == 0)
        assert session.done and call.cause is EndCause.CALLER_HUNG_UP
        assert calls.capacity.total == 0
        assert not calls.calls.hangup(call.call_id)  # unknown now
    finally:
        await browser.close()
        await calls.calls.aclose()


async def test_the_browser_closing_its_connection_ends_the_call() -> None:
    calls, browser = Calls(disconnect_timeout_s=0.5), Browser()
    try:
        call = await connect(calls, browser)
        await browser.pc.close()  # no DELETE: the call must still end
        assert await until(lambda: calls.calls.running == 0)
        assert call.cause in {EndCause.CALLER_HUNG_UP, EndCause.DISCONNECTED, EndCause.ICE_FAILED}
        assert calls.capacity.total == 0
    finally:
        await browser.close()
        await calls.calls.aclose()


async def test_a_call_that_never_connects_is_ended_and_freed() -> None:
    calls, browser = Calls(connect_timeout_s=1), Browser()
    try:
        answer = await calls.calls.answer(await browser.offer(), session_id="s", address="a")
        # the browser never takes the answer: no ICE, no DTLS
        assert await until(lambda: calls.calls.running == 0)
        call_id = answer.call_id
        assert calls.calls.call(call_id) is None and calls.capacity.total == 0
    finally:
        await browser.close()
        await calls.calls.aclose()


async def test_capacity_per_address_and_bad_offers() -> None:
    calls = Calls(max_calls=2, max_calls_per_address=1)
    browsers = [Browser() for _ in range(4)]
    try:
        await calls.calls.answer(await browsers[0].offer(), session_id="s1", address="a")
        with pytest.raises(TooManyFromAddress):  # N+1 from one address
            await calls.calls.answer(await browsers[1].offer(), session_id="s2", address="a")
        await calls.calls.answer(await browsers[1].offer(), session_id="s2", address="b")
        calls.capacity.release(CallKind.BROWSER)  # pretend one ended: a SIP call takes it
        assert calls.capacity.take(CallKind.SIP)
        with pytest.raises(CallsFull):  # SIP and browser calls share the limit
            await calls.calls.answer(await browsers[2].offer(), session_id="s3", address="c")
        calls.capacity.release(CallKind.SIP)
        with pytest.raises(BadOffer):
            await calls.calls.answer("v=0\r\nnot sdp\r\n", session_id="s4", address="d")
        assert calls.capacity.total == 1  # the bad offer took no slot
    finally:
        for browser in browsers:
            await browser.close()
        await calls.calls.aclose()
    assert calls.calls.running == 0


async def test_thirty_calls_in_a_row_leave_nothing_behind() -> None:
    calls = Calls()
    tasks_before = asyncio.all_tasks()
    threads_before: set[threading.Thread] = set()
    peers: list[weakref.ref[RTCPeerConnection]] = []
    for n in range(31):
        if n == 1:  # after a first call has started the loop's resolver threads (shared)
            threads_before = set(threading.enumerate())
        browser = Browser()
        call = await connect(calls, browser, session_id=f"s{n}")
        peers.append(weakref.ref(call.pc))
        await browser.mic.play(tone(0.1))
        assert calls.calls.hangup(call.call_id)
        assert await until(lambda: calls.calls.running == 0)
        await browser.close()
        assert calls.sessions.pop().done
        del call, browser
    await calls.calls.aclose()
    assert calls.capacity.total == 0

    def left_tasks() -> set[asyncio.Task[object]]:
        return asyncio.all_tasks() - tasks_before - {asyncio.current_task()}  # type: ignore[operator]

    assert await until(lambda: not left_tasks(), tries=100), left_tasks()
    gc.collect()
    assert [ref for ref in peers if ref() is not None] == []
    # aiortc runs a decoder thread per receiver; the loop's executor may grow (shared, bounded)
    new_threads = [
        t for t in set(threading.enumerate()) - threads_before if not t.name.startswith("asyncio_")
    ]
    assert new_threads == []
    assert not [t for t in threading.enumerate() if t.name == "audio-decoder"]


async def test_a_new_call_of_a_chat_session_ends_its_previous_one() -> None:
    calls = Calls()
    first, second = Browser(), Browser()
    try:
        old = await connect(calls, first, session_id="chat-1")
        assert calls.calls.call_of_session("chat-1") is old
        new = await connect(calls, second, session_id="chat-1")  # e.g. a second tab calls
        assert await until(lambda: calls.calls.running == 1)
        assert old.cause is EndCause.CALLER_HUNG_UP and not new.ended.is_set()
        assert calls.calls.call_of_session("chat-1") is new
        assert new.press("5") and not old.press("5")
    finally:
        await first.close()
        await second.close()
        await calls.calls.aclose()
    assert calls.calls.call_of_session("chat-1") is None and calls.capacity.total == 0
