"""German normalisers shared by the read-back (gateway) and the answers (action server)."""

from __future__ import annotations

import pytest

from contract.german import (
    DIGIT_WORDS,
    WEEKDAY_ABBREVIATIONS,
    clock_text,
    month_number,
    name_key,
    number_words,
    ordinal_dative,
    ordinal_day_words,
    ordinal_nominative,
    phone_text,
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


def test_ordinal_day_words_cover_days_1_to_31_in_every_ending() -> None:
    words = ordinal_day_words()
    assert len(words) == 31 * 5
    assert (words["ersten"], words["erstes"], words["dritte"], words["achten"]) == (1, 1, 3, 8)
    assert words["einunddreißigsten"] == 31
    assert sorted(set(words.values())) == list(range(1, 32))
    assert "nullten" not in words and "zweiunddreißigsten" not in words


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


@pytest.mark.parametrize(
    ("number", "written"),
    [
        ("015123456789", "0151 23456789"),
        ("01712345678", "0171 2345678"),
        ("01601234567", "0160 1234567"),
        ("0301234567", "030 1234567"),
        ("0401234567", "040 1234567"),
        ("0691234567", "069 1234567"),
        ("0891234567", "089 1234567"),
        ("02211234567", "0221 1234567"),
        ("0711123456", "0711 123456"),
        ("02234123456", "02234 123456"),
        ("01234567100", "01234 567100"),
        ("0123", "0123"),  # too short to be a number: unchanged
        ("012345", "01234 5"),  # six digits: the shortest grouped
        ("0251", "0251"),
        ("+4915123456789", "+49 151 23456789"),
        ("+49301234567", "+49 30 1234567"),
        ("+431234567", "+431234567"),  # foreign: unchanged
        ("0043123456", "0043123456"),
        ("0151 23456789", "0151 23456789"),  # already grouped
        ("01234 567-100", "01234 567-100"),
        ("keine", "keine"),
        ("0" + "2" * 14, "02222 2222222222"),  # 15 digits: the longest
        ("0" + "2" * 15, "0" + "2" * 15),
        ("12345678", "12345678"),  # no leading zero
    ],
)
def test_phone_numbers_are_grouped_as_germans_write_them(number: str, written: str) -> None:
    assert phone_text(number) == written


def test_a_three_digit_area_code_ends_in_one() -> None:
    assert phone_text("0221123") == "0221 123"
    assert phone_text("0222123") == "02221 23"
    assert phone_text("02214") == "02214"  # five characters: no number
    assert phone_text("022141") == "0221 41"


@pytest.mark.parametrize(
    ("hour", "minute", "text"),
    [(8, 0, "8:00 Uhr"), (10, 30, "10:30 Uhr"), (0, 5, "0:05 Uhr"), (23, 59, "23:59 Uhr")],
)
def test_clock_text_keeps_minutes_and_drops_the_leading_zero(
    hour: int, minute: int, text: str
) -> None:
    assert clock_text(hour, minute) == text


@pytest.mark.parametrize(("hour", "minute"), [(24, 0), (-1, 0), (8, 60), (8, -1)])
def test_clock_text_refuses_what_is_no_time(hour: int, minute: int) -> None:
    with pytest.raises(ValueError, match="not a time"):
        clock_text(hour, minute)
