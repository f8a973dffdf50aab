"""Multi-turn conversations through DialogueCore against the real Rasa, action server and Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
import subprocess
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contract.german import MONTHS
from dialogue.messages import BotReply, Channel, UserTurn
from rathausbot.app import Runtime
from telephony.staff_hours import StaffHours
from tests.e2e.conftest import REPO, Gateway
from tests.intents.test_town import load_shipped_town

pytestmark = pytest.mark.slow

URL = re.compile(r"https?://|www\.")
BOOKING_REF = re.compile(r"\bB-[A-Z2-9]{6}\b")
TICKET_REF = re.compile(r"\bS-[A-Z2-9]{6}\b")


class Talk:
    """One citizen's conversation on one channel."""

    def __init__(self, rt: Runtime, channel: Channel = Channel.WEBCHAT) -> None:
        self.rt = rt
        self.channel = channel
        self.session = secrets.token_urlsafe(16)
        self.last: list[BotReply] = []

    async def greet(self) -> str:
        self.last = await self.rt.core.greet(self.session, self.channel)
        return self.text

    async def say(self, text: str) -> str:
        self.last = await self.rt.core.handle(UserTurn(self.session, self.channel, text))
        return self.text

    @property
    def text(self) -> str:
        return " ".join(reply.text for reply in self.last)

    @property
    def buttons(self) -> list[str]:
        return [button.payload for reply in self.last for button in reply.buttons]


async def book(talk: Talk, service: str, *, day_choice: str | None = None) -> tuple[str, str]:
    """Runs the booking form up to the confirmation question; returns (day, time) chosen."""
    asked = await talk.say(f"Ich möchte einen Termin für {service} buchen")
    assert "An welchem Tag" in asked, asked
    day = day_choice or talk.buttons[0]
    asked = await talk.say(day)
    assert "Welche Uhrzeit" in asked, asked
    at = talk.buttons[0]
    assert "Namen" in await talk.say(at)
    assert "Telefonnummer" in await talk.say("Erika Mustermann")
    confirm = await talk.say("0171 2345678")
    assert "Ist das richtig?" in confirm and "Erika Mustermann" in confirm, confirm
    return day, at


async def test_booking_end_to_end_confirms_a_reference_and_stores_the_booking(
    rt: Runtime, gateway: Gateway
) -> None:
    talk = Talk(rt)
    await talk.greet()
    day, at = await book(talk, "einen Personalausweis")
    done = await talk.say("ja")
    reference = BOOKING_REF.search(done)
    assert reference, done
    assert at.lstrip("0") + " Uhr" in done and day in done  # "8:30 Uhr", no leading zero
    record = await rt.redis.hgetall(f"rb:booking:{reference[0]}")
    assert record["status"] == "booked" and record["name"] == "Erika Mustermann"
    assert record["office"] == "buergerbuero" and record["time"] == at
    assert record["phone"] == "01712345678"
    assert datetime.strptime(day, "%d.%m.%Y").date().isoformat() == record["date"]

    # The office gets it: `rathausbot export` as CSV and as a calendar.
    exported = await asyncio.to_thread(export_cli, gateway, "bookings")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert any(row["reference"] == reference[0] and row["time"] == at for row in rows)
    ics = await asyncio.to_thread(export_cli, gateway, "bookings", "--format", "ics")
    assert f"UID:{reference[0]}@" in ics.stdout.replace("\n ", "")
    wrong = await asyncio.to_thread(export_cli, gateway, "tickets", "--format", "ics")
    assert wrong.returncode == 2 and "bookings only" in wrong.stderr


