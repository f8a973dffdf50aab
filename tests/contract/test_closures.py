"""The closure record: JSON round trip, day overlap and cutting closures out of opening hours."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from contract.closures import Closure, cut, parse_all

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 12, 1)


def closure(start: time, end: time, *, day: date = DAY) -> Closure:
    return Closure(
        id="c1",
        office="buergerbuero",
        starts=datetime.combine(day, start, tzinfo=BERLIN),
        ends=datetime.combine(day, end, tzinfo=BERLIN),
        note="Bürgerbüro heute ab 12 Uhr geschlossen",
        created_by="tl",
    )


def test_json_round_trip_and_damaged_entries() -> None:
    c = closure(time(12), time(18))
    assert Closure.parse(c.to_json()) == c
    assert Closure.parse("{}") is None
    assert Closure.parse('{"id": 1, "office": "x", "starts": "nope", "ends": "", "note": "",'
                         ' "created_by": ""}') is None  # fmt: skip
    assert parse_all({"a": c.to_json(), "b": "garbage"}) == [c]
    assert parse_all(None) == []


def test_a_closure_needs_aware_times_and_an_end_after_its_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        Closure("x", "o", datetime(2026, 1, 1), datetime(2026, 1, 2), "n", "tl")
    with pytest.raises(ValueError, match="end after"):
        closure(time(12), time(12))


def test_overlap_with_a_day_and_activity() -> None:
    c = closure(time(12), time(18))
    assert c.overlaps_day(DAY, BERLIN)
    assert not c.overlaps_day(date(2026, 12, 2), BERLIN)
    assert not c.overlaps_day(date(2026, 11, 30), BERLIN)
    assert c.active_at(datetime(2026, 12, 1, 12, tzinfo=BERLIN))
    assert not c.active_at(datetime(2026, 12, 1, 18, tzinfo=BERLIN))


HOURS = ((time(8), time(12)), (time(14), time(18)))


@pytest.mark.parametrize(
    ("start", "end", "left"),
    [
        (time(12), time(23, 59), ((time(8), time(12)),)),  # "ab 12 Uhr geschlossen"
        (time(10), time(15), ((time(8), time(10)), (time(15), time(18)))),
        (time(7), time(19), ()),
        (time(9), time(10), ((time(8), time(9)), (time(10), time(12)), (time(14), time(18)))),
        (time(18), time(20), HOURS),  # touches the end only
    ],
)
def test_cut_takes_closures_off_the_opening_hours(
    start: time, end: time, left: tuple[tuple[time, time], ...]
) -> None:
    assert cut(HOURS, DAY, BERLIN, [closure(start, end)]) == left


def test_cut_without_closures_or_on_another_day_changes_nothing() -> None:
    assert cut(HOURS, DAY, BERLIN, []) == HOURS
    other = closure(time(0), time(23), day=date(2026, 12, 2))
    assert cut(HOURS, DAY, BERLIN, [other]) == HOURS
