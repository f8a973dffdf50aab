"""German normalisers shared by the read-back (gateway) and the answers (action server)."""

from __future__ import annotations

import pytest

from contract.german import (
    DIGIT_WORDS,
    WEEKDAY_ABBREVIATIONS,
    month_number,
    name_key,
    number_words,
    ordinal_dative,
    ordinal_nominative,
    spell_digits,
    street_key,
)


def test_numbers_and_digits() -> None:
    assert [number_words(n) for n in (0, 1, 16, 20, 21, 30, 57, 99)] == [
        "null", "eins", "sechzehn", "zwanzig", "einundzwanzig", "dreißig",
        "siebenundfünfzig", "neunundneunzig",
    ]  # fmt: skip
    for bad in (-1, 100):
        with pytest.raises(ValueError, match="out of range"):
            number_words(bad)
    assert DIGIT_WORDS[0] == "null" and DIGIT_WORDS[9] == "neun" and len(DIGIT_WORDS) == 10
    assert spell_digits("01234 567-1") == "null eins zwei drei vier fünf sechs sieben eins"


def test_ordinals_in_both_cases() -> None:
    days = (1, 2, 3, 7, 8, 19, 20, 21, 30, 31)
    assert [ordinal_nominative(d) for d in days] == [
        "erste", "zweite", "dritte", "siebte", "achte", "neunzehnte", "zwanzigste",
        "einundzwanzigste", "dreißigste", "einunddreißigste",
    ]  # fmt: skip
    assert [ordinal_dative(d) for d in (1, 3, 23)] == ["ersten", "dritten", "dreiundzwanzigsten"]
    for bad in (0, 32):
        with pytest.raises(ValueError, match="day must be"):
            ordinal_nominative(bad)


@pytest.mark.parametrize(
    ("word", "month"),
    [("Januar", 1), ("jänner", 1), ("März", 3), ("Maerz", 3), ("mär", 3), ("dez", 12),
     ("Dezember", 12), ("Dez.", 12), ("mai", 5), ("ma", None), ("Montag", None), ("", None)],
)  # fmt: skip
def test_month_names_abbreviations_and_variants(word: str, month: int | None) -> None:
    assert month_number(word) == month


def test_weekday_abbreviations_for_staff_hours() -> None:
    assert WEEKDAY_ABBREVIATIONS == ("mo", "di", "mi", "do", "fr", "sa", "so")


@pytest.mark.parametrize(
    "spelling", ["Bergstraße", "Berg Straße", "Bergstrasse", "Berg-Str.", "bergstr", "BERGSTRASSE"]
)
def test_one_street_key_for_every_spelling(spelling: str) -> None:
    assert street_key(spelling) == "bergstr"


def test_different_streets_keep_different_keys() -> None:
    assert street_key("Bergweg") != street_key("Bergstraße")
    assert street_key("Am Markt 3,") == "ammarkt3"


def test_name_key_ignores_case_spaces_hyphens_dots() -> None:
    assert (
        name_key("Standes-Amt")
        == name_key("standes amt")
        == name_key("St.andesamt")
        == ("standesamt")
    )
