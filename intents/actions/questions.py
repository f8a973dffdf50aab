"""The forms' static questions as ``action_ask_<slot>`` actions (chat and voice wording).

Custom ask actions instead of ``utter_ask_*`` responses: `rasa data validate` counts a
response as unused unless a story names it, and form questions never appear in stories.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from intents.actions.guard import ask
from intents.actions.texts import ASK_TEXTS_EINFACH, ASK_TEXTS_EN

# Form questions (Rasa calls action_ask_<slot>); chat and voice wording.
ASK_TEXTS = {
    "service": (
        "Für welche Dienstleistung möchten Sie einen Termin? Zum Beispiel Personalausweis, "
        "Reisepass, Anmeldung oder Kfz-Zulassung.",
        "Wofür brauchen Sie den Termin? Zum Beispiel Personalausweis, Reisepass, Anmeldung oder "
        "Autozulassung.",
    ),
    "person_name": (
        "Auf welchen Namen darf ich den Termin buchen?",
        "Auf welchen Namen darf ich den Termin buchen?",
    ),
    "phone_number": (
        "Unter welcher Telefonnummer können wir Sie erreichen?",
        "Unter welcher Telefonnummer können wir Sie erreichen? Bitte sagen Sie die Nummer Ziffer "
        "für Ziffer, oder tippen Sie sie ein und drücken danach die Raute-Taste.",
    ),
    "booking_reference": (
        "Bitte nennen Sie mir Ihre Buchungsnummer. Sie beginnt mit B, zum Beispiel B-K7QX2M.",
        "Bitte nennen Sie mir Ihre Buchungsnummer, Zeichen für Zeichen. Sie beginnt mit dem "
        "Buchstaben B.",
    ),
    "damage_type": (
        "Was möchten Sie melden? Zum Beispiel ein Schlagloch, eine defekte Straßenlaterne, "
        "illegal abgelagerten Müll oder Graffiti.",
        "Was möchten Sie melden? Zum Beispiel ein Schlagloch, eine kaputte Straßenlaterne, wilden"
        " Müll oder Graffiti.",
    ),
    "damage_location": (
        "Wo genau ist das? Bitte nennen Sie Straße und Hausnummer oder beschreiben Sie den Ort "
        "mit eigenen Worten.",
        "Wo genau ist das? Bitte nennen Sie die Straße und wenn möglich die Hausnummer.",
    ),
    "callback_window": (
        "Wann passt Ihnen der Rückruf am besten, vormittags oder nachmittags?",
        "Wann passt Ihnen der Rückruf am besten, vormittags oder nachmittags?",
    ),
    "street": (
        "In welcher Straße wohnen Sie? Die Abfuhrtermine hängen von der Straße ab.",
        "In welcher Straße wohnen Sie?",
    ),
}


class _Ask:
    """Asks for ``slot`` in the channel's wording; one subclass per entry of ASK_TEXTS."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        chat, voice = ASK_TEXTS[self.slot]
        en, einfach = ASK_TEXTS_EN[self.slot], ASK_TEXTS_EINFACH[self.slot]
        ask(dispatcher, tracker, chat, voice, en=en, einfach=einfach)
        return []


ASK_ACTIONS = [type(f"AskFor_{slot}", (_Ask, Action), {"slot": slot}) for slot in ASK_TEXTS]
