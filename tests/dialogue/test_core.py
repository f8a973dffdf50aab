"""DialogueCore with a fake engine and a real Redis."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from contract.language import Register
from dialogue.core import UNAVAILABLE_TEXT, DialogueCore, MessageTooLong, greet_trigger
from dialogue.messages import (
    BotReply,
    Channel,
    EngineAnswer,
    Handoff,
    Role,
    Understanding,
    UserTurn,
)
from dialogue.records import Delivery
from dialogue.store import ConversationStore
from tests.fakes import FakeEngine


def scripted(session_id: str, channel: Channel, text: str) -> EngineAnswer:
    if text == "/greet":
        return EngineAnswer((BotReply("Ich bin ein automatisierter Assistent."),))
    if "mensch" in text.lower():
        return EngineAnswer(
            (BotReply("Ich verbinde Sie.", handoff=Handoff("user_request", "standesamt")),),
            Understanding("human_handoff", 0.91),
        )
    return EngineAnswer((BotReply(f"Echo: {text}"),), Understanding("greet", 0.8))


@pytest.fixture
async def store(redis: Redis) -> ConversationStore:
    async with ConversationStore(redis, retention_s=3600) as store:
        yield store  # type: ignore[misc]


async def test_a_turn_is_answered_and_both_sides_are_in_the_transcript(
    store: ConversationStore,
) -> None:
    engine = FakeEngine(scripted)
    core = DialogueCore(engine, store)
    replies = await core.handle(UserTurn("s1", Channel.VOICE, "  hallo  ", confidence=0.7))
    assert replies == [BotReply("Echo: hallo")]
    assert engine.received == [("s1", Channel.VOICE, "hallo")]
    user, bot = await store.transcript("s1")
    assert (user.role, user.text, user.intent) == (Role.USER, "hallo", "greet")
    assert user.confidence == 0.8
    assert user.asr_confidence == 0.7
    assert user.channel is Channel.VOICE
    assert (bot.role, bot.text, bot.delivery) == (Role.BOT, "Echo: hallo", Delivery.OK)


async def test_greeting_records_only_the_assistant(store: ConversationStore) -> None:
    core = DialogueCore(FakeEngine(scripted), store)
    assert await core.greet("s1", Channel.WEBCHAT) == [
        BotReply("Ich bin ein automatisierter Assistent.")
    ]
    assert [r.role for r in await store.transcript("s1")] == [Role.BOT]


def test_the_greeting_carries_a_preset_register_as_the_language_entity() -> None:
    assert greet_trigger(None) == "/greet"
    assert greet_trigger(Register.EN) == '/greet{"language": "en"}'
    assert greet_trigger(Register.EINFACH) == '/greet{"language": "einfach"}'


async def test_a_preset_greeting_sends_the_register_to_the_engine(
    store: ConversationStore,
) -> None:
    sent: list[str] = []

    def english(session_id: str, channel: Channel, text: str) -> EngineAnswer:
        sent.append(text)
        return EngineAnswer((BotReply("Hello!"),))

    core = DialogueCore(FakeEngine(english), store)
    assert await core.greet("s1", Channel.WEBCHAT, register=Register.EN) == [BotReply("Hello!")]
    assert sent == ['/greet{"language": "en"}']


async def test_engine_down_gives_a_polite_answer_and_keeps_the_turn(
    store: ConversationStore,
) -> None:
    engine = FakeEngine(scripted)
    core = DialogueCore(engine, store)
    engine.down = True
    for channel in Channel:
        replies = await core.handle(UserTurn("s1", channel, "Es brennt!"))
        assert replies == [BotReply(UNAVAILABLE_TEXT[channel])]
    assert "112" in UNAVAILABLE_TEXT[Channel.WEBCHAT]
    assert "eins eins zwei" in UNAVAILABLE_TEXT[Channel.VOICE]
    engine.down = False
    assert await core.handle(UserTurn("s1", Channel.WEBCHAT, "wieder da?")) == [
        BotReply("Echo: wieder da?")
    ]
    lines = await store.transcript("s1")
    assert [(r.role, r.delivery) for r in lines] == [
        (Role.USER, Delivery.UNDELIVERED),
        (Role.SYSTEM, Delivery.OK),
        (Role.USER, Delivery.UNDELIVERED),
        (Role.SYSTEM, Delivery.OK),
        (Role.USER, Delivery.OK),
        (Role.BOT, Delivery.OK),
    ]
    assert lines[0].text == "Es brennt!"


async def test_a_handoff_reply_opens_a_case(store: ConversationStore) -> None:
    core = DialogueCore(FakeEngine(scripted), store, clock=lambda: 1.0e9)
    (reply,) = await core.handle(UserTurn("s1", Channel.WEBCHAT, "Mensch bitte"))
    assert reply.handoff is not None and reply.handoff.case_id is not None
    case = await store.case(reply.handoff.case_id)
    assert case is not None
    assert (case.session_id, case.reason, case.department) == ("s1", "user_request", "standesamt")
    assert (await store.transcript("s1"))[-1].handoff == reply.handoff


async def test_empty_and_oversized_messages_are_not_sent(store: ConversationStore) -> None:
    engine = FakeEngine(scripted)
    core = DialogueCore(engine, store, max_message_chars=10)
    assert await core.handle(UserTurn("s1", Channel.WEBCHAT, "   ")) == []
    with pytest.raises(MessageTooLong):
        await core.handle(UserTurn("s1", Channel.WEBCHAT, "x" * 11))
    assert engine.received == []
    assert await store.transcript("s1") == []


async def test_logs_carry_no_message_text(
    store: ConversationStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FakeEngine(scripted)
    core = DialogueCore(engine, store)
    with caplog.at_level(logging.DEBUG):
        await core.handle(UserTurn("s1", Channel.WEBCHAT, "Ich heiße Erika Mustermann, Mensch"))
        engine.down = True
        await core.handle(UserTurn("s1", Channel.WEBCHAT, "Meine Nummer ist 0171 2345678"))
    assert "turn on webchat" in caplog.text and "escalation case" in caplog.text
    for private in ("Mustermann", "2345678", "Echo"):
        assert private not in caplog.text
