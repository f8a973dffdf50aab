"""Key menus, key answers and unsure transcripts in the voice session (fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from contract.conversation import Button
from dialogue.messages import BotReply, Channel, EngineAnswer, Handoff
from dialogue.misses import MissKind, MissLog
from dialogue.store import ConversationStore
from tests.voice import test_session
from tests.voice.test_session import GREETING, SPEECH, Harness
from voice.keymenu import REASK, TOPICS, KeyMenu
from voice.session import MISS_TRIGGER, DtmfIn, SessionOptions

YES_NO = (Button("Ja", "/affirm"), Button("Nein", "/deny"))
STOP = Button("Abbrechen", "/stop")
PERSON = Button("Mit einem Menschen sprechen", "/human_handoff")
FORM_QUESTION = "An welchem Tag möchten Sie kommen?"
CHOICE_QUESTION = "Soll ich den Termin buchen?"


def script(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    match text:
        case "/greet":
            return EngineAnswer((BotReply(GREETING),))
        case "/human_handoff":
            return EngineAnswer((BotReply("Ich verbinde.", handoff=Handoff("user_request")),))
        case "Termin" | "/book_appointment":
            return EngineAnswer((BotReply(FORM_QUESTION, buttons=(STOP,)),))
        case "Ja bitte buchen":
            return EngineAnswer((BotReply(CHOICE_QUESTION, buttons=(*YES_NO, PERSON, STOP)),))
    return EngineAnswer((BotReply(f"Sie sagten {text}. Noch etwas?"),))


@pytest.fixture
async def store(redis: Redis) -> AsyncIterator[ConversationStore]:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store


@pytest.fixture(autouse=True)
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_session, "script", script)


def spoken(h: Harness) -> str:
    return " ".join(h.tts.calls)


async def say(h: Harness) -> None:
    await h.audio(SPEECH, 25)
    await h.until_quiet()


def test_min_confidence_is_bounded() -> None:
    assert SessionOptions().min_confidence == 0.2
    SessionOptions(min_confidence=0.0)
    SessionOptions(min_confidence=1.0)
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match="min_confidence"):
            SessionOptions(min_confidence=bad)


async def test_unsure_turn_is_re_asked_with_the_topics_as_keys(store: ConversationStore) -> None:
    async with Harness(store, ("Sperr Müll Müll", 0.1)) as h:
        await h.until_quiet()
        await say(h)
        assert REASK in spoken(h)
        assert KeyMenu(TOPICS).prompt() in spoken(h)
        assert [r[2] for r in h.engine.received] == ["/greet"]  # no guess reached the dialogue
        h.call.send(DtmfIn("1"))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "/book_appointment"
        assert FORM_QUESTION in spoken(h)


async def test_unsure_turn_reaches_the_not_understood_inbox_masked(
    store: ConversationStore, redis: Redis
) -> None:
    misses = MissLog(redis)
    async with Harness(store, ("Sperrmüll am 3. Mai, 0171 23", 0.12), misses=misses) as h:
        await h.until_quiet()
        await say(h)
        assert REASK in spoken(h)
    (item,) = await misses.items()
    assert (item.text, item.kind, item.channel) == (
        "Sperrmüll am #. Mai, #### ##",
        MissKind.LOW_CONFIDENCE,
        Channel.VOICE,
    )
    assert (item.guess, item.confidence) == (None, 0.12)
    assert item.kind.label == "schlecht verstanden (Telefon)"


async def test_a_trusted_turn_is_no_unsure_miss(store: ConversationStore, redis: Redis) -> None:
    misses = MissLog(redis)
    async with Harness(store, ("Hundesteuer", 0.2), misses=misses) as h:
        await h.until_quiet()
        await say(h)
        assert h.engine.received[-1][2] == "Hundesteuer"
    assert await misses.items() == []


async def test_unsure_turn_in_a_form_is_kept_once_with_its_words(
    store: ConversationStore, redis: Redis
) -> None:
    misses = MissLog(redis)
    async with Harness(store, "Termin", ("am drei drei", 0.1), misses=misses) as h:
        await h.until_quiet()
        await say(h)
        await say(h)
        assert h.engine.received[-1][2] == MISS_TRIGGER
    assert [(m.text, m.kind) for m in await misses.items()] == [
        ("am drei drei", MissKind.LOW_CONFIDENCE)
    ]


async def test_confidence_at_the_limit_is_trusted_and_just_below_is_not(
    store: ConversationStore,
) -> None:
    async with Harness(store, ("Hundesteuer", 0.2), ("Hundesteuer", 0.199)) as h:
        await h.until_quiet()
        await say(h)
        assert h.engine.received[-1][2] == "Hundesteuer"
        await say(h)
        assert len(h.engine.received) == 2
        assert KeyMenu(TOPICS).prompt() in spoken(h)


async def test_unsure_turn_in_a_form_is_a_miss_for_the_form(store: ConversationStore) -> None:
    async with Harness(store, "Termin", ("am drei drei", 0.1)) as h:
        await h.until_quiet()
        await say(h)
        assert FORM_QUESTION in spoken(h)
        await say(h)
        assert h.engine.received[-1][2] == MISS_TRIGGER == "/nlu_fallback"
        assert KeyMenu(TOPICS).prompt() not in spoken(h)


async def test_choices_are_read_as_keys_and_picked_by_one_key(store: ConversationStore) -> None:
    async with Harness(store, "Ja bitte buchen") as h:
        await h.until_quiet()
        await say(h)
        assert "Drücken Sie 1 für Ja, 2 für Nein, oder 0 für eine Mitarbeiterin." in spoken(h)
        h.call.send(DtmfIn("2"))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "/deny"


async def test_zero_in_a_menu_asks_for_a_person_at_once(store: ConversationStore) -> None:
    async with Harness(store, "Ja bitte buchen") as h:
        await h.until_quiet()
        await say(h)
        h.call.send(DtmfIn("0"))
        await h.until(lambda: bool(h.call.transferred))
        assert h.engine.received[-1][2] == "/human_handoff"


async def test_a_key_beyond_the_choices_starts_a_typed_answer(store: ConversationStore) -> None:
    async with Harness(store, "Ja bitte buchen") as h:
        await h.until_quiet()
        await say(h)
        for digit in "31#":
            h.call.send(DtmfIn(digit))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "31"  # "1" after "3" is part of the number


async def test_speech_still_answers_a_menu(store: ConversationStore) -> None:
    async with Harness(store, "Ja bitte buchen", "Hundesteuer") as h:
        await h.until_quiet()
        await say(h)
        await say(h)
        assert h.engine.received[-1][2] == "Hundesteuer"
        h.call.send(DtmfIn("1"))  # the menu is gone with the reply that had no buttons
        h.call.send(DtmfIn("#"))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "1"


async def test_a_form_question_without_choices_reads_no_menu(store: ConversationStore) -> None:
    async with Harness(store, "Termin") as h:
        await h.until_quiet()
        await say(h)
        assert "Drücken Sie" not in spoken(h)
        for digit in "14#":
            h.call.send(DtmfIn(digit))
        await h.until_quiet()
        assert h.engine.received[-1][2] == "14"
