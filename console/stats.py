"""Reads the team statistics (`dialogue.metrics`) for a period and renders them: totals,
the share resolved without staff, SVG bar charts with their data, and CSV. Team totals only:
nothing here knows a clerk."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from redis.asyncio import Redis

from dialogue.metrics import LATENCY_BUCKETS_MS, WAIT_BUCKETS_S, Count, StatChannel, day_key

MAX_BARS = 24
BAR_H = 18


class Period(StrEnum):
    DAY = "tag"
    WEEK = "woche"
    MONTH = "monat"

    def days(self, anchor: date) -> list[date]:
        """The days of the period that holds `anchor` (ISO week, calendar month)."""
        if self is Period.DAY:
            return [anchor]
        if self is Period.WEEK:
            start = anchor - timedelta(days=anchor.weekday())
            return [start + timedelta(days=i) for i in range(7)]
        start = anchor.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return [start + timedelta(days=i) for i in range((following - start).days)]


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums of a period, for one channel or all."""

    counts: Counter[str] = field(default_factory=Counter)

    def get(self, name: str) -> int:
        return max(self.counts.get(name, 0), 0)

    @property
    def conversations(self) -> int:
        return self.get(Count.CONVERSATIONS.value)

    @property
    def resolved(self) -> int:
        """Conversations that opened no case and did not end on a fallback."""
        unresolved = self.get(Count.ESCALATED.value) + self.get(Count.ENDED_ON_FALLBACK.value)
        return max(self.conversations - unresolved, 0)

    @property
    def resolved_percent(self) -> int | None:
        """The share resolved without staff in whole percent; None without conversations."""
        if self.conversations == 0:
            return None
        return round(100 * self.resolved / self.conversations)

    def prefixed(self, prefix: str) -> list[tuple[str, int]]:
        """The fields `prefix:<name>` as (name, count), largest first."""
        rows = [
            (name.removeprefix(prefix), n)
            for name, n in self.counts.items()
            if name.startswith(prefix) and n > 0
        ]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def hours(self) -> list[tuple[str, int]]:
        return [(f"{h:02d}", self.get(f"hour:{h}")) for h in range(24)]

    def histogram(self, prefix: str, bounds: tuple[int, ...]) -> list[tuple[str, int]]:
        """(upper bound or "more", count) for every class, in order."""
        return [(str(b), self.get(f"{prefix}:{b}")) for b in bounds] + [
            ("more", self.get(f"{prefix}:more"))
        ]

    def quantile(self, prefix: str, bounds: tuple[int, ...], q: float) -> str | None:
        """The class holding the q-quantile ("more" above the last bound); None if empty."""
        classes = self.histogram(prefix, bounds)
        total = sum(n for _, n in classes)
        if total == 0:
            return None
        seen = 0
        for bound, n in classes:
            seen += n
            if seen >= q * total:
                return bound
        raise AssertionError("unreachable: the classes sum to the total")


def wait_label(bound: str | None) -> str:
    """German text of a waiting-time class."""
    if bound is None:
        return "–"
    if bound == "more":
        return f"über {WAIT_BUCKETS_S[-1] // 86_400} Tage"
    seconds = int(bound)
    if seconds < 3600:
        return f"bis {seconds // 60} Minute{'n' if seconds > 60 else ''}"
    if seconds < 86_400:
        return f"bis {seconds // 3600} Stunde{'n' if seconds > 3600 else ''}"
    return f"bis {seconds // 86_400} Tag{'e' if seconds > 86_400 else ''}"


def latency_label(bound: str | None) -> str:
    if bound is None:
        return "–"
    if bound == "more":
        return f"über {LATENCY_BUCKETS_MS[-1] / 1000:g} s".replace(".", ",")
    return f"bis {int(bound) / 1000:g} s".replace(".", ",")


async def read_totals(
    redis: Redis, days: list[date], channels: list[StatChannel]
) -> dict[StatChannel, Totals]:
    """The totals per channel over `days`."""
    pipe = redis.pipeline(transaction=False)
    pairs = [(d, c) for c in channels for d in days]
    for d, c in pairs:
        pipe.hgetall(day_key(d, c))
    results = await pipe.execute()
    totals = {c: Totals() for c in channels}
    for (_, channel), fields in zip(pairs, results, strict=True):
        for name, value in fields.items():
            try:
                totals[channel].counts[str(name)] += int(value)
            except ValueError:
                continue
    return totals


def combined(parts: list[Totals]) -> Totals:
    total = Totals()
    for part in parts:
        total.counts.update(part.counts)
    return total


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    y: int
    width: int


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart: the template draws `bars` as SVG and `rows` as its table."""

    title: str
    rows: list[tuple[str, int]]
    bars: list[Bar]
    height: int


def chart(title: str, rows: list[tuple[str, int]]) -> Chart:
    shown = rows[:MAX_BARS]
    top = max((v for _, v in shown), default=0)
    bars = [
        Bar(label, value, i * (BAR_H + 6), 0 if top == 0 else round(value * 300 / top))
        for i, (label, value) in enumerate(shown)
    ]
    return Chart(title, shown, bars, max(len(shown), 1) * (BAR_H + 6))


def to_csv(days: list[date], totals: dict[StatChannel, Totals]) -> str:
    """One row per channel and field: period start, end, channel, field, count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["von", "bis", "kanal", "kennzahl", "anzahl"])
    for channel, total in totals.items():
        for name in sorted(total.counts):
            writer.writerow(
                [days[0].isoformat(), days[-1].isoformat(), channel.value, name, total.get(name)]
            )
    return out.getvalue()
