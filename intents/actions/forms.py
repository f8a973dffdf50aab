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
from contract.phone import NUMBER_NOT_ALLOWED_TEXT, CallbackPolicy, to_e164
from contract.records import (
    Booking,
    BookingStatus,
    Callback,
    CallbackWindow,
    RecordKind,
    Ticket,
    new_reference,
)
from contract.town import Office, Service, Town
from intents.actions.answers import TownMixin, channel_of, say
from intents.actions.records import BookingResult, Records
from intents.actions.speech import (
    address_spoken,
    date_spoken,
    date_text,
    parse_date,
    parse_phone,
    parse_reference,
    parse_time,
    phone_spoken,
    reference_spoken,
    time_spoken,
    time_text,
)

BOOKING_SLOTS = (
    "service",
    "appointment_date",
    "appointment_time",
    "person_name",
    "phone_number",
    "booking_confirmed",
)
DAMAGE_TYPES = {
    "schlagloch": (
        "Schlagloch",
        ("schlagloch", "loch", "straßenschaden", "strassenschaden", "gehweg", "bordstein"),
    ),
    "strassenbeleuchtung": (
        "defekte Straßenbeleuchtung",
        ("laterne", "beleuchtung", "licht", "lampe"),
    ),
    "illegale_ablagerung": (
        "illegale Müllablagerung",
        ("müll", "muell", "sperrmüll", "ablagerung", "abfall", "dreck"),
    ),
    "graffiti": ("Graffiti", ("graffiti", "schmiererei", "beschmiert", "sprayer")),
}
OTHER_DAMAGE = "sonstiges"
MAX_TEXT = 500
_NAME_LEAD = re.compile(r"^(ich hei(ß|ss)e|mein name ist|name|ich bin)\s*:?\s*", re.IGNORECASE)


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


class ValidateBookingForm(RecordsMixin, TownMixin, FormValidationAction):
    def name(self) -> str:
        return "validate_booking_form"

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
                "Das Datum habe ich nicht verstanden. Bitte nennen Sie es zum Beispiel so: 24.11."
                " oder nächsten Dienstag.",
                "Das Datum habe ich nicht verstanden. Sagen Sie zum Beispiel: nächsten Dienstag.",
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
            )
            return {"appointment_date": None}
        return {"appointment_date": day.isoformat()}

    async def validate_appointment_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        chosen = booking_service(self.town, tracker)
        at = parse_time(str(value))
        day = date.fromisoformat(str(tracker.get_slot("appointment_date")))
        free = await free_times(self.town, self.records, chosen[1], day) if chosen else []
        if at is None or at not in free:
            what = "ist leider nicht frei" if at is not None else "habe ich nicht verstanden"
            shown = f"{time_text(at)} " if at else "Die Uhrzeit "
            spoken = f"{time_spoken(at)} " if at else "Die Uhrzeit "
            say(dispatcher, channel_of(tracker), f"{shown}{what}.", f"{spoken}{what}.")
            return {"appointment_time": None}
        return {"appointment_time": f"{at:%H:%M}"}

    async def validate_person_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = _NAME_LEAD.sub("", str(value)).strip(" .,!")
        if not name or len(name) > 100 or any(ch.isdigit() for ch in name):
            dispatcher.utter_message(text="Bitte nennen Sie Vor- und Nachnamen.")
            return {"person_name": None}
        return {"person_name": name}

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _phone(value, dispatcher)


