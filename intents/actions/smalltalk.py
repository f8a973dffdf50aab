"""Small talk that depends on the conversation so far: the greeting is said once (and the
spoken one once on the phone, also when a browser call joins a chat session)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.language import LANGUAGE_ENTITY, register_of_entity, requested
from contract.records import Channel
from intents.actions.answers import channel_of, say
from intents.actions.language import register_of
from intents.actions.phrases import has_spoken, voice_disclosed
from intents.actions.texts import (
    GREETING_CHAT_EINFACH,
    GREETING_CHAT_EN,
    GREETING_VOICE_EINFACH,
    GREETING_VOICE_EN,
    OTHER_LANGUAGE_DE,
    OTHER_LANGUAGE_EINFACH,
    OTHER_LANGUAGE_EN,
    SWITCHED_DE,
    SWITCHED_EINFACH,
    SWITCHED_EN,
)

GREETING_CHAT = (
    "Guten Tag! Ich bin der digitale Assistent der Stadtverwaltung Musterstadt – ein "
    "automatisiertes System, kein Mensch. Sie können jederzeit nach einer Mitarbeiterin oder "
    "einem Mitarbeiter fragen: Während der Servicezeiten verbinde ich Sie nach Möglichkeit, "
    "sonst erhalten Sie einen Rückruf. Wie kann ich Ihnen helfen?"
)
GREETING_VOICE = (
    "Guten Tag, hier ist der automatische Sprachassistent der Stadtverwaltung Musterstadt. Sie "
    "sprechen mit einem Computer, nicht mit einem Menschen. Wenn Sie eine Mitarbeiterin oder "
    "einen Mitarbeiter sprechen möchten, sagen Sie es einfach. Wie kann ich Ihnen helfen?"
)


class ActionGreet(Action):
    """The full greeting (with its AI disclosure) once; later a short hello."""

    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        channel = channel_of(tracker)
        if channel is Channel.VOICE:  # a browser call on a chat session: the caller hears it
            full = not voice_disclosed(tracker.events, GREETING_VOICE)
        else:
            full = not has_spoken(tracker.events)
        if full:
            say(
                dispatcher,
                channel,
                GREETING_CHAT,
                GREETING_VOICE,
                buttons=[{"title": "Mit einem Menschen sprechen", "payload": "/human_handoff"}],
                register=register_of(tracker),
                en=(GREETING_CHAT_EN, GREETING_VOICE_EN),
                einfach=(GREETING_CHAT_EINFACH, GREETING_VOICE_EINFACH),
            )
            return []
        text = "Hallo! Wie kann ich Ihnen weiterhelfen?"
        say(
            dispatcher,
            channel_of(tracker),
            text,
            text,
            register=register_of(tracker),
            en=("Hello! How can I help you?",) * 2,
            einfach=("Hallo! Wie kann ich Ihnen helfen?",) * 2,
        )
        return []


class ActionChangeLanguage(Action):
    """Confirms a switch to German, English or Leichte Sprache (the register slot is set
    already, see intents/actions/language.py); for another language it says which ones it
    speaks and offers a person (the rules hand over on a yes)."""

    def name(self) -> str:
        return "action_change_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        entity = next(tracker.get_latest_entity_values(LANGUAGE_ENTITY), None)
        chosen = register_of_entity(entity) or requested(text)
        channel = channel_of(tracker)
        if chosen is None:
            say(
                dispatcher,
                channel,
                *OTHER_LANGUAGE_DE,
                register=register_of(tracker),
                en=OTHER_LANGUAGE_EN,
                einfach=OTHER_LANGUAGE_EINFACH,
            )
        else:
            say(
                dispatcher,
                channel,
                *SWITCHED_DE,
                register=chosen,
                en=SWITCHED_EN,
                einfach=SWITCHED_EINFACH,
            )
        return []
