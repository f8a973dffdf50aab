"""Forms that do real work: booking and cancelling appointments, damage reports, callbacks.

Records go to Redis (intents/actions/records.py); only free slots of the office's capacity
are offered, and the booking itself takes the slot atomically.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract import env
from contract.german import phone_text
from contract.language import Register
from contract.phone import (
    NUMBER_NOT_ALLOWED_TEXT,
    NUMBER_NOT_ALLOWED_TEXT_EN,
    CallbackPolicy,
    to_e164,
)
from contract.records import (
    Booking,
    RecordKind,
    new_reference,
)
from contract.town import Office, Service, Town
from intents.actions.answers import ActionServiceInfo, TownMixin, channel_of, say
from intents.actions.guard import (
    MISSES,
    REQUESTED,
    TOPIC,
    GuardMixin,
    answered_instead,
    ask,
    dropped_events,
    first_message,
)
from intents.actions.language import register_of
from intents.actions.phrases import asks_about_topic
from intents.actions.records import BookingResult, Records
from intents.actions.speech import (
    address_spoken,
    date_spoken,
    date_text,
    parse_date,
    parse_phone,
    parse_time,
    phone_spoken,
    reference_spoken,
    time_spoken,
    time_text,
)
from intents.actions.texts import HINTS, HINTS_EINFACH, HINTS_EN, hint_in
from intents.actions.wording import date_einfach, date_en, time_einfach, time_en

BOOKING_SLOTS = (
    "service",
    "appointment_date",
    "appointment_time",
    "person_name",
    "phone_number",
    "booking_confirmed",
)
MAX_TEXT = 500
_NAME_LEAD = re.compile(
    r"^(ich hei(ß|ss)e|mein name ist|name|ich bin|my name is|my name's|i am|i'm|this is)\s*:?\s*",
    re.IGNORECASE,
)


class RecordsMixin:
    """Lazily connects to Redis (in the action server's event loop)."""

    _records: Records | None = None

    @property
    def records(self) -> Records:
        if self._records is None:
            self._records = Records.from_environment()
        return self._records


def booking_service(town: Town, tracker: Tracker) -> tuple[Service, Office] | None:
    service = town.service(tracker.get_slot("service"))
    if service is None or not service.bookable:
        return None
    return service, town.offices[service.office]


async def free_times(town: Town, records: Records, office: Office, day: date) -> list[time]:
    now = town.now()
    slots = [
        t for t in town.slots(office, day) if datetime.combine(day, t) > now.replace(tzinfo=None)
    ]
    taken = await records.taken(office.department.id, day, slots)
    return [t for t, n in zip(slots, taken, strict=True) if n < office.capacity]


async def free_days(town: Town, records: Records, office: Office, *, limit: int) -> list[date]:
    days: list[date] = []
    for day in town.bookable_days(office, town.now().date()):
        if await free_times(town, records, office, day):
            days.append(day)
            if len(days) == limit:
                break
    return days


class ValidateBookingForm(GuardMixin, RecordsMixin, TownMixin, FormValidationAction):
    label = "die Terminbuchung"
    own_intents = frozenset({"book_appointment"})

    def topic_of(self, tracker: Tracker) -> str | None:
        service = self.town.service(tracker.get_slot("service"))
        return service.id if service else None

    def name(self) -> str:
        return "validate_booking_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not self.asks_about_topic(tracker):
            return await super().run(dispatcher, tracker, domain)
        answer = ActionServiceInfo(self.town)
        return [*await answer.run(dispatcher, tracker, domain), *answered_instead()]

    def asks_about_topic(self, tracker: Tracker) -> bool:
        """Whether the message that starts the form is a follow-up question about the topic
        (see ``asks_about_topic`` in phrases.py)."""
        return asks_about_topic(
            str(tracker.latest_message.get("text") or ""),
            intent=(tracker.latest_message.get("intent") or {}).get("name"),
            requested=tracker.get_slot(REQUESTED),
            topic_is_service=self.town.service(tracker.get_slot(TOPIC)) is not None,
        )

    def fits(self, slot: str, text: str) -> bool:
        today = self.town.now().date()
        match slot:
            case "service":
                return self.town.service(text) is not None
            case "appointment_date":
                return parse_date(text, today) is not None
            case "appointment_time":
                return parse_time(text) is not None
            case "phone_number":
                return parse_phone(text) is not None
        return False

    def hint(self, slot: str) -> str:
        return HINTS.get(slot, "Bitte beantworten Sie zuerst meine Frage.")

    async def extract_service(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        found = self._first_message(tracker, "service")
        service = self.town.service(found) if found else None
        return {"service": service.id} if service else {}

    async def extract_appointment_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = self._first_message(tracker, "appointment_date")
        day = parse_date(text, self.town.now().date()) if text else None
        return {"appointment_date": text} if day else {}

    async def extract_appointment_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = self._first_message(tracker, "appointment_time")
        if not text or not re.search(r"\d\s*(uhr|:\d\d)|\buhr\b", text.casefold()):
            return {}
        return {"appointment_time": text} if parse_time(text) else {}

    @staticmethod
    def _first_message(tracker: Tracker, slot: str) -> str | None:
        return first_message(tracker, slot, "book_appointment")

    async def validate_service(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        service = self.town.service(str(value))
        if service is None or not service.bookable:
            names = ", ".join(s.name for s in self.town.services if s.bookable)
            say(
                dispatcher,
                channel_of(tracker),
                f"Dafür kann ich leider keinen Termin buchen. Termine gibt es für: {names}.",
                "Dafür kann ich leider keinen Termin buchen. Termine gibt es zum Beispiel für "
                "Personalausweis, Reisepass, Anmeldung und Autozulassung.",
                register=register_of(tracker),
                en=(
                    "Sorry, I cannot book an appointment for that. Appointments are available "
                    "for example for ID cards, passports, registering your address and vehicle "
                    "registration.",
                )
                * 2,
                einfach=(
                    "Dafür kann ich keinen Termin machen. Ich mache Termine zum Beispiel für "
                    "einen Ausweis.",
                )
                * 2,
            )
            return {"service": None}
        return {"service": service.id}

    async def validate_appointment_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        chosen = booking_service(self.town, tracker)
        today = self.town.now().date()
        day = parse_date(str(value), today)
        if chosen is None or day is None:
            say(
                dispatcher,
                channel_of(tracker),
                HINTS["appointment_date"],
                "Bitte nennen Sie einen Tag, zum Beispiel nächsten Dienstag oder den achten "
                "Dezember.",
                register=register_of(tracker),
                en=(HINTS_EN["appointment_date"],) * 2,
                einfach=(HINTS_EINFACH["appointment_date"],) * 2,
            )
            return {"appointment_date": None}
        office = chosen[1]
        if not await free_times(self.town, self.records, office, day) or day <= today:
            status = self.town.day_status(office, day)
            reason = f" ({status.closed_because})" if status.closed_because else ""
            say(
                dispatcher,
                channel_of(tracker),
                f"Am {date_text(day)}{reason} gibt es keine freien Termine.",
                f"Am {date_spoken(day)}{reason} gibt es keine freien Termine.",
                register=register_of(tracker),
                en=(f"There are no free appointments on {date_en(day)}{reason}.",) * 2,
                einfach=(f"Am {date_einfach(day)} gibt es keine freien Termine.",) * 2,
            )
            return {"appointment_date": None}
        return {"appointment_date": day.isoformat()}

    async def validate_appointment_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        chosen = booking_service(self.town, tracker)
        at = parse_time(str(value))
        try:
            day = date.fromisoformat(str(tracker.get_slot("appointment_date")))
        except ValueError:  # a time in the first message, but no valid day yet
            return {"appointment_time": None}
        free = await free_times(self.town, self.records, chosen[1], day) if chosen else []
        if at is None or at not in free:
            if at is None:
                say(
                    dispatcher,
                    channel_of(tracker),
                    HINTS["appointment_time"],
                    "Bitte nennen Sie eine Uhrzeit, zum Beispiel zehn Uhr dreißig.",
                    register=register_of(tracker),
                    en=(HINTS_EN["appointment_time"],) * 2,
                    einfach=(HINTS_EINFACH["appointment_time"],) * 2,
                )
            else:
                shown, spoken = time_text(at), time_spoken(at)
                say(
                    dispatcher,
                    channel_of(tracker),
                    f"{shown} ist leider nicht frei.",
                    f"{spoken} ist leider nicht frei.",
                    register=register_of(tracker),
                    en=(f"Sorry, {time_en(at)} is not free.",) * 2,
                    einfach=(f"Um {time_einfach(at)} ist kein Termin frei.",) * 2,
                )
            return {"appointment_time": None}
        return {"appointment_time": f"{at:%H:%M}"}

    async def validate_person_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = _NAME_LEAD.sub("", str(value)).strip(" .,!")
        if not name or len(name) > 100 or any(ch.isdigit() for ch in name):
            dispatcher.utter_message(text=hint_in("person_name", register_of(tracker)))
            return {"person_name": None}
        return {"person_name": name}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_phone(value, dispatcher, register_of(tracker))


def validate_phone(
    value: Any, dispatcher: CollectingDispatcher, register: Register = Register.DE
) -> dict[str, Any]:
    phone = parse_phone(str(value))
    if phone is None or to_e164(phone) is None:
        invalid = {
            Register.EN: "That is not a valid phone number.",
            Register.EINFACH: "Diese Telefon-Nummer stimmt nicht.",
        }.get(register, "Das ist keine gültige Telefonnummer.")
        dispatcher.utter_message(text=f"{invalid} {hint_in('phone_number', register)}")
        return {"phone_number": None}
    policy = CallbackPolicy.parse(os.environ.get(env.CALLBACK_ALLOWED_PREFIXES))
    if not policy.allows(phone):
        refused = {
            Register.EN: NUMBER_NOT_ALLOWED_TEXT_EN,
            Register.EINFACH: "Diese Nummer können wir nicht anrufen. "
            "Bitte sagen Sie eine deutsche Telefon-Nummer.",
        }.get(register, NUMBER_NOT_ALLOWED_TEXT)
        dispatcher.utter_message(text=refused)
        return {"phone_number": None}
    return {"phone_number": phone}


class ActionAskAppointmentDate(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_ask_appointment_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        chosen = booking_service(self.town, tracker)
        days = await free_days(self.town, self.records, chosen[1], limit=4) if chosen else []
        if chosen is None or not days:
            say(
                dispatcher,
                channel_of(tracker),
                *("Leider sind derzeit keine Termine frei.",) * 2,
                register=register_of(tracker),
                en=("Sorry, there are no free appointments at the moment.",) * 2,
                einfach=("Im Moment sind keine Termine frei.",) * 2,
            )
            return [SlotSet("appointment_date", None)]
        service, office = chosen
        en_days = ", ".join(date_en(d) for d in days)
        easy_days = ", ".join(date_einfach(d) for d in days)
        ask(
            dispatcher,
            tracker,
            f"Termine für {service.name} ({office.department.name}) sind frei zum Beispiel am "
            + ", ".join(date_text(d) for d in days)
            + ". An welchem Tag möchten Sie kommen?",
            "Freie Termine gibt es zum Beispiel am "
            + ", ".join(date_spoken(d) for d in days[:3])
            + ". An welchem Tag möchten Sie kommen? Sie können den Tag auch als Zahl eintippen, "
            "dann die Raute-Taste.",
            en=(
                f"Free appointments are for example on {en_days}. Which day would you like?",
                "Free appointments are for example on "
                + ", ".join(date_en(d) for d in days[:3])
                + ". Which day would you like? You can also type the day as a number on your "
                "keypad, then the hash key.",
            ),
            einfach=(
                f"Diese Tage sind frei: {easy_days}. An welchem Tag möchten Sie kommen?",
                f"Diese Tage sind frei: {easy_days}. An welchem Tag möchten Sie kommen? "
                "Sie können den Tag auch als Zahl tippen. Dann drücken Sie die Raute-Taste.",
            ),
            buttons=[{"title": date_text(d), "payload": f"{d:%d.%m.%Y}"} for d in days],
            spoken_titles=[date_spoken(d) for d in days],
        )
        return []


class ActionAskAppointmentTime(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_ask_appointment_time"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        chosen = booking_service(self.town, tracker)
        day = date.fromisoformat(str(tracker.get_slot("appointment_date")))
        free = await free_times(self.town, self.records, chosen[1], day) if chosen else []
        shown = free[:8]
        ask(
            dispatcher,
            tracker,
            f"Am {date_text(day)} sind diese Uhrzeiten frei: "
            + ", ".join(time_text(t) for t in shown)
            + ". Welche Uhrzeit passt Ihnen?",
            f"Am {date_spoken(day)} sind frei: "
            + ", ".join(time_spoken(t) for t in shown[:4])
            + ". Welche Uhrzeit passt Ihnen? Sie können sie auch eintippen, zum Beispiel eins, "
            "vier, drei, null für vierzehn Uhr dreißig, dann die Raute-Taste.",
            en=(
                f"On {date_en(day)} these times are free: "
                + ", ".join(time_en(t) for t in shown)
                + ". Which time suits you?",
                f"On {date_en(day)} these times are free: "
                + ", ".join(time_en(t) for t in shown[:4])
                + ". Which time suits you? You can also type it on your keypad, for example one, "
                "four, three, zero for half past two in the afternoon, then the hash key.",
            ),
            einfach=(
                f"Am {date_einfach(day)} sind diese Zeiten frei: "
                + ", ".join(time_einfach(t) for t in shown[:4])
                + ". Welche Zeit passt Ihnen?",
                f"Am {date_einfach(day)} sind diese Zeiten frei: "
                + ", ".join(time_einfach(t) for t in shown[:4])
                + ". Welche Zeit passt Ihnen? Sie können die Zeit auch tippen. Zum Beispiel "
                "1, 4, 3, 0 für 14 Uhr 30. Dann drücken Sie die Raute-Taste.",
            ),
            buttons=[{"title": time_text(t), "payload": f"{t:%H:%M}"} for t in shown],
            spoken_titles=[time_spoken(t) for t in shown],
        )
        return []


class ActionAskBookingConfirmed(TownMixin, Action):
    def name(self) -> str:
        return "action_ask_booking_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        service = self.town.service(tracker.get_slot("service"))
        day = date.fromisoformat(str(tracker.get_slot("appointment_date")))
        at = time.fromisoformat(str(tracker.get_slot("appointment_time")))
        name, phone = tracker.get_slot("person_name"), str(tracker.get_slot("phone_number"))
        what = service.name if service else "Ihr Anliegen"
        en_what = self.words.services[service.id].en.name if service else "your request"
        ask(
            dispatcher,
            tracker,
            f"Ich buche: {what} am {date_text(day)} um {time_text(at)} für {name}, "
            f"Telefon {phone_text(phone)}. Ist das richtig?",
            f"Ich wiederhole: {what} am {date_spoken(day)} um {time_spoken(at)} für {name}, "
            f"Telefon {phone_spoken(phone)}. Ist das richtig? Sagen Sie ja oder nein.",
            en=(
                f"I will book: {en_what} on {date_en(day)} at {time_en(at)} for {name}, "
                f"phone {phone_text(phone)}. Is that correct?",
                f"Let me repeat: {en_what} on {date_en(day)} at {time_en(at)} for {name}, "
                f"phone {phone_text(phone)}. Is that correct? Please say yes or no.",
            ),
            einfach=(
                f"Ich mache diesen Termin: {what}. Der Tag ist {date_einfach(day)}. "
                f"Die Uhrzeit ist {time_einfach(at)}. Der Name ist {name}. Stimmt das?",
            )
            * 2,
            buttons=[
                {"title": "Ja, buchen", "payload": "/affirm"},
                {"title": "Nein", "payload": "/deny"},
            ],
        )
        return []


class ActionBookAppointment(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_book_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dropped = dropped_events(
            dispatcher, tracker, self.town, done="ich habe nichts gebucht", slots=[*BOOKING_SLOTS]
        )
        if dropped is not None:
            return dropped
        reset = [SlotSet(slot, None) for slot in BOOKING_SLOTS] + [SlotSet(MISSES, 0)]
        channel = channel_of(tracker)
        chosen = booking_service(self.town, tracker)
        if not tracker.get_slot("booking_confirmed") or chosen is None:
            say(
                dispatcher,
                channel,
                *("In Ordnung, ich habe nichts gebucht. Wie kann ich sonst helfen?",) * 2,
                register=register_of(tracker),
                en=("All right, I have not booked anything. How else can I help?",) * 2,
                einfach=("Gut. Ich habe keinen Termin gemacht. Wie kann ich noch helfen?",) * 2,
            )
            return reset
        service, office = chosen
        booking = Booking.local(
            reference=new_reference(RecordKind.BOOKING),
            service=service.id,
            office=office.department.id,
            day=date.fromisoformat(str(tracker.get_slot("appointment_date"))),
            at=time.fromisoformat(str(tracker.get_slot("appointment_time"))),
            name=str(tracker.get_slot("person_name")),
            phone=str(tracker.get_slot("phone_number")),
            channel=channel,
            minutes=office.slot_minutes or 30,
            timezone=str(self.town.timezone),
            created_at=self.records.now(),
        )
        if await self.records.book(booking, capacity=office.capacity) is BookingResult.SLOT_TAKEN:
            say(
                dispatcher,
                channel,
                "Dieser Termin wurde leider gerade vergeben. Bitte wählen Sie einen anderen; "
                "sagen Sie dazu einfach: Termin buchen.",
                "Dieser Termin wurde leider gerade vergeben. Sagen Sie bitte noch einmal: Termin "
                "buchen.",
                register=register_of(tracker),
                en=(
                    "Sorry, this appointment was just taken. Please say again: book an "
                    "appointment.",
                )
                * 2,
                einfach=(
                    "Jemand anderes hat diesen Termin gerade bekommen. Bitte sagen Sie "
                    "noch einmal: Termin machen.",
                )
                * 2,
            )
            return reset
        department = office.department
        say(
            dispatcher,
            channel,
            f"Ihr Termin ist gebucht: {service.name} am {date_text(booking.day)} um "
            f"{time_text(booking.at)}, {department.name}, {department.address}. "
            f"Ihre Buchungsnummer: {booking.reference}. Damit können Sie den Termin auch absagen."
            f"{_bring(service)}",
            f"Ihr Termin ist gebucht: am {date_spoken(booking.day)} um {time_spoken(booking.at)}, "
            f"{department.name}, {address_spoken(department.address)}. Ihre Buchungsnummer lautet: "
            f"{reference_spoken(booking.reference)}. Ich wiederhole: "
            f"{reference_spoken(booking.reference)}.",
            register=register_of(tracker),
            en=(
                f"Your appointment is booked: {self.words.services[service.id].en.name} on "
                f"{date_en(booking.day)} at {time_en(booking.at)}, "
                f"{self.words.departments[department.id].en}, {department.address}. "
                f"Your booking number: {booking.reference}. You can also use it to cancel the "
                "appointment.",
                f"Your appointment is booked: on {date_en(booking.day)} at "
                f"{time_en(booking.at)}. Your booking number is: "
                f"{' '.join(booking.reference)}. Again: {' '.join(booking.reference)}.",
            ),
            einfach=(
                f"Ihr Termin ist fertig. Der Tag ist {date_einfach(booking.day)}. Die Uhrzeit "
                f"ist {time_einfach(booking.at)}. Das Amt heißt "
                f"{self.words.departments[department.id].einfach}. Die Adresse ist: "
                f"{department.address}. Ihre Buchungs-Nummer ist {booking.reference}. Mit der "
                "Nummer können Sie den Termin absagen.",
            )
            * 2,
        )
        return reset


def _bring(service: Service) -> str:
    documents = ", ".join(service.documents)
    return f" Bitte bringen Sie mit: {documents}." if documents else ""
