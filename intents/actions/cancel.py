"""The cancel form: a booking reference, a confirmation, the cancellation (chat and voice
wording, English and Leichte Sprache variants)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.records import BookingStatus, RecordKind
from intents.actions.answers import TownMixin, channel_of, say
from intents.actions.forms import RecordsMixin
from intents.actions.guard import MISSES, GuardMixin, ask, dropped_events
from intents.actions.language import register_of
from intents.actions.speech import (
    date_spoken,
    date_text,
    parse_reference,
    time_spoken,
    time_text,
)
from intents.actions.texts import HINTS
from intents.actions.wording import date_einfach, date_en, time_einfach, time_en


class ValidateCancelForm(GuardMixin, RecordsMixin, TownMixin, FormValidationAction):
    label = "die Terminabsage"
    own_intents = frozenset({"cancel_appointment"})
    topic = "buergerbuero"

    def name(self) -> str:
        return "validate_cancel_form"

    def fits(self, slot: str, text: str) -> bool:
        return parse_reference(text, RecordKind.BOOKING.prefix) is not None

    def hint(self, slot: str) -> str:
        return HINTS["booking_reference"]

    async def extract_booking_reference(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The reference from any message of the form, the first one included."""
        if tracker.get_slot("booking_reference") is not None:
            return {}
        text = str(tracker.latest_message.get("text") or "")
        reference = parse_reference(text, RecordKind.BOOKING.prefix)
        return {"booking_reference": reference} if reference else {}

    async def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        reference = parse_reference(str(value), RecordKind.BOOKING.prefix)
        if reference is None:
            dispatcher.utter_message(text=HINTS["booking_reference"])
            return {"booking_reference": None}
        record = await self.records.booking(reference)
        if record is None or record.status is not BookingStatus.BOOKED:
            dispatcher.utter_message(
                text=f"Zur Buchungsnummer {reference} finde ich keinen gebuchten Termin. "
                "Bitte prüfen Sie die Nummer und nennen Sie sie noch einmal."
            )
            return {"booking_reference": None}
        return {"booking_reference": reference}


class ActionAskCancelConfirmed(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reference = str(tracker.get_slot("booking_reference"))
        record = await self.records.booking(reference)
        if record is None:
            return []
        service = self.town.service(record.service)
        what = f"{service.name} " if service else ""
        ask(
            dispatcher,
            tracker,
            f"Ich habe Ihren Termin gefunden: {what}am {date_text(record.day)} um "
            f"{time_text(record.at)} ({reference}). Soll ich ihn absagen?",
            f"Ich habe Ihren Termin gefunden: am {date_spoken(record.day)} um "
            f"{time_spoken(record.at)}. Soll ich ihn absagen? Sagen Sie ja oder nein.",
            en=(
                f"I found your appointment: on {date_en(record.day)} at {time_en(record.at)} "
                f"({reference}). Shall I cancel it?",
                f"I found your appointment: on {date_en(record.day)} at {time_en(record.at)}. "
                "Shall I cancel it? Please say yes or no.",
            ),
            einfach=(
                f"Ich habe Ihren Termin gefunden. Der Tag ist {date_einfach(record.day)}. Die "
                f"Uhrzeit ist {time_einfach(record.at)}. Soll ich den Termin absagen?",
            )
            * 2,
            buttons=[
                {"title": "Ja, absagen", "payload": "/affirm"},
                {"title": "Nein, Termin behalten", "payload": "/deny"},
            ],
        )
        return []


class ActionCancelAppointment(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slots = ["booking_reference", "cancel_confirmed"]
        dropped = dropped_events(
            dispatcher, tracker, self.town, done="ich habe nichts abgesagt", slots=slots
        )
        if dropped is not None:
            return dropped
        reset = [SlotSet(s, None) for s in slots] + [SlotSet(MISSES, 0)]
        reference = str(tracker.get_slot("booking_reference"))
        register = register_of(tracker)
        if not tracker.get_slot("cancel_confirmed"):
            text = "In Ordnung, Ihr Termin bleibt bestehen. Wie kann ich Ihnen sonst helfen?"
            en = "All right, your appointment stays. How else can I help you?"
            easy = "Gut. Ihr Termin bleibt. Wie kann ich Ihnen noch helfen?"
            say(dispatcher, channel_of(tracker), text, text, register=register,
                en=(en, en), einfach=(easy, easy))  # fmt: skip
            return reset
        record = await self.records.booking(reference)
        if record is None or not await self.records.cancel(reference):
            dispatcher.utter_message(text="Dieser Termin ist bereits abgesagt.")
            return reset
        day, at = record.day, record.at
        say(
            dispatcher,
            channel_of(tracker),
            f"Ihr Termin am {date_text(day)} um {time_text(at)} ist abgesagt ({reference}). "
            "Wenn Sie einen neuen Termin möchten, sagen Sie einfach: Termin buchen.",
            f"Ihr Termin am {date_spoken(day)} um {time_spoken(at)} ist abgesagt. "
            "Wenn Sie einen neuen Termin möchten, sagen Sie einfach: Termin buchen.",
            buttons=[{"title": "Neuen Termin buchen", "payload": "/book_appointment"}],
            register=register,
            en=(
                f"Your appointment on {date_en(day)} at {time_en(at)} is cancelled "
                f"({reference}). If you want a new appointment, just say: book an appointment.",
            )
            * 2,
            einfach=(
                f"Ihr Termin am {date_einfach(day)} ist abgesagt. Sie möchten einen neuen "
                "Termin? Dann sagen Sie: Termin machen.",
            )
            * 2,
        )
        return reset
