"""English and Leichte Sprache conversations through DialogueCore against the real Rasa,
action server and Redis (docs/languages.md)."""

from __future__ import annotations

from datetime import date

import pytest

from contract.language import Register
from intents.actions.wording import MONTHS_EN
from rathausbot.app import Runtime
from tests.e2e.test_conversations import BOOKING_REF, TICKET_REF, Talk, book
from tests.intents.test_readability import problems

pytestmark = pytest.mark.slow


def ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


async def test_an_english_booking_with_english_dates_times_and_digits(rt: Runtime) -> None:
    talk = Talk(rt)
    greeting = texts = await talk.say("Hello, I need an appointment for my passport")
    assert "Which day would you like?" in texts, greeting
    first = date(*reversed([int(p) for p in talk.buttons[0].split(".")]))
    asked = await talk.say(f"{MONTHS_EN[first.month - 1]} {ordinal(first.day)} please")
    assert "Which time suits you?" in asked, asked
    hour, minute = (int(p) for p in talk.buttons[0].split(":"))
    spoken = f"{hour - 12 if hour > 12 else hour}:{minute:02d} {'pm' if hour >= 12 else 'am'}"
    assert "What name" in await talk.say(spoken), talk.text
    assert "What phone number" in await talk.say("My name is John Smith"), talk.text
    refused = await talk.say("0900 1234567")  # a premium number: the policy's refusal
    assert "we cannot call this number back" in refused, refused
    confirm = await talk.say("zero one seven one two three four five six seven eight")
    assert "Is that correct?" in confirm and "John Smith" in confirm, confirm
    assert "Yes, book it" in [b.title for r in talk.last for b in r.buttons]
    done = await talk.say("yes")
    reference = BOOKING_REF.search(done)
    assert reference and "Your appointment is booked" in done, done
    record = await rt.redis.hgetall(f"rb:booking:{reference[0]}")
    assert record["name"] == "John Smith" and record["phone"] == "01712345678"
    assert record["date"] == first.isoformat() and record["time"] == f"{hour:02d}:{minute:02d}"


async def test_an_english_damage_report(rt: Runtime) -> None:
    talk = Talk(rt)
    asked = await talk.say("I want to report a broken street light")
    assert "Where exactly" in asked, asked
    assert "optional" in await talk.say("Bergstraße 12"), talk.text
    summary = await talk.say("no")
    assert "To sum up: broken street light" in summary and "Bergstraße" in summary, summary
    done = await talk.say("yes")
    ticket = TICKET_REF.search(done)
    assert ticket and "Thank you, we have received your report" in done, done
    record = await rt.redis.hgetall(f"rb:ticket:{ticket[0]}")
    assert record["damage_type"] == "strassenbeleuchtung"


async def test_an_english_handoff_opens_a_case(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.say("Do you speak English?")
    assert "I will continue in English" in talk.text, talk.text
    await talk.say("I want to talk to a person please")
    handoffs = [r.handoff for r in talk.last if r.handoff]
    assert handoffs and handoffs[0].case_id, talk.text
    assert "I am passing your request on to the" in talk.text
    case = await rt.store.case(handoffs[0].case_id)
    assert case is not None and case.session_id == talk.session


async def test_english_answers_from_the_knowledge_and_back_to_german(rt: Runtime) -> None:
    talk = Talk(rt)
    answer = await talk.say("How much does a new passport cost?")
    assert answer.startswith("Fee for passport: 70.00 euros"), answer  # the aspect first
    assert "Book an appointment" in [b.title for r in talk.last for b in r.buttons]
    answer = await talk.say("And where do I have to go?")
    assert answer.startswith("The Citizens' Office is responsible"), answer
    answer = await talk.say("I need a new passport")
    assert "70.00 euros" in answer and "Citizens' Office" in answer, answer  # the whole answer
    assert "emergency" in await talk.say("asdf qwer zxcv"), talk.text  # fallback in English
    assert "auf Deutsch" in await talk.say("Deutsch bitte"), talk.text
    assert "Reisepass" in await talk.say("Ich brauche einen neuen Reisepass"), talk.text


async def test_a_preset_greeting_discloses_the_assistant_and_the_emergency_numbers(
    rt: Runtime,
) -> None:
    talk = Talk(rt)
    talk.last = await rt.core.greet(talk.session, talk.channel, register=Register.EN)
    assert "automated system, not a person" in talk.text and "112" in talk.text, talk.text
    easy = Talk(rt)
    easy.last = await rt.core.greet(easy.session, easy.channel, register=Register.EINFACH)
    assert "Ich bin ein Computer" in easy.text and "112" in easy.text, easy.text
    assert problems(easy.text) == []


async def test_a_leichte_sprache_conversation(rt: Runtime) -> None:
    talk = Talk(rt)
    await talk.greet()
    replies = [await talk.say("Ich verstehe das nicht. Bitte in leichter Sprache.")]
    assert "Leichter Sprache" in replies[0], replies[0]
    replies.append(await talk.say("Ich brauche einen neuen Personalausweis"))
    assert "Bürger-Büro" in replies[-1] and "37 Euro" in replies[-1], replies[-1]
    replies.append(await talk.say("Wann hat das Bürgerbüro offen?"))
    assert "offen" in replies[-1] or " zu." in replies[-1], replies[-1]
    replies.append(await talk.say("Ich möchte mit einem Menschen sprechen"))
    assert "Ich gebe Ihre Frage an einen Menschen weiter" in replies[-1], replies[-1]
    for text in replies[:-1]:  # the last one ends with the gateway's handoff notice
        assert problems(text) == [], text


async def test_english_cancel_callback_and_waste_dates(rt: Runtime) -> None:
    talk = Talk(rt)
    await book(talk, "einen Personalausweis")
    reference = BOOKING_REF.search(await talk.say("ja"))
    assert reference, talk.text
    found = await talk.say(f"I want to cancel my booking {reference[0]}")
    assert "I found your appointment" in found, found
    assert "is cancelled" in await talk.say("yes"), talk.text
    record = await rt.redis.hgetall(f"rb:booking:{reference[0]}")
    assert record["status"] == "cancelled"

    caller = Talk(rt)
    await caller.say("Could somebody call me back please, my number is 0171 2345678")
    assert "We will call you back (in the afternoon)" in await caller.say("in the afternoon")

    bins = Talk(rt)
    await bins.say("When is the garbage collected in my street?")
    assert "Collection dates for Bergstraße" in await bins.say("Bergstraße"), bins.text
