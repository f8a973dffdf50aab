"""What keeps a form from becoming a trap: the citizen can always leave it, a clearly different
request pauses it and asks once whether to drop it, a department name is no request for a
person, and after two misses the question turns into choices plus a person.

All of it runs inside the forms' own validation actions (Rasa's FormValidationAction) and
lives in Rasa slots: ``form_misses``, ``form_switch`` (the intent that paused the form) and
``form_dropped``. The submit actions speak for a dropped form (``dropped_events``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from contract.town import Town
from intents.actions.answers import ActionServiceInfo, channel_of, say
from intents.actions.language import Wording, pick, register_of
from intents.actions.phrases import is_person_request, wants_to_stop
from intents.actions.texts import MISSED

MISSES = "form_misses"
SWITCH = "form_switch"
DROPPED = "form_dropped"
REQUESTED = "requested_slot"
TOPIC = "topic"
ANSWERED = "follow_up"
"""``form_switch`` of a form that ended at its start because the message was a question about
the topic, already answered (see ``answered_instead``): the submit action stays silent and
keeps the slots the answer set."""
SWITCH_CONFIDENCE = 0.8
"""A request for something else needs at least this NLU confidence to pause a form."""
SWITCH_WORDS = 4
"""A request for something else is a sentence ("Was kostet ein Reisepass?"), not a word or
two that merely answer the question badly ("weiß ich nicht", "Bürgerbüro")."""
MAX_MISSES = 2
VOICE_KEYS = 4
"""At most this many choices are read out as keys on the phone (a menu is heard, not seen)."""
"""After this many answers in a row that did not fit, the question offers choices."""

# Handled by the forms' interruption rules (the form rejects, the rule answers, the form goes on).
PASS_THROUGH = frozenset({"emergency", "repeat", "bot_challenge", "goodbye"})
# Never a new request: answers, small talk, misunderstandings.
NEUTRAL = frozenset(
    {"affirm", "deny", "nlu_fallback", "out_of_scope", "thank_you", "greet", "stop", "follow_up"}
)
STOP_BUTTON = {"title": "Abbrechen", "payload": "/stop"}
PERSON_BUTTON = {"title": "Mit einem Menschen sprechen", "payload": "/human_handoff"}


def first_message(tracker: Tracker, slot: str, intent: str) -> str | None:
    """The text of the message that started a form (its intent is ``intent``), while
    ``slot`` is still empty: what it already says fills the form."""
    name = (tracker.latest_message.get("intent") or {}).get("name")
    if name != intent or tracker.get_slot(slot) is not None:
        return None
    return str(tracker.latest_message.get("text") or "") or None


def quiet(tracker: Tracker) -> bool:
    """Whether the form's question must wait: the form is paused by a question of its own."""
    return bool(tracker.get_slot(SWITCH))


def missed(tracker: Tracker) -> bool:
    """Whether the question now offers choices and a person (two misses in a row)."""
    misses = tracker.get_slot(MISSES)
    return isinstance(misses, (int, float)) and misses >= MAX_MISSES


def ask(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    chat: str,
    voice: str,
    *,
    buttons: list[dict[str, str]] | None = None,
    spoken_titles: list[str] | None = None,
    en: Wording | None = None,
    einfach: Wording | None = None,
) -> None:
    """A form's question, with Abbrechen as a button; after two misses a different wording
    with the choices and a person; nothing while the form waits for a yes or no. ``en`` and
    ``einfach``: the question in English and in Leichte Sprache. ``spoken_titles`` name the
    buttons on the phone's key menu (dates as spoken)."""
    if quiet(tracker):
        return
    register = register_of(tracker)
    chat, voice = pick(register, (chat, voice), en=en, einfach=einfach)
    choices = list(buttons or [])
    if missed(tracker):
        before, chat_after, voice_after = MISSED[register]
        chat = f"{before} {chat} {chat_after}"
        voice = f"{before} {voice} {voice_after}"
        choices.append(PERSON_BUTTON)
    # On the phone, choices become keys: answers such as /affirm at once, values such as
    # dates only after two misses (before that, keys type the value: a day number, a time).
    titles = spoken_titles or [b["title"] for b in buttons or []]
    spoken = [{**b, "title": t} for b, t in zip(buttons or [], titles, strict=False)]
    keyed = [b for b in spoken if missed(tracker) or b["payload"].startswith("/")][:VOICE_KEYS]
    if missed(tracker):
        keyed.append(PERSON_BUTTON)
    say(
        dispatcher,
        channel_of(tracker),
        chat,
        voice,
        buttons=[*choices, STOP_BUTTON],
        voice_buttons=[*keyed, STOP_BUTTON],
        register=register,
    )


