"""Answers from the knowledge files: services, opening hours, responsible offices, waste
calendar, and ``action_repeat``. Chat texts may carry links; voice texts carry no URLs and
speak times and phone numbers as words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.closures import Closure, cut
from contract.german import WEEKDAYS
from contract.knowledge import knowledge_dir
from contract.payloads import Link, Links, encode, without_handoff
from contract.records import Channel
from contract.town import DayStatus, Interval, Office, Service, Town, load_town
from intents.actions.closures import ClosuresMixin
from intents.actions.speech import (
    address_spoken,
    date_spoken,
    date_text,
    parse_date,
    time_spoken,
    time_text,
)

_WEEKDAY_ENTITY = {name.casefold(): i for i, name in enumerate(WEEKDAYS)}


class TownMixin:
    """Gives an action the town's knowledge, loaded and validated when the server starts."""

    def __init__(self, town: Town | None = None) -> None:
        self.town = town or load_town(knowledge_dir())


def channel_of(tracker: Tracker) -> Channel | None:
    """The conversation's channel; None for a Rasa channel that is not the gateway's."""
    return Channel.of(tracker.get_latest_input_channel())


def entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return value if isinstance(value, str) else None


def say(
    dispatcher: CollectingDispatcher,
    channel: Channel | None,
    chat: str,
    voice: str,
    *,
    links: tuple[Link, ...] = (),
    buttons: list[dict[str, str]] | None = None,
) -> None:
    """One message in the wording of ``channel``; links and buttons only in chat."""
    if channel is Channel.VOICE:
        dispatcher.utter_message(text=voice)
    elif channel is Channel.WEBCHAT:
        dispatcher.utter_message(
            text=chat, buttons=buttons or [], json_message=encode(Links(links)) if links else None
        )
    else:
        dispatcher.utter_message(text=chat, buttons=buttons or [])


def hours_text(status: DayStatus, *, spoken: bool) -> str:
    fmt = time_spoken if spoken else time_text
    return " und ".join(f"von {fmt(i.start)} bis {fmt(i.end)}" for i in status.intervals)


def day_sentence(
    town: Town,
    office: Office,
    day: date,
    today: date,
    *,
    spoken: bool,
    closures: list[Closure] | None = None,
) -> str:
    """ "Am Freitag, 25.12.2026 ist das Bürgerbüro geschlossen (Erster Weihnachtstag)."; with
    the console's ``closures`` of the office that touch ``day`` taken off, and their notes."""
    when = "Heute" if day == today else "Am " + (date_spoken(day) if spoken else date_text(day))
    subject = f"{office.department.article} {office.department.name}"
    status = town.day_status(office, day)
    if status.closed_because:
        return f"{when} ist {subject} geschlossen: {status.closed_because}."
    touching = [c for c in closures or () if c.overlaps_day(day, town.timezone)]
    notes = "".join(f" Hinweis: {_sentence(c.note)}" for c in touching)
    status = effective_status(town, office, day, touching)
    if touching and not status.intervals:
        return f"{when} ist {subject} geschlossen.{notes}"
    if not status.intervals:
        return f"{when} ist {subject} nicht geöffnet."
    return f"{when} ist {subject} {hours_text(status, spoken=spoken)} geöffnet.{notes}"


def effective_status(town: Town, office: Office, day: date, closures: list[Closure]) -> DayStatus:
    """The day's status with the times of ``closures`` taken off its opening hours."""
    status = town.day_status(office, day)
    if not closures or not status.intervals:
        return status
    pairs = tuple((i.start, i.end) for i in status.intervals)
    left = cut(pairs, day, town.timezone, closures)
    return DayStatus(tuple(Interval(a, b) for a, b in left), status.closed_because)


def _sentence(note: str) -> str:
    note = note.strip()
    return note if note.endswith((".", "!", "?")) else note + "."


def week_text(town: Town, office: Office) -> str:
    lines = []
    for index, intervals in enumerate(office.hours):
        if intervals:
            status = DayStatus(intervals, None)
            lines.append(f"{WEEKDAYS[index]} {hours_text(status, spoken=False)}")
    return "; ".join(lines)


class ActionServiceInfo(TownMixin, Action):
    """Answers a service intent (id_card, passport, ...) from services.yml."""

    def name(self) -> str:
        return "action_service_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name") or ""
        service = self.town.service_for_intent(intent)
        if service is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        self.answer(dispatcher, channel_of(tracker), service)
        return [SlotSet("service", service.id)] if service.bookable else []

    def answer(
        self, dispatcher: CollectingDispatcher, channel: Channel | None, service: Service
    ) -> None:
        office = self.town.offices[service.office].department
        documents = ", ".join(service.documents)
        bring = f" Bitte bringen Sie mit: {documents}." if documents else ""
        booking = " Einen Termin können Sie direkt bei mir buchen." if service.bookable else ""
        chat = (
            f"{service.summary}{bring} Gebühr: {service.fee}. Bearbeitungszeit: "
            f"{service.processing_time}. Zuständig: {office.name}, {office.address}, "
            f"Telefon {office.phone}.{booking}"
        )
        voice = (
            f"{service.summary}{bring} Die Gebühr: {service.fee}. Zuständig ist "
            f"{office.article} {office.name}, "
            f"Telefon {office.phone_spoken}.{booking}"
        )
        buttons = (
            [{"title": "Termin buchen", "payload": "/book_appointment"}]
            if service.bookable
            else None
        )
        say(
            dispatcher,
            channel,
            chat,
            voice,
            buttons=buttons,
            links=(Link(f"{service.name}: alle Informationen", office.url),),
        )


