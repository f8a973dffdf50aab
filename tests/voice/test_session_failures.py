"""Engines that fail during a call: the caller hears an apology that offers a person, the
call goes on (fake clock, fakes with failure switches)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from contract.conversation import Role
from dialogue.store import ConversationStore
from tests.voice.test_session import QUIET, SPEECH, Harness
from voice.session import APOLOGY_TEXT, CONSENT_TEXT, REPROMPT_TEXT, DtmfIn, EndReason
from voice.tts import speech_units

APOLOGY = speech_units(APOLOGY_TEXT)


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


def apologised(h: Harness) -> bool:
    return h.tts.calls[-len(APOLOGY) :] == APOLOGY


async def test_a_failing_recogniser_is_apologised_for_and_the_call_goes_on(
    store: ConversationStore,
) -> None:
    async with Harness(store, "Hundesteuer") as h:
        h.asr.fail_next = 1
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: apologised(h))
        assert [r[2] for r in h.engine.received] == ["/greet"]
        await h.until_quiet()
        await h.audio(SPEECH, 25)  # heard this time
        await h.until(lambda: h.engine.received[-1][2] == "Hundesteuer")
        assert not h.call.hung_up
    assert (await h.result()).end is EndReason.CALLER_HANGUP


async def test_a_failing_synthesiser_is_apologised_for_and_key_zero_reaches_a_person(
    store: ConversationStore,
) -> None:
    async with Harness(store, "Hundesteuer") as h:
        await h.until_quiet()
        h.tts.fail_next = 1
        await h.audio(SPEECH, 25)
        await h.until(lambda: apologised(h))
        assert h.tts.failed == ["Sie sagten Hundesteuer."]
        h.call.send(DtmfIn("0"))  # the offered person, at once
        await h.until(lambda: bool(h.call.transferred))
        assert h.engine.received[-1][2] == "/human_handoff"
    assert (await h.result()).end is EndReason.TRANSFERRED


async def test_a_synthesiser_that_is_down_leaves_the_call_open(store: ConversationStore) -> None:
    async with Harness(store, "Hundesteuer", "tschüss") as h:
        await h.until_quiet()
        h.tts.down = True  # the apology cannot be said either: no loop, no hang-up
        await h.audio(SPEECH, 25)
        await h.until(lambda: len(h.tts.failed) == 2)
        assert h.tts.failed[-1] == APOLOGY[0]
        await h.audio(QUIET, 50)
        assert not h.call.hung_up and len(h.tts.failed) == 2
        h.tts.down = False
        await h.audio(SPEECH, 25)
        await h.until(lambda: h.call.hung_up)  # "tschüss": the goodbye ends the call
    assert (await h.result()).end is EndReason.BOT_HANGUP


async def test_a_failing_dialogue_is_apologised_for_and_the_next_turn_is_answered(
    store: ConversationStore,
) -> None:
    async with Harness(store, "erste Frage", "zweite Frage") as h:
        await h.until_quiet()
        h.engine.fail_next = 1
        await h.audio(SPEECH, 25)
        await h.until(lambda: apologised(h))
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: "Sie sagten zweite Frage." in h.tts.calls)
        assert not h.call.hung_up


async def test_a_failing_greeting_is_apologised_for_and_consent_is_still_asked(
    store: ConversationStore,
) -> None:
    h = Harness(store, recording_enabled=True)
    h.engine.fail_next = 1
    async with h:
        await h.until(lambda: apologised(h))
        await h.until(lambda: any("aufzeichnen" in c for c in h.tts.calls))
        assert h.tts.calls[: len(APOLOGY)] == APOLOGY


async def test_the_sessions_own_prompts_reach_the_transcript(store: ConversationStore) -> None:
    async with Harness(store, reprompt_after_s=2.0, recording_enabled=True) as h:
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("1"))
        await h.until(lambda: bool(h.consents))
        await h.audio(QUIET, 110)  # 2.2 s of silence: the re-prompt
        await h.until_quiet()
    await store.wait_flushed()
    said = [(r.role, r.text) for r in await store.transcript("call-1")]
    assert (Role.BOT, CONSENT_TEXT) in said
    assert (Role.BOT, REPROMPT_TEXT) in said
    assert said.index((Role.BOT, CONSENT_TEXT)) < said.index((Role.BOT, REPROMPT_TEXT))


async def test_a_call_on_the_engine_workers_is_answered_and_a_closed_one_is_no_hang_up(
    store: ConversationStore,
) -> None:
    async with Harness(store, "Hundesteuer", engine_workers=True) as h:
        assert h.workers is not None
        await h.until_quiet()
        await h.audio(SPEECH, 25)
        await h.until(lambda: "Sie sagten Hundesteuer." in h.tts.calls)
        await h.until_quiet()
        await h.workers.tts.aclose()  # the speech engine takes nothing more (EngineBusy)
        h.call.send(DtmfIn("1"))
        h.call.send(DtmfIn("#"))
        await h.until(lambda: h.engine.received[-1][2] == "1")
        await h.audio(QUIET, 50)
        assert not h.call.hung_up  # not even the apology could be said: still no hang-up
    assert (await h.result()).end is EndReason.CALLER_HANGUP


async def test_a_consent_log_that_cannot_be_written_does_not_end_the_call(
    store: ConversationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise ConnectionError("redis is gone")

    async with Harness(store, "Hundesteuer", recording_enabled=True) as h:
        monkeypatch.setattr(h.session._core, "log_consent", broken)
        await h.until_quiet()
        await h.until_quiet()  # the consent question
        h.call.send(DtmfIn("2"))
        await h.until(lambda: bool(h.consents))
        await h.audio(SPEECH, 25)
        await h.until(lambda: "Sie sagten Hundesteuer." in h.tts.calls)
    assert (await h.result()).end is EndReason.CALLER_HANGUP