class GuardMixin:
    """Put before FormValidationAction; ``label`` names the form for the citizen."""

    label: ClassVar[str] = "Ihr Anliegen"
    own_intents: ClassVar[frozenset[str]] = frozenset()
    topic: ClassVar[str | None] = None
    """The topic slot's value while the form runs (see routing.py); None keeps it."""

    def fits(self, slot: str, text: str) -> bool:
        """Whether ``text`` plainly answers ``slot`` (a date, a reference...); then a
        confident other intent does not pause the form."""
        return False

    def topic_of(self, tracker: Tracker) -> str | None:
        return self.topic

    def hint(self, slot: str) -> str:
        """What an answer to ``slot`` looks like, for an answer that does not fit."""
        return "Bitte beantworten Sie zuerst meine Frage, oder schreiben Sie: abbrechen."

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot(REQUESTED)
        loop = (tracker.active_loop or {}).get("name")
        if requested and loop == self.form_name():  # type: ignore[attr-defined]
            decided = await self._decide(dispatcher, tracker, domain, str(requested))
            if decided is not None:
                return decided
        events: list[EventType] = await super().run(  # type: ignore[misc]
            dispatcher, tracker, domain
        )
        topic = self.topic_of(tracker)
        if topic is not None:
            events.append(SlotSet(TOPIC, topic))
        if not requested or loop != self.form_name():  # type: ignore[attr-defined]
            return events
        filled = [e for e in events if e.get("name") == requested and e.get("value") is not None]
        misses = 0 if filled else int(tracker.get_slot(MISSES) or 0) + 1
        return [*events, SlotSet(MISSES, misses), SlotSet(SWITCH, None)]

    async def _decide(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        requested: str,
    ) -> list[EventType] | None:
        message: dict[str, Any] = tracker.latest_message or {}
        text = str(message.get("text") or "")
        intent = (message.get("intent") or {}).get("name") or ""
        confidence = float((message.get("intent") or {}).get("confidence") or 0.0)
        pending = tracker.get_slot(SWITCH)
        # An answer that plainly fits (a bare booking reference) is an answer, whatever intent
        # the NLU guessed for its random letters; a stop word ("abbrechen") still leaves.
        guessed_stop = intent == "stop" and not self.fits(requested, text)
        if guessed_stop or wants_to_stop(text) or (pending and intent == "affirm"):
            return [SlotSet(DROPPED, True), SlotSet(requested, None), SlotSet(REQUESTED, None)]
        if pending and intent == "deny":
            return [SlotSet(SWITCH, None), SlotSet(requested, None), SlotSet(MISSES, 0)]
        button = text.startswith("/")  # a button's payload, such as /human_handoff
        if intent == "human_handoff" and not button and not is_person_request(text):
            # an office's name or the like as an answer: used where it fits, else a hint;
            # never a handoff ("Bürgerbüro" when a day is asked)
            return await self._answer_anyway(dispatcher, tracker, domain, requested, text)
        if intent in PASS_THROUGH or intent == "human_handoff":
            return []  # the form rejects; the interruption rules take over
        switch = (
            len(text.split()) >= SWITCH_WORDS
            and intent not in NEUTRAL
            and intent not in self.own_intents
            and confidence >= SWITCH_CONFIDENCE
            and not self.fits(requested, text)
        )
        if not switch:
            return None
        if pending:  # asked once already: drop the form and answer the new request
            return [
                SlotSet(DROPPED, True),
                SlotSet(SWITCH, intent),
                SlotSet(requested, None),
                SlotSet(REQUESTED, None),
            ]
        say(
            dispatcher,
            channel_of(tracker),
            f"Das ist ein anderes Anliegen. Soll ich {self.label} abbrechen? Dann kümmere ich "
            "mich um Ihre neue Frage.",
            f"Das ist ein anderes Anliegen. Soll ich {self.label} abbrechen? Sagen Sie ja oder "
            "nein.",
            register=register_of(tracker),
            en=(
                "That is a different request. Shall I stop this and deal with your new question?",
                "That is a different request. Shall I stop this? Please say yes or no.",
            ),
            einfach=(
                "Das ist eine neue Frage. Soll ich hier aufhören? Dann helfe ich Ihnen bei "
                "der neuen Frage.",
                "Das ist eine neue Frage. Soll ich hier aufhören? Sagen Sie ja oder nein.",
            ),
            buttons=[
                {"title": "Ja, abbrechen", "payload": "/affirm"},
                {"title": "Nein, weitermachen", "payload": "/deny"},
            ],
        )
        return [SlotSet(SWITCH, intent), SlotSet(requested, None)]

    async def _answer_anyway(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        requested: str,
        text: str,
    ) -> list[EventType]:
        """Validates ``text`` for ``requested`` although NLU took it for another intent."""
        misses = int(tracker.get_slot(MISSES) or 0) + 1
        validate = getattr(self, f"validate_{requested}", None)
        if validate is None:
            say(dispatcher, channel_of(tracker), self.hint(requested), self.hint(requested))
            return [SlotSet(requested, None), SlotSet(MISSES, misses), SlotSet(SWITCH, None)]
        result: dict[str, Any] = await validate(text, dispatcher, tracker, domain)
        if result.get(requested) is None:
            if not dispatcher.messages:
                say(dispatcher, channel_of(tracker), self.hint(requested), self.hint(requested))
            return [SlotSet(requested, None), SlotSet(MISSES, misses), SlotSet(SWITCH, None)]
        events: list[EventType] = [SlotSet(k, v) for k, v in result.items()]
        return [*events, SlotSet(MISSES, 0), SlotSet(SWITCH, None)]


