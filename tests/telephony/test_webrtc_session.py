"""A browser call through the real voice session (the SIP line's turn loop), with fake
engines: the greeting reaches the browser, the caller's question reaches the dialogue and
its answer comes back, and both land in the chat session's transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, EngineAnswer
from dialogue.store import ConversationStore
from telephony.capacity import CallCapacity
from telephony.webrtc import WebRtcCall, WebRtcCalls
from tests.fakes import FakeEngine, FakeSynthesizer, FakeTranscriber, FakeVad
from tests.telephony.test_webrtc import Browser, tone, until
from voice.session import VoiceSession
from voice.vad import Endpointer

QUESTION = "Wann hat das Bürgerbüro geöffnet?"
HEARD = 250  # peak of a frame carrying the fake voice (amplitude 500) after Opus
SPOKEN = 10  # such frames that make a sentence heard (the greeting is 25 frames long)


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text == "/greet":
        return EngineAnswer((BotReply("Guten Tag."),))
    return EngineAnswer((BotReply(f"Sie fragten: {text}"),))


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


async def test_a_browser_call_runs_the_voice_session_into_the_chat_transcript(
    store: ConversationStore,
) -> None:
    engine = FakeEngine(script)
    asr, tts = FakeTranscriber(QUESTION), FakeSynthesizer(ms_per_char=50, tone_hz=440)
    sessions: list[VoiceSession] = []

    def session(call: WebRtcCall, session_id: str) -> VoiceSession:
        sessions.append(
            VoiceSession(
                call,
                DialogueCore(engine, store),
                session_id=session_id,
                endpointer=Endpointer(FakeVad(), start_ms=64, end_silence_ms=300),
                transcriber=asr,
                synthesizer=tts,
            )
        )
        return sessions[-1]

    capacity = CallCapacity(max_calls=2)
    calls = WebRtcCalls(capacity=capacity, session_factory=session)
    browser = Browser()
    try:
        answer = await calls.answer(await browser.offer(), session_id="chat-7", address="a")
        await browser.accept(answer.sdp, answer.type)
        # the greeting is heard in the browser
        assert await until(lambda: sum(p > HEARD for p in browser.received) >= SPOKEN)
        assert tts.calls == ["Guten Tag."]
        assert await until(lambda: bool(sessions) and sessions[0].idle)
        heard = sum(p > HEARD for p in browser.received)
        # the caller asks; the session ends the turn on silence and the dialogue answers
        await browser.mic.play(tone(0.6))
        assert await until(lambda: ("chat-7", Channel.VOICE, QUESTION) in engine.received)
        assert await until(lambda: f"Sie fragten: {QUESTION}" in tts.calls)
        assert await until(lambda: sum(p > HEARD for p in browser.received) >= heard + SPOKEN)
        # hanging up ends the session and frees the slot
        assert calls.hangup(answer.call_id)
        assert await until(lambda: calls.running == 0)
        assert capacity.total == 0
    finally:
        await browser.close()
        await calls.aclose()
    await store.wait_flushed()
    lines = [record.text for record in await store.transcript("chat-7")]
    assert "Guten Tag." in lines and QUESTION in lines and f"Sie fragten: {QUESTION}" in lines
