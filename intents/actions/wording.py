"""English and Leichte Sprache wording of dates, times and opening hours (the German
wording lives in speech.py and answers.py)."""

from __future__ import annotations

from datetime import date, time

from contract.town import DayStatus, Interval

WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def date_en(day: date) -> str:
    """ "Friday, 25 December 2026"."""
    return f"{WEEKDAYS_EN[day.weekday()]}, {day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def time_en(at: time) -> str:
    """ "9:00", "14:30" (the 24-hour clock that German offices use)."""
    return f"{at.hour}:{at.minute:02d}"


def time_einfach(at: time) -> str:
    """ "9 Uhr", "14 Uhr 30"."""
    return f"{at.hour} Uhr" + (f" {at.minute}" if at.minute else "")


def date_einfach(day: date) -> str:
    """ "Freitag, 25.12." (digits, no year)."""
    return f"{WEEKDAYS_DE[day.weekday()]}, {day.day}.{day.month}."


def hours_en(status: DayStatus) -> str:
    return " and ".join(f"from {time_en(i.start)} to {time_en(i.end)}" for i in status.intervals)


def day_sentence_en(
    office: str, day: date, today: date, status: DayStatus, *, closed: bool, notes: str
) -> str:
    """One day of ``office`` (an English name with its article) in English; ``closed``: a
    holiday or closure (``status.closed_because`` names it when known)."""
    when = "Today" if day == today else f"On {date_en(day)}"
    if status.closed_because:
        return f"{when} {office} is closed ({status.closed_because})."
    if closed and not status.intervals:
        return f"{when} {office} is closed.{notes}"
    if not status.intervals:
        return f"{when} {office} is not open."
    return f"{when} {office} is open {hours_en(status)}.{notes}"


def day_sentence_einfach(office: str, day: date, today: date, status: DayStatus) -> str:
    """One day of ``office`` (with its article) in Leichte Sprache: one statement per
    sentence."""
    when = "Heute" if day == today else f"Am {date_einfach(day)}"
    if not status.intervals:
        return f"{when} ist {office} zu."
    times = " Dann ist es wieder offen ".join(
        f"von {time_einfach(i.start)} bis {time_einfach(i.end)}." for i in status.intervals
    )
    return f"{when} ist {office} offen. Es ist offen {times}"


def week_en(hours: tuple[tuple[Interval, ...], ...]) -> str:
    """The regular week: "Monday from 8:00 to 12:00; ..." (``hours``: intervals per day)."""
    lines = []
    for index, intervals in enumerate(hours):
        if intervals:
            status = DayStatus(intervals, None)
            lines.append(f"{WEEKDAYS_EN[index]} {hours_en(status)}")
    return "; ".join(lines)
