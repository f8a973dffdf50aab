"""SipVoiceCall: a SIP dialog and its RTP session as the voice session's call (fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dialogue.messages import Handoff
from telephony.call import SipVoiceCall, TransferPolicy
from telephony.media import DtmfDigit
from telephony.staff_hours import StaffHours
from voice.audio import AudioFrame
from voice.session import AudioIn, CallerHungUp, DtmfIn

FRAME = AudioFrame.silence(0.02, 8000)
HOURS = StaffHours.parse("Mo-So 00:00-24:00")


class FakeSipCall:
    def __init__(self, *, refer_ok: bool = True) -> None:
        self.call_id = "abcdef0123456789"
        self.caller_id: str | None = "+4930123456"
        self.on_dtmf: object = None
        self.refer_ok = refer_ok
        self.referred: list[str] = []
        self.byes = 0

    async def refer(self, target: str) -> bool:
        self.referred.append(target)
        return self.refer_ok

    async def bye(self) -> None:
        self.byes += 1


class FakeMedia:
    sample_rate = 8000

    def __init__(self, items: list[AudioFrame | DtmfDigit], *, timed_out: bool = False) -> None:
        self.items = items
        self.timed_out = timed_out
        self.cleared = 0

    async def receive(self) -> AsyncIterator[AudioFrame | DtmfDigit]:
        for item in self.items:
            await asyncio.sleep(0)
            yield item

    def clear_playback(self) -> None:
        self.cleared += 1


def voice_call(
    media: FakeMedia, sip: FakeSipCall, target: str | None = "sip:staff@pbx", present: bool = True
) -> SipVoiceCall:
    policy = TransferPolicy(target, HOURS, clock=lambda: present)
    return SipVoiceCall(sip, media, policy)  # type: ignore[arg-type]


async def test_audio_rtp_and_sip_info_keys_arrive_in_order_and_end_with_a_hang_up() -> None:
    sip = FakeSipCall()
    media = FakeMedia([FRAME, DtmfDigit("5", 160), FRAME, FRAME])
    call = voice_call(media, sip)
    events = []
    async for event in call.events():
        events.append(event)
        if len(events) == 2:
            sip.on_dtmf("9")  # type: ignore[operator]  # SIP INFO arrives meanwhile
    assert events == [
        AudioIn(FRAME),
        DtmfIn("5"),
        DtmfIn("9"),
        AudioIn(FRAME),
        AudioIn(FRAME),
        CallerHungUp(),
    ]
    assert call.caller_id == "+4930123456" and call.sample_rate == 8000


async def test_an_accepted_transfer_leaves_the_call() -> None:
    sip = FakeSipCall(refer_ok=True)
    call = voice_call(FakeMedia([]), sip)
    assert call.can_transfer()
    assert await call.transfer(Handoff("user_request"))
    assert sip.referred == ["sip:staff@pbx"] and sip.byes == 1


async def test_a_refused_transfer_keeps_the_caller() -> None:
    sip = FakeSipCall(refer_ok=False)
    call = voice_call(FakeMedia([]), sip)
    assert not await call.transfer(Handoff("user_request"))
    assert sip.byes == 0


async def test_no_transfer_without_a_target_or_outside_staff_hours() -> None:
    assert not voice_call(FakeMedia([]), FakeSipCall(), target=None).can_transfer()
    assert not voice_call(FakeMedia([]), FakeSipCall(), present=False).can_transfer()
    sip = FakeSipCall()
    assert not await voice_call(FakeMedia([]), sip, target=None).transfer(Handoff("x"))
    assert sip.referred == []


async def test_barge_in_drops_queued_audio_and_hang_up_says_bye() -> None:
    sip, media = FakeSipCall(), FakeMedia([])
    call = voice_call(media, sip)
    await call.stop_playback()
    await call.hangup()
    assert media.cleared == 1 and sip.byes == 1
