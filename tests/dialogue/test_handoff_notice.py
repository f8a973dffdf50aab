"""The handoff is told truthfully: case number and staff hours, in chat and voice wording,
inside and outside staff hours (the clock is injected)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from contract.german import spell_reference
from contract.language import Register
from dialogue.core import DialogueCore
from dialogue.handoff_notice import CALLBACK_BUTTON, HandoffNotice
from dialogue.messages import BotReply, Channel, EngineAnswer, Handoff, UserTurn
from dialogue.store import ConversationStore
from telephony.staff_hours import StaffHours
from tests.fakes import FakeEngine

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = StaffHours.parse("Mo-Do 08:00-16:00, Fr 08:00-12:00", state="NW")
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)
TUESDAY_19 = datetime(2026, 12, 1, 19, 0, tzinfo=BERLIN)
FRIDAY_13 = datetime(2026, 12, 4, 13, 0, tzinfo=BERLIN)
TUESDAY_6 = datetime(2026, 12, 1, 6, 0, tzinfo=BERLIN)
CHRISTMAS_EVE_10 = datetime(2026, 12, 24, 10, 0, tzinfo=BERLIN)  # Thursday; 25 and 26 off
CASE = "C-20261201-K7QX2M"
RASA_TEXT = "Ich gebe Ihr Anliegen an das Bürgerbüro weiter."
REPLY = BotReply(RASA_TEXT, handoff=Handoff("user_request", "buergerbuero", CASE))


def notice(at: datetime) -> HandoffNotice:
    return HandoffNotice(HOURS, clock=lambda: at)


def test_chat_inside_staff_hours_names_the_case_and_the_hours() -> None:
    reply = notice(TUESDAY_10).complete(REPLY, Channel.WEBCHAT, CASE)
    assert reply.text.startswith(RASA_TEXT + " ")
    assert f"unter der Vorgangsnummer {CASE} gespeichert" in reply.text
    assert "während der Servicezeiten (Mo-Do 08:00-16:00 Uhr; Fr 08:00-12:00 Uhr)" in reply.text
    assert "außerhalb" not in reply.text
    assert "meldet sich hier im Chat" not in reply.text
    assert reply.buttons == (CALLBACK_BUTTON,)
    assert CALLBACK_BUTTON.payload == "/callback_request"
    assert reply.handoff == REPLY.handoff


@pytest.mark.parametrize(
    ("at", "next_opening"),
    [
        (TUESDAY_19, "ab Mittwoch, 02.12., 08:00 Uhr"),
        (FRIDAY_13, "ab Montag, 07.12., 08:00 Uhr"),
        (TUESDAY_6, "ab heute 08:00 Uhr"),
        (CHRISTMAS_EVE_10.replace(hour=17), "ab Montag, 28.12., 08:00 Uhr"),
    ],
)
def test_chat_outside_staff_hours_says_so_and_when_work_starts(
    at: datetime, next_opening: str
) -> None:
    reply = notice(at).complete(REPLY, Channel.WEBCHAT, CASE)
    assert f"Vorgangsnummer {CASE}" in reply.text
    assert "außerhalb unserer Servicezeiten" in reply.text
    assert f"wir bearbeiten Ihr Anliegen {next_opening}." in reply.text
    assert reply.buttons == (CALLBACK_BUTTON,)


def test_voice_inside_staff_hours_spells_the_case_number_without_digits() -> None:
    reply = notice(TUESDAY_10).complete(REPLY, Channel.VOICE, CASE)
    assert (
        "Ihre Vorgangsnummer lautet: C, zwei, null, zwei, sechs, eins, zwei, null, eins, "
        "K, sieben, Ku, Ix, zwei, M." in reply.text
    )
    assert not re.search(r"\d", reply.text)
    assert reply.buttons == ()  # nothing to press on the phone


def test_voice_outside_staff_hours_speaks_the_hours_and_the_next_opening() -> None:
    reply = notice(TUESDAY_19).complete(REPLY, Channel.VOICE, CASE)
    assert (
        "Unsere Servicezeiten sind montags bis donnerstags von acht Uhr bis sechzehn Uhr, "
        "freitags von acht Uhr bis zwölf Uhr." in reply.text
    )
    assert "Wir bearbeiten Ihr Anliegen ab Mittwoch, acht Uhr." in reply.text
    assert not re.search(r"\d", reply.text)


def test_a_handoff_without_text_gets_the_notice_alone() -> None:
    reply = notice(TUESDAY_10).complete(BotReply(handoff=REPLY.handoff), Channel.WEBCHAT, CASE)
    assert reply.text.startswith("Ihr Anliegen ist unter der Vorgangsnummer")


def test_no_opening_in_sight_is_said_plainly() -> None:
    never = HandoffNotice(StaffHours(()), clock=lambda: TUESDAY_10)
    reply = never.complete(REPLY, Channel.WEBCHAT, CASE)
    assert "in den nächsten Servicezeiten" in reply.text


@pytest.mark.parametrize("channel", [Channel.WEBCHAT, Channel.VOICE])
async def test_the_core_completes_the_handoff_reply_with_the_case_it_opened(
    redis: Redis, channel: Channel
) -> None:
    def script(session: str, ch: Channel, text: str) -> EngineAnswer:
        return EngineAnswer((BotReply(RASA_TEXT, handoff=Handoff("user_request")),))

    async with ConversationStore(redis, retention_s=60) as store:
        core = DialogueCore(FakeEngine(script), store, notice=notice(TUESDAY_19))
        (reply,) = await core.handle(UserTurn("s1", channel, "Mitarbeiter bitte"))
        assert reply.handoff is not None and reply.handoff.case_id
        case_id = reply.handoff.case_id
        said = case_id if channel is Channel.WEBCHAT else spell_reference(case_id)
        assert reply.text.startswith(RASA_TEXT) and said in reply.text
        assert await store.case(case_id) is not None
        transcript = await store.transcript("s1")
        assert transcript[-1].text == reply.text  # what was said is what is kept


@pytest.mark.parametrize(
    ("at", "given", "stored"),
    [
        (TUESDAY_10, "user_request", "user_request"),
        (TUESDAY_19, "user_request", "outside_hours"),
        (CHRISTMAS_EVE_10, "user_request", "user_request"),
        (TUESDAY_19, "fallback", "fallback"),  # the more telling reason is kept
        (TUESDAY_19, "complaint", "complaint"),
    ],
)
async def test_a_request_outside_staff_hours_is_marked_so_on_the_case(
    redis: Redis, at: datetime, given: str, stored: str
) -> None:
    def script(session: str, ch: Channel, text: str) -> EngineAnswer:
        return EngineAnswer((BotReply(RASA_TEXT, handoff=Handoff(given)),))

    async with ConversationStore(redis, retention_s=60) as store:
        core = DialogueCore(FakeEngine(script), store, notice=notice(at))
        (reply,) = await core.handle(UserTurn("s1", Channel.WEBCHAT, "Mitarbeiter bitte"))
        assert reply.handoff is not None and reply.handoff.case_id
        case = await store.case(reply.handoff.case_id)
        assert case is not None and case.reason == stored
    assert notice(TUESDAY_10).staffed_now() and not notice(TUESDAY_6).staffed_now()


# --- live takeover: availability decides what the chat offers ---


def test_chat_in_staff_hours_with_someone_available_connects_without_a_form() -> None:
    reply = notice(TUESDAY_10).complete(REPLY, Channel.WEBCHAT, CASE, available=True)
    assert reply.text == (
        f"{RASA_TEXT} Einen Moment, ich verbinde Sie mit einer Mitarbeiterin. "
        f"Ihre Vorgangsnummer: {CASE}."
    )
    assert reply.buttons == ()


def test_chat_in_staff_hours_with_nobody_available_says_so_and_offers_a_callback() -> None:
    reply = notice(TUESDAY_10).complete(REPLY, Channel.WEBCHAT, CASE, available=False)
    assert "niemand aus der Stadtverwaltung frei" in reply.text
    assert "verbinde" not in reply.text and CASE in reply.text
    assert reply.buttons == (CALLBACK_BUTTON,)


@pytest.mark.parametrize("available", [True, False, None])
def test_outside_staff_hours_availability_changes_nothing(available: bool | None) -> None:
    reply = notice(TUESDAY_19).complete(REPLY, Channel.WEBCHAT, CASE, available=available)
    assert reply == notice(TUESDAY_19).complete(REPLY, Channel.WEBCHAT, CASE)
    assert "außerhalb unserer Servicezeiten" in reply.text
    assert reply.buttons == (CALLBACK_BUTTON,)


def test_voice_never_connects_to_a_chat() -> None:
    reply = notice(TUESDAY_10).complete(REPLY, Channel.VOICE, CASE, available=True)
    assert "verbinde" not in reply.text


class Gate:
    """The takeover as the core sees it, for the availability decision."""

    def __init__(self, available: bool, *, only: str | None = None, down: bool = False) -> None:
        self.available = available
        self.down = down  # Redis unreachable
        self.only = only  # available for this department only
        self.asked: list[str | None] = []
        self.waiting: list[str] = []

    async def active(self, session_id: str) -> bool:
        if self.down:
            raise redis_errors.ConnectionError("Redis is down")
        return False

    async def citizen_said(self, session_id: str, text: str) -> None:
        raise AssertionError("no takeover here")

    async def staff_available(self, department: str | None) -> bool:
        self.asked.append(department)
        if self.down:
            raise redis_errors.TimeoutError("Redis is down")
        return self.available and self.only in (None, department)

    async def wait_for_staff(self, case_id: str) -> None:
        self.waiting.append(case_id)


@pytest.mark.parametrize(
    ("at", "available", "waits", "connects"),
    [
        (TUESDAY_10, True, True, True),
        (TUESDAY_10, False, False, False),
        (TUESDAY_19, True, False, False),
    ],
)
async def test_the_core_puts_the_case_on_the_waiting_list_only_when_someone_can_come(
    redis: Redis, at: datetime, available: bool, waits: bool, connects: bool
) -> None:
    def script(session: str, ch: Channel, text: str) -> EngineAnswer:
        return EngineAnswer((BotReply(RASA_TEXT, handoff=Handoff("user_request")),))

    gate = Gate(available)
    async with ConversationStore(redis, retention_s=60) as store:
        core = DialogueCore(FakeEngine(script), store, notice=notice(at), takeover=gate)
        (reply,) = await core.handle(UserTurn("s1", Channel.WEBCHAT, "Mitarbeiter bitte"))
        assert reply.handoff is not None
        assert gate.waiting == ([reply.handoff.case_id] if waits else [])
        assert ("verbinde" in reply.text) is connects
        (voice,) = await core.handle(UserTurn("s2", Channel.VOICE, "Mitarbeiter bitte"))
        assert "verbinde" not in voice.text
        assert len(gate.waiting) == (1 if waits else 0)
        assert gate.asked == [None]  # once, for the chat's case only


async def test_the_core_asks_for_staff_of_each_cases_department(redis: Redis) -> None:
    def script(session: str, ch: Channel, text: str) -> EngineAnswer:
        return EngineAnswer(
            (
                BotReply("Das Standesamt.", handoff=Handoff("user_request", "standesamt")),
                BotReply("Dazu noch:"),
                BotReply("Das Bürgerbüro.", handoff=Handoff("user_request", "buergerbuero")),
            )
        )

    gate = Gate(True, only="buergerbuero")
    async with ConversationStore(redis, retention_s=60) as store:
        core = DialogueCore(FakeEngine(script), store, notice=notice(TUESDAY_10), takeover=gate)
        first, middle, last = await core.handle(UserTurn("s3", Channel.WEBCHAT, "Mensch"))
    assert gate.asked == ["standesamt", "buergerbuero"]
    assert "verbinde" not in first.text and CALLBACK_BUTTON in first.buttons
    assert middle.text == "Dazu noch:"
    assert "verbinde" in last.text
    assert last.handoff is not None and gate.waiting == [last.handoff.case_id]


async def test_with_redis_down_the_turn_goes_on_and_the_callback_is_offered(
    redis: Redis,
) -> None:
    def script(session: str, ch: Channel, text: str) -> EngineAnswer:
        return EngineAnswer((BotReply(RASA_TEXT, handoff=Handoff("user_request")),))

    gate = Gate(True, down=True)
    engine = FakeEngine(script)
    async with ConversationStore(redis, retention_s=60) as store:
        core = DialogueCore(engine, store, notice=notice(TUESDAY_10), takeover=gate)
        (reply,) = await core.handle(UserTurn("s4", Channel.WEBCHAT, "Mitarbeiter bitte"))
    assert engine.received == [("s4", Channel.WEBCHAT, "Mitarbeiter bitte")]
    assert "verbinde" not in reply.text and CALLBACK_BUTTON in reply.buttons
    assert gate.asked == [None] and gate.waiting == []


@pytest.mark.parametrize(
    ("at", "channel", "available", "wanted", "button"),
    [
        (TUESDAY_10, Channel.WEBCHAT, None, f"stored under the case number {CASE}", True),
        (TUESDAY_19, Channel.WEBCHAT, None, "outside our service hours", True),
        (TUESDAY_10, Channel.WEBCHAT, True, "I am connecting you", False),
        (TUESDAY_10, Channel.VOICE, None, "Your case number is: C - 2 0 2 6", False),
        (TUESDAY_19, Channel.VOICE, None, "outside our service hours", False),
    ],
)
def test_an_english_conversation_gets_an_english_notice(
    at: datetime, channel: Channel, available: bool | None, wanted: str, button: bool
) -> None:
    reply = notice(at).complete(REPLY, channel, CASE, available=available, register=Register.EN)
    assert wanted in reply.text and "Vorgangsnummer" not in reply.text
    assert [b.title for b in reply.buttons] == (["Arrange a call back"] if button else [])
    assert all(b.payload == CALLBACK_BUTTON.payload for b in reply.buttons)


def test_a_leichte_sprache_conversation_gets_a_simple_notice() -> None:
    chat = notice(TUESDAY_19).complete(REPLY, Channel.WEBCHAT, CASE, register=Register.EINFACH)
    assert f"Ihre Nummer ist {CASE}." in chat.text and "Jetzt ist niemand" in chat.text
    assert chat.buttons == (CALLBACK_BUTTON,)
    voice = notice(TUESDAY_10).complete(REPLY, Channel.VOICE, CASE, register=Register.EINFACH)
    assert spell_reference(CASE) in voice.text and not re.search(r"\d", voice.text)
