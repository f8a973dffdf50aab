"""Conversations that go off script (issue 16), against the real Rasa, action server and Redis.

Every trap citizens fell into is here with their own words: leaving each form, switching the
topic inside it, answers that do not fit the question, follow-up questions, the right office,
damage reports, unknown streets and the wording of small talk.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from dialogue.messages import Channel
from rathausbot.app import Runtime
from rathausbot.secrets import resolve_secrets
from tests.e2e.conftest import REPO, Gateway
from tests.e2e.test_conversations import BOOKING_REF, TICKET_REF, Talk, book

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
DATE = re.compile(r"\b(\d{2})\.(\d{2})\.(\d{4})\b")
PERSON = "/human_handoff"
STOP = "/stop"


async def booked(rt: Runtime, service: str = "einen Personalausweis") -> str:
    """A fresh booking's reference."""
    talk = Talk(rt)
    await book(talk, service)
    found = BOOKING_REF.search(await talk.say("ja"))
    assert found, talk.text
    return found[0]


def handoff_department(talk: Talk) -> str | None:
    handoffs = [reply.handoff for reply in talk.last if reply.handoff]
    assert handoffs, talk.text
    return handoffs[0].department


async def status(rt: Runtime, reference: str) -> str | None:
    value = await rt.redis.hget(f"rb:booking:{reference}", "status")
    return str(value) if value is not None else None


# --- cancelling: the trap of the issue, word for word ----------------------------------------


async def test_a_reference_in_the_first_message_is_used_and_cancelling_asks_first(
    rt: Runtime,
) -> None:
    reference = await booked(rt)
    talk = Talk(rt)
    asked = await talk.say(f"Ich möchte meinen Termin {reference} absagen")
    assert "Bitte nennen Sie mir Ihre Buchungsnummer" not in asked, asked
    assert "Soll ich ihn absagen?" in asked and reference in asked, asked
    assert await status(rt, reference) == "booked"  # not yet: it asked first
    done = await talk.say("ja")
    assert "ist abgesagt" in done, done
    assert await status(rt, reference) == "cancelled"


async def test_cancelling_without_the_reference_asks_for_it_and_no_keeps_the_booking(
    rt: Runtime,
) -> None:
    reference = await booked(rt)
    talk = Talk(rt)
    assert "Buchungsnummer" in await talk.say("Ich möchte meinen Termin absagen")
    asked = await talk.say(reference)
    assert "Soll ich ihn absagen?" in asked, asked
    kept = await talk.say("nein")
    assert "bleibt bestehen" in kept, kept
    assert await status(rt, reference) == "booked"


async def validate_cancel_form(gateway: Gateway, text: str, intent: str) -> list[dict]:
    """The cancel form's validation on the real action server, for a message the NLU took for
    ``intent`` while the form asks for the booking reference: the events it returns."""
    tracker = {
        "sender_id": "guard-test",
        "slots": {"requested_slot": "booking_reference"},
        "latest_message": {
            "text": text,
            "intent": {"name": intent, "confidence": 0.93},
            "entities": [],
        },
        "events": [],
        "active_loop": {"name": "cancel_form"},
        "latest_action_name": "cancel_form",
    }
    domain = yaml.safe_load((REPO / "intents" / "domain" / "municipal.yml").read_text())
    call = {"next_action": "validate_cancel_form", "sender_id": "guard-test",
            "tracker": tracker, "domain": {"forms": domain["forms"]}}  # fmt: skip
    token = resolve_secrets(gateway.settings).rasa_token
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{gateway.settings.actions_url}/webhook", json=call, params={"token": token}
        )
    assert response.status_code == 200, response.text
    events: list[dict] = response.json()["events"]
    return events


def slot(events: list[dict], name: str) -> object:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    return values[-1] if values else None


async def test_a_bare_reference_is_an_answer_even_when_the_nlu_guesses_stop(
    rt: Runtime, gateway: Gateway
) -> None:
    # a random reference's letters are sometimes classified as "stop" (seen in a fresh run)
    reference = await booked(rt)
    for text in (reference, reference.lower().replace("-", " ")):
        events = await validate_cancel_form(gateway, text, "stop")
        assert slot(events, "form_dropped") is None, (text, events)
        assert slot(events, "booking_reference") == reference, (text, events)
    for text in ("abbrechen", f"{reference} abbrechen", "egal"):
        events = await validate_cancel_form(gateway, text, "stop")
        assert slot(events, "form_dropped") is True, (text, events)
        assert slot(events, "booking_reference") is None, (text, events)


