"""Key-press menus for the phone: a reply's buttons read out as keys, keys picked back.

Pure: buttons in, a `KeyMenu` out; a key in, the payload to send as the caller's turn out.
Choices get keys 1-9 in order; a person is always key 0 ("eine Mitarbeiterin"); the form's
"Abbrechen" button gets no key (saying "abbrechen" works at any moment, and a form's own
answers such as day numbers must not be taken for menu picks).
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.conversation import Button

MAX_CHOICES = 9
STAFF_KEY = "0"
STAFF_PAYLOAD = "/human_handoff"
STOP_PAYLOAD = "/stop"
STAFF_TITLE = "eine Mitarbeiterin"
STAFF_TITLE_EN = "a member of staff"

TOPICS = (
    Button("Termine", "/book_appointment"),
    Button("Ausweis und Pass", "/id_card"),
    Button("Ummeldung", "/register_residence"),
    Button("Müll und Sperrmüll", "/waste_collection"),
    Button("Öffnungszeiten", "/opening_hours"),
    Button("Schäden melden", "/report_damage"),
)
"""What a caller on a bad line is offered when nothing was understood outside a form."""
TOPICS_EN = (
    Button("appointments", "/book_appointment"),
    Button("ID cards and passports", "/id_card"),
    Button("registering an address", "/register_residence"),
    Button("waste and bulky waste", "/waste_collection"),
    Button("opening hours", "/opening_hours"),
    Button("reporting damage", "/report_damage"),
)
"""The same topics for a call in English (same keys, same payloads)."""


@dataclass(frozen=True, slots=True)
class KeyMenu:
    """Keys 1..len(choices) pick `choices` in order; key 0 asks for a person."""

    choices: tuple[Button, ...]

    def prompt(self, *, english: bool = False) -> str:
        """The menu as the caller hears it (in English for a call in English)."""
        press, word, last, staff = (
            ("Press", "for", "or", STAFF_TITLE_EN)
            if english
            else ("Drücken Sie", "für", "oder", STAFF_TITLE)
        )
        parts = [f"{i} {word} {b.title}" for i, b in enumerate(self.choices, 1)]
        parts.append(f"{STAFF_KEY} {word} {staff}")
        listed = ", ".join(parts[:-1])
        return f"{press} {listed}, {last} {parts[-1]}."

    def pick(self, key: str) -> str | None:
        """The payload key `key` picks, or None when the key picks nothing here."""
        if key == STAFF_KEY:
            return STAFF_PAYLOAD
        if len(key) != 1 or key not in "123456789":
            return None
        index = int(key) - 1
        if index < len(self.choices):
            return self.choices[index].payload
        return None


def key_menu(buttons: tuple[Button, ...]) -> KeyMenu | None:
    """The key menu for a reply's buttons: None when there is nothing to choose (no
    buttons but Abbrechen and a person). At most `MAX_CHOICES` choices get keys."""
    choices = tuple(b for b in buttons if b.payload not in (STAFF_PAYLOAD, STOP_PAYLOAD))
    if not choices:
        return None
    return KeyMenu(choices[:MAX_CHOICES])


def topic_names(*, english: bool = False) -> str:
    """The topics for a spoken question: "Termine, Ausweis und Pass, ... oder Schäden melden"."""
    names = [b.title for b in (TOPICS_EN if english else TOPICS)]
    return f"{', '.join(names[:-1])} {'or' if english else 'oder'} {names[-1]}"


REASK = f"Entschuldigung, die Verbindung ist schlecht. Worum geht es: {topic_names()}?"
"""The re-ask for a turn the recogniser was not sure of, outside a form."""
REASK_EN = f"Sorry, the line is bad. What is it about: {topic_names(english=True)}?"
"""The same re-ask in a call in English."""
