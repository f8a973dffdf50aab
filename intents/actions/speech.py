"""German dates, times, phone numbers and references: parsed from typed or transcribed text,
and written out for chat or for speech. Pure functions, no Rasa imports."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from contract.german import (
    MONTHS,
    NUMBER_WORDS,
    WEEKDAYS,
    clock_spoken,
    clock_text,
    month_number,
    number_words,
    ordinal_dative,
    ordinal_day_words,
    spell_reference,
)
from contract.knowledge import spoken_phone_number
from contract.records import REFERENCE_ALPHABET
from intents.actions.english import english_digits, parse_date_en, parse_time_en

_WORD_NUMBERS = {w: i for i, w in enumerate(NUMBER_WORDS)} | {"ein": 1, "eine": 1, "zwanzig": 20}
_WEEKDAY_WORDS = {name.casefold(): i for i, name in enumerate(WEEKDAYS)}
_ORDINAL_DAYS = {word.casefold(): day for word, day in ordinal_day_words().items()}
_ORDINAL = re.compile(
    r"\b("
    + "|".join(sorted(map(re.escape, _ORDINAL_DAYS), key=len, reverse=True))
    + r")\b(?:\s+([a-zä]+)\b(?:\s+(\d{4})\b)?)?"
)
"""A day as an ordinal word ("achten", "einunddreissigsten" casefolded), then perhaps a month
and a year."""


def date_text(day: date) -> str:
    """For chat: "Montag, 23.11.2026"."""
    return f"{WEEKDAYS[day.weekday()]}, {day:%d.%m.%Y}"


def date_spoken(day: date) -> str:
    """For speech: "Montag, den dreiundzwanzigsten November"."""
    return f"{WEEKDAYS[day.weekday()]}, den {ordinal_dative(day.day)} {MONTHS[day.month - 1]}"


def time_text(at: time) -> str:
    """For chat: "8:00 Uhr", "10:30 Uhr"."""
    return clock_text(at.hour, at.minute)


def time_spoken(at: time) -> str:
    """ "zehn Uhr dreißig", "acht Uhr"."""
    return clock_spoken(at.hour, at.minute)


def phone_spoken(phone: str) -> str:
    return spoken_phone_number(phone)


def reference_spoken(reference: str) -> str:
    """ "B-K7QX2M" -> "B, K, sieben, Ku, Ix, zwei, M"."""
    return spell_reference(reference)


def _words_to_digits(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return str(_WORD_NUMBERS[match[0]])

    pattern = "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len, reverse=True))
    return re.sub(rf"\b({pattern})\b", replace, text)


def parse_date(text: str, today: date) -> date | None:
    """Dates as citizens say them: "morgen", "übermorgen", "am Montag", "nächsten Dienstag",
    "24.11.", "24.11.2026", "24. November", "den 3 dezember", "am achten Dezember" (as the
    bot says dates). Past dates roll forward. A bare day number ("14", typed on the phone's
    keys) or ordinal ("den einunddreißigsten") is the next such day from today. English dates
    ("next Tuesday", "December 8th") where no German one is found."""
    return _parse_date_de(text, today) or parse_date_en(text, today)


def _parse_date_de(text: str, today: date) -> date | None:
    lowered = text.casefold().strip()
    if "übermorgen" in lowered or "uebermorgen" in lowered:
        return today + timedelta(days=2)
    if "morgen" in lowered:
        return today + timedelta(days=1)
    if "heute" in lowered:
        return today
    keyed = re.fullmatch(r"(\d{1,2})", lowered)  # a day number typed on the phone's keys
    if keyed:
        return _next_day_of_month(int(keyed[1]), today)
    numeric = re.search(r"\b(\d{1,2})\.\s?(\d{1,2})\.?(?:\s?(\d{4}|\d{2})\b)?", lowered)
    if numeric:
        return _complete(int(numeric[1]), int(numeric[2]), numeric[3], today)
    ordinal = _ORDINAL.search(lowered)
    if ordinal and ordinal[2] is None:  # "den einunddreißigsten": no month follows
        return _next_day_of_month(_ORDINAL_DAYS[ordinal[1]], today)
    month = month_number(ordinal[2]) if ordinal and ordinal[2] else None
    if ordinal and month is not None:  # "ersten freien Termin" is no date
        return _complete(_ORDINAL_DAYS[ordinal[1]], month, ordinal[3], today)
    spelled = re.search(r"\b(\d{1,2})\.?\s+([a-zä]{3,})(?:\s+(\d{4}))?", _words_to_digits(lowered))
    month = month_number(spelled[2]) if spelled else None
    if spelled and month is not None:
        return _complete(int(spelled[1]), month, spelled[3], today)
    for word, weekday in _WEEKDAY_WORDS.items():
        if word in lowered:
            ahead = (weekday - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _next_day_of_month(day: int, today: date) -> date | None:
    """The first date from ``today`` on that falls on day ``day`` of a month."""
    for ahead in range(3):  # day 31 may skip two months (Jan 31: Mar 31 after Feb)
        month = today.month + ahead
        try:
            candidate = date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _complete(day: int, month: int, year_text: str | None, today: date) -> date | None:
    year = today.year if not year_text else int(year_text) + (2000 if len(year_text) == 2 else 0)
    try:
        result = date(year, month, day)
    except ValueError:
        return None
    if not year_text and result < today:
        result = result.replace(year=year + 1)
    return result


def parse_time(text: str) -> time | None:
    """Times: "10:30", "10.30 Uhr", "um 10 uhr 30", "zehn uhr", "halb elf", "14 h", typed on
    the phone's keys "1430" or "930"; English times with "am", "pm", "o'clock" or "half past"
    first."""
    english = parse_time_en(text)
    if english is not None:
        return english
    lowered = _words_to_digits(english_digits(text.casefold()))
    half = re.search(r"\bhalb\s+(\d{1,2})\b", lowered)
    if half:
        hour = int(half[1]) - 1
        return time(hour % 24, 30)
    match = re.fullmatch(r"\s*(\d{1,2})(\d{2})()\s*", lowered)  # typed on the keys: 1430
    if match is None:
        match = re.search(r"\b(\d{1,2})(?:\s*[:.]\s*(\d{2})|\s*(?:uhr|h)\s*(\d{1,2})?)", lowered)
    if match is None:
        match = re.fullmatch(r"\D*(\d{1,2})()()\D*", lowered)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2] or match[3] or 0)
    if hour < 7 and "nachmittag" in lowered:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_phone(text: str) -> str | None:
    """A phone number in the text, as digits with an optional leading "+"; None if none.

    Spoken digits ("null eins sieben eins ...") count too."""
    spoken = english_digits(_words_to_digits(text.casefold())).replace("plus", "+")
    match = re.search(r"\+?\d[\d\s/()-]{4,}\d", spoken)
    if match is None:
        return None
    number = re.sub(r"[^\d+]", "", match[0])
    digits = number.lstrip("+")
    if not 6 <= len(digits) <= 15:
        return None
    return number


def parse_reference(text: str, prefix: str) -> str | None:
    """A reference like "B-K7QX2M" from typed or spelled text ("b k 7 q x 2 m"), also inside
    a sentence ("Ich möchte meinen Termin B-NGJZV5 absagen")."""
    alphabet = re.escape(REFERENCE_ALPHABET)
    upper = text.upper()
    typed = re.search(rf"\b{prefix}[-\s]([{alphabet}]{{6}})\b", upper)
    # without a separator only with a digit in it: "BUCHUNG" is a word, not B-UCHUNG
    joined = re.search(rf"\b{prefix}([{alphabet}]{{6}})\b", upper)
    if typed is None and joined is not None and any(c.isdigit() for c in joined[1]):
        typed = joined
    if typed:
        return f"{prefix}-{typed[1]}"
    squeezed = re.sub(r"[\s,.-]+", "", _words_to_digits(text.casefold())).upper()
    match = re.search(rf"{prefix}([{alphabet}]{{6}})(?![{alphabet}])", squeezed)
    return f"{prefix}-{match[1]}" if match else None


def address_spoken(address: str) -> str:
    """ "Rathausplatz 1, 12345 Musterstadt" -> "Rathausplatz eins" (street and number only)."""
    street = address.split(",", 1)[0]
    return re.sub(r"\d{1,2}\b", lambda m: number_words(int(m[0])), street)