def dropped_events(
    dispatcher: CollectingDispatcher, tracker: Tracker, town: Town, *, done: str, slots: list[str]
) -> list[EventType] | None:
    """For a submit action: when the citizen left the form, says so (and answers the request
    that made them leave, where it is a service) and returns the events that reset it;
    None when the form was completed."""
    if not tracker.get_slot(DROPPED):
        return None
    channel = channel_of(tracker)
    register = register_of(tracker)
    pending = tracker.get_slot(SWITCH)
    if pending == ANSWERED:  # the answer's slots (topic, service) stay for what follows
        return [SlotSet(DROPPED, None), SlotSet(SWITCH, None), SlotSet(MISSES, 0)]
    reset: list[EventType] = [SlotSet(s, None) for s in (*slots, DROPPED, SWITCH)]
    service = town.service_for_intent(str(pending)) if pending else None
    en_done = "All right, I stopped that."
    easy_done = "Gut. Ich habe aufgehört."
    if service is not None:
        text = f"In Ordnung, {done}."
        say(
            dispatcher,
            channel,
            text,
            text,
            register=register,
            en=(en_done,) * 2,
            einfach=(easy_done,) * 2,
        )
        ActionServiceInfo(town).answer(dispatcher, channel, service, register)
    elif pending:
        text = f"In Ordnung, {done}. Bitte stellen Sie Ihre Frage jetzt noch einmal."
        en = f"{en_done} Please ask your question again now."
        easy = f"{easy_done} Bitte stellen Sie Ihre Frage noch einmal."
        say(dispatcher, channel, text, text, register=register, en=(en,) * 2, einfach=(easy,) * 2)
    else:
        text = f"In Ordnung, {done}. Wie kann ich Ihnen sonst helfen?"
        en = f"{en_done} How else can I help you?"
        easy = f"{easy_done} Wie kann ich Ihnen noch helfen?"
        say(dispatcher, channel, text, text, register=register, en=(en,) * 2, einfach=(easy,) * 2)
    return [*reset, SlotSet(MISSES, 0)]


def answered_instead() -> list[EventType]:
    """For a validation action at its form's start that answered the message as something
    else: ends the form at once, and its submit action says nothing more."""
    return [SlotSet(DROPPED, True), SlotSet(SWITCH, ANSWERED), SlotSet(REQUESTED, None)]
