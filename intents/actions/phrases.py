"""What a citizen's words or the conversation so far say about the form or the greeting.
Pure functions, no Rasa imports."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from intents.actions.aspects import aspect_of

_STOP = re.compile(
    r"\b(abbrechen|abbruch|stopp?|doch nicht|vergiss es|vergessen sie es|lass(en wir)? das"
    r"|kein(e|en)? (termin|meldung|rückruf)|nichts (mehr )?(absagen|buchen|melden)"
    r"|nicht (mehr )?(absagen|buchen|melden)|will ich (doch )?nicht|möchte ich (doch )?nicht)\b"
)
_PERSON = re.compile(
    r"mensch|mitarbeiter|person|sachbearbeiter|jemand|verbind|sprechen|reden|durchstell|"
    r"weiterleit|telefonier|ansprechpartner"
)

# A question whether something is needed: the verb first, then the person ("Brauche ich einen
# Termin?", "Muss man einen Termin machen?"). "Kann ich einen Termin machen?" asks to book.
_NEED_QUESTION = re.compile(
    r"^\W*(und\s+|also\s+)?(brauche|brauchen|braucht|muss|müssen|benötige|benötigen|benötigt"
    r"|soll|sollte|sollten)\s+(ich|wir|man|mein\w*|unser\w*)\b"
)


def asks_whether_needed(text: str) -> bool:
    """Whether ``text`` asks if something is needed ("Brauche ich einen Termin?"), not states
    it ("Ich brauche einen Termin"): the verb comes first, with a person after it."""
    return _NEED_QUESTION.search(text.casefold()) is not None


# A statement that an appointment is wanted ("Ich brauche einen Termin", "wir hätten gern
# einen Termin"): the person first, then the verb.
_BOOKING_STATEMENT = re.compile(
    r"^\W*(dann\s+|also\s+|gut,?\s+)?(ich|wir)\s+(brauche|brauch|brauchen|bräuchte|bräuchten"
    r"|möchte|möchten|will|wollen|hätte gern|hätten gern|hätte gerne|hätten gerne)\b.*\btermin"
)


def states_booking(text: str) -> bool:
    """Whether ``text`` states that an appointment is wanted ("Ich brauche einen Termin"),
    not asks whether one is needed ("Brauche ich einen Termin?")."""
    lowered = text.casefold()
    return _BOOKING_STATEMENT.search(lowered) is not None and "kein" not in lowered


def asks_about_topic(
    text: str, *, intent: str | None, requested: object, topic_is_service: bool
) -> bool:
    """Whether the message that would start the booking (``intent`` book_appointment, no
    question asked yet) asks about an aspect of the service under discussion ("Brauche ich
    einen Termin?" after the marriage): a follow-up question, whatever the NLU says."""
    return (
        intent == "book_appointment"
        and not requested
        and topic_is_service
        and asks_whether_needed(text)
        and aspect_of(text) is not None
    )


def wants_to_stop(text: str) -> bool:
    """Whether ``text`` asks to leave the form ("abbrechen", "Stopp", "doch nicht")."""
    return _STOP.search(text.casefold()) is not None


def is_person_request(text: str) -> bool:
    """Whether ``text`` asks for a person, not merely names a department ("Bürgerbüro")."""
    return _PERSON.search(text.casefold()) is not None


def has_spoken(events: Sequence[Mapping[str, object]]) -> bool:
    """Whether the assistant said anything before the citizen's latest message."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    before = events[: users[-1]] if users else events
    return any(e.get("event") == "bot" for e in before)


def voice_disclosed(events: Sequence[Mapping[str, object]], *voice_greetings: str) -> bool:
    """Whether a spoken greeting (with its AI disclosure; one text per language or level) was
    said in this conversation: a call from the website joins its chat session, whose written
    greeting a caller does not hear."""
    return any(e.get("event") == "bot" and e.get("text") in voice_greetings for e in events)
