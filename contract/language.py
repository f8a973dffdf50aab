"""The register a conversation is held in (German, English, Leichte Sprache) and how a
message chooses it: explicit switch phrases and a cheap function-word detector.

Pure functions, Python 3.10 compatible; the action server sets the ``register`` slot with
them (intents/actions/language.py) and the gateway maps the widget's presets onto them.
See docs/languages.md for the design and the thresholds.
"""

from __future__ import annotations

import re
from enum import Enum

REGISTER_SLOT = "register"
"""The Rasa slot that conditions every response variant."""
LANGUAGE_ENTITY = "language"
"""The entity of ``change_language`` (and of the greeting trigger's preset)."""
MIN_ENGLISH_HITS = 2
"""English function words a message needs (with no German one) to switch to English."""
MIN_GERMAN_HITS = 2
"""German function words a message needs (with no English one) to switch back to German."""
MAX_DETECT_CHARS = 2000
"""Only the start of a long message is looked at."""


class Register(str, Enum):
    """The conversation's register; the value is the slot value the responses test."""

    DE = "de"
    EN = "en"
    EINFACH = "einfach"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def of(cls, value: object) -> Register:
        """The register a slot value names; German for anything else (None included)."""
        for register in cls:
            if value == register.value:
                return register
        return cls.DE

    @property
    def english(self) -> bool:
        return self is Register.EN


_ENTITY_VALUES = {
    "en": Register.EN,
    "english": Register.EN,
    "englisch": Register.EN,
    "de": Register.DE,
    "deutsch": Register.DE,
    "german": Register.DE,
    "normal": Register.DE,
    "einfach": Register.EINFACH,
    "einfache sprache": Register.EINFACH,
    "einfacher sprache": Register.EINFACH,
    "leicht": Register.EINFACH,
    "leichte sprache": Register.EINFACH,
    "leichter sprache": Register.EINFACH,
}


def register_of_entity(value: object) -> Register | None:
    """The register a ``language`` entity value names ("en", "Englisch", "leichte Sprache");
    None for other languages and non-strings."""
    if not isinstance(value, str):
        return None
    return _ENTITY_VALUES.get(" ".join(value.casefold().split()))


_WORD_RE = re.compile(r"[a-zäöüß']+")

# Phrases that ask for a register, matched on the normalised message (lower case, words
# separated by single spaces). Checked in this order; the first match wins.
_SWITCHES: tuple[tuple[re.Pattern[str], Register], ...] = (
    (
        re.compile(
            r"\b(einfache[rn]? sprache|leichte[rn]? sprache|einfacher bitte|"
            r"ich verstehe (das|sie|dich) nicht|ich verstehe nichts|zu kompliziert|"
            r"bitte einfacher)\b"
        ),
        Register.EINFACH,
    ),
    (
        re.compile(
            r"\b(english|in englisch|auf englisch|englisch bitte|englisch sprechen|"
            r"sprechen sie englisch|ich spreche kein deutsch|i don'?t speak german|"
            r"no german)\b"
        ),
        Register.EN,
    ),
    (
        re.compile(
            r"\b(deutsch bitte|auf deutsch|in german|german please|speak german|"
            r"normale sprache|wieder normal|zurück zu deutsch)\b"
        ),
        Register.DE,
    ),
)

