"""Every Leichte Sprache (`einfach`) text the assistant can say stays within the limits of
docs/languages.md: sentence length, word length, no genitive article, numbers as digits."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest
import yaml

from contract.language import Register
from contract.town import DayStatus, Interval
from intents.actions import texts
from intents.actions.wording import day_sentence_einfach
from tests.intents.test_translations import shipped_translations

MAX_SENTENCE_WORDS = 14
"""Words in one sentence at most (Netzwerk Leichte Sprache: short sentences)."""
MAX_PART_CHARS = 14
"""Letters of a word at most; a compound written with hyphens ("Bürger-Büro") counts part by
part, as Leichte Sprache splits long words. Numbers, addresses, e-mail and web addresses and
booking numbers are exempt."""
MAX_LONG_SHARE = 0.15
"""Share of the words (parts) of a text longer than LONG_PART_CHARS at most."""
LONG_PART_CHARS = 10
SHARE_FROM_PARTS = 20
"""The share applies to texts of at least this many words ("Auf Wiedersehen!" is fine)."""
NUMBER_WORDS = frozenset(
    [
        "zwei",
        "drei",
        "vier",
        "fünf",
        "sechs",
        "sieben",
        "acht",
        "neun",
        "zehn",
        "elf",
        "zwölf",
        "zwanzig",
        "hundert",
    ]
)
"""Written out numbers: Leichte Sprache writes numbers as digits (chat; voice speaks them)."""

REPO = Path(__file__).resolve().parents[2]
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
_EXEMPT = re.compile(r"[\d@/]|^[A-Z]-")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def parts(text: str) -> list[str]:
    """The word parts of ``text`` that the limits apply to."""
    found = []
    for token in text.split():
        if _EXEMPT.search(token):
            continue
        found += [p for p in re.split(r"-", token.strip(".,:;!?()\"'")) if p]
    return found


def problems(text: str, *, spoken: bool = False) -> list[str]:
    """What breaks the limits in ``text``; empty when it is readable."""
    found = []
    for sentence in sentences(text):
        words = [w for w in sentence.split() if w.strip("-–")]
        if len(words) > MAX_SENTENCE_WORDS:
            found.append(f"{len(words)} words: {sentence!r}")
    word_parts = parts(text)
    found += [f"long word {p!r}" for p in word_parts if len(p) > MAX_PART_CHARS]
    long = [p for p in word_parts if len(p) > LONG_PART_CHARS]
    if len(word_parts) >= SHARE_FROM_PARTS and len(long) / len(word_parts) > MAX_LONG_SHARE:
        found.append(f"{len(long)} of {len(word_parts)} words are long: {long}")
    lowered = {w.strip(".,:;!?").casefold() for w in text.split()}
    if "des" in lowered:
        found.append("genitive article 'des'")
    if not spoken and lowered & NUMBER_WORDS:
        found.append(f"numbers as words: {sorted(lowered & NUMBER_WORDS)}")
    return found


def domain_texts() -> list[tuple[str, str, bool]]:
    """(where, text, spoken) of every `register: einfach` response variant."""
    found = []
    for path in sorted((REPO / "intents" / "domain").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses", {})
        for name, variants in responses.items():
            for variant in variants:
                condition = variant.get("condition") or []
                if any(c.get("value") == Register.EINFACH.value for c in condition):
                    spoken = variant.get("channel") == "voice"
                    found.append((f"{path.name}:{name}", variant["text"], spoken))
    return found


def action_texts() -> list[tuple[str, str, bool]]:
    """(where, text, spoken) of the actions' fixed Leichte Sprache texts (texts.py)."""
    found: list[tuple[str, str, bool]] = []
    for name in dir(texts):
        value = getattr(texts, name)
        if name.endswith("_EINFACH") and isinstance(value, str):
            found.append((name, value, "VOICE" in name))
        elif name.endswith("_EINFACH") and isinstance(value, tuple):
            found += [(name, value[0], False), (name, value[-1], True)]
        elif name.endswith("_EINFACH") and isinstance(value, dict):
            for key, entry in value.items():
                if isinstance(entry, tuple):
                    found += [
                        (f"{name}[{key}]", entry[0], False),
                        (f"{name}[{key}]", entry[-1], True),
                    ]
                else:
                    found.append((f"{name}[{key}]", entry, False))
    found += [("MISSED", " ".join(texts.MISSED[Register.EINFACH]), False)]
    return found


def knowledge_texts() -> list[tuple[str, str, bool]]:
    words = shipped_translations()
    return [(f"translations.yml:{k}", s.einfach, False) for k, s in words.services.items()]


def rendered_texts() -> list[tuple[str, str, bool]]:
    day = date(2026, 12, 8)
    two = DayStatus((Interval(time(8), time(12)), Interval(time(14), time(18, 30))), None)
    return [
        ("day_sentence_einfach", day_sentence_einfach("das Bürger-Büro", day, day, two), False),
        (
            "day_sentence_einfach closed",
            day_sentence_einfach("die Stadt-Kasse", day, date(2026, 12, 1), DayStatus((), None)),
            False,
        ),
    ]


ALL = domain_texts() + action_texts() + knowledge_texts() + rendered_texts()


def test_every_kind_of_einfach_text_is_checked() -> None:
    kinds = {where.split(":")[0] for where, _, _ in ALL}
    assert len(domain_texts()) == 19  # chat and voice for 9 responses, one for the takeover
    assert {"responses.yml", "municipal_responses.yml", "takeover.yml"} <= kinds
    assert "translations.yml" in kinds
    assert {"GREETING_CHAT_EINFACH", "ASK_TEXTS_EINFACH[service]", "MISSED"} <= kinds


@pytest.mark.parametrize(("where", "text", "spoken"), ALL, ids=[w for w, _, _ in ALL])
def test_einfach_text_is_readable(where: str, text: str, spoken: bool) -> None:
    assert problems(text, spoken=spoken) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (" ".join(["Wort"] * (MAX_SENTENCE_WORDS + 1)) + ".", "words"),
        ("Das ist die " + "a" * (MAX_PART_CHARS + 1) + ".", "long word"),
        ("Die Öffnungszeiten des Bürgerbüros.", "genitive"),
        ("Das kostet zwei Euro.", "numbers as words"),
        ("Verwaltungsabl Zuständigkei Bearbeitungs Antragsteller " + "und " * 16, "are long"),
    ],
)
def test_the_check_finds_what_breaks_the_rules(text: str, problem: str) -> None:
    assert any(problem in p for p in problems(text))


def test_the_limits_hold_at_n_and_fail_at_n_plus_one() -> None:
    at_limit = " ".join(["Wort"] * MAX_SENTENCE_WORDS) + "."
    assert problems(at_limit) == []
    assert problems(" ".join(["Wort"] * (MAX_SENTENCE_WORDS + 1)) + ".") != []
    long_ok = "Ich " * 9 + "a" * MAX_PART_CHARS + "."
    assert problems(long_ok) == []
    assert problems("Ich " * 9 + "a" * (MAX_PART_CHARS + 1) + ".") != []


def test_numbers_addresses_and_hyphenated_compounds_are_not_long_words() -> None:
    assert problems("Die Nummer ist buergerbuero@musterstadt.de oder 01234 567-100.") == []
    assert problems("Das Amt heißt Grün-Flächen-Amt.") == []
    assert problems("Eins eins zwei ist der Notruf.", spoken=True) == []
