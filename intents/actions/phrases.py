"""What a citizen's words or the conversation so far say about the form or the greeting.
Pure functions, no Rasa imports."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_STOP = re.compile(
    r"\b(abbrechen|abbruch|stopp?|doch nicht|vergiss es|vergessen sie es|lass(en wir)? das"
    r"|kein(e|en)? (termin|meldung|rückruf)|nichts (mehr )?(absagen|buchen|melden)"
    r"|nicht (mehr )?(absagen|buchen|melden)|will ich (doch )?nicht|möchte ich (doch )?nicht)\b"
)
_PERSON = re.compile(
    r"mensch|mitarbeiter|person|sachbearbeiter|jemand|verbind|sprechen|reden|durchstell|"
    r"weiterleit|telefonier|ansprechpartner"
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


def voice_disclosed(events: Sequence[Mapping[str, object]], voice_greeting: str) -> bool:
    """Whether the spoken greeting (with its AI disclosure) was said in this conversation: a
    call from the website joins its chat session, whose written greeting a caller does not
    hear."""
    return any(e.get("event") == "bot" and e.get("text") == voice_greeting for e in events)
