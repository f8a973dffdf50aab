"""Staff hours decide whether a caller is transferred or offered a callback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from telephony.staff_hours import BERLIN, StaffHours

HOURS = StaffHours.parse("Mo-Do 08:00-16:00, Fr 08:00-12:00", state="NW")


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN), True),  # Monday, opening minute
        (datetime(2026, 11, 23, 7, 59, tzinfo=BERLIN), False),
        (datetime(2026, 11, 23, 16, 0, tzinfo=BERLIN), False),  # closing is exclusive
        (datetime(2026, 11, 26, 15, 59, tzinfo=BERLIN), True),  # Thursday
        (datetime(2026, 11, 27, 11, 0, tzinfo=BERLIN), True),  # Friday morning
        (datetime(2026, 11, 27, 13, 0, tzinfo=BERLIN), False),  # Friday afternoon
        (datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN), False),  # Saturday
        (datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN), False),  # Christmas, a Friday
        (datetime(2026, 11, 1, 10, 0, tzinfo=BERLIN), False),  # All Saints' (NW), a Sunday
        (datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN), False),  # Corpus Christi in NW, Thursday
        (datetime(2026, 11, 23, 7, 30, tzinfo=UTC), True),  # 08:30 in Berlin (CET)
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), True),  # 08:30 in Berlin (CEST)
        (datetime(2026, 7, 6, 5, 30, tzinfo=UTC), False),  # 07:30 in Berlin (CEST)
    ],
)
def test_open_in_the_week_closed_at_night_weekends_and_holidays(
    moment: datetime, open_: bool
) -> None:
    assert HOURS.is_open(moment) is open_


def test_state_holidays_only_count_in_their_state() -> None:
    corpus_christi = datetime(2026, 6, 4, 10, 0, tzinfo=BERLIN)
    assert StaffHours.parse("Mo-Fr 08:00-16:00", state="BE").is_open(corpus_christi)


@pytest.mark.parametrize(
    "text", ["Mo-Fr", "Mx 08:00-12:00", "Mo 12:00-08:00", "Fr-Mo 08:00-12:00", "Mo 25:00-26:00"]
)
def test_malformed_hours_are_refused_with_the_offending_part(text: str) -> None:
    with pytest.raises(ValueError, match="staff hours"):
        StaffHours.parse(text)
