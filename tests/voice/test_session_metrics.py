"""The voice session feeds the live metrics: one spoken turn gives one end-of-turn wait, one
transcription with its real-time factor, Rasa round trips, the first audio of each reply
and one end-of-speech-to-audio answer (fake clock: one tick is 20 ms)."""

from __future__ import annotations

from redis.asyncio import Redis

from dialogue.metrics import Metrics
from dialogue.store import ConversationStore
from dialogue.telemetry import Stage, Telemetry
from tests.voice.test_session import SPEECH, Harness, store

__all__ = ["store"]  # the fixture


def count(t: Telemetry, stage: Stage) -> float | None:
    return t.registry.get_sample_value("rathausbot_stage_seconds_count", {"stage": stage.value})


async def test_one_spoken_turn_moves_every_stage(store: ConversationStore, redis: Redis) -> None:
    t = Telemetry()
    metrics = Metrics(redis, intents=["id_card"], telemetry=t)
    async with Harness(store, "Hundesteuer", session_id="sip-7", metrics=metrics) as h:
        await h.until_quiet()
        assert count(t, Stage.RASA) == 1  # the greeting
        assert count(t, Stage.ASR) == 0 and count(t, Stage.ANSWER) == 0
        greeting_audio = count(t, Stage.TTS_FIRST_AUDIO)
        assert greeting_audio is not None and greeting_audio >= 1
        await h.audio(SPEECH, 25)
        await h.until_quiet()
    assert count(t, Stage.VAD_END_OF_TURN) == 1
    waited = t.registry.get_sample_value(
        "rathausbot_stage_seconds_sum", {"stage": Stage.VAD_END_OF_TURN.value}
    )
    assert waited is not None and 0.25 <= waited <= 0.35  # the harness's 300 ms of silence
    assert count(t, Stage.ASR) == 1
    assert t.registry.get_sample_value("rathausbot_asr_real_time_factor_count") == 1
    assert count(t, Stage.RASA) == 2
    assert count(t, Stage.ANSWER) == 1
    assert (count(t, Stage.TTS_FIRST_AUDIO) or 0) > greeting_audio
    assert t.registry.get_sample_value("rathausbot_turns_total", {"channel": "phone"}) == 1
