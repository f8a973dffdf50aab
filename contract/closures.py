"""Ad-hoc closures of an office ("Bürgerbüro heute ab 12 Uhr geschlossen"), set by team leads
in the console and read by the action server on every opening-hours answer.

Redis: one hash, `rb:closures`, field = closure id, value = the closure as JSON (see
docs/data-model.md). At most MAX_CLOSURES entries; ended ones are pruned when one is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from contract.records import KEY_PREFIX

CLOSURES_KEY = f"{KEY_PREFIX}:closures"
MAX_CLOSURES = 100
"""Closures stored at once (active and future); setting one more is refused."""
MAX_NOTE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Closure:
    """An office closed from `starts` to `ends` (aware datetimes; `ends` excluded)."""

    id: str
    office: str
    starts: datetime
    ends: datetime
    note: str
    created_by: str

    def __post_init__(self) -> None:
        if self.starts.tzinfo is None or self.ends.tzinfo is None:
            raise ValueError("a closure needs aware start and end times")
        if self.ends <= self.starts:
            raise ValueError("a closure must end after it starts")

    def active_at(self, at: datetime) -> bool:
        return self.starts <= at < self.ends

    def overlaps_day(self, day: date, zone: tzinfo) -> bool:
        """Whether any part of ``day`` (a local day in ``zone``) is within the closure."""
        start = datetime.combine(day, time(), tzinfo=zone)
        return self.starts < start + timedelta(days=1) and self.ends > start

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "office": self.office,
                "starts": self.starts.isoformat(),
                "ends": self.ends.isoformat(),
                "note": self.note,
                "created_by": self.created_by,
            },
            ensure_ascii=False,
        )

    @classmethod
    def parse(cls, raw: str) -> Closure | None:
        """None when ``raw`` is not a closure (a damaged entry is skipped, not fatal)."""
        try:
            doc = json.loads(raw)
            return cls(
                id=str(doc["id"]),
                office=str(doc["office"]),
                starts=datetime.fromisoformat(doc["starts"]),
                ends=datetime.fromisoformat(doc["ends"]),
                note=str(doc["note"]),
                created_by=str(doc["created_by"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def parse_all(raw: dict[str, str] | None) -> list[Closure]:
    """The closures of an HGETALL of CLOSURES_KEY, by start; damaged entries left out."""
    found = (Closure.parse(value) for value in (raw or {}).values())
    return sorted((c for c in found if c is not None), key=lambda c: (c.starts, c.id))


def cut(
    intervals: tuple[tuple[time, time], ...],
    day: date,
    zone: tzinfo,
    closures: list[Closure],
) -> tuple[tuple[time, time], ...]:
    """The opening ``intervals`` (local start, end) of ``day`` minus the closures' times."""
    result: list[tuple[time, time]] = []
    for start, end in intervals:
        pieces = [
            (datetime.combine(day, start, tzinfo=zone), datetime.combine(day, end, tzinfo=zone))
        ]
        for closure in closures:
            next_pieces = []
            for a, b in pieces:
                if closure.ends <= a or closure.starts >= b:
                    next_pieces.append((a, b))
                    continue
                if closure.starts > a:
                    next_pieces.append((a, closure.starts))
                if closure.ends < b:
                    next_pieces.append((closure.ends, b))
            pieces = next_pieces
        for a, b in pieces:
            result.append((a.astimezone(zone).time(), b.astimezone(zone).time()))
    return tuple(result)
