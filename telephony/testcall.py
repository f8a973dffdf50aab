"""`rathausbot call`: a test call that plays a recording as the caller and records the answer."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dialogue.tasks import cancel_and_wait
from telephony.media import DtmfDigit, RtpSession
from telephony.sdp import make_offer, parse_answer
from telephony.sip.ua import SipCall, SipCallError, SipConfig, UserAgent
from voice.audio import AudioFrame, concat, resample

FRAME_MS = 20
PLAYBACK_FRAMES = 5  # RtpSession's default playback queue
SPEECH_PEAK = 500
INVITE_TIMEOUT_S = 40.0  # the INVITE transaction gives up after 32 s (timer B)
TEARDOWN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class TestCallOptions:
    """What the test caller does: wait `lead_s`, play, send `dtmf`, listen `listen_s` more."""

    lead_s: float = 1.0
    listen_s: float = 8.0
    max_s: float = 120.0
    dtmf: str = ""
    transport: str = "udp"
    prompt: bool = False  # hear each packet as it arrives: no handset's playout buffer

    def __post_init__(self) -> None:
        if not (0 <= self.lead_s <= 60 and 0 <= self.listen_s <= 600 and 1 <= self.max_s <= 3600):
            raise ValueError("lead_s in [0, 60], listen_s in [0, 600], max_s in [1, 3600]")
        if any(d not in "0123456789*#" for d in self.dtmf):
            raise ValueError("dtmf may hold 0-9, * and # only")
        if self.transport not in ("udp", "tcp"):
            raise ValueError("transport must be udp or tcp")


@dataclass
class TestCallResult:
    answered: bool
    codec: str = ""
    heard: AudioFrame = field(default_factory=lambda: AudioFrame.silence(0, 8000))
    remote_hung_up: bool = False
    dtmf_heard: str = ""
    error: str = ""
    played_until: float = 0.0  # time.monotonic() when the last frame of `play` was sent
    speech_until: float = 0.0  # ... and when its last frame louder than SPEECH_PEAK was sent
    arrivals: list[float] = field(default_factory=list)  # monotonic arrival time per heard frame

    def first_sound_after(self, moment: float, *, peak: int = 1000) -> float | None:
        """Arrival time of the first frame louder than `peak` heard after `moment`."""
        frames = self.heard.split(FRAME_MS)
        for at, frame in zip(self.arrivals, frames, strict=False):
            if at > moment and frame.peak() > peak:
                return at
        return None


async def test_call(
    uri: str,
    play: AudioFrame,
    *,
    local_host: str,
    options: TestCallOptions = TestCallOptions(),
    progress: Callable[[str], None] = lambda _: None,
) -> TestCallResult:
    """Calls `uri`, plays `play` after `lead_s`, then listens; returns what came back."""
    agent = UserAgent(SipConfig(host=local_host, port=0), _refuse_inbound)
    await agent.start()
    media = await RtpSession.open(local_host, port_range=(30000, 39999), prompt=options.prompt)
    try:
        progress(f"Calling {uri} ...")
        offer = make_offer(local_host, media.local_port)
        try:
            async with asyncio.timeout(INVITE_TIMEOUT_S):
                call = await agent.invite(uri, offer, transport=options.transport)
        except SipCallError as error:
            return TestCallResult(answered=False, error=str(error))
        except TimeoutError:
            return TestCallResult(answered=False, error=f"no answer in {INVITE_TIMEOUT_S:.0f} s")
        params = parse_answer(call.remote_sdp, offer)
        media.start(params)
        progress(
            f"Answered ({params.codec}); playing {play.duration_s:.1f} s "
            f"after {options.lead_s:.1f} s"
        )
        result = TestCallResult(answered=True, codec=params.codec)
        heard: list[AudioFrame] = []
        receiver = asyncio.create_task(_receive(media, heard, result), name="test-call-receive")
        try:
            async with asyncio.timeout(options.max_s):
                await _talk(media, play, options, result, call_ended=call.ended)
        except TimeoutError:
            progress(f"Stopped after {options.max_s:.0f} s")
        finally:
            result.remote_hung_up = call.is_ended
            if not call.is_ended:
                with contextlib.suppress(TimeoutError, SipCallError):
                    async with asyncio.timeout(TEARDOWN_TIMEOUT_S):
                        await call.bye()
            await cancel_and_wait(receiver)
        result.heard = concat(heard, 8000) if heard else result.heard
        progress("Remote side hung up" if result.remote_hung_up else "Hung up")
        return result
    finally:
        await media.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TEARDOWN_TIMEOUT_S):
                await agent.stop()


async def _talk(
    media: RtpSession,
    play: AudioFrame,
    options: TestCallOptions,
    result: TestCallResult,
    *,
    call_ended: Callable[[], Awaitable[str]],
) -> None:
    ended = asyncio.ensure_future(call_ended())
    try:
        silence = AudioFrame.silence(FRAME_MS / 1000, 8000)
        steps: list[AudioFrame] = [silence] * round(options.lead_s * 1000 / FRAME_MS)
        steps += resample(play, 8000).split(FRAME_MS)
        for frame in steps:
            if ended.done():
                return
            await media.play(frame)
            # play() returns once the frame is queued behind PLAYBACK_FRAMES others
            sent = time.monotonic() + PLAYBACK_FRAMES * FRAME_MS / 1000
            if frame.peak() > SPEECH_PEAK:
                result.speech_until = sent
        result.played_until = time.monotonic() + PLAYBACK_FRAMES * FRAME_MS / 1000
        for digit in options.dtmf:
            if ended.done():
                return
            await media.send_dtmf(digit)
        for _ in range(round(options.listen_s * 1000 / FRAME_MS)):
            if ended.done():
                return
            await media.play(silence)
    finally:
        ended.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ended


async def _receive(media: RtpSession, heard: list[AudioFrame], result: TestCallResult) -> None:
    async for item in media.receive():
        if isinstance(item, DtmfDigit):
            result.dtmf_heard += item.digit
        else:
            heard.append(item)
            result.arrivals.append(time.monotonic())


async def _refuse_inbound(call: SipCall) -> None:
    await call.reject(486, "Busy Here")  # a test caller takes no calls