_ENGLISH = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "i'm",
        "you",
        "your",
        "my",
        "me",
        "we",
        "our",
        "they",
        "their",
        "it",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "what",
        "when",
        "where",
        "which",
        "who",
        "how",
        "why",
        "can",
        "could",
        "would",
        "should",
        "will",
        "do",
        "does",
        "did",
        "don't",
        "doesn't",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
        "please",
        "thanks",
        "thank",
        "hello",
        "hi",
        "good",
        "morning",
        "evening",
        "want",
        "need",
        "like",
        "to",
        "of",
        "for",
        "with",
        "from",
        "at",
        "on",
        "in",
        "by",
        "about",
        "my",
        "appointment",
        "help",
        "there",
        "here",
        "want",
        "get",
        "make",
        "report",
        "lost",
        "found",
        "office",
        "open",
        "opening",
        "hours",
        "street",
        "light",
        "broken",
        "pothole",
        "garbage",
        "trash",
        "card",
        "passport",
        "id",
        "someone",
        "person",
        "speak",
        "talk",
        "call",
        "back",
        "next",
        "tomorrow",
        "today",
        "am",
        "pm",
        "o'clock",
    ]
)
_GERMAN = frozenset(
    [
        "der",
        "die",
        "das",
        "ein",
        "eine",
        "einen",
        "einem",
        "einer",
        "ist",
        "sind",
        "war",
        "ich",
        "sie",
        "du",
        "wir",
        "ihr",
        "mein",
        "meine",
        "mit",
        "für",
        "von",
        "bei",
        "auf",
        "aus",
        "nach",
        "wann",
        "wo",
        "wie",
        "was",
        "wer",
        "welche",
        "welcher",
        "kann",
        "können",
        "möchte",
        "möchten",
        "will",
        "brauche",
        "bitte",
        "danke",
        "hallo",
        "guten",
        "tag",
        "morgen",
        "abend",
        "nicht",
        "kein",
        "keine",
        "ja",
        "nein",
        "und",
        "oder",
        "aber",
        "den",
        "dem",
        "des",
        "zum",
        "zur",
        "im",
        "am",
        "um",
        "uhr",
        "termin",
        "ausweis",
        "straße",
        "müll",
        "heute",
        "haben",
        "habe",
        "hat",
        "gibt",
        "es",
        "mir",
        "mich",
        "ihnen",
        "sich",
        "noch",
        "auch",
        "schon",
    ]
)
# Words both lists hold ("am", "in", "um"-like) are no evidence either way.
_SHARED = _ENGLISH & _GERMAN
_STRONG_ENGLISH = frozenset({"please", "thanks", "thank", "hello", "english"})


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (at most MAX_DETECT_CHARS of it)."""
    return _WORD_RE.findall(text[:MAX_DETECT_CHARS].casefold())


def requested(text: str) -> Register | None:
    """The register ``text`` asks for explicitly ("English please", "leichte Sprache",
    "Deutsch bitte", "ich verstehe das nicht"); None when it asks for none."""
    normal = " ".join(words(text))
    for pattern, register in _SWITCHES:
        if pattern.search(normal):
            return register
    return None


def detected(text: str) -> Register | None:
    """EN when ``text`` is clearly English (MIN_ENGLISH_HITS English function words and no
    German one, or one strong English word alone), DE when clearly German, else None
    (names, numbers, street names and one-word answers decide nothing)."""
    found = words(text)
    english = sum(1 for w in found if w in _ENGLISH and w not in _SHARED)
    german = sum(1 for w in found if w in _GERMAN and w not in _SHARED)
    if german == 0 and (english >= MIN_ENGLISH_HITS or (found and set(found) <= _STRONG_ENGLISH)):
        return Register.EN
    if english == 0 and german >= MIN_GERMAN_HITS:
        return Register.DE
    return None


def next_register(current: Register, text: str, entity: object = None) -> Register:
    """The register after the citizen's message ``text`` (with the ``language`` entity, if
    any): an explicit request or entity wins; otherwise clear English switches German (and
    Leichte Sprache) to English and clear German switches English back to German; Leichte
    Sprache is left only on request or for English."""
    chosen = register_of_entity(entity) or requested(text)
    if chosen is not None:
        return chosen
    seen = detected(text)
    if seen is Register.EN:
        return Register.EN
    if seen is Register.DE and current is Register.EN:
        return Register.DE
    return current


DIGIT_WORDS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spell_digits_en(digits: str) -> str:
    """ "0123" -> "zero one two three" (anything but digits is skipped): a phone number
    read out digit by digit in a call in English."""
    return " ".join(DIGIT_WORDS_EN[int(d)] for d in digits if d.isdigit())
