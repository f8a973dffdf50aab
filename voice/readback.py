"""Read-back for confirmation of what a caller said: dates ("Dienstag, der dritte Dezember"),
street names from the town's knowledge, and numbers digit by digit, in one German sentence."""

from __future__ import annotations

import datetime
import difflib
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from contract.german import (
    MONTHS,
    WEEKDAYS,
    month_number,
    ordinal_day_words,
    ordinal_nominative,
    spell_digits,
    street_key,
)
from contract.town import load_town

_DAY_WORDS = ordinal_day_words()
_MONTH = "|".join(MONTHS) + "|Maerz|Jänner"
_DATE_NAMED = re.compile(
    rf"\b(?:(?P<num>\d{{1,2}})\.?|(?P<word>[a-zäöüß]+))\s+(?P<month>{_MONTH})\b"
    r"(?:\s+(?P<year>20\d\d))?",
    re.I,
)
_DATE_NUMERIC = re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>(?:20)?\d\d)?(?!\d)")
_NUMBER = re.compile(r"\d(?:[\d /-]*\d)?")


def _resolve(day: int, month: int, year: int | None, today: datetime.date) -> datetime.date | None:
    """The date meant: with no year, the next one on or after `today`."""
    try:
        if year is not None:
            return datetime.date(year, month, day)
        candidate = datetime.date(today.year, month, day)
        if candidate < today:
            candidate = datetime.date(today.year + 1, month, day)
        return candidate
    except ValueError:
        return None  # "31. Februar": not read back, the dialogue will ask again


def spoken_date(value: datetime.date, *, with_year: bool = False) -> str:
    """ "Dienstag, der dritte Dezember" (the year only when asked for)."""
    weekday, month = WEEKDAYS[value.weekday()], MONTHS[value.month - 1]
    text = f"{weekday}, der {ordinal_nominative(value.day)} {month}"
    return f"{text} {value.year}" if with_year else text


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    spoken: str


def find_dates(text: str, today: datetime.date) -> list[_Found]:
    """Dates with a day and a month ("3. Dezember", "dritten Dezember", "3.12.")."""
    found: list[_Found] = []
    for match in _DATE_NAMED.finditer(text):
        if match["num"]:
            day = int(match["num"])
        elif (word := (match["word"] or "").lower()) in _DAY_WORDS:
            day = _DAY_WORDS[word]
        else:
            continue
        year = int(match["year"]) if match["year"] else None
        month = month_number(match["month"])
        if month and 1 <= day <= 31 and (value := _resolve(day, month, year, today)):
            found.append(_Found(match.start(), match.end(), spoken_date(value)))
    for match in _DATE_NUMERIC.finditer(text):
        day, month = int(match["d"]), int(match["m"])
        year = int(match["y"]) if match["y"] else None
        if year is not None and year < 100:
            year += 2000
        if any(f.start <= match.start() < f.end for f in found):
            continue
        if 1 <= day <= 31 and 1 <= month <= 12 and (value := _resolve(day, month, year, today)):
            found.append(_Found(match.start(), match.end(), spoken_date(value)))
    return found


@dataclass(frozen=True, slots=True)
class Streets:
    """The town's street names (waste calendar and office addresses of `intents/knowledge/`),
    matched in transcripts even when Whisper splits or misspells them slightly."""

    names: tuple[str, ...] = ()

    @classmethod
    def from_knowledge(cls, knowledge_dir: Path) -> Streets:
        """Raises contract.knowledge.KnowledgeError when the knowledge files are invalid."""
        town = load_town(knowledge_dir)
        names = dict.fromkeys(town.streets)
        for department in town.directory.departments:
            if match := re.match(r"([^\d,]+?)\s+\d", department.address):
                names[match.group(1).strip()] = None
        return cls(tuple(names))

    def find(self, text: str) -> list[_Found]:
        """Streets named in `text`, each with its house number when one follows."""
        keys = {street_key(name): name for name in self.names}
        words = list(_WORD.finditer(text))
        found: list[_Found] = []
        index = 0
        while index < len(words):
            hit = self._at(text, words, index, keys)
            if hit is None:
                index += 1
                continue
            size, name = hit
            end = words[index + size - 1].end()
            after = _HOUSE_NUMBER.match(text, end)
            spoken = f"{name} {after.group(1)}" if after else name
            found.append(_Found(words[index].start(), after.end() if after else end, spoken))
            index += size
        return found

    @staticmethod
    def _at(
        text: str, words: list[re.Match[str]], index: int, keys: dict[str, str]
    ) -> tuple[int, str] | None:
        """The street that starts at word `index` and how many words it takes: exact
        matches of up to three words first, then a near miss of one or two words."""
        spans: list[tuple[int, str]] = []
        for size in (3, 2, 1):
            span = words[index : index + size]
            gaps = [text[a.end() : b.start()] for a, b in itertools.pairwise(span)]
            if len(span) == size and all(_GAP.fullmatch(gap) for gap in gaps):
                spans.append((size, text[span[0].start() : span[-1].end()]))
        for size, phrase in spans:
            if (key := street_key(phrase)) in keys:
                return size, keys[key]
        for size, phrase in spans:
            key = street_key(phrase)
            if size <= 2 and phrase[:1].isupper() and len(key) >= 8:
                close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.8)
                if close:
                    return size, keys[close[0]]
        return None


_WORD = re.compile(r"[A-Za-zÄÖÜäöüß][\wäöüÄÖÜß.]*")
_GAP = re.compile(r"[\s-]{1,3}")
_HOUSE_NUMBER = re.compile(r"\s+(\d{1,3}(?:\s?[a-z](?![\wäöüß]))?)(?!\d)")


class ReadBack:
    """Builds the confirmation the bot says before its answer, or None when there is
    nothing to confirm: "Ich habe verstanden: Bergstraße 12, Dienstag, der dritte Dezember."
    `today` fixes the year of dates said without one (injectable for tests)."""

    def __init__(
        self,
        *,
        streets: Streets = Streets(),
        today: Callable[[], datetime.date] = datetime.date.today,
        min_digits: int = 3,
    ) -> None:
        if not 1 <= min_digits <= 20:
            raise ValueError("min_digits must be in [1, 20]")
        self._streets = streets
        self._today = today
        self._min_digits = min_digits

    def __call__(self, transcript: str) -> str | None:
        transcript = transcript[:1000]  # a transcript is short; bound the work anyway
        found = find_dates(transcript, self._today()) + self._streets.find(transcript)
        found = _without_overlaps(found)
        taken = [(f.start, f.end) for f in found]
        for match in _NUMBER.finditer(transcript):
            inside = any(s <= match.start() < e for s, e in taken)
            if not inside and sum(c.isdigit() for c in match.group()) >= self._min_digits:
                found.append(_Found(match.start(), match.end(), spell_digits(match.group())))
        if not found:
            return None
        parts = [f.spoken for f in sorted(found, key=lambda f: f.start)]
        return "Ich habe verstanden: " + ", ".join(parts) + "."


def _without_overlaps(found: Iterable[_Found]) -> list[_Found]:
    kept: list[_Found] = []
    for item in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if not kept or item.start >= kept[-1].end:
            kept.append(item)
    return kept