async def test_an_unknown_reference_in_the_first_message_is_named(rt: Runtime) -> None:
    talk = Talk(rt)
    answer = await talk.say("Ich möchte meinen Termin B-NGJZV5 absagen")
    assert "B-NGJZV5" in answer and "keinen gebuchten Termin" in answer, answer
    assert STOP in talk.buttons


@pytest.mark.parametrize(
    "leave",
    ["abbrechen", "Ich möchte keinen Termin absagen", "Stopp, ich möchte doch nichts absagen"],
)
async def test_the_cancel_form_can_be_left(rt: Runtime, leave: str) -> None:
    talk = Talk(rt)
    assert "Buchungsnummer" in await talk.say("Ich möchte meinen Termin absagen")
    left = await talk.say(leave)
    assert "nichts abgesagt" in left, left
    assert "Buchungsnummer" not in left  # not asked again, not restarted
    after = await talk.say("Wann hat das Standesamt geöffnet?")
    assert "Standesamt" in after and "Buchungsnummer" not in after, after


async def test_another_request_inside_the_cancel_form_pauses_it_and_asks_once(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte meinen Termin absagen")
    paused = await talk.say("Wo kann ich mein Auto ummelden?")
    assert "Soll ich die Terminabsage abbrechen?" in paused, paused
    assert "Buchungsnummer" not in paused
    answered = await talk.say("ja")
    assert "nichts abgesagt" in answered and "Zulassungsstelle" in answered, answered


async def test_no_to_the_pause_question_goes_back_to_the_form(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte meinen Termin absagen")
    await talk.say("Wo kann ich mein Auto ummelden?")
    again = await talk.say("nein")
    assert "Buchungsnummer" in again, again


async def test_a_handoff_while_cancelling_goes_to_the_buergerbuero_not_the_last_office(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    assert "Standesamt" in await talk.say("Wann hat das Standesamt geöffnet?")
    await talk.say("Ich möchte meinen Termin absagen")
    await talk.say("Mit einem Menschen sprechen")
    assert handoff_department(talk) == "buergerbuero"


# --- booking: answers that do not fit the question ----------------------------------------


async def test_an_office_name_for_a_day_gets_a_hint_not_a_handoff(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "An welchem Tag" in await talk.say("Ich möchte einen Termin für einen Reisepass")
    hinted = await talk.say("Bürgerbüro")
    assert not any(reply.handoff for reply in talk.last), hinted
    assert "Bitte nennen Sie einen Tag, zum Beispiel Dienstag" in hinted, hinted
    day = await talk.say("nächsten Dienstag")
    assert "nicht verstanden" not in day, day
    assert "Welche Uhrzeit" in day or "keine freien Termine" in day, day
    if "Welche Uhrzeit" in day:
        at = await talk.say("10 Uhr")
        assert "nicht verstanden" not in at and "Entschuldigung" not in at, at


async def test_two_misses_offer_the_choices_and_a_person(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich brauche einen Termin für die Anmeldung")
    first = await talk.say("blau")
    assert "Bitte nennen Sie einen Tag" in first and PERSON not in talk.buttons, first
    second = await talk.say("grün")
    assert "noch nicht gepasst" in second, second
    assert PERSON in talk.buttons and STOP in talk.buttons
    assert any(DATE.fullmatch(b) for b in talk.buttons), talk.buttons  # the free days
    await talk.say(PERSON)
    assert handoff_department(talk) == "buergerbuero"


async def test_the_booking_can_be_left_with_doch_nicht(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Termin für einen Personalausweis bitte")
    left = await talk.say("doch nicht")
    assert "nichts gebucht" in left, left


async def test_the_stop_button_leaves_the_booking(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Termin für einen Personalausweis bitte")
    assert STOP in talk.buttons
    assert "nichts gebucht" in await talk.say(STOP)


async def test_a_question_inside_the_booking_pauses_it_and_a_second_one_drops_it(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Termin für einen Personalausweis")
    paused = await talk.say("Was kostet eine Heiratsurkunde?")
    assert "Soll ich die Terminbuchung abbrechen?" in paused, paused
    assert "An welchem Tag" not in paused
    dropped = await talk.say("Was kostet ein Reisepass?")
    assert "nichts gebucht" in dropped and "70,00 Euro" in dropped, dropped


async def test_day_and_time_are_taken_from_the_first_message(rt: Runtime) -> None:
    talk = Talk(rt)
    asked = await talk.say("Ich möchte einen Termin für einen Reisepass übermorgen")
    assert "Welche Uhrzeit" in asked or "keine freien Termine" in asked, asked


async def test_offered_days_are_never_in_the_past(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Termin für einen Reisepass")
    today = datetime.now(BERLIN).date()
    days = [date(int(y), int(m), int(d)) for d, m, y in DATE.findall(talk.text)]
    assert days and all(day > today for day in days), talk.text


# --- damage reports ------------------------------------------------------------------------


async def test_a_damage_report_in_one_sentence_is_read_back_and_says_what_happens_next(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    asked = await talk.say("In der Lindenallee ist eine Straßenlaterne kaputt")
    assert "beschreiben Sie das Problem" not in asked, asked
    assert "Telefonnummer oder E-Mail-Adresse" in asked and "freiwillig" in asked, asked
    summary = await talk.say("nein")
    assert "Straßenbeleuchtung" in summary and "Lindenallee" in summary, summary
    assert "abschicken?" in summary
    done = await talk.say("ja")
    ticket = TICKET_REF.search(done)
    assert ticket, done
    assert "innerhalb von zwei Wochen" in done  # next steps, from the knowledge
    record = await rt.redis.hgetall(f"rb:ticket:{ticket[0]}")
    assert record["damage_type"] == "strassenbeleuchtung" and record["location"] == "Lindenallee"


async def test_a_damage_report_with_a_contact_reads_the_number_back_grouped(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Schlagloch in der Hauptstrasse 12")
    summary = await talk.say("015123456789")
    assert "0151 23456789" in summary and "Hauptstraße 12" in summary, summary


async def test_a_damage_report_is_not_filed_without_a_yes(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Graffiti an der Schule in der Schulstraße")
    await talk.say("nein")
    refused = await talk.say("nein")
    assert "nicht abgeschickt" in refused and not TICKET_REF.search(refused), refused


async def test_an_unknown_street_in_a_damage_report_offers_the_nearest_and_free_words(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    assert "Was möchten Sie melden" in await talk.say("Ich möchte einen Schaden melden")
    assert "Wo genau" in await talk.say("ein Schlagloch")
    unknown = await talk.say("Elefantenstraße 3")
    assert "Diese Straße kenne ich in Musterstadt nicht" in unknown, unknown
    assert len([b for b in talk.buttons if b not in (STOP, PERSON)]) == 2, talk.buttons
    assert "mit eigenen Worten" in unknown
    described = await talk.say("am Spielplatz hinter der Schule")
    assert "Telefonnummer oder E-Mail-Adresse" in described, described


@pytest.mark.parametrize("typed", ["Berg str", "Hauptstrasse"])
async def test_streets_are_recognised_with_typos(rt: Runtime, typed: str) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Schaden melden")
    await talk.say("Schlagloch")
    await talk.say(typed)
    summary = await talk.say("nein")
    assert ("Bergstraße" if typed.startswith("Berg") else "Hauptstraße") in summary, summary


async def test_a_question_inside_the_damage_report_pauses_it(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Schaden melden")
    paused = await talk.say("Wann hat das Bürgerbüro geöffnet?")
    assert "Soll ich die Schadensmeldung abbrechen?" in paused, paused
    left = await talk.say("ja")
    assert "nichts gemeldet" in left, left


async def test_the_damage_report_can_be_left(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich möchte einen Schaden melden")
    assert "nichts gemeldet" in await talk.say("abbrechen")


# --- waste calendar and unknown streets ---------------------------------------------------


async def test_an_unknown_street_is_named_with_the_two_nearest_as_buttons(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "Straße" in await talk.say("Wann wird der Müll abgeholt?")
    unknown = await talk.say("Elefantenstraße")
    assert "Diese Straße kenne ich in Musterstadt nicht" in unknown, unknown
    streets = [b for b in talk.buttons if b not in (STOP, PERSON)]
    assert len(streets) == 2, talk.buttons
    dates = await talk.say(streets[0])
    assert f"Abholtermine für die {streets[0]}" in dates, dates


@pytest.mark.parametrize(
    ("typed", "street"), [("Hauptstrasse", "Hauptstraße"), ("Berg str", "Bergstraße")]
)
async def test_waste_dates_for_a_street_with_a_typo(rt: Runtime, typed: str, street: str) -> None:
    talk = Talk(rt)
    await talk.say("Wann kommt die Müllabfuhr?")
    assert f"Abholtermine für die {street}" in await talk.say(typed)


async def test_no_collection_date_that_has_passed_is_given(rt: Runtime) -> None:
    now = datetime.now(BERLIN)
    first = now.date() if now.hour < 6 else now.date() + timedelta(days=1)
    talk = Talk(rt)
    await talk.say("Wann wird der Biomüll abgeholt?")
    answer = await talk.say("Lindenallee")
    days = [date(int(y), int(m), int(d)) for d, m, y in DATE.findall(answer)]
    assert days and all(day >= first for day in days), answer


async def test_the_waste_question_can_be_left(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Wann wird der Müll abgeholt?")
    left = await talk.say("doch nicht")
    assert "abgebrochen" in left and "Straße" not in left, left


# --- callbacks ------------------------------------------------------------------------------


async def test_a_question_inside_the_callback_form_pauses_it(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Können Sie mich bitte zurückrufen?")
    paused = await talk.say("Was kostet ein Reisepass?")
    assert "Soll ich den Rückrufwunsch abbrechen?" in paused, paused
    answered = await talk.say("ja")
    assert "keinen Rückruf" in answered and "70,00 Euro" in answered, answered


async def test_the_callback_form_can_be_left_and_numbers_are_grouped(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Rufen Sie mich bitte zurück")
    assert "keinen Rückruf" in await talk.say("stopp")
    again = Talk(rt)
    await again.say("Rufen Sie mich bitte zurück")
    await again.say("0301234567")
    done = await again.say("vormittags")
    assert "030 1234567" in done, done


async def test_a_callback_request_with_number_and_time_is_filled_at_once(rt: Runtime) -> None:
    talk = Talk(rt)
    done = await talk.say("Bitte rufen Sie mich nachmittags unter 0151 23456789 zurück")
    assert "Wir rufen Sie nachmittags unter 0151 23456789 zurück" in done, done


# --- follow-up questions ------------------------------------------------------------------


async def test_follow_ups_after_the_id_card(rt: Runtime) -> None:
    talk = Talk(rt)
    assert "Personalausweis" in await talk.say("Ich brauche einen neuen Personalausweis")
    duration = await talk.say("Und wie lange dauert das?")
    assert duration.startswith("Bearbeitungszeit für Personalausweis: etwa drei"), duration
    fee = await talk.say("Was kostet das?")
    assert fee.startswith("Gebühr für Personalausweis: 37,00 Euro"), fee
    assert "/id_card" in talk.buttons  # the full text one click away


async def test_follow_ups_after_marriage(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Wir möchten heiraten, was müssen wir tun?")
    fee = await talk.say("Was kostet das?")
    assert "60,00 Euro" in fee and "nicht verstanden" not in fee, fee
    needed = await talk.say("Brauche ich einen Termin?")
    assert needed.startswith("Ja, für Anmeldung der Eheschließung"), needed
    assert "nichts gebucht" not in needed, needed
    book = await talk.say("Ich brauche einen Termin")  # a statement still books, this service
    assert "Termine für Anmeldung der Eheschließung" in book, book


async def test_follow_ups_after_the_passport(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich brauche einen Reisepass")
    children = await talk.say("Und für Kinder?")
    assert "Kinderreisepass" in children and "13,00 Euro" in children, children
    online = await talk.say("Geht das online?")
    assert online.startswith("Nein"), online


async def test_follow_ups_after_registering_an_address(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Ich bin umgezogen und muss mich ummelden")
    documents = await talk.say("Was muss ich mitbringen?")
    assert documents.startswith("Für Anmeldung") and "Wohnungsgeberbestätigung" in documents
    where = await talk.say("Wo ist das?")
    assert "Rathausplatz 1" in where, where


async def test_a_follow_up_without_a_topic_asks_which_service(rt: Runtime) -> None:
    talk = Talk(rt)
    asked = await talk.say("Was kostet das?")
    assert "Zu welcher Dienstleistung" in asked, asked
    assert talk.buttons


async def test_the_online_question_is_answered_yes_or_no(rt: Runtime) -> None:
    no = await Talk(rt).say("Kann ich den Ausweis auch online beantragen?")
    assert no.startswith("Nein"), no
    talk = Talk(rt)
    yes = await talk.say("Kann ich die Hundesteuer online anmelden?")
    assert yes.startswith("Ja") and "https://" in yes, yes


# --- the right office ---------------------------------------------------------------------


async def test_wrong_parking_goes_to_the_ordnungsamt_and_so_does_the_handoff(rt: Runtime) -> None:
    talk = Talk(rt)
    answer = await talk.say("Mein Nachbar parkt ständig auf dem Gehweg")
    assert "Ordnungsamt" in answer and "Bürgerbüro" not in answer, answer
    await talk.say("Mit einem Menschen sprechen")
    assert handoff_department(talk) == "ordnungsamt"


async def test_trees_and_who_is_responsible(rt: Runtime) -> None:
    talk = Talk(rt)
    answer = await talk.say("Im Stadtpark hängt ein abgebrochener Ast über dem Weg")
    assert "Grünflächenamt" in answer, answer
    responsible = await talk.say("Wer ist dafür zuständig?")
    assert "Grünflächenamt" in responsible and "01234 567-950" in responsible, responsible


async def test_winter_service(rt: Runtime) -> None:
    answer = await Talk(rt).say("Bei uns wurde heute der Gehweg nicht gestreut")
    assert "Winterdienst" in answer or "streuen" in answer, answer


async def test_the_handoff_names_the_office_of_the_current_request(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Wann hat das Standesamt geöffnet?")
    await talk.say("Ich brauche einen neuen Personalausweis")
    await talk.say("Ich möchte mit einem Mitarbeiter sprechen")
    assert handoff_department(talk) == "buergerbuero"
    named = Talk(rt)
    await named.say("Wann hat das Bürgerbüro geöffnet?")
    await named.say("Verbinden Sie mich bitte mit dem Standesamt")
    assert handoff_department(named) == "standesamt"


# --- wording ----------------------------------------------------------------------------


async def test_the_greeting_is_said_once(rt: Runtime) -> None:
    talk = Talk(rt)
    greeting = await talk.greet()
    assert "digitale Assistent" in greeting and "kein Mensch" in greeting
    # honest at night too: a person is connected in staff hours only, else a callback
    assert "jederzeit möglich" not in greeting
    assert "Servicezeiten" in greeting and "Rückruf" in greeting, greeting
    await talk.say("Wann hat das Bürgerbüro geöffnet?")
    again = await talk.say("Hallo")
    assert "digitale Assistent" not in again and "Hallo" in again, again


async def test_thanks_with_goodbye_gets_a_goodbye(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Wann hat das Bürgerbüro geöffnet?")
    answer = await talk.say("Danke, tschüss")
    assert "Auf Wiedersehen" in answer and "Vielen Dank für Ihre Nachricht" not in answer


async def test_opening_hours_are_grammatical_and_keep_their_minutes(rt: Runtime) -> None:
    answer = await Talk(rt).say("Hat das Bürgerbüro heute geöffnet?")
    assert "Im Moment ist geschlossen" not in answer and "Im Moment ist geöffnet" not in answer
    assert re.search(r"Im Moment ist das Bürgerbüro (geöffnet|geschlossen)\.", answer), answer
    assert "Montag von 8:00 Uhr bis 12:00 Uhr" in answer, answer


async def test_a_voice_follow_up_has_no_link(rt: Runtime) -> None:
    talk = Talk(rt, Channel.VOICE)
    await talk.say("ich brauche einen neuen personalausweis")
    answer = await talk.say("geht das online")
    assert answer.startswith("Nein") and "https" not in answer, answer
