"""Damage reports, callbacks and the waste calendar's street question, like a good clerk:
ask only for what is missing, read the report back, say what happens next."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.german import phone_text
from contract.language import Register
from contract.records import Callback, CallbackWindow, RecordKind, Ticket, new_reference
from contract.streets import looks_like_street, place
from intents.actions.answers import TownMixin, channel_of, say
from intents.actions.forms import RecordsMixin, validate_phone
from intents.actions.guard import (
    MISSES,
    GuardMixin,
    ask,
    dropped_events,
    first_message,
    missed,
)
from intents.actions.language import register_of
from intents.actions.speech import parse_phone, phone_spoken, reference_spoken
from intents.actions.texts import HINTS, hint_in

DAMAGE_TYPES = {
    "schlagloch": (
        "Schlagloch",
        (
            "schlagloch",
            "loch",
            "straßenschaden",
            "strassenschaden",
            "gehweg",
            "bordstein",
            "pothole",
            "hole",
            "pavement",
        ),
    ),
    "strassenbeleuchtung": (
        "defekte Straßenbeleuchtung",
        ("laterne", "beleuchtung", "licht", "lampe", "light", "lamp"),
    ),
    "illegale_ablagerung": (
        "illegale Müllablagerung",
        (
            "müll",
            "muell",
            "sperrmüll",
            "ablagerung",
            "abfall",
            "dreck",
            "rubbish",
            "trash",
            "garbage",
            "dumped",
        ),
    ),
    "graffiti": ("Graffiti", ("graffiti", "schmiererei", "beschmiert", "sprayer")),
}
OTHER_DAMAGE = "sonstiges"
DAMAGE_LABELS = {  # damage type id: (English, Leichte Sprache)
    "schlagloch": ("pothole", "Loch in der Straße"),
    "strassenbeleuchtung": ("broken street light", "kaputte Lampe an der Straße"),
    "illegale_ablagerung": ("illegally dumped rubbish", "Müll an einem falschen Ort"),
    "graffiti": ("graffiti", "Graffiti"),
}
MAX_TEXT = 500
NO_CONTACT = "keine"
DAMAGE_SLOTS = (
    "damage_type",
    "damage_location",
    "damage_description",
    "damage_contact",
    "damage_confirmed",
)
_NO = re.compile(
    r"^\s*(nein|nö|ne|keine?n?|ohne|nicht nötig|brauche ich nicht|no|none|not needed)\b",
    re.IGNORECASE,
)
# A place described in words ("am Spielplatz hinter der Schule", "behind the school"): an
# answer to "Wo genau?", never a new request, whatever the NLU makes of it.
_PLACE = re.compile(
    r"^\s*(am|an der|an dem|beim|bei der|bei dem|hinter|vor der|vor dem|neben|gegenüber|"
    r"in der|im|auf dem|auf der|zwischen|ecke|at the|near|behind|next to|in front of|"
    r"opposite|on the corner)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)


def damage_type_of(text: str) -> str:
    lowered = text.casefold()
    if lowered in DAMAGE_TYPES:
        return lowered
    for type_id, (_, words) in DAMAGE_TYPES.items():
        if any(word in lowered for word in words):
            return type_id
    return OTHER_DAMAGE


def known_damage(text: str) -> str | None:
    """The damage type that ``text`` names, or None when it names none."""
    found = damage_type_of(text)
    return None if found == OTHER_DAMAGE else found


def damage_label(type_id: str) -> str:
    return DAMAGE_TYPES.get(type_id, ("Schaden",))[0]


def street_buttons(names: list[str]) -> list[dict[str, str]]:
    return [{"title": name, "payload": name} for name in names]


class ValidateDamageForm(GuardMixin, TownMixin, FormValidationAction):
    label = "die Schadensmeldung"
    own_intents = frozenset({"report_damage"})
    topic = "maengelmeldung"

    def name(self) -> str:
        return "validate_damage_form"

    def fits(self, slot: str, text: str) -> bool:
        if slot == "damage_location":
            return (
                looks_like_street(text)
                or self.town.street(text) is not None
                or _PLACE.match(text) is not None
            )
        if slot == "damage_type":
            return known_damage(text) is not None
        return slot == "damage_contact" and parse_phone(text) is not None

    def hint(self, slot: str) -> str:
        return {
            "damage_type": "Bitte sagen Sie, was kaputt ist, zum Beispiel: Schlagloch.",
            "damage_location": "Bitte nennen Sie die Straße oder beschreiben Sie den Ort.",
        }.get(slot, "Bitte antworten Sie mit ja oder nein.")

    async def extract_damage_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("damage_type") is not None:
            return {}
        found = known_damage(str(tracker.latest_message.get("text") or ""))
        return {"damage_type": found} if found else {}

    async def extract_damage_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("damage_location") is not None:
            return {}
        text = str(tracker.latest_message.get("text") or "")
        street = self.town.street(text)
        if street is None:
            return {}
        return {"damage_location": place(street, text, sentence=True)}

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
        street = self.town.street(text)
        if street is None and looks_like_street(text) and not tracker.get_slot(MISSES):
            nearest = self.town.nearest_streets(text)
            say(
                dispatcher,
                channel_of(tracker),
                f"Diese Straße kenne ich in {self.town.name} nicht. Meinten Sie "
                f"{' oder '.join(nearest)}? Sie können den Ort auch mit eigenen Worten "
                "beschreiben, zum Beispiel: am Spielplatz hinter der Schule.",
                f"Diese Straße kenne ich in {self.town.name} nicht. Meinten Sie "
                f"{' oder '.join(nearest)}? Sie können den Ort auch beschreiben.",
                buttons=street_buttons(nearest),
            )
            return {"damage_location": None}
        if street is None:
            return {"damage_location": text}
        message = tracker.latest_message or {}
        if (message.get("intent") or {}).get("name") == "report_damage":
            # a street the NLU found in the report itself: the house number is in the report
            return {"damage_location": place(street, str(message.get("text")), sentence=True)}
        return {"damage_location": place(street, text)}

    async def validate_damage_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value).strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "deny" or _NO.match(text):
            return {"damage_contact": NO_CONTACT}
        email = _EMAIL.search(text)
        phone = parse_phone(text)
        if email:
            return {"damage_contact": email[0]}
        if phone:
            return {"damage_contact": phone}
        hint = {
            Register.EN: "Please give a phone number or e-mail address, or say: no.",
            Register.EINFACH: "Bitte sagen Sie Ihre Telefon-Nummer. Oder sagen Sie: nein.",
        }.get(
            register_of(tracker),
            "Bitte nennen Sie eine Telefonnummer oder E-Mail-Adresse, oder sagen Sie: nein.",
        )
        dispatcher.utter_message(text=hint)
        return {"damage_contact": None}


class ActionAskDamageContact(Action):
    def name(self) -> str:
        return "action_ask_damage_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ask(
            dispatcher,
            tracker,
            "Möchten Sie für Rückfragen eine Telefonnummer oder E-Mail-Adresse angeben? "
            "Das ist freiwillig.",
            "Möchten Sie für Rückfragen eine Telefonnummer angeben? Das ist freiwillig. Sonst "
            "sagen Sie: nein.",
            en=(
                "Would you like to give a phone number or e-mail address for questions? This "
                "is optional.",
                "Would you like to give a phone number for questions? This is optional. "
                "Otherwise say: no.",
            ),
            einfach=(
                "Vielleicht haben wir noch Fragen. Wollen Sie uns Ihre Telefon-Nummer sagen? "
                "Das müssen Sie nicht. Sonst sagen Sie: nein.",
            )
            * 2,
            buttons=[{"title": "Nein, ohne Kontaktdaten", "payload": "/deny"}],
        )
        return []


def _contact_text(contact: str) -> str:
    if contact == NO_CONTACT:
        return "ohne Kontaktdaten"
    return f"Kontakt {phone_text(contact)}"


class ActionAskDamageConfirmed(Action):
    def name(self) -> str:
        return "action_ask_damage_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        type_id = str(tracker.get_slot("damage_type"))
        label = damage_label(type_id)
        en_label, easy_label = DAMAGE_LABELS.get(type_id, ("damage", "Schaden"))
        location = str(tracker.get_slot("damage_location"))
        contact = str(tracker.get_slot("damage_contact"))
        spoken_contact = (
            "ohne Kontaktdaten"
            if contact == NO_CONTACT or "@" in contact
            else f"Rückrufnummer {phone_spoken(contact)}"
        )
        ask(
            dispatcher,
            tracker,
            f"Ich fasse zusammen: {label}, Ort: {location}, {_contact_text(contact)}. "
            "Soll ich die Meldung so abschicken?",
            f"Ich fasse zusammen: {label}, Ort: {location}, {spoken_contact}. Soll ich die "
            "Meldung so abschicken? Sagen Sie ja oder nein.",
            en=(
                f"To sum up: {en_label}, place: {location}, "
                f"{'no contact details' if contact == NO_CONTACT else 'contact ' + contact}. "
                "Shall I send the report like this?",
                f"To sum up: {en_label}, place: {location}. Shall I send the report like this? "
                "Please say yes or no.",
            ),
            einfach=(
                f"Sie melden: {easy_label}. Der Ort ist: {location}. Soll ich die Meldung so "
                "schicken?",
            )
            * 2,
            buttons=[
                {"title": "Ja, abschicken", "payload": "/affirm"},
                {"title": "Nein", "payload": "/deny"},
            ],
        )
        return []


class ActionCreateTicket(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slots = list(DAMAGE_SLOTS)
        dropped = dropped_events(
            dispatcher, tracker, self.town, done="ich habe nichts gemeldet", slots=slots
        )
        if dropped is not None:
            return dropped
        reset = [SlotSet(s, None) for s in slots] + [SlotSet(MISSES, 0)]
        channel = channel_of(tracker)
        if not tracker.get_slot("damage_confirmed"):
            text = (
                "In Ordnung, ich habe die Meldung nicht abgeschickt. Sie können jederzeit neu "
                "beginnen: Schaden melden."
            )
            say(
                dispatcher,
                channel,
                text,
                text,
                register=register_of(tracker),
                en=(
                    "All right, I did not send the report. You can start again at any time: "
                    "report damage.",
                )
                * 2,
                einfach=("Gut. Ich habe die Meldung nicht geschickt.",) * 2,
            )
            return reset
        type_id = str(tracker.get_slot("damage_type"))
        contact = str(tracker.get_slot("damage_contact") or NO_CONTACT)
        description = str(tracker.get_slot("damage_description") or "").strip()[:MAX_TEXT]
        if contact != NO_CONTACT:
            description = f"{description} (Kontakt für Rückfragen: {contact})".strip()
        ticket = Ticket(
            reference=new_reference(RecordKind.TICKET),
            damage_type=type_id,
            location=str(tracker.get_slot("damage_location")),
            description=description or damage_label(type_id),
            channel=channel,
            created_at=self.records.now(),
        )
        await self.records.create(ticket)
        reference = ticket.reference
        en_label, _ = DAMAGE_LABELS.get(type_id, ("damage", "Schaden"))
        service = self.town.service_for_intent("report_damage")
        steps = f" {service.next_steps}" if service and service.next_steps else ""
        say(
            dispatcher,
            channel,
            f"Vielen Dank, Ihre Meldung ({damage_label(type_id)}, {ticket.location}) ist "
            f"eingegangen. Ihre Vorgangsnummer: {reference}.{steps}",
            f"Vielen Dank, Ihre Meldung ist eingegangen. Ihre Vorgangsnummer lautet: "
            f"{reference_spoken(reference)}.{steps}",
            register=register_of(tracker),
            en=(
                f"Thank you, we have received your report ({en_label}, {ticket.location}). "
                f"Your reference number: {reference}. Dangers are secured within 24 hours, "
                "other damage is usually repaired within two weeks.",
                f"Thank you, we have received your report. Your reference number is: "
                f"{' '.join(reference)}.",
            ),
            einfach=(
                f"Danke! Wir haben Ihre Meldung bekommen. Ihre Nummer ist {reference}. Die "
                "Stadt repariert den Schaden bald.",
            )
            * 2,
        )
        return reset


WINDOWS_EN = {
    CallbackWindow.MORNING: "in the morning",
    CallbackWindow.AFTERNOON: "in the afternoon",
    CallbackWindow.ANYTIME: "at any time",
}


def callback_window_of(text: str) -> CallbackWindow | None:
    """ "vormittags", "am Nachmittag", "egal" -> the window; None when ``text`` names none."""
    lowered = text.casefold()
    if any(w in lowered for w in ("vormittag", "morgens", "früh", "morning")):
        return CallbackWindow.MORNING
    if any(w in lowered for w in ("nachmittag", "mittag", "abend", "afternoon", "evening")):
        return CallbackWindow.AFTERNOON
    if any(w in lowered for w in ("egal", "jederzeit", "immer", "any time", "anytime")):
        return CallbackWindow.ANYTIME
    return None


class ValidateCallbackForm(GuardMixin, TownMixin, FormValidationAction):
    label = "den Rückrufwunsch"
    own_intents = frozenset({"callback_request"})

    def name(self) -> str:
        return "validate_callback_form"

    def fits(self, slot: str, text: str) -> bool:
        return slot == "phone_number" and parse_phone(text) is not None

    def hint(self, slot: str) -> str:
        return HINTS.get(slot, HINTS["phone_number"])

    async def validate_phone_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_phone(value, dispatcher, register_of(tracker))

    async def validate_callback_window(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        window = callback_window_of(str(value))
        if window is None:
            dispatcher.utter_message(text=hint_in("callback_window", register_of(tracker)))
            return {"callback_window": None}
        return {"callback_window": window.value}

    async def extract_phone_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = first_message(tracker, "phone_number", "callback_request")
        return {"phone_number": text} if text and parse_phone(text) else {}

    async def extract_callback_window(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = first_message(tracker, "callback_window", "callback_request")
        return {"callback_window": text} if text and callback_window_of(text) else {}


class ActionCreateCallback(RecordsMixin, TownMixin, Action):
    def name(self) -> str:
        return "action_create_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slots = ["phone_number", "callback_window"]
        dropped = dropped_events(
            dispatcher, tracker, self.town, done="ich habe keinen Rückruf vorgemerkt", slots=slots
        )
        if dropped is not None:
            return dropped
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
        await self.records.count_callback(callback.channel, tracker.sender_id)
        reference = callback.reference
        say(
            dispatcher,
            channel_of(tracker),
            f"Vielen Dank. Wir rufen Sie {window.value} unter {phone_text(phone)} zurück, in der "
            f"Regel am nächsten Werktag. Ihre Vorgangsnummer: {reference}.",
            f"Vielen Dank. Wir rufen Sie {window.value} unter {phone_spoken(phone)} zurück, in "
            f"der Regel am nächsten Werktag.",
            register=register_of(tracker),
            en=(
                f"Thank you. We will call you back ({WINDOWS_EN[window]}) at {phone_text(phone)}, "
                f"usually on the next working day. Your reference number: {reference}.",
                f"Thank you. We will call you back ({WINDOWS_EN[window]}) at {phone_text(phone)}, "
                "usually on the next working day.",
            ),
            einfach=(
                f"Danke. Wir rufen Sie an. Das ist meistens am nächsten Arbeits-Tag. Ihre Nummer "
                f"ist {reference}.",
                "Danke. Wir rufen Sie an. Das ist meistens am nächsten Arbeits-Tag.",
            ),
        )
        return [SlotSet(s, None) for s in slots] + [SlotSet(MISSES, 0)]


class ValidateWasteForm(GuardMixin, TownMixin, FormValidationAction):
    label = "die Abfrage der Abfuhrtermine"
    own_intents = frozenset({"waste_collection"})
    topic = "abfallwirtschaft"

    def name(self) -> str:
        return "validate_waste_form"

    def fits(self, slot: str, text: str) -> bool:
        return looks_like_street(text) or self.town.street(text) is not None

    def hint(self, slot: str) -> str:
        return "Bitte nennen Sie Ihre Straße, zum Beispiel Hauptstraße."

    async def validate_street(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        street = self.town.street(str(value))
        if street is None and not missed(tracker):
            nearest = self.town.nearest_streets(str(value))
            say(
                dispatcher,
                channel_of(tracker),
                f"Diese Straße kenne ich in {self.town.name} nicht. Meinten Sie "
                f"{' oder '.join(nearest)}?",
                f"Diese Straße kenne ich in {self.town.name} nicht. Meinten Sie "
                f"{' oder '.join(nearest)}?",
                buttons=street_buttons(nearest),
            )
        return {"street": street}
