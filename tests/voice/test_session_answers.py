"""The voice session's answer latency for the statistics, and the withdrawal key while a
callback number is typed (fake clock: one tick is 20 ms)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from contract.stats import stats_day_key
from dialogue.metrics import BERLIN, LATENCY_BUCKETS_MS, Metrics, latency_field
from dialogue.store import ConversationStore
from tests.voice.test_session import QUIET, SPEECH, Harness, consent_log, store
from voice.recording import recorder_factory
from voice.session import (
    CALLBACK_DECLINED_TEXT,
    CALLBACK_TYPE_NUMBER_TEXT,
    NUMBER_QUESTION,
    WITHDRAWN_TEXT,
    DtmfIn,
)
from voice.speech import Consent

__all__ = ["store"]  # the fixture

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN).timestamp()
PHONE_DAY = stats_day_key(datetime(2026, 3, 10).date(), "phone")
END_SILENCE_MS = 300  # the harness's endpointer: the caller's silence before a turn ends


def metrics(redis: Redis) -> Metrics:
    return Metrics(redis, intents=["id_card"], clock=lambda: NOON)


async def latencies(redis: Redis) -> dict[str, int]:
    fields = await redis.hgetall(PHONE_DAY)
    return {k: int(v) for k, v in fields.items() if k.startswith("latency:")}


async def test_a_spoken_answer_counts_end_of_speech_to_first_audio(
    store: ConversationStore, redis: Redis
) -> None:
    async with Harness(store, "Hundesteuer", session_id="sip-1", metrics=metrics(redis)) as h:
        await h.until_quiet()
        assert await latencies(redis) == {}  # the greeting answers nobody
        await h.audio(SPEECH, 25)
        spoke_until = h.call.now
        await h.until_quiet()
        replied = [t for t, _ in h.call.played if t > spoke_until]
        h.call.send(DtmfIn("4"))  # a typed turn: no end of speech, no latency
        h.call.send(DtmfIn("#"))
        await h.until(lambda: h.engine.received[-1][2] == "4")
        await h.until_quiet()
    counted = await latencies(redis)
    assert sum(counted.values()) == 1, counted
    # the caller's wait: from the last loud frame (the endpointer's 300 ms of silence
    # included) to the reply's first frame, give or take a frame at each end on a quiet
    # machine; on a loaded one the driver's engines run in threads while the harness ticks
    # on, so the frames it notes may lie up to ten ticks off the line's (seen: 60-100 ms)
    waited_ms = (replied[0] - spoke_until) * 20
    assert waited_ms > END_SILENCE_MS
    allowed = {latency_field(ms) for ms in range(waited_ms - 200, waited_ms + 201, 20)}
    assert set(counted) <= allowed, (counted, waited_ms)
    assert min(LATENCY_BUCKETS_MS) not in {int(f.split(":")[1]) for f in counted}


async def test_browser_calls_and_unmetered_cores_count_nothing(
    store: ConversationStore, redis: Redis
) -> None:
    async with Harness(store, "Hundesteuer", session_id="webrtc-1", metrics=metrics(redis)) as h:
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
    async with Harness(store, "Hundesteuer", session_id="sip-2") as h:  # no metrics
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
    assert await latencies(redis) == {}


async def test_a_lone_nine_while_a_callback_number_is_typed_is_a_digit(
    store: ConversationStore, redis: Redis, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    async with Harness(store, recording_enabled=True, recorder=recorder_factory(folder)) as h:
        h.call.staff_present = False
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.consents == [Consent.GRANTED])
        h.call.send(DtmfIn("0"))
        await h.until(lambda: CALLBACK_TYPE_NUMBER_TEXT in " ".join(h.tts.calls))
        await h.until_quiet()
        for _ in range(2):  # two tries: a nine taken as an answer would decline the callback
            h.call.send(DtmfIn("9"))
            await h.audio(QUIET, 150)  # the lone nine times out while the number is asked for
        spoken = " ".join(h.tts.calls)
        assert WITHDRAWN_TEXT not in spoken and CALLBACK_DECLINED_TEXT not in spoken
        assert spoken.count(CALLBACK_TYPE_NUMBER_TEXT) == 1  # not asked again
        assert len(list(folder.glob("*.wav"))) == 1  # still recording
        for digit in "030999#":
            h.call.send(DtmfIn(digit))
        await h.until(lambda: h.engine.received[-1][2] == "030999")  # the number is taken
        await h.until_quiet()
        h.call.send(DtmfIn("9"))  # back in the dialogue, the nine withdraws
        await h.until(lambda: WITHDRAWN_TEXT in h.tts.calls)
        assert list(folder.glob("*.wav")) == []
    entries = await consent_log(redis)
    assert [e["event"] for e in entries] == ["answer", "withdrawn"]


async def test_a_lone_nine_while_the_dialogue_asks_for_a_phone_number_is_a_digit(
    store: ConversationStore, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    # the fake engine echoes: "Sie sagten <text>. Noch etwas?" asks for a phone number here
    asks = f"{NUMBER_QUESTION} können wir Sie erreichen"
    async with Harness(
        store, asks, "Hundesteuer", recording_enabled=True, recorder=recorder_factory(folder)
    ) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: h.consents == [Consent.GRANTED])
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until_quiet()
        h.call.send(DtmfIn("9"))
        await h.audio(QUIET, 150)
        assert WITHDRAWN_TEXT not in h.tts.calls
        assert len(list(folder.glob("*.wav"))) == 1
        await h.audio(SPEECH, 25)  # "Hundesteuer": no number asked for any more
        await h.until_quiet()
        h.call.send(DtmfIn("9"))
        await h.until(lambda: WITHDRAWN_TEXT in h.tts.calls)
        assert list(folder.glob("*.wav")) == []