class ActionOpeningHours(ClosuresMixin, TownMixin, Action):
    """Opening hours of an office on a day (today, a named weekday or a date), holidays,
    closures of the knowledge and the console's closures (read on every answer) included,
    in the town's time zone."""

    def name(self) -> str:
        return "action_opening_hours"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        office = self.town.office(entity(tracker, "department"))
        now = self.town.now()
        today = now.date()
        text = tracker.latest_message.get("text") or ""
        day = parse_date(text, today) or today
        weekday = entity(tracker, "weekday")
        if weekday and weekday.casefold() in _WEEKDAY_ENTITY and day == today:
            ahead = (_WEEKDAY_ENTITY[weekday.casefold()] - today.weekday()) % 7
            day = date.fromordinal(today.toordinal() + ahead)
        closures = await self.closures.for_office(office.department.id)
        chat = day_sentence(self.town, office, day, today, spoken=False, closures=closures)
        voice = day_sentence(self.town, office, day, today, spoken=True, closures=closures)
        if day == today:
            open_now = _open_at(self.town, office, now, closures)
            state = " Im Moment ist geöffnet." if open_now else " Im Moment ist geschlossen."
            chat, voice = chat + state, voice + state
        chat += f" Regulär: {week_text(self.town, office)}."
        department = office.department
        say(
            dispatcher,
            channel_of(tracker),
            chat,
            voice,
            links=(Link(f"{department.name}: Öffnungszeiten", department.url),),
        )
        return [SlotSet("department", department.id)]


def _open_at(town: Town, office: Office, now: datetime, closures: list[Closure]) -> bool:
    if any(c.active_at(now) for c in closures):
        return False
    status = effective_status(town, office, now.date(), closures)
    return any(i.start <= now.time() < i.end for i in status.intervals)


class ActionResponsibleOffice(TownMixin, Action):
    """Who is responsible (by office or service): address, phone, e-mail."""

    def name(self) -> str:
        return "action_responsible_office"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        service = self.town.service(entity(tracker, "service"))
        named = entity(tracker, "department")
        if named is None and service is not None:
            named = service.office
        department = self.town.office(named).department
        who = f"{department.article} {department.name}"
        lead = f"Für {service.name} ist {who} zuständig" if service else f"Zuständig ist {who}"
        chat = (
            f"{lead}: {department.address}, Telefon {department.phone}, E-Mail {department.email}."
        )
        voice = f"{lead}, {address_spoken(department.address)}. Telefon: {department.phone_spoken}."
        say(
            dispatcher,
            channel_of(tracker),
            chat,
            voice,
            links=(Link(department.name, department.url),),
        )
        return [SlotSet("department", department.id)]


class ActionWasteCollection(TownMixin, Action):
    """Next collection dates for the street in slot ``street`` (filled by waste_form)."""

    def name(self) -> str:
        return "action_waste_collection"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        street = self.town.street(tracker.get_slot("street"))
        if street is None:  # validate_waste_form keeps unknown streets out
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        today = self.town.now().date()
        wanted = self.town.waste_type(tracker.get_slot("waste_type"))
        dates = [
            (waste, day)
            for waste, day in self.town.next_collections(street, today)
            if wanted is None or waste == wanted
        ]
        chat = (
            f"Abholtermine für die {street}: "
            + "; ".join(f"{waste.name} am {date_text(day)}" for waste, day in dates)
            + "."
        )
        voice = (
            f"In der {street} wird abgeholt: "
            + ", ".join(f"{waste.name} am {date_spoken(day)}" for waste, day in dates)
            + "."
        )
        say(dispatcher, channel_of(tracker), chat, voice)
        return [SlotSet("waste_type", None)]


class ActionRepeat(Action):
    """Says again what the assistant said in its previous turn (no second handoff)."""

    def name(self) -> str:
        return "action_repeat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        previous = last_bot_turn(tracker.events)
        if not previous:
            dispatcher.utter_message(
                text="Ich habe bisher noch nichts gesagt. Wie kann ich helfen?"
            )
        for event in previous:
            data = event.get("data") or {}
            custom = data.get("custom")
            if isinstance(custom, dict):
                custom = without_handoff(custom)
            if event.get("text") or custom:
                dispatcher.utter_message(
                    text=event.get("text"), buttons=data.get("buttons") or [], json_message=custom
                )
        return []


def last_bot_turn(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bot events between the user's previous message and the current one."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(users) < 2:
        return []
    start, end = users[-2], users[-1]
    return [e for e in events[start:end] if e.get("event") == "bot"]
