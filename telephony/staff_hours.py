"""When staff take transferred calls: weekly hours in Europe/Berlin, public holidays off."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from contract.calendar import holiday_name
from contract.german import WEEKDAY_ABBREVIATIONS

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = WEEKDAY_ABBREVIATIONS
_RULE = re.compile(
    r"^(?P<first>[a-z]{2})(?:\s*-\s*(?P<last>[a-z]{2}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True, slots=True)
class Window:
    weekday: int  # 0 = Monday
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class StaffHours:
    """Weekly windows such as "Mo-Do 08:00-16:00, Fr 08:00-12:00" (German weekday
    abbreviations), closed on the public holidays of `state` (e.g. "NW")."""

    windows: tuple[Window, ...]
    state: str | None = None

    @classmethod
    def parse(cls, text: str, *, state: str | None = None) -> StaffHours:
        """Raises ValueError with the offending part when `text` is malformed."""
        windows: list[Window] = []
        for part in filter(None, (p.strip() for p in text.lower().split(","))):
            match = _RULE.match(part)
            if match is None:
                raise ValueError(f"staff hours: cannot read {part!r} (e.g. 'Mo-Fr 08:00-16:00')")
            first = _weekday(match["first"], part)
            last = _weekday(match["last"] or match["first"], part)
            start, end = _time(match["start"], part), _time(match["end"], part)
            if end <= start or last < first:
                raise ValueError(f"staff hours: empty window in {part!r}")
            windows += [Window(day, start, end) for day in range(first, last + 1)]
        return cls(tuple(windows), state)

    def is_open(self, moment: datetime) -> bool:
        """True when `moment` (any time zone; naive means Europe/Berlin) is within staff hours."""
        local = moment.astimezone(BERLIN) if moment.tzinfo else moment.replace(tzinfo=BERLIN)
        if holiday_name(local.date(), self.state) is not None:
            return False
        clock = local.time().replace(tzinfo=None)
        return any(w.weekday == local.weekday() and w.start <= clock < w.end for w in self.windows)

    def open_now(self, clock: Callable[[], datetime] | None = None) -> bool:
        return self.is_open((clock or (lambda: datetime.now(BERLIN)))())


def _weekday(name: str, part: str) -> int:
    if name not in WEEKDAYS:
        raise ValueError(f"staff hours: unknown weekday {name!r} in {part!r} (Mo, Di, ... So)")
    return WEEKDAYS.index(name)


def _time(text: str, part: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"staff hours: bad time {text!r} in {part!r}")
    return time(hours, minutes)
