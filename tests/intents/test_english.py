"""English dates, times and phone numbers in the forms (intents/actions/english.py), beside
the German ones they must not disturb."""

from __future__ import annotations

from datetime import date, time

import pytest

from intents.actions.english import parse_date_en, parse_time_en
from intents.actions.speech import parse_date, parse_phone, parse_time
from intents.actions.wording import date_einfach, date_en, time_einfach, time_en

TODAY = date(2026, 12, 2)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "day"),
    [("next Tuesday", date(2026, 12, 8)), ("on Wednesday", date(2026, 12, 9)),
     ("December 8th", date(2026, 12, 8)), ("the 8th of December", date(2026, 12, 8)),
     ("8 December 2027", date(2027, 12, 8)), ("Dec 10", date(2026, 12, 10)),
     ("January 3rd", date(2027, 1, 3)), ("December 1st", date(2027, 12, 1)),
     ("tomorrow", date(2026, 12, 3)), ("the day after tomorrow", date(2026, 12, 4)),
     ("today please", TODAY), ("the eighth of december", date(2026, 12, 8)),
     ("February 30th", None), ("some day", None)],
)  # fmt: skip
def test_english_dates(text: str, day: date | None) -> None:
    assert parse_date_en(text, TODAY) == day
    assert parse_date(text, TODAY) == day


@pytest.mark.parametrize(
    ("text", "day"),
    [("nächsten Dienstag", date(2026, 12, 8)), ("8.12.", date(2026, 12, 8)),
     ("morgen", date(2026, 12, 3)), ("den 3 dezember", date(2026, 12, 3))],
)  # fmt: skip
def test_german_dates_are_unchanged(text: str, day: date) -> None:
    assert parse_date(text, TODAY) == day


@pytest.mark.parametrize(
    ("text", "at"),
    [("10 am", time(10)), ("2:30 pm", time(14, 30)), ("half past ten", time(10, 30)),
     ("quarter to three", time(14, 45)), ("quarter past 9 am", time(9, 15)),
     ("eleven o'clock", time(11)), ("ten thirty", time(10, 30)), ("noon", time(12)),
     ("12 am", time(0)), ("13 pm", time(13)), ("25 pm", None)],
)  # fmt: skip
def test_english_times(text: str, at: time | None) -> None:
    assert parse_time(text) == at


def test_plain_clock_times_stay_with_the_german_parser() -> None:
    assert parse_time_en("10:30") is None
    assert parse_time("10:30") == time(10, 30)
    assert parse_time("halb elf") == time(10, 30)
    assert parse_time("14 Uhr") == time(14)


@pytest.mark.parametrize(
    "text", ["zero one five one two three four five six seven eight", "0151 2345678"]
)
def test_english_phone_numbers(text: str) -> None:
    assert parse_phone(text) == "01512345678"


def test_english_and_einfach_wording_of_dates_and_times() -> None:
    assert date_en(date(2026, 12, 8)) == "Tuesday, 8 December 2026"
    assert time_en(time(9, 5)) == "9:05"
    assert date_einfach(date(2026, 12, 8)) == "Dienstag, 8.12."
    assert (time_einfach(time(9)), time_einfach(time(14, 30))) == ("9 Uhr", "14 Uhr 30")
