"""English dates, times and phone numbers as citizens type or say them ("next Tuesday",
"December 8th", "half past ten", "2 pm", "zero one five one ..."). Pure functions beside
the German parsers in speech.py, which fall back to these."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from intents.actions.wording import MONTHS_EN, WEEKDAYS_EN

_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905
    )
} | {"oh": 0, "thirty": 30, "fifteen": 15, "forty-five": 45, "forty five": 45}
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
_MONTHS = {name.casefold(): i + 1 for i, name in enumerate(MONTHS_EN)} | {
    name[:3].casefold(): i + 1 for i, name in enumerate(MONTHS_EN)
}
_WEEKDAYS = {name.casefold(): i for i, name in enumerate(WEEKDAYS_EN)}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))


def english_digits(text: str) -> str:
    """Replaces English number and ordinal words by digits ("eighth" -> "8")."""
    table = _NUMBERS | _ORDINALS
    pattern = "|".join(sorted(map(re.escape, table), key=len, reverse=True))
    return re.sub(rf"\b({pattern})\b", lambda m: str(table[m[0]]), text)


def parse_date_en(text: str, today: date) -> date | None:
    """ "today", "tomorrow", "the day after tomorrow", "next Tuesday", "on Monday",
    "December 8th", "8th of December", "Dec 8 2026". Past dates roll forward a year."""
    lowered = english_digits(text.casefold())
    if "day after tomorrow" in lowered:
        return today + timedelta(days=2)
    if "tomorrow" in lowered:
        return today + timedelta(days=1)
    if re.search(r"\btoday\b", lowered):
        return today
    day_month = re.search(
        rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s+(\d{{4}}))?",
        lowered,
    )
    month_day = re.search(
        rf"\b({_MONTH_RE})\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?",
        lowered,
    )
    if day_month:
        return _complete(int(day_month[1]), _MONTHS[day_month[2]], day_month[3], today)
    if month_day:
        return _complete(int(month_day[2]), _MONTHS[month_day[1]], month_day[3], today)
    for word, weekday in _WEEKDAYS.items():
        if re.search(rf"\b{word}\b", lowered):
            ahead = (weekday - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _complete(day: int, month: int, year_text: str | None, today: date) -> date | None:
    year = int(year_text) if year_text else today.year
    try:
        result = date(year, month, day)
    except ValueError:
        return None
    if not year_text and result < today:
        result = result.replace(year=year + 1)
    return result


_MARKER = re.compile(
    r"\b(a\.?m\.?|p\.?m\.?|o'?clock|half past|quarter (?:past|to)|noon|"
    r"thirty|fifteen|forty[- ]five)\b"
)


def parse_time_en(text: str) -> time | None:
    """ "10 am", "2:30 pm", "half past ten", "quarter to three", "ten o'clock", "noon";
    None without an English time word (plain "10:30" is the German parser's)."""
    lowered = text.casefold()
    if _MARKER.search(lowered) is None:
        return None
    if re.search(r"\bnoon\b", lowered):
        return time(12, 0)
    lowered = english_digits(lowered)
    relative = re.search(r"\b(half past|quarter past|quarter to)\s+(\d{1,2})\b", lowered)
    if relative:
        hour = int(relative[2])
        minute = {"half past": 30, "quarter past": 15, "quarter to": -15}[relative[1]]
        hour, minute = (hour - 1, 45) if minute < 0 else (hour, minute)
    else:
        match = re.search(r"\b(\d{1,2})(?:\s*[:.]\s*(\d{2})|\s+(\d{2})\b)?", lowered)
        if match is None:
            return None
        hour, minute = int(match[1]), int(match[2] or match[3] or 0)
    if re.search(r"\bp\.?m\.?\b", lowered) and hour < 12:
        hour += 12
    elif re.search(r"\ba\.?m\.?\b", lowered) and hour == 12:
        hour = 0
    elif not re.search(r"\ba\.?m\.?\b", lowered) and 1 <= hour < 7:
        hour += 12  # "half past two", "three o'clock": offices are not open at night
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
