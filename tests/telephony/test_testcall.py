"""`test_call`, the test phone of `rathausbot call` and the benchmarks (its media wiring)."""

from __future__ import annotations

from typing import Any

import pytest

from telephony import testcall
from telephony.media import RtpSession
from telephony.sip.sipcall import SipCallError
from voice.audio import AudioFrame


async def test_the_test_phone_hears_through_a_playout_buffer_unless_told_to_take_each_packet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the benchmark measures the answer at the caller's socket with `prompt=True`: its first
    # packet, not the end of a handset's 3-packet playout buffer
    opened: list[RtpSession] = []
    real_open = RtpSession.open

    async def open_media(*args: Any, **kwargs: Any) -> RtpSession:
        media = await real_open(*args, **kwargs)
        opened.append(media)
        return media

    async def refuse(*_: Any, **__: Any) -> None:
        raise SipCallError(486, "Busy Here")

    monkeypatch.setattr(testcall.RtpSession, "open", open_media)
    monkeypatch.setattr(testcall.UserAgent, "invite", refuse)
    quiet = AudioFrame.silence(0.1, 8000)
    for options in (testcall.TestCallOptions(), testcall.TestCallOptions(prompt=True)):
        result = await testcall.test_call(
            "sip:rathaus@127.0.0.1:9", quiet, local_host="127.0.0.1", options=options
        )
        assert (result.answered, result.error) == (False, "486 Busy Here")
    assert [media.prompt for media in opened] == [False, True]
