"""When staff take transferred calls: weekly hours in Europe/Berlin, public holidays off."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contract.calendar import holiday_name
from contract.german import WEEKDAY_ABBREVIATIONS, WEEKDAYS, clock_spoken

BERLIN = ZoneInfo("Europe/Berlin")
SEARCH_DAYS = 60
"""How far ahead the next opening and service deadlines are looked for."""
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

    def next_opening(self, moment: datetime) -> datetime | None:
        """The start of the next window at or after `moment` (Europe/Berlin), or None when
        there is none within SEARCH_DAYS."""
        local = _local(moment)
        for start, end in self._windows_from(local.date()):
            if end > local:
                return max(start, local)
        return None

    def add_service_time(self, moment: datetime, duration: timedelta) -> datetime | None:
        """The moment when `duration` of staff hours has passed since `moment` (the 115
        standard's "24 service hours"), or None beyond SEARCH_DAYS."""
        local, left = _local(moment), duration
        for start, end in self._windows_from(local.date()):
            start = max(start, local)
            if end <= start:
                continue
            if end - start >= left:
                return start + left
            left -= end - start
        return None

    def service_time_between(self, first: datetime, last: datetime) -> timedelta:
        """Staff hours between `first` and `last` (zero when `last` is not after it)."""
        total = timedelta()
        a, b = _local(first), _local(last)
        for start, end in self._windows_from(a.date(), until=b.date()):
            lo, hi = max(start, a), min(end, b)
            if hi > lo:
                total += hi - lo
        return total

    def describe(self, *, spoken: bool) -> str:
        """ "Mo-Fr 08:00-16:00 Uhr" (chat) or "montags bis freitags von acht bis sechzehn
        Uhr" (speech); days with the same hours are joined."""
        groups: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
        for day in range(7):
            spans = tuple((w.start, w.end) for w in self.windows if w.weekday == day)
            if not spans:
                continue
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == spans:
                groups[-1] = (groups[-1][0], day, spans)
            else:
                groups.append((day, day, spans))
        parts = [_group_text(first, last, spans, spoken=spoken) for first, last, spans in groups]
        return ("; " if not spoken else ", ").join(parts) or "keine"

    def _windows_from(
        self, first: date, *, until: date | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        last = until if until is not None else first + timedelta(days=SEARCH_DAYS)
        day = first
        while day <= last:
            if holiday_name(day, self.state) is None:
                for w in sorted(self.windows, key=lambda w: w.start):
                    if w.weekday == day.weekday():
                        yield (
                            datetime.combine(day, w.start, tzinfo=BERLIN),
                            datetime.combine(day, w.end, tzinfo=BERLIN),
                        )
            day += timedelta(days=1)

    def open_now(self, clock: Callable[[], datetime] | None = None) -> bool:
        return self.is_open((clock or (lambda: datetime.now(BERLIN)))())


def _local(moment: datetime) -> datetime:
    return moment.astimezone(BERLIN) if moment.tzinfo else moment.replace(tzinfo=BERLIN)


def _group_text(
    first: int, last: int, spans: tuple[tuple[time, time], ...], *, spoken: bool
) -> str:
    if spoken:
        days = WEEKDAYS[first].casefold() + "s"
        if last > first:
            days += f" bis {WEEKDAYS[last].casefold()}s"
        times = " und ".join(f"von {_spoken(a)} bis {_spoken(b)}" for a, b in spans)
        return f"{days} {times}"
    days = WEEKDAYS[first][:2] + (f"-{WEEKDAYS[last][:2]}" if last > first else "")
    times = ", ".join(f"{a:%H:%M}-{_written(b)}" for a, b in spans)
    return f"{days} {times} Uhr"


def _written(at: time) -> str:
    return "24:00" if at == time(23, 59, 59) else f"{at:%H:%M}"


def _spoken(at: time) -> str:
    if at == time(23, 59, 59):
        return "vierundzwanzig Uhr"
    return clock_spoken(at.hour, at.minute)


def _weekday(name: str, part: str) -> int:
    if name not in WEEKDAY_ABBREVIATIONS:
        raise ValueError(f"staff hours: unknown weekday {name!r} in {part!r} (Mo, Di, ... So)")
    return WEEKDAY_ABBREVIATIONS.index(name)


def _time(text: str, part: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"staff hours: bad time {text!r} in {part!r}")
    return time(hours, minutes)
