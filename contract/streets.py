"""Street names as citizens type or say them: "Hauptstrasse", "Berg str", "Haupstraße 5".

Pure functions over the town's street names; typo-tolerant, but only so far that a near miss
is never taken for a street it is not (below the threshold the caller offers the nearest
names instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from contract.german import street_key

MAX_WORDS = 3
"""A street name spans at most this many words ("Am Wertstoffhof", "Berg str")."""
TYPO_RATIO = 0.85
"""How alike (difflib ratio of the keys) a typed name must be to count as a street."""


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def _windows(text: str) -> list[str]:
    """Keys of every run of 1..MAX_WORDS words of ``text`` (digits and punctuation dropped)."""
    words = re.findall(r"[^\W\d_]+(?:[-.][^\W\d_]+)*\.?", text)
    keys = []
    for size in range(1, MAX_WORDS + 1):
        for run in zip(*(words[i:] for i in range(size)), strict=False):
            keys.append(street_key(" ".join(run)))
    return [key for key in keys if key]


def find_street(text: str | None, streets: Iterable[str]) -> str | None:
    """The street of ``streets`` that ``text`` names: exactly (spelling variants of
    street_key) anywhere in the text, else the most alike run of words if it reaches
    TYPO_RATIO; None otherwise."""
    if not text:
        return None
    names = sorted(streets, key=lambda s: (-len(s), s))
    key = street_key(text)
    for street in names:
        if street_key(street) in key:
            return street
    windows = _windows(text)
    scored = [(max((_ratio(w, street_key(s)) for w in windows), default=0.0), s) for s in names]
    ratio, best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    return best if ratio >= TYPO_RATIO else None


def nearest_streets(text: str, streets: Iterable[str], *, count: int = 2) -> list[str]:
    """The ``count`` names of ``streets`` most like ``text`` (best first, ties by name)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    windows = _windows(text) or [street_key(text)]

    def likeness(street: str) -> float:
        wanted = street_key(street)
        return max(_ratio(window, wanted) for window in windows)

    return sorted(streets, key=lambda s: (-likeness(s), s))[:count]


_STREET_WORD = re.compile(
    r"[^\W\d_]{2,}[ -]?(straße|strasse|str\b\.?|weg|allee|gasse|ring|damm|ufer|chaussee)",
    re.IGNORECASE,
)
_COMMON_WAYS = frozenset({"gehweg", "radweg", "fußweg", "fussweg", "feldweg", "waldweg", "umweg"})


def looks_like_street(text: str) -> bool:
    """Whether ``text`` names a street at all ("Elefantenstraße 3", "Berg str"), known or not,
    rather than describing a place ("am Spielplatz hinter der Schule")."""
    return any(match[0].casefold() not in _COMMON_WAYS for match in _STREET_WORD.finditer(text))


PLACE_WORDS = 3
"""An answer of more words than this is a description and stays as the citizen wrote it."""
_HOUSE_NUMBER = re.compile(r"\b\d{1,4}(?:\s?[a-z])?\b", re.IGNORECASE)


def place(street: str, text: str, *, sentence: bool = False) -> str:
    """The known ``street`` spelt right, with the house number of ``text`` if it has one
    ("Hauptstrasse 12" -> "Hauptstraße 12"). An answer of more than PLACE_WORDS words
    ("Ecke Lindenallee und Birkenweg") stays as written, unless ``text`` is a whole
    request ("Schlagloch in der Hauptstrasse 12"), of which only the place is wanted."""
    if not sentence and len(re.findall(r"[^\W\d_]+", text)) > PLACE_WORDS:
        return text
    number = _HOUSE_NUMBER.search(text)
    return f"{street} {number[0]}" if number else street
