"""How a message chooses the conversation's register (contract/language.py)."""

from __future__ import annotations

import pytest

from contract.language import (
    MAX_DETECT_CHARS,
    MIN_ENGLISH_HITS,
    MIN_GERMAN_HITS,
    REGISTER_SLOT,
    Register,
    detected,
    next_register,
    register_of_entity,
    requested,
    spell_digits_en,
)


def test_wire_values() -> None:
    assert REGISTER_SLOT == "register"
    assert [r.value for r in Register] == ["de", "en", "einfach"]
    assert (MIN_ENGLISH_HITS, MIN_GERMAN_HITS, MAX_DETECT_CHARS) == (2, 2, 2000)


@pytest.mark.parametrize(
    ("value", "register"),
    [("de", Register.DE), ("en", Register.EN), ("einfach", Register.EINFACH), (None, Register.DE),
     ("fr", Register.DE), (3, Register.DE)],
)  # fmt: skip
def test_a_slot_value_names_a_register_and_anything_else_is_german(
    value: object, register: Register
) -> None:
    assert Register.of(value) is register


@pytest.mark.parametrize(
    ("value", "register"),
    [("en", Register.EN), ("English", Register.EN), ("Englisch", Register.EN),
     ("deutsch", Register.DE), ("leichter  Sprache", Register.EINFACH),
     ("einfach", Register.EINFACH), ("Turkish", None), ("", None), (None, None), (1, None)],
)  # fmt: skip
def test_language_entity_values(value: object, register: Register | None) -> None:
    assert register_of_entity(value) is register


@pytest.mark.parametrize(
    ("text", "register"),
    [("English please", Register.EN), ("Do you speak English?", Register.EN),
     ("Sprechen Sie Englisch?", Register.EN), ("Ich spreche kein Deutsch", Register.EN),
     ("Deutsch bitte", Register.DE), ("Können wir auf Deutsch weitermachen", Register.DE),
     ("einfache Sprache bitte", Register.EINFACH), ("In leichter Sprache", Register.EINFACH),
     ("Ich verstehe das nicht", Register.EINFACH), ("Das ist mir zu kompliziert", Register.EINFACH),
     ("Ich brauche einen Termin", None), ("Parlez-vous français?", None)],
)  # fmt: skip
def test_explicit_requests(text: str, register: Register | None) -> None:
    assert requested(text) is register


@pytest.mark.parametrize(
    ("text", "register"),
    [("I need an appointment for my passport", Register.EN),
     ("where is the town hall", Register.EN),  # "where", "is", "the": English only
     ("hello", Register.EN), ("thanks", Register.EN),
     ("Ich brauche einen Termin", Register.DE),
     ("Wann ist das Bürgerbüro offen", Register.DE),
     ("Müller", None), ("0151 2345678", None), ("Hauptstraße 5", None), ("ja", None),
     ("hi", None),  # Germans write it too
     ("I brauche einen Termin", None)],  # mixed: no decision
)  # fmt: skip
def test_detection(text: str, register: Register | None) -> None:
    assert detected(text) is register


def test_detection_needs_two_english_words_at_the_limit() -> None:
    assert detected("the") is None  # N - 1 = 1 word
    assert detected("the office") is Register.EN  # N = 2 words


def test_detection_reads_only_the_start_of_a_long_message() -> None:
    filler = "x" * MAX_DETECT_CHARS
    assert detected(filler + " where is the office") is None
    assert detected("where is the office " + filler) is Register.EN


@pytest.mark.parametrize(
    ("current", "text", "entity", "after"),
    [(Register.DE, "I need a passport", None, Register.EN),
     (Register.EINFACH, "I need a passport", None, Register.EN),
     (Register.EN, "Ich brauche einen Pass", None, Register.DE),
     (Register.EINFACH, "Ich brauche einen Pass", None, Register.EINFACH),
     (Register.EN, "Müller", None, Register.EN),
     (Register.DE, "/greet", "en", Register.EN),
     (Register.EN, "/change_language", "einfach", Register.EINFACH),
     (Register.EN, "Deutsch bitte", None, Register.DE),
     (Register.DE, "leichte Sprache", None, Register.EINFACH)],
)  # fmt: skip
def test_next_register(current: Register, text: str, entity: object, after: Register) -> None:
    assert next_register(current, text, entity) is after


def test_digits_are_spelt_in_english_one_by_one() -> None:
    assert spell_digits_en("01234 567-89") == ("zero one two three four five six seven eight nine")
    assert spell_digits_en("") == ""
    assert spell_digits_en("+-#") == ""
