"""voice-test's turn reports on fakes: an unsure transcript is re-asked, never guessed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest
from redis.asyncio import Redis

from dialogue.core import DialogueCore
from dialogue.messages import BotReply, Channel, EngineAnswer
from dialogue.store import ConversationStore
from tests.fakes import FakeEngine, FakeSynthesizer, FakeTranscriber, FakeVad
from voice.audio import AudioFrame, concat
from voice.keymenu import REASK, TOPICS, KeyMenu
from voice.offline import run_recording
from voice.vad import Endpointer

SPEECH = AudioFrame.from_samples(np.full(8000, 8000, dtype=np.int16), 8000)  # 1 s loud
QUIET = AudioFrame.silence(1.0, 8000)


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    return EngineAnswer((BotReply(f"Zu {text}."),))


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


async def test_unsure_turns_are_reasked_with_no_intent(store: ConversationStore) -> None:
    engine = FakeEngine(script)
    audio = concat([QUIET, SPEECH, QUIET, SPEECH, QUIET, SPEECH, QUIET], 8000)
    run = await run_recording(
        audio,
        core=DialogueCore(engine, store),
        store=store,
        session_id="offline-1",
        endpointer=Endpointer(FakeVad(), start_ms=64, end_silence_ms=300),
        transcriber=FakeTranscriber(("Müll Müll", 0.2), ("Hundesteuer", 0.35), ("x", 0.349)),
        synthesizer=FakeSynthesizer(ms_per_char=1),
        min_confidence=0.35,
    )
    first, second, third = (t.as_json() for t in run.turns)
    assert first["reasked"] is True and first["intent"] is None and first["confidence"] is None
    assert first["reply"] == f"{REASK} {KeyMenu(TOPICS).prompt()}"
    assert first["asr_confidence"] == 0.2
    assert second["reasked"] is False and second["reply"] == "Zu Hundesteuer."
    assert third["reasked"] is True
    assert [r[2] for r in engine.received] == ["/greet", "Hundesteuer"]
    for turn in (first, second):
        timings = turn["timings_ms"]
        assert isinstance(timings, dict)
        assert {"asr", "end_of_speech_to_first_audio"} <= set(timings)
