"""The conversation's register (German, English, Leichte Sprache): the ``register`` slot,
set after every user message by ``action_validate_slot_mappings``, and the wording an
action picks for it. See docs/languages.md."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from contract.language import LANGUAGE_ENTITY, REGISTER_SLOT, Register, next_register

Wording = tuple[str, str]
"""(chat text, voice text)."""

# Quick-reply titles of the actions, by register (German is the key).
_TITLES: dict[str, tuple[str, str]] = {
    "Termin buchen": ("Book an appointment", "Termin machen"),
    "Mit einem Menschen sprechen": ("Talk to a person", "Mit einem Menschen sprechen"),
    "Abbrechen": ("Cancel", "Abbrechen"),
    "Alle Informationen": ("All information", "Alles lesen"),
    "Ja, mit einem Menschen sprechen": ("Yes, talk to a person", "Ja, mit einem Menschen"),
    "Ja": ("Yes", "Ja"),
    "Nein": ("No", "Nein"),
    "Ja, buchen": ("Yes, book it", "Ja, Termin machen"),
    "Ja, abschicken": ("Yes, send it", "Ja, schicken"),
    "Nein, ohne Kontaktdaten": ("No, without contact details", "Nein"),
    "Ja, stornieren": ("Yes, cancel it", "Ja, Termin absagen"),
    "Vormittags": ("Mornings", "Vormittags"),
    "Nachmittags": ("Afternoons", "Nachmittags"),
    "Egal": ("Any time", "Egal"),
    "Keine Kontaktdaten": ("No contact details", "Keine Kontakt-Daten"),
    "Ja, abbrechen": ("Yes, stop", "Ja, aufhören"),
    "Ja, absagen": ("Yes, cancel it", "Ja, absagen"),
    "Nein, Termin behalten": ("No, keep the appointment", "Nein, Termin behalten"),
    "Neuen Termin buchen": ("Book a new appointment", "Neuen Termin machen"),
    "Nein, weitermachen": ("No, go on", "Nein, weiter machen"),
}


def register_of(tracker: Tracker) -> Register:
    """The conversation's register (German until the citizen or the widget chose another)."""
    return Register.of(tracker.get_slot(REGISTER_SLOT))


def pick(
    register: Register, de: Wording, *, en: Wording | None, einfach: Wording | None
) -> Wording:
    """The wording for ``register``; German where a variant is missing."""
    match register:
        case Register.EN:
            return en or de
        case Register.EINFACH:
            return einfach or de
        case _:
            return de


def button_title(title: str, register: Register) -> str:
    """A quick reply's title in ``register`` (unknown titles stay as they are)."""
    known = _TITLES.get(title)
    if known is None or register is Register.DE:
        return title
    return known[0] if register is Register.EN else known[1]


def buttons_in(buttons: list[dict[str, str]], register: Register) -> list[dict[str, str]]:
    return [{**b, "title": button_title(b.get("title", ""), register)} for b in buttons]


class ValidateSlotMappings(ValidationAction):
    """Sets ``register`` from each user message: the ``language`` entity (widget buttons,
    the greeting preset, "English please"), switch phrases and the detector."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return [REGISTER_SLOT]

    async def extract_register(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str]:
        text = tracker.latest_message.get("text") or ""
        entity = next(tracker.get_latest_entity_values(LANGUAGE_ENTITY), None)
        current = register_of(tracker)
        chosen = next_register(current, text, entity)
        return {REGISTER_SLOT: chosen.value} if chosen is not current else {}

    async def validate_register(
        self, value: object, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, str]:
        return {REGISTER_SLOT: Register.of(value).value}
