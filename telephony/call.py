"""Inbound SIP calls joined to the voice session: SDP answer, RTP media, transfer to staff."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from dialogue.messages import Handoff
from dialogue.tasks import cancel_and_wait
from telephony.media import DtmfDigit, Latching, MediaSources, RtpSession
from telephony.networks import Network
from telephony.sdp import NoCommonCodec, SdpError, answer_offer
from telephony.sip.ua import SipCall
from telephony.staff_hours import StaffHours
from voice.audio import AudioFrame
from voice.session import AudioIn, CallerHungUp, CallEvent, DtmfIn, VoiceSession

log = logging.getLogger(__name__)

MAX_INFO_DIGITS = 32  # SIP INFO key presses waiting for the next audio frame


@dataclass(frozen=True, slots=True)
class TransferPolicy:
    """Where and when calls go to staff (SIP REFER); `target` None: never."""

    target: str | None
    hours: StaffHours
    clock: Callable[[], bool] | None = None  # test hook: "are staff there now?"

    def staff_present(self) -> bool:
        if self.target is None:
            return False
        return self.clock() if self.clock is not None else self.hours.open_now()


class SipVoiceCall:
    """voice.session.VoiceCall over one SIP dialog and its RTP session."""

    def __init__(self, call: SipCall, media: RtpSession, policy: TransferPolicy) -> None:
        self._call = call
        self._media = media
        self._policy = policy
        self._info_digits: collections.deque[str] = collections.deque(maxlen=MAX_INFO_DIGITS)
        call.on_dtmf = self._info_digits.append  # keys sent as SIP INFO (dtmf-relay)

    @property
    def sample_rate(self) -> int:
        return self._media.sample_rate

    @property
    def caller_id(self) -> str | None:
        return self._call.caller_id

    async def events(self) -> AsyncIterator[CallEvent]:
        async for item in self._media.receive():
            while self._info_digits:
                yield DtmfIn(self._info_digits.popleft())
            if isinstance(item, DtmfDigit):
                yield DtmfIn(item.digit)
            else:
                yield AudioIn(item)
        # media ends when the dialog ended (the handler closes it) or on RTP timeout
        if self._media.timed_out:
            log.info("call %s: no RTP any more, ending the call", self._call.call_id[:8])
        yield CallerHungUp()

    async def play(self, frame: AudioFrame) -> None:
        await self._media.play(frame)

    async def stop_playback(self) -> None:
        self._media.clear_playback()

    def can_transfer(self) -> bool:
        return self._policy.staff_present()

    @property
    def transfer_target(self) -> str | None:
        return self._policy.target

    async def transfer(self, handoff: Handoff) -> bool:
        target = self._policy.target
        if target is None:
            return False
        log.info("call %s: transferring (case %s)", self._call.call_id[:8], handoff.case_id)
        if not await self._call.refer(target):
            log.info("call %s: transfer refused or failed", self._call.call_id[:8])
            return False
        await self._call.bye()
        return True

    async def hangup(self) -> None:
        await self._call.bye()


SessionFactory = Callable[[SipVoiceCall, str], VoiceSession]


class CallHandler:
    """Answers inbound calls (the UserAgent's `on_call`): 488 without a common codec, else
    200 with our SDP, then the voice session until either side ends the call."""

    def __init__(
        self,
        *,
        media_host: str,
        public_host: str,
        port_range: tuple[int, int],
        rtp_timeout_s: float,
        latching: Latching,
        media_networks: tuple[Network, ...] = (),
        policy: TransferPolicy,
        session_factory: SessionFactory,
    ) -> None:
        """`media_networks`: where RTP may come from besides the call's signalling source."""
        self._media_networks = media_networks
        self._media_host = media_host
        self._public_host = public_host
        self._ports = port_range
        self._rtp_timeout_s = rtp_timeout_s
        self._latching = latching
        self._policy = policy
        self._sessions = session_factory

    async def __call__(self, call: SipCall) -> None:
        tag = call.call_id[:8]
        media = await RtpSession.open(
            self._media_host,
            port_range=self._ports,
            rtp_timeout_s=self._rtp_timeout_s,
            latching=self._latching,
            sources=MediaSources(call.peer.host, self._media_networks),
            prompt=True,  # the voice session's VAD listens, not an ear: no playout delay
        )
        watcher: asyncio.Task[None] | None = None
        try:
            try:
                answer, params = answer_offer(call.remote_sdp, self._public_host, media.local_port)
            except NoCommonCodec:
                log.info("call %s: no common codec (488)", tag)
                await call.reject(488, "Not Acceptable Here")
                return
            except SdpError as error:
                log.info("call %s: unusable SDP (%s)", tag, error)
                await call.reject(488, "Not Acceptable Here")
                return
            call.on_reoffer = self._reoffer(media, answer)
            await call.ringing()
            await call.accept(answer)
            media.start(params)
            watcher = asyncio.create_task(_close_when_ended(call, media), name=f"call-{tag}")
            session_id = f"sip-{secrets.token_hex(8)}"
            result = await self._sessions(SipVoiceCall(call, media, self._policy), session_id).run()
            stats, jitter = media.stats, media.stats.jitter
            log.info(
                "call %s ended: %s, %d turns; RTP in %d (lost %d, late %d, underruns %d, "
                "dropped %d, consumer lag %d), out %d",
                tag,
                result.end.value,
                result.turns,
                stats.packets_received,
                jitter.lost,
                jitter.late,
                jitter.underruns,
                jitter.dropped,
                stats.frames_dropped,
                stats.packets_sent,
            )
        finally:  # a call still up when this returns is ended by the user agent (BYE)
            if watcher is not None:
                await cancel_and_wait(watcher)
            await media.close()

    def _reoffer(self, media: RtpSession, first: bytes) -> Callable[[bytes], bytes | None]:
        """Answers re-INVITEs (hold, codec change, session refresh) on the same port."""
        last = first

        def reoffer(offer: bytes) -> bytes | None:
            nonlocal last
            try:
                answer, params = answer_offer(
                    offer, self._public_host, media.local_port, previous=last
                )
            except SdpError:
                return None
            media.update(params)
            last = answer
            return answer

        return reoffer


async def _close_when_ended(call: SipCall, media: RtpSession) -> None:
    await call.ended()  # the user agent logs how the dialog ended
    await media.close()
