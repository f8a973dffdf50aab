"""Small talk that depends on the conversation so far: the greeting is said once."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from intents.actions.answers import channel_of, say
from intents.actions.phrases import has_spoken

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
        if not has_spoken(tracker.events):
            say(
                dispatcher,
                channel_of(tracker),
                GREETING_CHAT,
                GREETING_VOICE,
                buttons=[{"title": "Mit einem Menschen sprechen", "payload": "/human_handoff"}],
            )
            return []
        text = "Hallo! Wie kann ich Ihnen weiterhelfen?"
        say(dispatcher, channel_of(tracker), text, text)
        return []
