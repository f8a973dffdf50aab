"""``action_human_handoff``: tells the citizen where the concern goes and asks the gateway to
escalate. The gateway opens the case and completes the text with the case number and the
staff hours (dialogue/handoff_notice.py): nothing here promises that someone answers now."""

from __future__ import annotations

from pathlib import Path

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.knowledge import Department, Directory, knowledge_dir, load_directory
from contract.language import Register
from contract.payloads import HandoffReason, HandoffRequest, Link, Links, encode
from contract.records import Channel
from contract.town import load_town
from contract.translations import OfficeWording, load_translations
from intents.actions.language import register_of
from intents.actions.routing import current_request, department_for

DEPARTMENT = "department"


def handoff_text_in(
    department: Department, channel: Channel | None, register: Register, names: OfficeWording
) -> str:
    """The handoff message in ``register``; ``names``: the office's English and Leichte
    Sprache names (translations.yml)."""
    match register:
        case Register.EN:
            phone = department.phone
            tail = "" if channel is Channel.VOICE else f" or by e-mail at {department.email}"
            return (
                f"I am passing your request on to the {names.en}. You can also reach the "
                f"{names.en} directly by phone at {phone}{tail}."
            )
        case Register.EINFACH:
            phone = department.phone_spoken if channel is Channel.VOICE else department.phone
            return (
                f"Ich gebe Ihre Frage an einen Menschen weiter. Das Amt heißt {names.einfach}. "
                f"Sie können das Amt auch anrufen. Die Telefon-Nummer ist {phone}."
            )
        case _:
            return handoff_text(department, channel)


def handoff_text(department: Department, channel: Channel | None) -> str:
    """German, formal handoff message for ``channel`` (None: a Rasa channel of its own)."""
    target = department.name_accusative
    match channel:
        case Channel.VOICE:
            return (
                f"Ich gebe Ihr Anliegen an {target} weiter. "
                f"Sie erreichen {target} auch direkt unter {department.phone_spoken}."
            )
        case Channel.WEBCHAT:
            return (
                f"Ich gebe Ihr Anliegen an {target} weiter. Sie erreichen {target} auch "
                f"telefonisch unter {department.phone} oder per E-Mail an {department.email}."
            )
        case None:
            return (
                f"Ich gebe Ihr Anliegen an {target} weiter. Sie erreichen {target} auch "
                f"telefonisch unter {department.phone}, per E-Mail an {department.email} "
                f"oder vor Ort: {department.address}."
            )


def previous_bot_action(tracker: Tracker) -> str | None:
    """The bot's last action before the citizen's latest message (not the listening step)."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and kind == "action" and event.get("name") != "action_listen":
            name = event.get("name")
            return name if isinstance(name, str) else None
    return None


class ActionHumanHandoff(Action):
    """Picks the department of the current request (routing.py) and emits the handoff payload.

    Sends a HandoffRequest (contract.payloads) as a custom message; the gateway opens an
    escalation case on it. Knowledge is validated when the action server
    starts (rasa_sdk instantiates actions at registration), so a bad file fails fast.
    """

    def __init__(self, knowledge: Path | None = None) -> None:
        self._directory: Directory = load_directory(knowledge or knowledge_dir())
        self._town = load_town(knowledge or knowledge_dir())
        self._words = load_translations(
            knowledge or knowledge_dir(),
            services=[s.id for s in self._town.services],
            departments=[d.id for d in self._town.directory.departments],
        )

    def name(self) -> str:
        return "action_human_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[EventType]:
        department = department_for(self._town, current_request(tracker))
        channel = Channel.of(tracker.get_latest_input_channel())

        register = register_of(tracker)
        names = self._words.departments[department.id]
        text = handoff_text_in(department, channel, register, names)
        if channel is Channel.WEBCHAT:
            title = f"{department.name}: Kontakt und Öffnungszeiten"
            links = Links((Link(title, department.url),))
            dispatcher.utter_message(text=text, json_message=encode(links))
        else:
            dispatcher.utter_message(text=text)
        dispatcher.utter_message(
            json_message=encode(
                HandoffRequest(
                    reason=HandoffReason.after(previous_bot_action(tracker)),
                    department=department.id,
                    register=register,
                )
            )
        )
        return [SlotSet(DEPARTMENT, department.id)]
