"""Small talk that depends on the conversation so far: the greeting is said once (and the
spoken one once on the phone, also when a browser call joins a chat session)."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.records import Channel
from intents.actions.answers import channel_of, say
from intents.actions.phrases import has_spoken, voice_disclosed

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
            )
            return []
        text = "Hallo! Wie kann ich Ihnen weiterhelfen?"
        say(dispatcher, channel, text, text)
        return []