def _phone(value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    phone = parse_phone(str(value))
    if phone is None or to_e164(phone) is None:
        dispatcher.utter_message(
            text="Das ist keine gültige Telefonnummer. Bitte nennen Sie die Nummer mit Vorwahl."
        )
        return {"phone_number": None}
    policy = CallbackPolicy.parse(os.environ.get(env.CALLBACK_ALLOWED_PREFIXES))
    if not policy.allows(phone):
        dispatcher.utter_message(text=NUMBER_NOT_ALLOWED_TEXT)
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
            dispatcher.utter_message(text="Leider sind derzeit keine Termine frei.")
            return [SlotSet("appointment_date", None)]
        service, office = chosen
        say(
            dispatcher,
            channel_of(tracker),
            f"Termine für {service.name} ({office.department.name}) sind frei zum Beispiel am "
            + ", ".join(date_text(d) for d in days)
            + ". An welchem Tag möchten Sie kommen?",
            "Freie Termine gibt es zum Beispiel am "
            + ", ".join(date_spoken(d) for d in days[:3])
            + ". An welchem Tag möchten Sie kommen?",
            buttons=[{"title": date_text(d), "payload": f"{d:%d.%m.%Y}"} for d in days],
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
        say(
            dispatcher,
            channel_of(tracker),
            f"Am {date_text(day)} sind diese Uhrzeiten frei: "
            + ", ".join(time_text(t) for t in shown)
            + ". Welche Uhrzeit passt Ihnen?",
            f"Am {date_spoken(day)} sind frei: "
            + ", ".join(time_spoken(t) for t in shown[:4])
            + ". Welche Uhrzeit passt Ihnen?",
            buttons=[{"title": time_text(t), "payload": f"{t:%H:%M}"} for t in shown],
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
        say(
            dispatcher,
            channel_of(tracker),
            f"Ich buche: {what} am {date_text(day)} um {time_text(at)} für {name}, "
            f"Telefon {phone}. Ist das richtig?",
            f"Ich wiederhole: {what} am {date_spoken(day)} um {time_spoken(at)} für {name}, "
            f"Telefon {phone_spoken(phone)}. Ist das richtig? Sagen Sie ja oder nein.",
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
        reset = [SlotSet(slot, None) for slot in BOOKING_SLOTS]
        channel = channel_of(tracker)
        chosen = booking_service(self.town, tracker)
        if not tracker.get_slot("booking_confirmed") or chosen is None:
            say(
                dispatcher,
                channel,
                "In Ordnung, ich habe nichts gebucht. Wie kann ich sonst helfen?",
                "In Ordnung, ich habe nichts gebucht. Wie kann ich sonst helfen?",
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
            )
            return reset
        department = office.department
        say(
            dispatcher,
            channel,
            f"Ihr Termin ist gebucht: {service.name} am {date_text(booking.day)} um "
            f"{time_text(booking.at)}, {department.name}, {department.address}. "
            f"Ihre Buchungsnummer: {booking.reference}. Damit können Sie den Termin auch absagen.",
            f"Ihr Termin ist gebucht: am {date_spoken(booking.day)} um {time_spoken(booking.at)}, "
            f"{department.name}, {address_spoken(department.address)}. Ihre Buchungsnummer lautet: "
            f"{reference_spoken(booking.reference)}. Ich wiederhole: "
            f"{reference_spoken(booking.reference)}.",
        )
        return reset


class ValidateCancelForm(RecordsMixin, FormValidationAction):
    def name(self) -> str:
        return "validate_cancel_form"

    async def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        reference = parse_reference(str(value), RecordKind.BOOKING.prefix)
        record = await self.records.booking(reference) if reference else None
        if record is None or record.status is not BookingStatus.BOOKED:
            dispatcher.utter_message(
                text="Zu dieser Buchungsnummer finde ich keinen gebuchten Termin. "
                "Bitte prüfen Sie die Nummer und nennen Sie sie noch einmal."
            )
            return {"booking_reference": None}
        return {"booking_reference": reference}


class ActionCancelAppointment(RecordsMixin, Action):
    def name(self) -> str:
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reference = str(tracker.get_slot("booking_reference"))
        record = await self.records.booking(reference)
        if record is None or not await self.records.cancel(reference):
            dispatcher.utter_message(text="Dieser Termin ist bereits abgesagt.")
            return [SlotSet("booking_reference", None)]
        day, at = record.day, record.at
        say(
            dispatcher,
            channel_of(tracker),
            f"Ihr Termin am {date_text(day)} um {time_text(at)} ist abgesagt ({reference}). "
            "Möchten Sie einen neuen Termin, sagen Sie einfach: Termin buchen.",
            f"Ihr Termin am {date_spoken(day)} um {time_spoken(at)} ist abgesagt. "
            "Möchten Sie einen neuen Termin, sagen Sie einfach: Termin buchen.",
        )
        return [SlotSet("booking_reference", None)]


def damage_type_of(text: str) -> str:
    lowered = text.casefold()
    if lowered in DAMAGE_TYPES:
        return lowered
    for type_id, (_, words) in DAMAGE_TYPES.items():
        if any(word in lowered for word in words):
            return type_id
    return OTHER_DAMAGE


class ValidateDamageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_damage_form"

    async def validate_damage_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"damage_type": damage_type_of(str(value))}

    async def validate_damage_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        if len(text) < 3 or len(text) > MAX_TEXT:
            dispatcher.utter_message(text="Bitte nennen Sie den Ort etwas genauer.")
            return {"damage_location": None}
        return {"damage_location": text}

    async def validate_damage_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"damage_description": str(value).strip()[:MAX_TEXT] or None}


class ActionCreateTicket(RecordsMixin, Action):
    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        type_id = str(tracker.get_slot("damage_type"))
        ticket = Ticket(
            reference=new_reference(RecordKind.TICKET),
            damage_type=type_id,
            location=str(tracker.get_slot("damage_location")),
            description=str(tracker.get_slot("damage_description")),
            channel=channel_of(tracker),
            created_at=self.records.now(),
        )
        await self.records.create(ticket)
        reference = ticket.reference
        label = DAMAGE_TYPES.get(type_id, ("Schaden",))[0]
        say(
            dispatcher,
            channel_of(tracker),
            f"Vielen Dank, Ihre Meldung ({label}, {ticket.location}) ist eingegangen. "
            f"Ihre Vorgangsnummer: {reference}.",
            f"Vielen Dank, Ihre Meldung ist eingegangen. Ihre Vorgangsnummer lautet: "
            f"{reference_spoken(reference)}.",
        )
        return [SlotSet(s, None) for s in ("damage_type", "damage_location", "damage_description")]


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_callback_form"

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _phone(value, dispatcher)

    async def validate_callback_window(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).casefold()
        if "vormittag" in text or "morgens" in text or "früh" in text:
            return {"callback_window": CallbackWindow.MORNING.value}
        if "nachmittag" in text or "mittag" in text or "abend" in text:
            return {"callback_window": CallbackWindow.AFTERNOON.value}
        if "egal" in text or "jederzeit" in text or "immer" in text:
            return {"callback_window": CallbackWindow.ANYTIME.value}
        dispatcher.utter_message(text="Bitte sagen Sie: vormittags, nachmittags oder egal.")
        return {"callback_window": None}


class ActionCreateCallback(RecordsMixin, Action):
    def name(self) -> str:
        return "action_create_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        phone = str(tracker.get_slot("phone_number"))
        window = CallbackWindow(tracker.get_slot("callback_window"))
        callback = Callback(
            reference=new_reference(RecordKind.CALLBACK),
            phone=phone,
            window=window,
            channel=channel_of(tracker),
            created_at=self.records.now(),
        )
        await self.records.create(callback)
        reference = callback.reference
        say(
            dispatcher,
            channel_of(tracker),
            f"Vielen Dank. Wir rufen Sie {window.value} unter {phone} zurück, in der Regel am "
            f"nächsten Werktag. Ihre Vorgangsnummer: {reference}.",
            f"Vielen Dank. Wir rufen Sie {window.value} unter {phone_spoken(phone)} zurück, in "
            f"der Regel am nächsten Werktag.",
        )
        return [SlotSet("phone_number", None), SlotSet("callback_window", None)]


class ValidateWasteForm(TownMixin, FormValidationAction):
    def name(self) -> str:
        return "validate_waste_form"

    async def validate_street(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        street = self.town.street(str(value))
        if street is None:
            dispatcher.utter_message(
                text=f"Diese Straße finde ich in {self.town.name} nicht. Bitte nennen Sie den "
                "Straßennamen noch einmal."
            )
        return {"street": street}
