"""German words for dates and numbers, and the one comparison key for street names.

Pure functions; both the gateway (read-back) and the action server (answers, forms) use them.
"""

from __future__ import annotations

import re

MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
"""Indexed like date.weekday() (0 = Monday)."""
WEEKDAY_ABBREVIATIONS = tuple(name[:2].casefold() for name in WEEKDAYS)
""""mo", "di", ... "so"."""
NUMBER_WORDS = (
    "null",
    "eins",
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
    "dreizehn",
    "vierzehn",
    "fünfzehn",
    "sechzehn",
    "siebzehn",
    "achtzehn",
    "neunzehn",
)
DIGIT_WORDS = NUMBER_WORDS[:10]
"""0..9 as spoken digit by digit: "null", "eins", ... "neun"."""
_TENS = ("", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig",
         "neunzig")  # fmt: skip
_SPOKEN_LETTERS = {"Y": "Ypsilon", "J": "Jot", "Q": "Ku", "V": "Vau", "W": "We", "X": "Ix"}
_ORDINAL_IRREGULAR = {1: "erst", 3: "dritt", 7: "siebt", 8: "acht"}
_MONTH_ALIASES = {"maerz": 3, "mae": 3, "jänner": 1, "jän": 1}


def number_words(n: int) -> str:
    """0..99 as German words: 21 -> "einundzwanzig"."""
    if not 0 <= n < 100:
        raise ValueError(f"{n} out of range 0..99")
    if n < 20:
        return NUMBER_WORDS[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return _TENS[tens]
    return f"{'ein' if ones == 1 else NUMBER_WORDS[ones]}und{_TENS[tens]}"


def ordinal_stem(day: int) -> str:
    """Stem of the ordinal of a day of the month (1..31): 3 -> "dritt", 21 -> "einundzwanzigst"."""
    if not 1 <= day <= 31:
        raise ValueError("day must be in [1, 31]")
    if day in _ORDINAL_IRREGULAR:
        return _ORDINAL_IRREGULAR[day]
    return number_words(day) + ("st" if day >= 20 else "t")


def ordinal_nominative(day: int) -> str:
    """After "der": 3 -> "dritte", 21 -> "einundzwanzigste"."""
    return ordinal_stem(day) + "e"


def ordinal_dative(day: int) -> str:
    """After "den" or "am": 3 -> "dritten", 21 -> "einundzwanzigsten"."""
    return ordinal_stem(day) + "en"


ORDINAL_ENDINGS = ("e", "en", "er", "es", "em")


def ordinal_day_words() -> dict[str, int]:
    """Every inflected ordinal of a day of the month, lower case, to its day:
    "ersten" -> 1, "dritte" -> 3, "einunddreißigsten" -> 31."""
    return {ordinal_stem(day) + end: day for day in range(1, 32) for end in ORDINAL_ENDINGS}


def month_number(word: str) -> int | None:
    """1..12 for a month's name or its first three letters ("Dez", "dezember"), or a variant
    ("Maerz", "Jänner"); None for anything else."""
    key = word.casefold().strip(".")
    if key in _MONTH_ALIASES:
        return _MONTH_ALIASES[key]
    if len(key) < 3:
        return None
    for number, name in enumerate(MONTHS, start=1):
        if name.casefold()[:3] == key[:3]:
            return number
    return None


def spell_digits(digits: str) -> str:
    """ "0123" -> "null eins zwei drei" (anything but digits is skipped)."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits if d.isdigit())


def spell_reference(reference: str) -> str:
    """ "B-K7QX2M" -> "B, K, sieben, Ku, Ix, zwei, M": a reference or case number read out
    character by character (hyphens are not spoken)."""
    parts = []
    for char in reference.replace("-", ""):
        if char.isdigit():
            parts.append(NUMBER_WORDS[int(char)])
        else:
            parts.append(_SPOKEN_LETTERS.get(char, char))
    return ", ".join(parts)


def clock_spoken(hour: int, minute: int) -> str:
    """ "zehn Uhr dreißig", "acht Uhr", "ein Uhr"."""
    spoken = "ein" if hour == 1 else number_words(hour)
    return f"{spoken} Uhr" + (f" {number_words(minute)}" if minute else "")


def street_key(text: str) -> str:
    """Comparison key of a street name: case, spaces, dots, commas, hyphens, underscores and
    "ß"/"ss" do not count, and "straße", "strasse" and "str." are one: "Berg-Str." =
    "bergstrasse" = "Berg Straße" -> "bergstr"."""
    key = re.sub(r"[\s_.,-]+", "", text.casefold())  # casefold() turns "ß" into "ss"
    return key.replace("strasse", "str")


def name_key(name: str) -> str:
    """Comparison key of a name or synonym ignoring case, spaces, dots, hyphens, underscores."""
    return re.sub(r"[\s_.-]+", "", name).casefold()


def clock_text(hour: int, minute: int) -> str:
    """For chat, minutes kept and no leading zero: "8:00 Uhr", "10:30 Uhr"."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{hour}:{minute} is not a time of day")
    return f"{hour}:{minute:02d} Uhr"


_BIG_CITIES = ("30", "40", "69", "89")  # the only two-digit area codes (after the 0)


def phone_text(number: str) -> str:
    """A phone number as Germans write it (DIN 5008): the area code or mobile prefix apart
    from the rest, "015123456789" -> "0151 23456789", "0301234567" -> "030 1234567",
    "+4922112345" -> "+49 221 12345". Numbers already grouped, or that are not German
    digits, come back unchanged."""
    digits = number.strip()
    if not re.fullmatch(r"\+?\d{6,15}", digits):
        return number
    if digits.startswith("+49"):
        lead, national = "+49 ", digits[3:]
    elif digits.startswith("0") and not digits.startswith("00"):
        lead, national = "0", digits[1:]
    else:
        return number
    if national.startswith(("15", "16", "17")):
        split = 3  # mobile prefix 15x, 16x, 17x
    elif national.startswith(_BIG_CITIES):
        split = 2
    elif national[2] == "1":
        split = 3  # three-digit area codes end in 1: 221, 711, 341
    else:
        split = 4
    return f"{lead}{national[:split]} {national[split:]}"
