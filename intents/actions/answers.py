"""Answers from the knowledge files: services, opening hours, responsible offices, waste
calendar, and ``action_repeat``. Chat texts may carry links; voice texts carry no URLs and
speak times and phone numbers as words."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.closures import Closure, cut
from contract.german import WEEKDAYS
from contract.knowledge import Department, knowledge_dir
from contract.language import Register
from contract.payloads import Link, Links, encode, without_handoff
from contract.records import Channel
from contract.town import DayStatus, Interval, Office, Service, Town, load_town
from contract.translations import load_translations
from intents.actions.aspects import Aspect, aspect_of, lead, lead_en
from intents.actions.closures import ClosuresMixin
from intents.actions.language import Wording, buttons_in, pick, register_of
from intents.actions.phrases import states_booking
from intents.actions.routing import current_request, department_for, topic_department
from intents.actions.speech import (
    address_spoken,
    date_spoken,
    date_text,
    parse_date,
    time_spoken,
    time_text,
)
from intents.actions.wording import (
    date_einfach,
    date_en,
    day_sentence_einfach,
    day_sentence_en,
    week_en,
)

FOLLOW_UP = "follow_up"
PICKUP_DEADLINE = time(6, 0)
TOPIC = "topic"
_WEEKDAY_ENTITY = {name.casefold(): i for i, name in enumerate(WEEKDAYS)}


class TownMixin:
    """Gives an action the town's knowledge and its English and Leichte Sprache wording,
    loaded and validated when the server starts."""

    def __init__(self, town: Town | None = None) -> None:
        self.town = town or load_town(knowledge_dir())
        self.words = load_translations(
            knowledge_dir(),
            services=[s.id for s in self.town.services],
            departments=[d.id for d in self.town.directory.departments],
        )

    def office_name(self, office: Department, register: Register) -> str:
        """The office's name in ``register`` (German: with its article)."""
        wording = self.words.departments[office.id]
        match register:
            case Register.EN:
                return f"the {wording.en}"
            case Register.EINFACH:
                return wording.einfach
            case _:
                return f"{office.article} {office.name}"


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
    voice_buttons: list[dict[str, str]] | None = None,
    register: Register = Register.DE,
    en: Wording | None = None,
    einfach: Wording | None = None,
) -> None:
    """One message in the wording of ``channel`` and ``register`` (German ``chat`` and
    ``voice``, or the ``en`` / ``einfach`` variant); links and ``buttons`` only in chat. On
    the phone ``voice_buttons`` become a key menu (voice/keymenu.py)."""
    chat, voice = pick(register, (chat, voice), en=en, einfach=einfach)
    buttons = buttons_in(buttons or [], register)
    voice_buttons = buttons_in(voice_buttons or [], register)
    if channel is Channel.VOICE:
        dispatcher.utter_message(text=voice, buttons=voice_buttons or [])
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
    """Answers a service intent (id_card, passport, ...) or a follow-up question ("Was kostet
    das?") about the topic under discussion, leading with what was asked."""

    def name(self) -> str:
        return "action_service_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name") or ""
        text = tracker.latest_message.get("text") or ""
        if intent == FOLLOW_UP and states_booking(text):
            return [FollowupAction("booking_form")]  # a statement books, whatever the NLU says
        channel = channel_of(tracker)
        service = self.town.service_for_intent(intent)
        if service is None or intent == FOLLOW_UP:
            service = self.town.service(entity(tracker, "service")) or self.town.service(
                tracker.get_slot(TOPIC)
            )
        register = register_of(tracker)
        aspect = aspect_of(text, english=register is Register.EN)
        if service is None:
            topic = topic_department(self.town, tracker.get_slot(TOPIC))
            if topic is not None and aspect is Aspect.LOCATION:
                self.contact(dispatcher, channel, topic, register_of(tracker))
                return []
            say(
                dispatcher,
                channel,
                "Zu welcher Dienstleistung möchten Sie das wissen? Zum Beispiel Personalausweis,"
                " Reisepass, Anmeldung oder Eheschließung.",
                "Zu welcher Dienstleistung möchten Sie das wissen? Zum Beispiel Personalausweis,"
                " Reisepass oder Anmeldung.",
                register=register_of(tracker),
                en=(
                    "Which service would you like to know about? For example ID card, passport,"
                    " registering your address or marriage.",
                )
                * 2,
                einfach=(
                    "Worum geht es? Zum Beispiel um einen Ausweis. Oder um eine neue Wohnung.",
                )
                * 2,
                buttons=[
                    {"title": s.name, "payload": f"/{s.intent}"}
                    for s in self.town.services[:4]
                    if s.intent
                ],
            )
            return []
        # Leichte Sprache, and aspects without English text, get the whole answer.
        if aspect is None or not self.answer_aspect(dispatcher, channel, service, aspect, register):
            self.answer(dispatcher, channel, service, register)
        events: list[EventType] = [SlotSet(TOPIC, service.id)]
        return events + ([SlotSet("service", service.id)] if service.bookable else [])

    def contact(
        self,
        dispatcher: CollectingDispatcher,
        channel: Channel | None,
        office: Department,
        register: Register = Register.DE,
    ) -> None:
        en = self.office_name(office, Register.EN)
        easy = self.office_name(office, Register.EINFACH)
        say(
            dispatcher,
            channel,
            f"{office.article.capitalize()} {office.name} ist in der {office.address}, "
            f"Telefon {office.phone}.",
            f"{office.article.capitalize()} {office.name} ist in der "
            f"{address_spoken(office.address)}.",
            links=(Link(office.name, office.url),),
            register=register,
            en=(f"{en.capitalize()} is at {office.address}, phone {office.phone}.",) * 2,
            einfach=(
                f"Das Amt heißt {easy}. Die Adresse ist: {office.address}. "
                f"Die Telefon-Nummer ist {office.phone}.",
            )
            * 2,
        )

    def answer_aspect(
        self,
        dispatcher: CollectingDispatcher,
        channel: Channel | None,
        service: Service,
        aspect: Aspect,
        register: Register = Register.DE,
    ) -> bool:
        """The answer that leads with ``aspect``, in German or English; False (nothing
        said) for Leichte Sprache and where the aspect has no English text."""
        office = self.town.offices[service.office].department
        english = None
        if register is Register.EN:
            words = self.words.services[service.id].en
            where = self.words.departments[office.id].en
            english = lead_en(service, words, where, office.address, aspect)
        if register is Register.EINFACH or (register is Register.EN and english is None):
            return False
        chat = lead(service, office, aspect)
        voice = chat
        if aspect is Aspect.ONLINE and service.online_url:
            voice = (
                f"Ja, {service.name} können Sie online erledigen, über die Internetseite der Stadt."
            )
        if aspect is Aspect.LOCATION:
            voice = (
                f"Zuständig ist {office.article} {office.name}, {address_spoken(office.address)}."
            )
        buttons = (
            [{"title": "Alle Informationen", "payload": f"/{service.intent}"}]
            if (service.intent)
            else []
        )
        if service.bookable:
            buttons.append({"title": "Termin buchen", "payload": "/book_appointment"})
        links = (
            (Link(service.name, service.online_url),)
            if (aspect is Aspect.ONLINE and service.online_url)
            else ()
        )
        en: Wording | None = None
        if english is not None:
            online = aspect is Aspect.ONLINE and service.online_url
            spoken = english.split(": http")[0] + ", on the town's website." if online else english
            en = (english, spoken)
        say(
            dispatcher,
            channel,
            chat,
            voice,
            buttons=buttons,
            links=links,
            register=register,
            en=en,
        )
        return True

    def answer(
        self,
        dispatcher: CollectingDispatcher,
        channel: Channel | None,
        service: Service,
        register: Register = Register.DE,
    ) -> None:
        office = self.town.offices[service.office].department
        documents = ", ".join(service.documents)
        bring = f" Bitte bringen Sie mit: {documents}." if documents else ""
        booking = " Einen Termin können Sie direkt bei mir buchen." if service.bookable else ""
        online = " Das geht auch online." if service.online_url else ""
        chat = (
            f"{service.summary}{bring} Gebühr: {service.fee}. Bearbeitungszeit: "
            f"{service.processing_time}.{online} Zuständig: {office.name}, {office.address}, "
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
        name = self.words.services[service.id].en.name if register is Register.EN else service.name
        more = "all information" if register is Register.EN else "alle Informationen"
        links = [Link(f"{name}: {more}", office.url)]
        if service.online_url:
            links.append(Link(f"{name} online", service.online_url))
        say(
            dispatcher,
            channel,
            chat,
            voice,
            buttons=buttons,
            links=tuple(links),
            register=register,
            en=self.english(service, office),
            einfach=self.einfach(service, office),
        )

    def english(self, service: Service, office: Department) -> Wording:
        words = self.words.services[service.id].en
        where = self.words.departments[office.id].en
        bring = f" Please bring: {', '.join(words.documents)}." if words.documents else ""
        booking = " You can book an appointment with me right away." if service.bookable else ""
        online = " You can also do this online." if service.online_url else ""
        chat = (
            f"{words.summary}{bring} Fee: {words.fee}. Processing time: "
            f"{words.processing_time}.{online} Responsible: the {where}, {office.address}, "
            f"phone {office.phone}.{booking}"
        )
        voice = (
            f"{words.summary}{bring} The fee: {words.fee}. Responsible is the {where}, "
            f"phone {office.phone}.{booking}"
        )
        return chat, voice

    def einfach(self, service: Service, office: Department) -> Wording:
        text = self.words.services[service.id].einfach
        name = self.words.departments[office.id].einfach
        booking = " Sie können bei mir einen Termin machen." if service.bookable else ""
        chat = f"{text} Das Amt heißt {name}. Die Telefon-Nummer ist {office.phone}.{booking}"
        voice = f"{text} Die Telefon-Nummer ist {office.phone_spoken}.{booking}"
        return chat, voice


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
        department = office.department
        touching = [c for c in closures if c.overlaps_day(day, self.town.timezone)]
        status = effective_status(self.town, office, day, touching)
        raw = self.town.day_status(office, day)
        en_name = self.office_name(department, Register.EN)
        easy_name = f"{department.article} {self.office_name(department, Register.EINFACH)}"
        notes = "".join(f" Note: {_sentence(c.note)}" for c in touching)
        en = day_sentence_en(
            en_name,
            day,
            today,
            DayStatus(status.intervals, raw.closed_because),
            closed=bool(touching),
            notes=notes,
        )
        easy = day_sentence_einfach(easy_name, day, today, status)
        if day == today:
            open_now = _open_at(self.town, office, now, closures)
            subject = f"{department.article} {department.name}"
            state = f" Im Moment ist {subject} {'geöffnet' if open_now else 'geschlossen'}."
            chat, voice = chat + state, voice + state
            en += f" Right now {en_name} is {'open' if open_now else 'closed'}."
            easy += f" Jetzt gerade ist es {'offen' if open_now else 'zu'}."
        chat += f" Regulär: {week_text(self.town, office)}."
        say(
            dispatcher,
            channel_of(tracker),
            chat,
            voice,
            links=(Link(f"{department.name}: Öffnungszeiten", department.url),),
            register=register_of(tracker),
            en=(f"{en} Regular hours: {week_en(office.hours)}.", en),
            einfach=(easy, easy),
        )
        return [SlotSet("department", department.id), SlotSet(TOPIC, department.id)]


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
        text = tracker.latest_message.get("text") or ""
        service = self.town.service(entity(tracker, "service")) or self.town.service(text)
        if service is not None and entity(tracker, "department") is None:
            department = self.town.offices[service.office].department
        else:
            department = department_for(self.town, current_request(tracker))
            service = None if entity(tracker, "department") else service
        who = f"{department.article} {department.name}"
        lead = f"Für {service.name} ist {who} zuständig" if service else f"Zuständig ist {who}"
        chat = (
            f"{lead}: {department.address}, Telefon {department.phone}, E-Mail {department.email}."
        )
        voice = f"{lead}, {address_spoken(department.address)}. Telefon: {department.phone_spoken}."
        en = self.office_name(department, Register.EN)
        easy = self.office_name(department, Register.EINFACH)
        en_chat = (
            f"Responsible is {en}: {department.address}, phone {department.phone}, "
            f"e-mail {department.email}."
        )
        easy_text = (
            f"Das Amt heißt {easy}. Die Adresse ist: {department.address}. "
            f"Die Telefon-Nummer ist {department.phone}."
        )
        say(
            dispatcher,
            channel_of(tracker),
            chat,
            voice,
            links=(Link(department.name, department.url),),
            register=register_of(tracker),
            en=(en_chat, f"Responsible is {en}, phone {department.phone}."),
            einfach=(easy_text, easy_text),
        )
        topic = service.id if service else department.id
        return [SlotSet("department", department.id), SlotSet(TOPIC, topic)]


class ActionWasteCollection(TownMixin, Action):
    """Next collection dates for the street in slot ``street`` (filled by waste_form)."""

    def name(self) -> str:
        return "action_waste_collection"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from intents.actions.guard import dropped_events  # guard answers with this module

        dropped = dropped_events(
            dispatcher,
            tracker,
            self.town,
            done="ich habe die Abfrage abgebrochen",
            slots=["street"],
        )
        if dropped is not None:
            return dropped
        street = self.town.street(tracker.get_slot("street"))
        if street is None:  # validate_waste_form keeps unknown streets out
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        now = self.town.now()
        # Bins go out by 6:00; after that, today's collection is gone for the citizen.
        first = now.date() if now.time() < PICKUP_DEADLINE else now.date() + timedelta(days=1)
        wanted = self.town.waste_type(tracker.get_slot("waste_type"))
        dates = [
            (waste, day)
            for waste, day in self.town.next_collections(street, first)
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
        # English keeps the bins' German names: they are what the bins and the calendar say.
        en = (
            f"Collection dates for {street}: "
            + "; ".join(f"{waste.name} on {date_en(day)}" for waste, day in dates)
            + "."
        )
        easy = f"In der {street} holen wir den Müll ab. " + " ".join(
            f"{waste.name}: am {date_einfach(day)}." for waste, day in dates
        )
        say(
            dispatcher,
            channel_of(tracker),
            chat,
            voice,
            register=register_of(tracker),
            en=(en, en),
            einfach=(easy, easy),
        )
        return [SlotSet("waste_type", None), SlotSet(TOPIC, "abfallwirtschaft")]


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