def export_cli(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    rathausbot = str(REPO / ".venv" / "bin" / "rathausbot")
    return subprocess.run(
        [rathausbot, "export", *args], env=gateway.env, capture_output=True, text=True, check=False
    )


async def test_a_taken_slot_is_not_offered_and_cannot_be_booked_twice(rt: Runtime) -> None:
    first = Talk(rt)
    day, at = await book(first, "einen Reisepass")
    assert BOOKING_REF.search(await first.say("ja, richtig"))

    second = Talk(rt)
    await second.say("Termin für einen Reisepass bitte")
    await second.say(day)
    assert at not in second.buttons, "a fully booked slot must not be offered"
    refused = await second.say(at)
    assert "nicht frei" in refused
    assert "Welche Uhrzeit" in refused  # asked again
    slot_day = datetime.strptime(day, "%d.%m.%Y").date().isoformat()
    assert await rt.redis.scard(f"rb:slot:buergerbuero:{slot_day}:{at}") == 1


async def test_cancelling_by_reference_frees_the_slot(rt: Runtime) -> None:
    talk = Talk(rt)
    day, at = await book(talk, "eine Anmeldung")
    reference = BOOKING_REF.search(await talk.say("ja"))
    assert reference
    slot_day = datetime.strptime(day, "%d.%m.%Y").date().isoformat()
    slot = f"rb:slot:buergerbuero:{slot_day}:{at}"
    assert await rt.redis.scard(slot) == 1

    other = Talk(rt)
    assert "Buchungsnummer" in await other.say("Ich möchte meinen Termin absagen")
    assert "keinen gebuchten Termin" in await other.say("B-ZZZZZZ")
    asked = await other.say(reference[0].lower().replace("-", " "))
    assert "Soll ich ihn absagen?" in asked, asked
    cancelled = await other.say("ja")
    assert "abgesagt" in cancelled and at.lstrip("0") in cancelled
    assert await rt.redis.scard(slot) == 0
    assert (await rt.redis.hget(f"rb:booking:{reference[0]}", "status")) == "cancelled"


async def test_a_voice_booking_reads_date_time_and_number_back(rt: Runtime) -> None:
    talk = Talk(rt, Channel.VOICE)
    offered = await talk.say("ich brauche einen termin für den reisepass")
    assert "An welchem Tag" in offered, offered
    # the first day offered, as the bot reads it ("den fünften Dezember"): a fixed day such
    # as "übermorgen" falls on a Sunday, without appointments, every Friday
    day = re.search(rf"den (\w+) ({'|'.join(MONTHS)})", offered)
    assert day, offered
    assert "Welche Uhrzeit" in await talk.say(f"am {day[1]} {day[2]}")
    asked = talk.text
    assert not URL.search(asked) and not re.search(r"\d", asked), asked
    assert " Uhr" in asked
    slots = re.findall(r"(\w+) Uhr", asked)
    assert slots
    await talk.say(f"{slots[0]} uhr")
    await talk.say("Max Mustermann")
    confirm = await talk.say("null eins sieben eins zwei drei vier fünf sechs sieben")
    assert "null eins sieben eins" in confirm and "Uhr" in confirm, confirm
    assert not re.search(r"\d", confirm), confirm
    done = await talk.say("ja")
    assert "Buchungsnummer" in done and not re.search(r"\d", done), done


async def test_a_damage_report_with_a_location_creates_a_ticket(
    rt: Runtime, gateway: Gateway
) -> None:
    talk = Talk(rt)
    asked = await talk.say("In der Bergstraße ist ein riesiges Schlagloch")
    assert "Telefonnummer oder E-Mail" in asked, asked  # type and place were understood
    assert "Schlagloch" in await talk.say("nein") and "Bergstraße" in talk.text
    done = await talk.say("ja")
    ticket = TICKET_REF.search(done)
    assert ticket, done
    record = await rt.redis.hgetall(f"rb:ticket:{ticket[0]}")
    assert record["damage_type"] == "schlagloch"
    assert "Bergstraße" in record["location"]
    assert "riesiges Schlagloch" in record["description"]

    # The office's webhook gets it too, after the gateway retried its first refusal.
    assert gateway.webhooks is not None
    deadline = time.monotonic() + 60
    while not any(
        b["record"]["reference"] == ticket[0] for b in gateway.webhooks.records("ticket")
    ):
        assert time.monotonic() < deadline, "the ticket never reached the webhook"
        await asyncio.sleep(0.2)
    assert gateway.webhooks.refused == 1


async def test_a_damage_report_asks_for_what_is_missing(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "Was möchten Sie melden" in await talk.say("Ich möchte einen Schaden melden")
    assert "Wo genau" in await talk.say("eine kaputte Straßenlaterne")
    assert "Telefonnummer" in await talk.say("Ecke Lindenallee und Birkenweg")
    assert "abschicken?" in await talk.say("nein")
    ticket = TICKET_REF.search(await talk.say("ja"))
    assert ticket
    record = await rt.redis.hgetall(f"rb:ticket:{ticket[0]}")
    assert record["damage_type"] == "strassenbeleuchtung"


async def test_the_waste_dates_for_a_street(rt: Runtime) -> None:
    town = load_shipped_town()
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    # from 6:00 the bins are collected: today's date is no longer offered
    first = now.date() if now.hour < 6 else now.date() + timedelta(days=1)
    talk = Talk(rt)
    asked = await talk.say("Wann wird der Müll abgeholt?")
    assert "Straße" in asked
    answer = await talk.say("Hauptstraße 12")
    for waste, day in town.next_collections("Hauptstraße", first):
        assert f"{waste.name} am {WEEKDAYS[day.weekday()]}, {day:%d.%m.%Y}" in answer, answer
    unknown = await Talk(rt).say("Abfuhrtermine für die Zauberallee")
    assert "Straße" in unknown


WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


async def test_opening_hours_on_a_public_holiday(rt: Runtime) -> None:
    answer = await Talk(rt).say("Hat das Bürgerbüro am 25.12. geöffnet?")
    assert "geschlossen" in answer and "Weihnachtstag" in answer, answer
    normal = await Talk(rt).say("Wann hat das Standesamt geöffnet?")
    assert "Standesamt" in normal and "Montag von 8:00 Uhr bis 12:00 Uhr" in normal, normal


async def test_a_service_question_is_answered_from_the_knowledge(rt: Runtime) -> None:
    chat = Talk(rt)
    answer = await chat.say("Ich brauche einen neuen Personalausweis")
    assert "37,00 Euro" in answer and "Passfoto" in answer and "Bürgerbüro" in answer
    assert any(link.url.startswith("https://") for r in chat.last for link in r.links)
    fee = await chat.say("Was kostet ein neuer Personalausweis?")
    assert fee.startswith("Gebühr für Personalausweis: 37,00 Euro"), fee  # what was asked first
    voice = Talk(rt, Channel.VOICE)
    spoken = await voice.say("ich brauche einen neuen personalausweis")
    assert "Passfoto" in spoken and not URL.search(spoken)
    assert "null eins zwei drei vier" in spoken  # the office's phone, digit by digit


async def test_an_emergency_inside_a_form_is_answered_first(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Schaden melden")
    answer = await talk.say("Hilfe es brennt im Nachbarhaus")
    assert "112" in answer and "110" in answer
    assert answer.index("112") < answer.index("Was möchten Sie melden")


async def test_a_handoff_creates_a_case(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte mich beschweren, der Mitarbeiter war unfreundlich")
    assert "weitergeben" in talk.text
    await talk.say("ja bitte")
    handoffs = [r.handoff for r in talk.last if r.handoff]
    assert handoffs and handoffs[0].case_id
    case = await rt.store.case(handoffs[0].case_id)
    assert case is not None and case.session_id == talk.session
    assert case.reason == "complaint"  # the inbox shows why
    # the truth: stored under its number, no promise that someone answers in the chat
    assert f"Vorgangsnummer {case.case_id}" in talk.text
    assert "meldet sich hier im Chat" not in talk.text
    assert "/callback_request" in talk.buttons


async def test_two_misunderstandings_lead_to_the_handoff_offer(rt: Runtime) -> None:
    talk = Talk(rt)
    first = await talk.say("blubb wurst quark")
    assert "nicht verstanden" in first and "112" in first
    second = await talk.say("kjsdhf lalala")
    assert "Mitarbeiterin" in second and "wieder nicht verstanden" in second
    await talk.say("ja")
    handoffs = [r.handoff for r in talk.last if r.handoff]
    assert handoffs and handoffs[0].case_id
    case = await rt.store.case(handoffs[0].case_id)
    assert case is not None and case.reason == "fallback"
    direct = Talk(rt)
    await direct.say("Ich möchte mit einem Menschen sprechen")
    (handoff,) = [r.handoff for r in direct.last if r.handoff]
    assert handoff.case_id
    case = await rt.store.case(handoff.case_id)
    hours = StaffHours.parse(rt.settings.staff_hours, state="NW")
    staffed = hours.is_open(datetime.now(ZoneInfo("Europe/Berlin")))
    assert case is not None and case.reason == ("user_request" if staffed else "outside_hours")


async def test_repeat_says_the_last_answer_again(rt: Runtime) -> None:
    talk = Talk(rt, Channel.VOICE)
    first = await talk.say("Wann hat das Bürgerbüro geöffnet?")
    assert "Bürgerbüro" in first and not URL.search(first)
    assert not re.search(r"\d", first), "voice speaks times as words"
    again = await talk.say("Wie bitte?")
    assert again == first
    assert await talk.say("können sie das nochmal sagen") == first


async def test_a_callback_request_is_stored(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "Telefonnummer" in await talk.say("Können Sie mich bitte zurückrufen?")
    assert "gültige" in await talk.say("weiß ich nicht")
    assert "vormittags" in await talk.say("030 1234567")
    done = await talk.say("am liebsten nachmittags")
    reference = re.search(r"\bR-[A-Z2-9]{6}\b", done)
    assert reference, done
    record = await rt.redis.hgetall(f"rb:callback:{reference[0]}")
    assert record["phone"] == "0301234567" and record["window"] == "nachmittags"


async def test_a_callback_to_a_premium_or_foreign_number_is_refused(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "Telefonnummer" in await talk.say("Rufen Sie mich bitte zurück")
    assert "nicht zurückrufen" in await talk.say("0900 1234567")
    assert "nicht zurückrufen" in await talk.say("+44 20 7946 0958")
    assert "gültige" in await talk.say("123456")  # no area code
    assert "vormittags" in await talk.say("0151 23456789")


async def test_the_greeting_and_bot_challenge_disclose_the_machine(rt: Runtime) -> None:
    talk = Talk(rt, Channel.VOICE)
    assert "Computer" in await talk.greet()
    answer = await talk.say("bin ich mit einem menschen verbunden")
    assert "automatisierter Assistent" in answer and "Mitarbeiter" in answer


async def test_responsible_office_and_language(rt: Runtime) -> None:
    answer = await Talk(rt).say("Wer ist für Wohngeld zuständig?")
    assert "Sozialamt" in answer and "01234 567-500" in answer
    english = Talk(rt)
    assert "continue in English" in await english.say("Do you speak English?")
    other = Talk(rt)  # a language the assistant does not speak: it says which, offers a person
    assert "Deutsch und Englisch" in await other.say("Können Sie auch Türkisch?")
    await other.say("ja bitte")
    assert any(r.handoff for r in other.last)


def test_shipped_knowledge_has_future_booking_days() -> None:
    town = load_shipped_town()
    office = town.offices["buergerbuero"]
    assert any(town.slots(office, d) for d in town.bookable_days(office, date.today()))
